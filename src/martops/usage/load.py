"""The usage load: a delivery (people, events) -> `staging.usage_people`, `staging.usage_events` and
`ops.quarantine`, in one transaction.

A delivery is a full extract: it replaces staging and its quarantine rows, so loading the same file
twice gives the same tables. Copies of an event are dropped here and counted in the cleaning log;
test accounts are recognised here by name and email (`usage.exclude`), in the in-process DuckDB that
reads every source, so one regular-expression dialect serves every warehouse engine.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir

from martops.checks import catalog
from martops.config import ProjectConfig, UsageExclusion, UsageSourceSettings
from martops.engine import Warehouse
from martops.ops import quarantine
from martops.ops.cleaning_log import CleaningLog
from martops.ops.runlog import current_run_id
from martops.sources import timestamps as TS
from martops.sources.typed import ROW, annotate, quarantine_rows, reasons, with_place
from martops.usage import quality, specs
from martops.usage import tables as T
from martops.usage.source import UsageSource


def _text(v: ir.StringValue) -> ir.StringValue:
    """Trimmed, inner runs of blanks made one space; NULL when blank."""
    s = v.strip().re_replace(r"\s+", " ")
    return ibis.ifelse(s == "", ibis.null("string"), s)


def _calendar_month(day: ir.DateValue) -> ir.IntegerValue:
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


def month_index(number: ir.IntegerValue, settings: UsageSourceSettings) -> ir.IntegerValue:
    """A grain-`month` month number as the marts' month index (see `usage.tables`)."""
    if settings.month_one is None:
        return number
    year, month = map(int, settings.month_one.split("-"))
    return number + (year * 12 + month - 2)


def _test_reason(t: ir.Table, rules: UsageExclusion) -> ir.StringValue:
    """Why the name or email marks a test account (the first matching rule), else NULL."""
    if not rules.enabled:
        return ibis.null("string")
    cases = []
    for column, patterns in (("email", rules.email_patterns), ("name", rules.name_patterns)):
        for i, pattern in enumerate(patterns):
            hit = t[column].notnull() & t[column].re_search(f"(?i){pattern}")
            cases.append((hit.fill_null(False), ibis.literal(f"{column} '") + t[column]
                          + f"' matches usage.exclude.{column}_patterns[{i}]"))
    return ibis.cases(*cases, else_=ibis.null("string"))


def _people_columns(t: ir.Table, settings: UsageSourceSettings, rules: UsageExclusion) -> dict:
    text = {c: _text(t[c]) for c in ("name", "email", "company")}
    if settings.grain == "month":
        created, day = ibis.null("timestamp"), ibis.null("date")
        signup = month_index(t.t_created_at, settings)
    else:
        created = t.t_created_at
        day = TS.utc_to_local(created, settings.reporting_timezone).date()
        signup = _calendar_month(day)
    return {"user_id": t.user_id.strip(), **text, "created_at": created, "signup_date": day,
            "signup_month": signup.cast("int64")}


def _event_columns(t: ir.Table, settings: UsageSourceSettings) -> dict:
    kind = _text(t.event_type)
    if settings.grain == "month":
        return {"user_id": t.t_user_id, "event_type": kind.fill_null("active_month"),
                "event_at": ibis.null("timestamp"), "event_date": ibis.null("date"),
                "activity_month": month_index(t.t_month, settings).cast("int64")}
    day = TS.utc_to_local(t.t_timestamp, settings.reporting_timezone).date()
    return {"user_id": t.t_user_id, "event_type": kind.fill_null(specs.NO_TYPE), "event_at": t.t_timestamp,
            "event_date": day, "activity_month": _calendar_month(day)}


def _quarantine(wh: Warehouse, src: UsageSource, role: str, ann: ir.Table, spec, run_id: str,
                now: dt.datetime) -> int:
    where, unit = src.place(role)
    bad = quarantine_rows(with_place(reasons(ann, spec), where, src.header(role), unit), spec, T.SOURCE, run_id, now)
    return quarantine.replace(wh, T.SOURCE, spec.table, bad, None, None)


def load(wh: Warehouse, path: str | Path, project: ProjectConfig, results: list, log: CleaningLog) -> dict:
    """Both tables -> staging + quarantine, in one transaction; {role: {read, loaded, quarantined}}."""
    settings, rules = project.sources.usage, project.usage.exclude
    run_id, now = current_run_id(), dt.datetime.now()
    stamp = {"_etl_loaded_at": ibis.literal(now, type="timestamp"), "_run_id": ibis.literal(run_id)}
    src = UsageSource(wh, path, settings)
    counts: dict[str, dict[str, int]] = {}
    try:
        with wh.transaction():
            pspec = specs.people(settings)
            raw = src.raw("people")
            ann = wh.materialize(annotate(raw.mutate(user_id=raw.user_id.strip()), pspec, check_duplicates=True),
                                 "_usage_people_annotated")
            good = ann.filter(ann._ok)
            people = good.select(ROW, **_people_columns(good, settings, rules))
            people = people.mutate(test_reason=_test_reason(people, rules), **stamp).order_by(ROW)
            loaded = wh.create_or_replace(T.STAGING_PEOPLE, people)
            read = int(wh.scalar(ann.count()))
            counts["people"] = {"read": read, "loaded": loaded,
                                "quarantined": _quarantine(wh, src, "people", ann, pspec, run_id, now)}

            ids = wh.materialize(good.select(_pid=good.user_id.strip()).distinct(), "_usage_person_ids")
            raw = src.raw("events")
            raw = raw.mutate(_uid=raw.user_id.strip())
            j = raw.left_join(ids, raw._uid == ids._pid)
            raw = j.mutate(_person=j._pid).drop("_uid", "_pid")
            espec = specs.events(settings)
            ann = wh.materialize(annotate(raw, espec, check_duplicates=False), "_usage_events_annotated")
            good = ann.filter(ann._ok)
            typed = good.select(ROW, **_event_columns(good, settings))
            key = ["user_id", "event_type", "event_at" if settings.grain == "event" else "activity_month"]
            once = typed.group_by(key).aggregate(_first=typed[ROW].min(), _copies=typed.count() - 1)
            once = wh.materialize(once, "_usage_events_once")
            copies = int(wh.scalar(once._copies.sum()) or 0)
            firsts = typed.semi_join(once, typed[ROW] == once._first)
            loaded = wh.create_or_replace(T.STAGING_EVENTS, firsts.mutate(**stamp).order_by(ROW))
            read = int(wh.scalar(ann.count()))
            n_bad = _quarantine(wh, src, "events", ann, espec, run_id, now)
            counts["events"] = {"read": read, "loaded": loaded + copies, "quarantined": n_bad}
            quarantine.account(wh, T.SOURCE, {f"usage_{k}": c for k, c in counts.items()}, project.quality,
                               lambda table: (src.where(table.removeprefix("usage_")), "rows"))
            counts["events"]["loaded"] = loaded
            counts["events"]["copies"] = copies
            ev = wh.table(T.STAGING_EVENTS)
            counts["events"]["untyped"] = int(wh.scalar((ev.event_type == specs.NO_TYPE).cast("int64").sum()) or 0)
            _log_load(wh, log, counts, copies, settings.grain)
            catalog.gate(wh, project, [T.STAGING_PEOPLE, T.STAGING_EVENTS], results, quality.TABLE_CHECKS)
    finally:
        src.close()
    return counts


def _log_load(wh: Warehouse, log: CleaningLog, counts: dict, copies: int, grain: str) -> None:
    for role in ("people", "events"):
        c = counts[role]
        if c["quarantined"]:
            by_col = quarantine.bad_columns(wh, T.SOURCE, f"usage_{role}", top=20)
            log.add(role, "rows quarantined", c["quarantined"], ", ".join(f"{k}: {n}" for k, n in by_col.items()))
    p = counts["people"]
    log.add("people", "rows read = loaded + quarantined", p["read"],
            f"{p['read']:,} = {p['loaded']:,} + {p['quarantined']:,}", always=True)
    e = counts["events"]
    log.add("events", "rows read = loaded + copies dropped + quarantined", e["read"],
            f"{e['read']:,} = {e['loaded']:,} + {copies:,} + {e['quarantined']:,}", always=True)
    what = "same person, type and time" if grain == "event" else "same person and month"
    log.add("events", f"copies of an event dropped ({what}; the first row kept)", copies, always=True)
    log.add("events", f"events without a type, counted as {specs.NO_TYPE} (still an interaction; the type "
            "breakdowns show them under that name)", e["untyped"], always=True)
    people = wh.table(T.STAGING_PEOPLE)
    s = wh.to_pyarrow(people.aggregate(
        test=people.test_reason.notnull().cast("int64").sum(), nocompany=people.company.isnull().cast("int64").sum(),
        nosignup=people.signup_month.isnull().cast("int64").sum())).to_pylist()[0]
    log.add("people", "test accounts by name or email (kept in staging; excluded from the marts)", s["test"] or 0)
    log.add("people", "people with no company (in the customer marts, in no company's)", s["nocompany"] or 0,
            always=True)
    log.add("people", "people with no signup date (their cohort is the month they were first seen)", s["nosignup"] or 0)
