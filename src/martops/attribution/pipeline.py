"""The attribution steps as library functions: each takes a range, returns a StepResult.

The step graph (`attribution/domain.py`, run by `martops.runner`) is the one thing that chains
them; each is also a CLI command, so an orchestrator can run them separately.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Callable

from martops.attribution import credit, ingest as ingest_mod, journeys as journeys_mod, reporting, writeback
from martops.attribution.ihc_api.runner import ApiOptions
from martops.config import AttributionConfig, ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.ops import runlog
from martops.attribution import csv_export
from martops.results import StepResult


@dataclasses.dataclass
class RunOptions:
    """What one invocation of the pipeline was asked to do."""

    since: dt.date
    until: dt.date
    model: str = "ihc"
    db: Path | None = None
    export: Path | None = None
    write_back: bool = False
    export_range: bool = False
    """Export only the rows dated --since..--until (`attribution export` alone); in a chain the
    export is the model's whole channel_reporting, every range attributed so far."""
    """The export holds only the rows dated [since, until] (`attribution export`); else all the
    model's rows (`run --export`, whose report spans every range attributed so far)."""
    ddl: Path | None = None
    config: AttributionConfig = dataclasses.field(default_factory=AttributionConfig)
    project: ProjectConfig = dataclasses.field(default_factory=ProjectConfig)
    """Quality thresholds and declared checks; `config` is its attribution section with flag overrides."""
    api: ApiOptions = dataclasses.field(default_factory=ApiOptions)
    """Only for --model ihc_api."""

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise ConfigError(f"--since {self.since} is after --until {self.until}")


def _params(opts: RunOptions) -> dict:
    return {"model": opts.model, "db": opts.db, "export": opts.export, "write_back": opts.write_back or None,
            "lookback_days": opts.config.lookback_days}


def _timed(wh: Warehouse, step: str, opts: RunOptions, fn: Callable[[], dict], rows_in: str | None,
           rows_out: str) -> StepResult:
    return runlog.timed(wh, "attribution", step, _params(opts), fn, rows_in, rows_out,
                        since=opts.since, until=opts.until)


def _require_db(opts: RunOptions) -> Path:
    if opts.db is None:
        raise ConfigError("--db is required: the challenge SQLite database to read")
    return opts.db


def step_ingest(wh: Warehouse, opts: RunOptions) -> StepResult:
    db = _require_db(opts)

    def go() -> dict:
        return ingest_mod.ingest(wh, db, opts.since, opts.until, opts.config.lookback_days, opts.project)

    return _timed(wh, "ingest", opts, go, "read", "loaded")


def first_gap(spans: list[dict], day: dt.date) -> dt.date:
    """The first day from `day` on that no span (dicts with since/until, sorted by since) covers."""
    for span in spans:
        if span["since"] > day:
            break
        day = max(day, span["until"] + dt.timedelta(days=1))
    return day


def require_covered(wh: Warehouse, upstream: str, since: dt.date, until: dt.date, step: str) -> None:
    """Refuse to build on a range the upstream step never ran on: journeys of never-ingested
    conversions would be empty, and `attribute` would then record the range as done, so the new
    range would skip it for good. Covered = inside the union of the upstream's successful runs'
    ranges in ops.runs (staging keeps every range ingested)."""
    runs = wh.table(runlog.RUNS) if wh.exists(runlog.RUNS) else None
    spans = [] if runs is None else wh.to_pyarrow(
        runs.filter((runs.step == upstream) & (runs.status == "success") & runs.since.notnull())
        .select("since", "until").order_by("since")).to_pylist()
    day = first_gap(spans, since)
    if day <= until:
        gap_end = min([s["since"] - dt.timedelta(days=1) for s in spans if s["since"] > day] + [until])
        raise ConfigError(f"{step}: {upstream} has not run on {day}..{gap_end}; run it first, e.g. "
                          f"martops run +{step} --since {since} --until {until}")


def step_journeys(wh: Warehouse, opts: RunOptions) -> StepResult:
    def go() -> dict:
        require_covered(wh, "attribution.ingest", opts.since, opts.until, "attribution.journeys")
        return journeys_mod.build_journeys(wh, opts.since, opts.until, opts.config.lookback_days, opts.project)

    return _timed(wh, "journeys", opts, go, "conversions", "journey_rows")


def step_attribute(wh: Warehouse, opts: RunOptions) -> StepResult:
    def go() -> dict:
        require_covered(wh, "attribution.journeys", opts.since, opts.until, "attribution.attribute")
        return {"model": opts.model, **credit.attribute(wh, opts.since, opts.until, opts.model, opts.config, opts.api, opts.project)}

    return _timed(wh, "attribute", opts, go, "journey_rows", "rows")


def step_report(wh: Warehouse, opts: RunOptions) -> StepResult:
    return _timed(wh, "report", opts, lambda: reporting.build_channel_reporting(wh, opts.model, opts.project), "credits", "rows")


def step_export(wh: Warehouse, opts: RunOptions) -> StepResult:
    if opts.export is None:
        raise ConfigError("--export is required: the CSV file to write")
    out = opts.export

    def go() -> dict:
        dates = (opts.since, opts.until) if opts.export_range else (None, None)
        n = csv_export.export_channel_reporting(wh, opts.model, out, *dates)
        return {"read": n, "rows": n, "file": str(out)}

    return _timed(wh, "export", opts, go, "read", "rows")


def step_write_back(wh: Warehouse, opts: RunOptions) -> StepResult:
    db = _require_db(opts)

    def go() -> dict:
        return writeback.write_back(wh, db, opts.model, opts.since, opts.until, opts.ddl)

    return _timed(wh, "write-back", opts, go, None, "attribution_customer_journey")


STEPS: dict[str, Callable[[Warehouse, RunOptions], StepResult]] = {
    "ingest": step_ingest,
    "journeys": step_journeys,
    "attribute": step_attribute,
    "report": step_report,
    "export": step_export,
    "write-back": step_write_back,
}
