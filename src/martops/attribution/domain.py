"""Attribution as a domain of the step graph: ingest -> journeys -> attribute -> report (-> export,
write-back), each over a range of conversion dates (default: the dates not yet attributed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from martops.attribution import pipeline, quality
from martops.attribution import tables as T
from martops.attribution.ihc_api import runner as api_runner
from martops.attribution.ihc_api import store as api_store
from martops.attribution.ihc_api.runner import ApiOptions
from martops.attribution.models import ALL_MODELS, API_MODEL
from martops.attribution.source import ChallengeSource
from martops.attribution.writeback import read_ddl, require_sqlite_file
from martops.config import with_overrides
from martops.domain import Domain, Parameter, Step, StepContext, TableSpec
from martops.errors import ConfigError
from martops.results import StepResult
from martops.attribution import report_section

DB = Parameter("db", "The challenge SQLite database (or a folder of its three tables as CSV).", "sources.attribution.path")
MODEL = Parameter("model", f"Attribution model: {', '.join(ALL_MODELS)}.", "attribution.model (ihc)")
LOOKBACK = Parameter("lookback_days", "Only sessions at most N days before a conversion count.", "attribution.lookback_days")
EXPORT = Parameter("export", "CSV file for channel_reporting with CPO and ROAS.", "attribution.export")
WRITE_BACK = Parameter("write_back", "Write the results into the challenge database.", "attribution.write_back")
DDL = Parameter("ddl", "DDL file for the write-back's output tables.")
API = (Parameter("conv_type_id", "ihc_api: the account's conversion type id.", "ihc_api.conv_type_id"),
       Parameter("refresh", "ihc_api: send every journey again."),
       Parameter("allow_partial", "ihc_api: succeed even if the API failed some journeys."))


def options(ctx: StepContext) -> pipeline.RunOptions:
    """The pipeline's options from the run's flags over martops.yml (a flag wins)."""
    if ctx.since is None or ctx.until is None:
        raise ConfigError("attribution steps need --since and --until (YYYY-MM-DD)")
    cfg = with_overrides(ctx.project, "attribution", {"lookback_days": ("--lookback-days", ctx.param("lookback_days"))})
    model = ctx.param("model") or cfg.attribution.model
    if model not in ALL_MODELS:
        raise ConfigError(f"{'--model' if ctx.param('model') else 'attribution.model in martops.yml:'} {model!r} "
                          f"is not a model; choose one of {', '.join(ALL_MODELS)}")
    db, export = ctx.param("db") or cfg.sources.attribution.path, ctx.param("export") or cfg.attribution.export
    api = ApiOptions(config=cfg.ihc_api, conv_type_id=ctx.param("conv_type_id"), refresh=bool(ctx.param("refresh")),
                     allow_partial=bool(ctx.param("allow_partial")), progress=ctx.progress)
    return pipeline.RunOptions(
        since=ctx.since, until=ctx.until, model=model, db=Path(db) if db else None,
        export=Path(export) if export else None, write_back=bool(ctx.param("write_back", cfg.attribution.write_back)),
        export_range=bool(ctx.param("export_range")), ddl=ctx.param("ddl"), config=cfg.attribution, project=cfg,
        api=api)


def _step(short: str):
    def run(ctx: StepContext) -> StepResult:
        return pipeline.STEPS[short](ctx.wh, options(ctx))
    run.__name__ = f"step_{short.replace('-', '_')}"
    return run


def preflight(ctx: StepContext, names: list[str]) -> None:
    """What can be known before any step writes: flags naming files, and `--model ihc_api`'s key,
    URL and conversion type (a run that lacks one must not ingest first and fail after)."""
    with_overrides(ctx.project, "attribution", {"lookback_days": ("--lookback-days", ctx.param("lookback_days"))})
    ddl, export = ctx.param("ddl"), ctx.param("export") or ctx.project.attribution.export
    if "attribution.write-back" in names and _write_back(ctx):
        db = ctx.param("db") or ctx.project.sources.attribution.path
        if db:
            require_sqlite_file(Path(db))
    if ddl is not None:
        read_ddl(Path(ddl))
    if export is not None and Path(export).is_dir():
        raise ConfigError(f"--export {export} is a directory; give a file name, e.g. {Path(export) / 'channel_reporting.csv'}")
    model = ctx.param("model") or ctx.project.attribution.model
    if model not in ALL_MODELS:
        raise ConfigError(f"{'--model' if ctx.param('model') else 'attribution.model in martops.yml:'} {model!r} "
                          f"is not a model; choose one of {', '.join(ALL_MODELS)}")
    if model == API_MODEL and "attribution.attribute" in names[1:]:
        api_runner.preflight(ApiOptions(config=ctx.project.ihc_api, conv_type_id=ctx.param("conv_type_id")))


def _write_back(ctx: StepContext) -> bool:
    return bool(ctx.param("write_back", ctx.project.attribution.write_back))


def _db_missing(ctx: StepContext) -> str | None:
    if not (ctx.param("db") or ctx.project.sources.attribution.path):
        return "no source: pass --db FILE or set sources.attribution.path in martops.yml"
    return None


def new_range(ctx: StepContext) -> tuple[dt.date, dt.date] | None:
    """(the day after the last range attributed with the model, the source's last conversion date);
    the source's first date when nothing was attributed yet. None when there is no source."""
    db = ctx.param("db") or ctx.project.sources.attribution.path
    if not db:
        return None
    src = ChallengeSource(ctx.wh, db, ctx.project.attribution, ctx.project.sources.attribution)
    try:
        first, last = src.date_span("conversions")
    finally:
        src.reader.close()
    if first is None or last is None:
        return None
    model = ctx.param("model") or ctx.project.attribution.model
    if ctx.wh.exists(T.RANGES):
        r = ctx.wh.table(T.RANGES)
        done = ctx.wh.to_pyarrow(r.filter(r.model == model).until.max()).as_py()  # None for a model never run
        if isinstance(done, dt.datetime):
            done = done.date()
        if done is not None:
            first = max(first, done + dt.timedelta(days=1))
    return first, last


def notes(r: StepResult) -> list[str]:
    """The warnings a run's summary prints under the table for attribution's results."""
    out = []
    if r.details.get("without_sessions"):
        out.append(f"{r.details['without_sessions']:,} conversion(s) had no earlier session and were not attributed; "
                   "see attribution.unattributed_conversions")
    if r.details.get("unknown_cost_sessions"):
        out.append(f"{r.details['unknown_cost_sessions']:,} session(s) in channel_reporting have an unknown cost (a cost "
                   f"row empty or quarantined); {r.details.get('unknown_cost_rows', 0):,} (channel, date) row(s) "
                   "have no known cost at all and show an empty cost; see column unknown_cost_sessions")
    if r.details.get("channels_respelled"):
        out.append(f"{r.details['channels_respelled']:,} session row(s) of the delivery spell a channel another "
                   "way (case or spaces) and were respelled; see `martops attribution cleaning`")
    if r.details.get("quarantined"):
        out.append(f"{r.details['quarantined']:,} source row(s) could not be loaded and were quarantined "
                   "with their reasons; see `martops quarantine` (table ops.quarantine)")
    return out


RANGED = dict(ranged=True)
DOMAIN = Domain(
    name="attribution",
    title="Attribution (sessions + conversions + costs -> credit per channel, CPO, ROAS)",
    steps=(
        Step("attribution.ingest", "Load sessions, costs and conversions of a range (bad rows to ops.quarantine)",
             _step("ingest"), inputs=("source:attribution",), outputs=(T.SESSIONS, T.CONVERSIONS),
             parameters=(DB, LOOKBACK), skip_reason=_db_missing, **RANGED),
        Step("attribution.journeys", "Build the customer journeys of the range's conversions", _step("journeys"),
             inputs=(T.SESSIONS, T.CONVERSIONS), outputs=(T.JOURNEYS, T.UNATTRIBUTED, T.NON_CONVERTING),
             parameters=(LOOKBACK,), **RANGED),
        Step("attribution.attribute", "Credit each journey's sessions with a model (sums to 1 per conversion)",
             _step("attribute"), inputs=(T.JOURNEYS,), outputs=(T.CUSTOMER_JOURNEY, T.RANGES, T.PATH_MODEL_CHANNELS, api_store.ANSWERS),
             parameters=(MODEL, *API), **RANGED),
        Step("attribution.report", "Rebuild channel_reporting (cost, credit, revenue per channel and day)",
             _step("report"), inputs=(T.CUSTOMER_JOURNEY, T.RANGES, T.SESSIONS), outputs=(T.CHANNEL_REPORTING,),
             parameters=(MODEL,), **RANGED),
        Step("attribution.export", "Write channel_reporting with CPO and ROAS as CSV", _step("export"),
             inputs=(T.CHANNEL_REPORTING,), outputs=("file:attribution.export",), parameters=(MODEL, EXPORT),
             skip_reason=lambda ctx: None if (ctx.param("export") or ctx.project.attribution.export) else
             "no export file: pass --export FILE or set attribution.export in martops.yml", **RANGED),
        Step("attribution.write-back", "Fill attribution_customer_journey and channel_reporting in the challenge "
             "database", _step("write-back"), inputs=(T.CUSTOMER_JOURNEY, T.CHANNEL_REPORTING, T.RANGES),
             outputs=("file:attribution.write-back",), parameters=(DB, MODEL, WRITE_BACK, DDL),
             skip_reason=lambda ctx: _db_missing(ctx) or (None if _write_back(ctx) else
                                                          "write-back is off: pass --write-back or set attribution.write_back"),
             **RANGED),
    ),
    tables=(
        TableSpec(T.SESSIONS, ("session_id",), "typed sessions with their cost (channel respelled to canonical)"),
        TableSpec(T.CONVERSIONS, ("conv_id",), "typed conversions (refunds and conflicting copies quarantined)"),
        TableSpec(T.JOURNEYS, ("conv_id", "position"), "every conversion's sessions in order"),
        TableSpec(T.UNATTRIBUTED, ("conv_id",), "conversions with no earlier session"),
        TableSpec(T.NON_CONVERTING, ("session_id",), "sessions in no journey of the range"),
        TableSpec(T.CUSTOMER_JOURNEY, ("model", "conv_id", "session_id"), "credit per session per conversion and model"),
        TableSpec(T.CHANNEL_REPORTING, ("model", "channel_name", "date"), "cost, credit and revenue per channel and day",
                  indexes=(("date",),)),
        TableSpec(T.RANGES, ("model", "since", "until"), "the ranges attributed per model"),
        TableSpec(T.PATH_MODEL_CHANNELS, ("model", "since", "until", "channel_name"),
                  "markov / shapley: each channel's removal effect or Shapley value and attributed conversions per range"),
        TableSpec(api_store.ANSWERS, (), "IHC API answers per conversion"),
        TableSpec(api_store.FAILURES, (), "IHC API journeys the API failed"),
        TableSpec(api_store.REQUESTS, (), "IHC API requests sent"),
        TableSpec(api_store.TRUNCATED, (), "journeys cut to the API's session limit"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="attribution.ingest",
    source_setting="attribution",
    source_path=lambda cfg: Path(cfg.sources.attribution.path) if cfg.sources.attribution.path else None,
    default_range=new_range,
    preflight=preflight,
    summary_notes=notes,
    build_hint="build it first: martops attribution run --db <challenge.db> --since ... --until ...",
    report=report_section.REPORT,
)
