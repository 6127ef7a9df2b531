"""Reconciling a delivery's rows to one fact per day x campaign x country x funnel.

Exports repeat the grain: the sales-assisted file holds the same campaign-day several times
(once per product label, with some copies missing measures), the web file a few exact copies.
As the seed's dashboard logic does, each measure takes its MAX() over the copies: the latest
known daily value, since platforms only ever revise counts upward within a delivery. Across
deliveries the snapshot keeps the latest delivery's value instead (a correction may go down).

Names and channels come from the channel dictionary when the campaign is in it (it is the
authority), else from the funnel rows themselves (sales-assisted rows carry their own).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.snapshots import surrogate_key

FACT_MEASURES = {
    "spend_eur": "float64", "impressions": "int64", "clicks": "int64", "leads": "int64", "fake_leads": "int64",
    "sqls": "int64", "meetings": "int64", "signed": "int64", "deals": "int64", "sessions": "int64",
    "signups": "int64", "orders": "int64", "items_ordered": "int64", "items_dispatched": "int64",
}
ATTRS = ["campaign_name", "channel_3", "channel_4", "channel_5"]
GRAIN = ["funnel", "date", "country_code", "campaign_id"]
KEY_COLUMNS = ["funnel", "campaign_id", "campaign_name", "date", "country_code", "channel_3", "channel_4", "channel_5"]


def most_common(rows: ir.Table, key: str, column: str) -> ir.Table:
    """(`key`, `column`): the value most rows of each key carry (ties: alphabetical), NULLs aside."""
    v = rows.filter(rows[column].notnull())
    g = v.group_by([key, column]).aggregate(_uses=v.count())
    g = g.mutate(_rank=ibis.row_number().over(group_by=key, order_by=[ibis.desc("_uses"), column]))
    return g.filter(g._rank == 0).select(key, column)


def _per_grain(rows: ir.Table, funnel: str) -> ir.Table:
    """MAX() of every measure per grain; attributes per campaign (so every day of it agrees)."""
    keys = ["date", "country_code", "campaign_id"]
    aggs = {m: (rows[m].max() if m in rows.columns else ibis.null(dtype)) for m, dtype in FACT_MEASURES.items()}
    g = rows.group_by(keys).aggregate(**aggs, source_rows=rows.count())
    g = g.mutate(funnel=ibis.literal(funnel), **{m: g[m].cast(d) for m, d in FACT_MEASURES.items()})
    for a in ATTRS:
        if a in rows.columns:
            best = most_common(rows, "campaign_id", a).rename({f"_{a}": a})
            g = g.left_join(best, "campaign_id").drop("campaign_id_right")
        else:
            g = g.mutate(**{f"_{a}": ibis.null("string")})
    return g


def daily_facts(funnels: dict[str, ir.Table], dictionary: ir.Table) -> ir.Table:
    """One row per grain: MAX() of each measure over the copies, attributes, key and values hash."""
    parts = [_per_grain(rows, funnel) for funnel, rows in funnels.items()]
    f = ibis.union(*parts) if len(parts) > 1 else parts[0]
    d = dictionary.select("campaign_id", "budget_category", *[dictionary[a].name(f"_d_{a}") for a in ATTRS],
                          _in_d=ibis.literal(True))
    j = f.left_join(d, f.campaign_id == d.campaign_id).drop("campaign_id_right")
    j = j.mutate(**{a: j[f"_d_{a}"].coalesce(j[f"_{a}"]) for a in ATTRS},
                 in_dictionary=j._in_d.fill_null(False))
    j = j.select(*GRAIN, *ATTRS, "budget_category", "in_dictionary", *FACT_MEASURES, "source_rows")
    return j.mutate(snapshot_key=surrogate_key(j, KEY_COLUMNS),
                    values_hash=surrogate_key(j, [*FACT_MEASURES, "budget_category"]))


def reconciled_counts(facts: ir.Table, funnels: list[str]) -> dict[str, ir.Scalar]:
    """Per funnel, from the facts' `source_rows`: grains held by several rows, rows folded into them."""
    out = {}
    for funnel in funnels:
        dup = facts.filter((facts.funnel == funnel) & (facts.source_rows > 1))
        out[f"{funnel}_groups"] = dup.count().as_scalar()
        out[f"{funnel}_rows"] = (dup.source_rows - 1).sum().fill_null(0).as_scalar()
    return out
