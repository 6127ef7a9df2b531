"""`martops attribution ...`: generate demo data and run the attribution steps."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.attribution import pipeline
from martops.attribution.ihc_api.runner import ApiOptions
from martops.attribution.writeback import read_ddl, require_sqlite_file
from martops.attribution.models import ALL_MODELS
from martops.checks.store import results_of_run
from martops.cli import attribution_view
from martops.cli.common import (CONFIG, FORCE, WAREHOUSE, open_warehouse, parse_date, refuse_overwrite,
                               writable_warehouse)
from martops.cli.render import check_table, console, step_progress, summary_table
from martops.config import ProjectConfig, load_config, with_overrides
from martops.engine import Warehouse
from martops.errors import ConfigError, MartopsError
from martops.ops import runlog
from martops.results import StepResult

attribution_app = typer.Typer(
    help="Attribution pipeline: sessions + conversions + costs -> credit per channel, CPO, ROAS.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MODEL_HELP = f"Attribution model: {', '.join(ALL_MODELS)} (ihc_api: the IHC API, key from env IHC_API_KEY)."


def _options(cfg: ProjectConfig, since: Optional[str], until: Optional[str], model: str = "ihc",
             lookback_days: Optional[int] = None, conv_type_id: Optional[str] = None,
             refresh: bool = False, allow_partial: bool = False, **kw) -> pipeline.RunOptions:
    s, u = parse_date(since, "--since"), parse_date(until, "--until")
    if s is None or u is None:
        raise ConfigError("--since and --until are required (YYYY-MM-DD)")
    cfg = with_overrides(cfg, "attribution", {"lookback_days": ("--lookback-days", lookback_days)})
    acfg = cfg.attribution
    if model not in ALL_MODELS:
        raise ConfigError(f"--model {model!r} is not a model; choose one of {', '.join(ALL_MODELS)}")
    _check_files(kw.get("ddl"), kw.get("export"), kw.get("db") if kw.get("write_back") else None)
    api = ApiOptions(config=cfg.ihc_api, conv_type_id=conv_type_id, refresh=refresh, allow_partial=allow_partial)
    return pipeline.RunOptions(since=s, until=u, model=model, config=acfg, project=cfg, api=api, **kw)


def _check_files(ddl: Optional[Path], export: Optional[Path], write_db: Optional[Path] = None) -> None:
    """Files named by flags, checked before any step runs (not after ingest and attribution)."""
    if write_db is not None:
        require_sqlite_file(write_db)
    if ddl is not None:
        read_ddl(ddl)
    if export is not None and export.is_dir():
        raise ConfigError(f"--export {export} is a directory; give a file name, e.g. {export / 'channel_reporting.csv'}")


def _report(results: list[StepResult]) -> None:
    console.print(summary_table(results))
    for r in results:
        lost = r.details.get("without_sessions")
        if lost:
            console.print(f"[yellow]note:[/] {lost:,} conversion(s) had no earlier session and were not "
                          "attributed; see attribution.unattributed_conversions")
        unknown = r.details.get("unknown_cost_sessions")
        if unknown:
            console.print(f"[yellow]note:[/] {unknown:,} session(s) in channel_reporting have an unknown cost (a cost "
                          f"row empty or quarantined); {r.details.get('unknown_cost_rows', 0):,} (channel, date) row(s) "
                          "have no known cost at all and show an empty cost; see column unknown_cost_sessions")
        respelled = r.details.get("channels_respelled")
        if respelled:
            console.print(f"[yellow]note:[/] {respelled:,} session row(s) of the delivery spell a channel another "
                          "way (case or spaces) and were respelled; see `martops attribution cleaning`")
        bad = r.details.get("quarantined")
        if bad:
            console.print(f"[yellow]note:[/] {bad:,} source row(s) could not be loaded and were quarantined "
                          "with their reasons; see `martops quarantine` (table ops.quarantine)")


def _run_steps(names: list[str], wh: Warehouse, opts: pipeline.RunOptions) -> list[StepResult]:
    """Run the steps under a progress bar; on failure, show what finished before the error."""
    results: list[StepResult] = []
    pipeline.check_ready(names, opts)
    with runlog.invocation() as run_id, step_progress(len(names), "attribution") as (progress, task):
        bars: dict[str, object] = {}

        def api_progress(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = progress.add_task(f"ihc_api {label}", total=total)
            progress.update(bars[label], completed=done, total=total)

        opts.api.progress = api_progress
        try:
            for name in names:
                progress.update(task, description=f"{name}")
                results.append(pipeline.STEPS[name](wh, opts))
                progress.advance(task)
        except MartopsError:
            if results:
                console.print(summary_table(results, title="Finished before the error"))
            raise
        finally:
            flagged = [r for r in results_of_run(wh, run_id) if r["status"] != "pass"]
            if flagged:
                console.print(check_table(flagged, title=f"Checks that did not pass (run {run_id})"))
    return results


# Options shared by the commands
DB = typer.Option(..., "--db", help="The challenge SQLite database (session_sources, conversions, session_costs).")
SINCE = typer.Option(..., "--since", help="First conversion date of the range (YYYY-MM-DD), inclusive.")
UNTIL = typer.Option(..., "--until", help="Last conversion date of the range (YYYY-MM-DD), inclusive.")
MODEL = typer.Option("ihc", "--model", "-m", help=MODEL_HELP)
LOOKBACK = typer.Option(None, "--lookback-days", help="Only sessions at most N days before a conversion count.")
CONV_TYPE = typer.Option(None, "--conv-type-id", help="ihc_api: the account's conversion type id (or ihc_api.conv_type_id).")
REFRESH = typer.Option(False, "--refresh", help="ihc_api: send every journey again, even those already answered.")
ALLOW_PARTIAL = typer.Option(False, "--allow-partial", help="ihc_api: exit 0 even if the API failed some journeys (HTTP 206).")


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
    from martops.sources.ihc_sample import build_sample_db

    refuse_overwrite(force, ("--out", out))
    counts = build_sample_db(dataset, out)
    console.print(f"{out}: {counts['sessions']:,} sessions, {counts['conversions']:,} conversions; "
                  f"{counts['skipped_conversions']:,} conversion(s) with no session anywhere were skipped")


@attribution_app.command()
def ingest(db: Path = DB, since: str = SINCE, until: str = UNTIL, warehouse: Optional[Path] = WAREHOUSE,
           config: Optional[Path] = CONFIG, lookback_days: Optional[int] = LOOKBACK) -> None:
    """Load sessions, costs and conversions of a range from SQLite into the warehouse.

    Example:

      martops attribution ingest --db challenge.db --since 2023-09-01 --until 2023-09-07
    """
    cfg = load_config(config)
    opts = _options(cfg, since, until, lookback_days=lookback_days, db=db)  # bad flags: nothing is created
    with writable_warehouse(cfg, warehouse) as wh:
        _report(_run_steps(["ingest"], wh, opts))


@attribution_app.command()
def journeys(since: str = SINCE, until: str = UNTIL, warehouse: Optional[Path] = WAREHOUSE,
             config: Optional[Path] = CONFIG, lookback_days: Optional[int] = LOOKBACK) -> None:
    """Build the customer journeys of the conversions in a range.

    Example:

      martops attribution journeys --since 2023-09-01 --until 2023-09-07
    """
    cfg, wh = open_warehouse(config, warehouse, domain="attribution")
    with wh:
        _report(_run_steps(["journeys"], wh, _options(cfg, since, until, lookback_days=lookback_days)))


@attribution_app.command()
def attribute(since: str = SINCE, until: str = UNTIL, model: str = MODEL,
              warehouse: Optional[Path] = WAREHOUSE, config: Optional[Path] = CONFIG,
              conv_type_id: Optional[str] = CONV_TYPE, refresh: bool = REFRESH,
              allow_partial: bool = ALLOW_PARTIAL) -> None:
    """Credit the sessions of each journey in a range with one model (checked: sums to 1).

    With --model ihc_api the journeys go to the IHC attribution API in chunks (key from the
    environment variable IHC_API_KEY); answers are saved per chunk, so re-running after a crash
    sends only the journeys not yet answered.

    Example:

      martops attribution attribute --since 2023-09-01 --until 2023-09-07 --model position_based

      IHC_API_KEY=... martops attribution attribute --since 2023-09-01 --until 2023-09-07 --model ihc_api --conv-type-id all_markets
    """
    cfg, wh = open_warehouse(config, warehouse, domain="attribution")
    with wh:
        _report(_run_steps(["attribute"], wh, _options(cfg, since, until, model, conv_type_id=conv_type_id,
                                                       refresh=refresh, allow_partial=allow_partial)))


@attribution_app.command()
def report(since: str = SINCE, until: str = UNTIL, model: str = MODEL,
           warehouse: Optional[Path] = WAREHOUSE, config: Optional[Path] = CONFIG) -> None:
    """Rebuild channel_reporting (cost, credit, credited revenue per channel and day) for a model.

    The table always spans everything attributed with the model so far, so ranges may be run in
    any order; --since/--until label the run.

    Example:

      martops attribution report --since 2023-09-01 --until 2023-09-07 --model ihc
    """
    cfg, wh = open_warehouse(config, warehouse, domain="attribution")
    with wh:
        _report(_run_steps(["report"], wh, _options(cfg, since, until, model)))


@attribution_app.command()
def export(since: str = SINCE, until: str = UNTIL, model: str = MODEL,
           out: Path = typer.Option(..., "--export", "--out", "-o", help="CSV file to write."),
           warehouse: Optional[Path] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE) -> None:
    """Export channel_reporting's rows dated --since..--until with CPO (cost / ihc) and ROAS
    (ihc_revenue / cost) as CSV. A model never reported, or a range with no rows, is an error.

    Example:

      martops attribution export --since 2023-09-01 --until 2023-09-07 --model ihc --export channel_reporting.csv
    """
    refuse_overwrite(force, ("--export", out))
    cfg, wh = open_warehouse(config, warehouse, domain="attribution")
    with wh:
        _report(_run_steps(["export"], wh, _options(cfg, since, until, model, export=out, export_range=True)))


@attribution_app.command("write-back")
def write_back(db: Path = DB, since: str = SINCE, until: str = UNTIL, model: str = MODEL,
               ddl: Optional[Path] = typer.Option(None, "--ddl", help="DDL file for the output tables (the challenge's own works)."),
               warehouse: Optional[Path] = WAREHOUSE, config: Optional[Path] = CONFIG) -> None:
    """Fill attribution_customer_journey and channel_reporting in the source SQLite file.

    Example:

      martops attribution write-back --db challenge.db --since 2023-09-01 --until 2023-09-07 --ddl challenge_db_create.sql
    """
    cfg, wh = open_warehouse(config, warehouse, domain="attribution")
    with wh:
        _report(_run_steps(["write-back"], wh, _options(cfg, since, until, model, db=db, ddl=ddl,
                                                                  write_back=True)))


@attribution_app.command()
def run(db: Path = DB, since: str = SINCE, until: str = UNTIL, model: str = MODEL,
        warehouse: Optional[Path] = WAREHOUSE,
        export_to: Optional[Path] = typer.Option(None, "--export", help="Also write channel_reporting as CSV here."),
        write_back: bool = typer.Option(False, "--write-back", help="Also write the results into the SQLite file."),
        ddl: Optional[Path] = typer.Option(None, "--ddl", help="DDL file for --write-back's output tables."),
        config: Optional[Path] = CONFIG, lookback_days: Optional[int] = LOOKBACK,
        conv_type_id: Optional[str] = CONV_TYPE, refresh: bool = REFRESH,
        allow_partial: bool = ALLOW_PARTIAL, force: bool = FORCE) -> None:
    """Run ingest, journeys, attribute, report (and export, write-back) for a range.

    Example:

      martops attribution run --db challenge.db --since 2023-09-01 --until 2023-09-07 --model ihc --warehouse out/warehouse.duckdb --export out/channel_reporting.csv --write-back
    """
    cfg = load_config(config)
    refuse_overwrite(force, ("--export", export_to))
    opts = _options(cfg, since, until, model, lookback_days=lookback_days, db=db, export=export_to,
                    write_back=write_back, ddl=ddl, conv_type_id=conv_type_id, refresh=refresh,
                    allow_partial=allow_partial)  # bad flags: nothing is created
    with writable_warehouse(cfg, warehouse) as wh:
        _report(_run_steps(pipeline.plan(opts), wh, opts))


@attribution_app.command()
def cleaning(warehouse: Optional[Path] = WAREHOUSE, config: Optional[Path] = CONFIG,
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
