"""The attribute step: credit per (conversion, session) for one model, checked, then stored."""

from __future__ import annotations

import datetime as dt

import ibis

from martops.attribution import tables as T
from martops.attribution.models import credits_expr
from martops.checks import attribution_checks, enforce, run_checks
from martops.config import AttributionConfig
from martops.engine import Warehouse
from martops.errors import StepError

RANGES_SCHEMA = ibis.schema({"model": "string", "since": "date", "until": "date"})


def attribute(wh: Warehouse, since: dt.date, until: dt.date, model: str, cfg: AttributionConfig) -> dict:
    """Replace the model's credits for conversions dated [since, until].

    The sums-to-1 check runs on the rows just written, inside the same transaction: a model that
    breaks the invariant leaves the previous credits in place and fails the step.
    """
    if not wh.exists(T.JOURNEYS):
        raise StepError("no journeys in the warehouse yet; run `martops attribution journeys` first")
    j = wh.table(T.JOURNEYS)
    j = j.filter(j.conv_date.between(since, until))
    credits = credits_expr(j, model, cfg)
    where = "model = ? AND conv_date BETWEEN ? AND ?"
    params = [model, since, until]
    with wh.transaction():
        wh.ensure_table(T.CUSTOMER_JOURNEY, credits.schema())
        wh.delete_where(T.CUSTOMER_JOURNEY, where, params)
        rows = wh.insert(T.CUSTOMER_JOURNEY, credits)
        stored = wh.table(T.CUSTOMER_JOURNEY)
        stored = stored.filter((stored.model == model) & stored.conv_date.between(since, until))
        results = run_checks(wh, attribution_checks(stored, T.CUSTOMER_JOURNEY))
        enforce(results)
        wh.ensure_table(T.RANGES, RANGES_SCHEMA)
        wh.delete_where(T.RANGES, "model = ? AND since = ? AND until = ?", params)
        wh.insert(T.RANGES, ibis.memtable({"model": [model], "since": [since], "until": [until]}, schema=RANGES_SCHEMA))
    n_conv = int(wh.scalar(stored.conv_id.nunique()))
    # one credit per journey row: rows in (journey rows read) == rows out
    return {"journey_rows": rows, "rows": rows, "conversions": n_conv, "checks": len(results)}
