"""The ingest step: challenge source -> typed staging tables plus quarantine, for one range.

Every row read is accounted for: rows read = rows loaded + rows quarantined, per source table,
asserted before commit. Staging, quarantine and the staging checks commit together or not at all,
so a failure (or a SIGKILL) leaves the warehouse exactly as the previous run left it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from martops.attribution import channels, quality, tables as T
from martops.attribution.cleaning import log_conversion_policies
from martops.attribution.costs import with_costs
from martops.attribution.source import ChallengeSource
from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import StepError
from martops.ops import faults, quarantine
from martops.ops.cleaning_log import CleaningLog
from martops.ops.runlog import current_run_id
from martops.sources import timestamps as TS
from martops.sources.sqlite import SqliteFile
from martops.sources.typed import quarantine_rows, reasons


SPELLING_SCHEMA = ibis.schema({"raw": "string", "canonical": "string", "uses": "int64"})


def _sessions(sess: ir.Table, costs: ir.Table, now: dt.datetime, spelling: ir.Table, zone: str) -> ir.Table:
    """Loadable sessions with their cost, channels in their canonical spelling. A cost row naming
    no session joins nothing, so the (expensive) orphan test is left to the cost accounting.
    `session_ts` is UTC, built from the parsed date and time (`sources.timestamps.combined`), never
    by casting their concatenated text."""
    j = with_costs(channels.respell(sess.filter(sess._ok), spelling), costs)
    ts = TS.combined(j.event_date, j.event_time, zone)
    return j.select(
        session_id=j.session_id, user_id=j.user_id, event_date=j.t_event_date, session_ts=ts,
        channel_name=j.channel_name, holder_engagement=j.t_holder_engagement,
        closer_engagement=j.t_closer_engagement, impression_interaction=j.t_impression_interaction,
        cost=j.cost, cost_unknown=j.cost_unknown, _loaded_at=ibis.literal(now, type="timestamp"),
    )


def _conversions(conv: ir.Table, now: dt.datetime, zone: str) -> ir.Table:
    c = conv.filter(conv._ok)
    ts = TS.combined(c.conv_date, c.conv_time, zone)
    return c.select(conv_id=c.conv_id, user_id=c.user_id, conv_date=c.t_conv_date, conv_ts=ts,
                    revenue=c.t_revenue, _loaded_at=ibis.literal(now, type="timestamp"))


def _load(wh: Warehouse, src: ChallengeSource, table: str, target: str, annotated: ir.Table, good: ir.Table,
          lo: dt.date | None, hi: dt.date, run_id: str, now: dt.datetime) -> dict[str, int]:
    """Replace one staging range and its quarantine; returns read/loaded/quarantined counts."""
    spec = src.specs[table]
    col = spec.partition
    wh.ensure_table(target, good.schema(), partition=col)
    where, params = (f"{col} <= ?", [hi]) if lo is None else (f"{col} BETWEEN ? AND ?", [lo, hi])
    wh.delete_where(target, where, params)
    loaded = wh.insert(target, good)
    read = int(wh.scalar(annotated.count()))  # cheap: only the partition column is read
    # the bad-row query re-reads every column, so it runs only when some rows did not load
    bad_rows = quarantine_rows(reasons(annotated, spec), spec, src.name, run_id, now) if read != loaded else None
    return {"read": read, "loaded": loaded, "quarantined": quarantine.replace(wh, src.name, table, bad_rows, lo, hi)}


def _load_costs(wh: Warehouse, src: ChallengeSource, run_id: str, now: dt.datetime) -> dict[str, int]:
    """Cost rows have no date: each run accounts for all of them (usable = parse and name a session)."""
    read, usable = int(wh.scalar(src.annotated("session_costs").count())), int(wh.scalar(src.usable_costs()))
    bad_rows = None
    if read != usable:
        bad_rows = quarantine_rows(src.cost_reasons(src.costs()), src.specs["session_costs"], src.name, run_id, now)
    return {"read": read, "loaded": usable, "quarantined": quarantine.replace(wh, src.name, "session_costs", bad_rows, None, None)}


def _require_conversions(src: ChallengeSource, since: dt.date, until: dt.date) -> None:
    """A range holding no conversion at all is a wrong range, not dirt: say so, with the dates the
    source has, before the generic row_count check. Runs only when no row was read (rows with an
    unreadable date belong to every range and go to quarantine instead); the span is one min/max
    over the parsed date of the whole table."""
    first, last = src.date_span("conversions")
    dated = (f"its conversions are dated {first}..{last}" if first is not None
             else "none of its conversions has a readable date")
    raise StepError(f"no conversions dated {since}..{until} in {src.path} ({dated}); nothing was loaded")


def ingest(wh: Warehouse, db: str | Path, since: dt.date, until: dt.date, lookback_days: int | None = None,
           project: ProjectConfig | None = None) -> dict:
    """Load conversions dated [since, until] and the sessions a journey of theirs can use.

    Sessions: every session up to `until` (from `since - lookback_days` when a lookback is set),
    with its cost. Re-running replaces exactly those date ranges in staging and quarantine, so
    ranges can be loaded in any order and any number of times.
    """
    project = project or ProjectConfig()
    run_id, now = current_run_id(), dt.datetime.now()
    settings = project.sources.attribution
    src = ChallengeSource(wh, db, project.attribution, settings)
    lo = since - dt.timedelta(days=lookback_days) if lookback_days else None
    log = CleaningLog("attribution")
    try:
        sess, conv = src.annotated("session_sources", lo, until), src.annotated("conversions", since, until)
        spelling = src.channel_spellings()
        channels.log_respellings(log, spelling)
        spelling_t = ibis.memtable(spelling, schema=SPELLING_SCHEMA) if spelling else ibis.memtable(
            {c: [] for c in SPELLING_SCHEMA}, schema=SPELLING_SCHEMA)
        with recorded(wh, run_id) as results, wh.transaction():
            counts = {
                "session_sources": _load(wh, src, "session_sources", T.SESSIONS, sess,
                                         _sessions(sess, src.annotated("session_costs"), now, spelling_t,
                                                   settings.timezone), lo, until, run_id, now),
                "conversions": _load(wh, src, "conversions", T.CONVERSIONS, conv,
                                     _conversions(conv, now, settings.timezone),
                                     since, until, run_id, now),
                "session_costs": _load_costs(wh, src, run_id, now),
            }
            if not counts["conversions"]["read"]:  # no row dated in the range, nor an undated one
                _require_conversions(src, since, until)
            log_conversion_policies(log, wh, run_id)
            log.write(wh, run_id)
            faults.pause_point("ingest.before_commit")
            quarantine.account(wh, src.name, counts, project.quality, lambda table: (src.name, f"{table} rows"))
            catalog.gate(wh, project, (T.SESSIONS, T.CONVERSIONS), results, quality.TABLE_CHECKS)
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.InterruptException) or not isinstance(src.reader, SqliteFile):
            raise
        raise src.reader.not_utf8(list(src.specs)) or exc
    finally:
        src.close()
    s, c, k = counts["session_sources"], counts["conversions"], counts["session_costs"]
    return {
        "read": s["read"] + c["read"], "loaded": s["loaded"] + c["loaded"],
        "quarantined": s["quarantined"] + c["quarantined"] + k["quarantined"],
        "sessions": s["loaded"], "conversions": c["loaded"],
        "cost_rows_quarantined": k["quarantined"],
        "channels_respelled": log.get("session_sources", channels.RESPELLED),
        "checks": len(results), "warnings": sum(r.status == "warn" for r in results),
        "accounting": ", ".join(f"{t} {n['read']:,}={n['loaded']:,}+{n['quarantined']:,}" for t, n in counts.items()),
    }
