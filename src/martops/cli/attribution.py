"""`martops attribution ...`: generate demo data and run the attribution steps."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.attribution.models import ALL_MODELS
from martops.cli import attribution_ihc_fit, attribution_paths, attribution_view, platform
from martops.cli.common import CONFIG, FORCE, WAREHOUSE, refuse_overwrite
from martops.cli.render import console, step_progress

attribution_app = typer.Typer(
    help="Attribution pipeline: sessions + conversions + costs -> credit per channel, CPO, ROAS.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MODEL_HELP = f"Attribution model: {', '.join(ALL_MODELS)} (ihc_api: the IHC API, key from env IHC_API_KEY)."


@attribution_app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="SQLite file to write."),
    conversions: int = typer.Option(2000, "--conversions", min=1, help="Number of conversions."),
    seed: int = typer.Option(7, "--seed", help="Random seed: same seed, same database."),
    sessions: Optional[int] = typer.Option(None, "--sessions", min=1, help="Number of sessions (default: 225 per conversion)."),
    force: bool = FORCE,
) -> None:
    """Write a synthetic challenge database that looks like the real data.

    Example:

      martops attribution generate --out challenge.db --conversions 2000 --seed 7
    """
    from martops.demo.attribution import generate_challenge_db

    refuse_overwrite(force, ("--out", out))

    with step_progress(100, "generate") as (progress, task):
        def tick(phase: str, fraction: float) -> None:
            progress.update(task, description=phase, completed=round(fraction * 100))

        result = generate_challenge_db(out, conversions=conversions, seed=seed, sessions=sessions,
                                       force=force, progress=tick)
    console.print(str(result))


@attribution_app.command("from-journeys")
def from_journeys(
    dataset: Path = typer.Option(Path("../shared/datasets/ihc-challenge"), "--dataset",
                                 help="Folder with journeys.json and sessions_by_conversion.json."),
    out: Path = typer.Option(..., "--out", "-o", help="SQLite file to write."),
    force: bool = FORCE,
) -> None:
    """Rebuild a challenge database from the real public IHC journeys, to run the pipeline on real data.

    Example:

      martops attribution from-journeys --dataset ../shared/datasets/ihc-challenge --out real.db
    """
    from martops.attribution.ihc_sample import build_sample_db

    refuse_overwrite(force, ("--out", out))
    counts = build_sample_db(dataset, out)
    console.print(f"{out}: {counts['sessions']:,} sessions, {counts['conversions']:,} conversions; "
                  f"{counts['skipped_conversions']:,} conversion(s) with no session anywhere were skipped")


# -- the steps: each is `martops run attribution.<step>`, with run's flags ----------------------
for _name in ("ingest", "journeys", "attribute", "report", "export", "write-back"):
    attribution_app.command(_name)(platform.step_command(f"attribution.{_name}"))


@attribution_app.command("run")
def run(
    since: Optional[str] = platform.SINCE, until: Optional[str] = platform.UNTIL, db: Optional[Path] = platform.DB,
    model: Optional[str] = platform.MODEL, export: Optional[Path] = platform.EXPORT,
    write_back: Optional[bool] = platform.WRITE_BACK, ddl: Optional[Path] = platform.DDL,
    lookback_days: Optional[int] = platform.LOOKBACK, conv_type_id: Optional[str] = platform.CONV_TYPE,
    refresh: bool = platform.REFRESH, allow_partial: bool = platform.ALLOW_PARTIAL,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Run ingest, journeys, attribute, report (and export, write-back when asked) for a range:
    `martops run attribution` with the same flags.

    With no --since/--until the range is the conversion dates not yet attributed with the model.

    Example:

      martops attribution run --db challenge.db --since 2023-09-01 --until 2023-09-07 --model ihc --warehouse out/warehouse.duckdb --export out/channel_reporting.csv --write-back
    """
    platform.run_cli(["attribution"], config=config, warehouse=warehouse, since=since, until=until, db=db,
                     params=platform.step_params(model, export, write_back, ddl, lookback_days, conv_type_id,
                                                 refresh, allow_partial), title="attribution run", force=force)


@attribution_app.command()
def cleaning(warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
             run_id: Optional[str] = typer.Option(None, "--run", help="A run id (default: the last ingest).")) -> None:
    """Show what cleaning did in an ingest: respelled channels, resolved duplicates, refunds.

    Example:

      martops attribution cleaning --warehouse out/warehouse.duckdb
    """
    from martops.cli.builds import print_cleaning

    print_cleaning(config, warehouse, "attribution", run_id, ("session_sources", "conversions", "session_costs"),
                   "nothing logged yet: run `martops attribution ingest` (or `run`) first")


# -- the business view (martops.cli.attribution_view) ------------------------------------------
attribution_app.command("show")(attribution_view.show)
attribution_app.command("paths")(attribution_paths.paths)
attribution_app.command("ihc-fit")(attribution_ihc_fit.ihc_fit)
