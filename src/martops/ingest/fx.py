"""The FX-rate pipeline (step fx.load, `martops ingest fx`): Frankfurter v1 -> dlt -> staging.fx_rates.

How dlt fits the warehouse. dlt loads the checked answer into its own dataset, `raw_fx`, of the
warehouse's loader DuckDB (martops.ingest.fx_load); martops then replaces the fetched range of
staging.fx_rates from that load (by its `_dlt_load_id`) in one warehouse transaction, together
with the reconciliation row and the checks, which commit with it or roll it back. On a DuckDB
warehouse the loader is the warehouse file itself, so `raw_fx` keeps every answer and dlt's load
log beside staging. On PostgreSQL the loader is the in-process DuckDB every source is read by;
`raw_fx` lives there for the run and the rows reach PostgreSQL by martops's bulk load. dlt's own
PostgreSQL destination is not used: it needs psycopg2, which the lock does not hold (martops uses
psycopg 3), and loading through the loader keeps one code path and one transaction on both engines.

Incremental. The watermark is staging.fx_rates itself: per currency, the last day stored for the
base. A run without --since starts `ingest.fx.lookback_days` calendar days before the day after
the oldest of those watermarks (so a correction the ECB published since is picked up) and ends
today; a currency with no rows yet starts at `ingest.fx.start`. Nothing else is kept between runs
(dlt's `pipelines_dir` is a temporary folder), so losing the working directory loses nothing, and
re-running a range replaces it with the same rows: base, currency and day are the grain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import ibis
from pydantic import ValidationError

from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import FxIngestConfig, ProjectConfig
from martops.domain import StepContext
from martops.engine import Warehouse
from martops.errors import ConfigError, SourceError
from martops.ingest import frankfurter as F
from martops.ingest import fx_load, quality
from martops.ingest import tables as T
from martops.ingest.http import JsonClient, RetryPolicy, redact
from martops.ingest.reconcile import Reconciliation, reconcile
from martops.ops import runlog
from martops.ops.runlog import current_run_id
from martops.results import StepResult

log = logging.getLogger(__name__)

FLAGS = {"base": "--base", "symbols": "--symbols", "url": "--url"}


def settings(project: ProjectConfig, params: dict) -> FxIngestConfig:
    """`ingest.fx` with --base/--symbols/--url over it, validated by the same rules as the file."""
    model = project.ingest.fx
    updates = {k: params[k] for k in FLAGS if params.get(k) is not None}
    if not updates:
        return model
    try:
        return FxIngestConfig.model_validate({**model.model_dump(), **updates})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{FLAGS.get(name, name)} {redact(str(updates.get(name, ''))) if name == 'url' else updates.get(name)!r}: "
                          f"{msg} (overrides ingest.fx.{name})") from None


def ensure_table(wh: Warehouse) -> None:
    """staging.fx_rates in this pipeline's shape. The campaign mart used to create an empty
    placeholder (currency, rate_date, eur_per_unit): an empty one is replaced, a filled one is an
    error (its rows came from elsewhere and are not ours to drop)."""
    if wh.exists(T.FX_RATES):
        columns = set(wh.table(T.FX_RATES).columns)
        if "rate" not in columns and set(T.OLD_COLUMNS) <= columns:
            n = wh.count(T.FX_RATES)
            if n:
                raise ConfigError(f"{T.FX_RATES} has the old shape (currency, rate_date, eur_per_unit) and holds {n:,} "
                                  f"rows; move them away (e.g. ALTER TABLE {T.FX_RATES} RENAME TO fx_rates_old) and run "
                                  "fx.load again")
            wh.execute(f"DROP TABLE {wh.quoted(T.FX_RATES)}")
    wh.ensure_table(T.FX_RATES, T.FX_SCHEMA)


def watermarks(wh: Warehouse, base: str, symbols: list[str]) -> dict[str, dt.date]:
    """The last day stored per currency (of `symbols`, against `base`); a currency never loaded is absent."""
    if not wh.exists(T.FX_RATES) or "rate" not in wh.table(T.FX_RATES).columns:
        return {}
    t = wh.table(T.FX_RATES)
    t = t.filter((t.base == base) & t.currency.isin(symbols))
    rows = wh.to_pyarrow(t.group_by("currency").aggregate(last=t.date.max())).to_pylist()
    return {r["currency"]: r["last"] for r in rows if r["last"] is not None}


NO_START = "fx.no_start"
"""`StepContext.state` key: why fx.load has no day to start from (see `skip_reason`)."""


def default_range(ctx: StepContext) -> tuple[dt.date, dt.date]:
    """(first day to fetch, today): from the watermark minus the look-back, or `ingest.fx.start`.

    With neither (nothing loaded yet, no start set), the reason goes to `ctx.state` for
    `skip_reason`: named on its own the step fails with it; reached as the upstream of the KPI
    load (`+kpis.load`) in a project that never set up `ingest.fx`, it is skipped and the KPI load
    converts at `campaigns.fx_to_eur`, as it did before this pipeline existed."""
    s = settings(ctx.project, ctx.params)
    today = dt.date.today()
    marks = watermarks(ctx.wh, s.base, s.symbols)
    new = [c for c in s.symbols if c not in marks]
    if new:
        if s.start is None:
            if ctx.since is not None:  # `--since D` alone: from D to today
                return ctx.since, today
            ctx.state[NO_START] = (f"{T.FX_RATES} holds no {s.base} rates of {', '.join(new)} yet, so there is no day "
                                   "to continue from; pass --since YYYY-MM-DD or set ingest.fx.start in martops.yml")
            return today, today
        return s.start, today
    return min(marks.values()) + dt.timedelta(days=1 - s.lookback_days), today


def skip_reason(ctx: StepContext) -> str | None:
    """Why fx.load has nothing to do: no day to start from in a project whose martops.yml has no
    `ingest.fx` (the step is then only the KPI load's upstream). A project that set it up fails
    instead (a schedule must not skip quietly), as does the step named on its own."""
    reason = ctx.state.get(NO_START)
    if reason is None:
        return None
    if "fx" in ctx.project.ingest.model_fields_set and "ingest" in ctx.project.model_fields_set:
        raise ConfigError(f"fx.load: {reason}")
    return reason


def preflight(ctx: StepContext, names: list[str]) -> None:
    """Flags and dates before the warehouse is opened: a bad --symbols creates nothing."""
    settings(ctx.project, ctx.params)
    today = dt.date.today()
    if ctx.since is not None and ctx.since > today:
        raise ConfigError(f"fx.load: --since {ctx.since} is in the future; rates exist up to today ({today})")


def _policy(s: FxIngestConfig) -> RetryPolicy:
    return RetryPolicy(s.timeout_seconds, s.max_attempts, s.backoff_seconds, s.max_backoff_seconds)


def fetch(client: JsonClient, s: FxIngestConfig, since: dt.date, until: dt.date, max_gap_days: int
          ) -> tuple[list[F.Rate], list[tuple[dt.date, dt.date]]]:
    """The rows of since..until; a requested currency the answer never holds is an error (a typo or a
    currency the ECB does not quote would otherwise load nothing for it, silently)."""
    rows, empty = F.fetch_range(client, s.url, s.base, s.symbols, since, until, s.max_days_per_request)
    days = (until - since).days + 1
    if rows:
        absent = [c for c in s.symbols if c not in {r.currency for r in rows}]
        if absent:
            raise SourceError(f"fx.load: {redact(s.url)} answered no {s.base}->{', '.join(absent)} rate for "
                              f"{since}..{until} (it quoted {', '.join(sorted({r.currency for r in rows}))}); "
                              + (_not_quoted(client, s, absent) or "check --symbols / ingest.fx.symbols against "
                                 "the currencies the API quotes"))
    elif days > max_gap_days:
        raise SourceError(_not_quoted(client, s, [s.base, *s.symbols], prefix=True) or
                          f"fx.load: {redact(s.url)} has no {s.base} rates at all for {since}..{until} "
                          f"({days} days; HTTP 404 not found); the ECB's rates begin on 1999-01-04")
    return rows, empty


def _not_quoted(client: JsonClient, s: FxIngestConfig, codes: list[str], prefix: bool = False) -> str | None:
    """The sentence naming the codes the API does not quote (a typo such as XYZ answers 404 like a
    holiday does), or None when it quotes them all or its list cannot be had."""
    found = F.unquoted(client, s.url, list(dict.fromkeys(codes)))
    if not found or not found[0]:
        return None
    bad, known = found
    base_bad, symbols_bad = s.base in bad, any(c in bad for c in s.symbols)
    flags = " and ".join(f for f, hit in (("--base", base_bad), ("--symbols", symbols_bad)) if hit)
    text = (f"{redact(s.url)} does not quote {', '.join(bad)} (check {flags}); it quotes {', '.join(known)}")
    return f"fx.load: {text}" if prefix else text


def load(wh: Warehouse, project: ProjectConfig, s: FxIngestConfig, since: dt.date, until: dt.date) -> dict:
    run_id, now = current_run_id(), dt.datetime.now()
    q = project.quality
    with JsonClient(_policy(s), name="Frankfurter") as client:
        rows, _ = fetch(client, s, since, until, q.fx_max_gap_days)
        days = sorted({r.date for r in rows})
        check: Reconciliation | None = None
        if days:
            last = days[-1]
            check = reconcile(client, s.url, s.base, last, {r.currency: r.rate for r in rows if r.date == last},
                              s.symbols, s.reconcile_tolerance)
        requests, retries = len(client.requests), client.retries
    ensure_table(wh)
    where = f"base = ? AND currency IN ({', '.join('?' * len(s.symbols))}) AND date BETWEEN ? AND ?"
    args = [s.base, *s.symbols, since, until]
    if not rows:
        held = int(wh.execute(f"SELECT count(*) FROM {wh.quoted(T.FX_RATES)} WHERE {where}", args)[0][0])
        if held:
            raise SourceError(f"fx.load: {redact(s.url)} has no {s.base} rates for {since}..{until} (HTTP 404 not "
                              f"found), but {T.FX_RATES} holds {held:,} there; nothing was replaced")
        return {"fetched": 0, "rows": 0, "days": 0, "replaced": f"{since}..{until}", "deleted": 0,
                "requests": requests, "retries": retries, "note": "no business day in the range (weekend/holiday)"}
    load_id = fx_load.load(wh.loader.con, [dataclasses.asdict(r) for r in rows])
    raw = wh.loader.table(T.RAW_TABLE, database=T.RAW_DATASET)
    raw = raw.filter(raw._dlt_load_id == load_id)
    new = raw.select("date", "base", "currency", "rate", _loaded_at=ibis.literal(now, type="timestamp"),
                     _run_id=ibis.literal(run_id), _load_id=raw._dlt_load_id, _source=ibis.literal(redact(s.url)))
    assert check is not None
    rec = ibis.memtable({"run_id": [run_id], "checked_at": [now], "date": [check.date],
                         "from_currency": [check.from_currency], "to_currency": [check.to_currency],
                         "computed": [check.computed], "api_rate": [check.api_rate], "abs_diff": [check.abs_diff],
                         "tolerance": [check.tolerance], "via": [check.via], "url": [check.url]},
                        schema=T.RECONCILIATION_SCHEMA)
    with recorded(wh, run_id) as results, wh.transaction():
        deleted = wh.delete_where(T.FX_RATES, where, args)
        inserted = wh.insert(T.FX_RATES, new)
        wh.ensure_table(T.FX_RECONCILIATION, T.RECONCILIATION_SCHEMA)
        wh.insert(T.FX_RECONCILIATION, rec)
        catalog.gate(wh, project, [T.FX_RATES, T.FX_RECONCILIATION], results, quality.TABLE_CHECKS)
    warned = [r for r in results if r.status == "warn"]
    return {"fetched": len(rows), "rows": inserted, "days": len(days), "replaced": f"{since}..{until}",
            "deleted": deleted, "first_day": days[0].isoformat(), "last_day": days[-1].isoformat(),
            "requests": requests, "retries": retries, "reconciliation": str(check),
            "checks": f"{sum(r.passed for r in results)} passed, {len(warned)} warned", "load_id": load_id}


def _refuse_a_hole(wh: Warehouse, s: FxIngestConfig, since: dt.date, until: dt.date, max_gap: int) -> None:
    """ConfigError when since..until lies apart from the days already loaded: the table's no-gap
    check would fail after the fetch, naming rows and SQL instead of the days to add."""
    if not wh.exists(T.FX_RATES) or "rate" not in wh.table(T.FX_RATES).columns:
        return
    t = wh.table(T.FX_RATES)
    t = t.filter((t.base == s.base) & t.currency.isin(s.symbols))
    span = wh.to_pyarrow(t.aggregate(first=t.date.min(), last=t.date.max())).to_pylist()[0]
    first, last = span["first"], span["last"]
    if first is None:
        return
    if (since - last).days > max_gap + 1:
        raise ConfigError(f"fx.load: {since}..{until} would leave {last + dt.timedelta(days=1)}..{since - dt.timedelta(days=1)} "
                          f"without rates after the days loaded ({first}..{last}; quality.fx_max_gap_days is {max_gap}); "
                          f"load those days too: --since {last + dt.timedelta(days=1)}")
    if (first - until).days > max_gap + 1:
        raise ConfigError(f"fx.load: {since}..{until} would leave {until + dt.timedelta(days=1)}..{first - dt.timedelta(days=1)} "
                          f"without rates before the days loaded ({first}..{last}; quality.fx_max_gap_days is {max_gap}); "
                          f"load those days too: --until {first - dt.timedelta(days=1)}")


def step_load(ctx: StepContext) -> StepResult:
    s = settings(ctx.project, ctx.params)
    since, until = ctx.since, ctx.until
    if since is None or until is None:  # pragma: no cover - the runner fills a ranged step's range
        since, until = default_range(ctx)
    today = dt.date.today()
    if since > today:
        raise ConfigError(f"fx.load: --since {since} is in the future; rates exist up to today ({today})")
    until = min(until, today)
    _refuse_a_hole(ctx.wh, s, since, until, ctx.project.quality.fx_max_gap_days)
    params = {"base": s.base, "symbols": ",".join(s.symbols), "url": redact(s.url)}
    return runlog.timed(ctx.wh, "fx", "load", params, lambda: load(ctx.wh, ctx.project, s, since, until),
                          "fetched", "rows", since=since, until=until)
