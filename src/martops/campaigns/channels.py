"""The channel dictionary resolved to one row per campaign.

The export repeats campaigns: exact copies, copies that differ only in spaces or case, copies
with a value missing (an empty budget category, name or channel), and a few with a different
value. The rule, per campaign and per attribute:

1. texts are trimmed, lower-cased, spaces collapsed and respelled to the delivery's canonical
   spelling (`clean.spellings`, the rule of `sources.spelling`), empty is missing; a budget category of `unknown` counts as
   missing when another row knows it;
2. the value most rows agree on wins; a tie goes to the row earliest in the file;
3. a campaign whose rows disagree on a non-missing value is a conflict: resolved by the rule,
   logged with both values, and marked in `conflicts`.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.campaigns import clean
from martops.ops.cleaning_log import CleaningLog
from martops.engine import Warehouse
from martops.sources.spelling import respell
from martops.sources.typed import ROW, Field, RawSpec

ID_EXPECTED = "a campaign id: digits, optionally with a .000000 suffix (not a float like 1.2E+17)"
ATTRIBUTES = {"campaign_name": "campaign_name", "campaign_period_budget_category": "budget_category",
              "channel_3": "channel_3", "channel_4": "channel_4", "channel_5": "channel_5"}
SPELLED = ("campaign_name", "channel_3", "channel_4", "channel_5")

SPEC = RawSpec("channels", fields=(
    Field("campaign_id", expected=ID_EXPECTED, required=True, parse=lambda t: clean.campaign_id(t.campaign_id)),
    *[Field(c) for c in ATTRIBUTES],
), key=())


def normalised(good: ir.Table, spelling: ir.Table) -> ir.Table:
    """Loadable rows with the id parsed and every attribute cleaned (see the module rule 1)."""
    t = good.select(ROW, campaign_id=good.t_campaign_id,
                    **{new: clean.squash(good[old]) for old, new in ATTRIBUTES.items()},
                    **{f"_raw_{c}": good[c] for c in SPELLED})
    for col in SPELLED:
        t = respell(t, col, spelling)
    return clean.flag_changed(t, SPELLED)


def _pick(t: ir.Table, col: str) -> ir.Table:
    v = t.filter(t[col].notnull())
    if col == "budget_category":
        known = v.filter(v[col] != "unknown")
        # 'unknown' only where no row of the campaign knows better
        v = known.union(v.filter(v[col] == "unknown").anti_join(known, "campaign_id"))
    g = v.group_by(["campaign_id", col]).aggregate(_uses=v.count(), _first=v[ROW].min())
    rank = ibis.row_number().over(group_by="campaign_id", order_by=[ibis.desc("_uses"), "_first"])
    best = g.mutate(_rank=rank)
    best = best.filter(best._rank == 0).select("campaign_id", col)
    n = g.group_by("campaign_id").aggregate(**{f"_n_{col}": g.count()})
    return best.join(n, "campaign_id")


def resolve(rows: ir.Table) -> ir.Table:
    """One row per campaign id from `normalised` rows: chosen attributes, source_rows, conflicts."""
    out = rows.group_by("campaign_id").aggregate(source_rows=rows.count(), _first_row=rows[ROW].min())
    for col in ATTRIBUTES.values():
        out = out.left_join(_pick(rows, col), "campaign_id").drop("campaign_id_right")
    conflict = ibis.literal(", ").join(
        [ibis.ifelse(out[f"_n_{c}"] > 1, ibis.literal(c), ibis.null("string")) for c in ATTRIBUTES.values()])
    out = out.mutate(conflicts=conflict.nullif(""))
    return out.select("campaign_id", *ATTRIBUTES.values(), "source_rows", "conflicts").order_by("campaign_id")


def log_counts(log: CleaningLog, wh: Warehouse, raw: ir.Table, rows: ir.Table, resolved: ir.Table) -> None:
    """Exact copies, copies equal after cleaning, copies merged into their campaign, conflicts."""
    text = [c for c in raw.columns if c != ROW]
    cleaned = [c for c in rows.columns if c != ROW and not c.startswith("_")]
    stats = wh.to_pyarrow(ibis.memtable({"_": [0]}).select(
        n_raw=raw.count().as_scalar(), n_distinct_raw=raw.select(*text).distinct().count().as_scalar(),
        n_good=rows.count().as_scalar(), n_clean=rows.select(*cleaned).distinct().count().as_scalar(),
        n_campaigns=resolved.count().as_scalar(),
        **{f"re_{c}": rows[f"_changed_{c}"].sum().as_scalar() for c in SPELLED},
    )).to_pylist()[0]
    exact = stats["n_raw"] - stats["n_distinct_raw"]
    log.add("channels", "exact duplicate rows collapsed", exact)
    for c in SPELLED:
        log.add("channels", f"{c} cleaned (spaces, case, spelling)", stats[f"re_{c}"] or 0)
    log.add("channels", "rows equal after trimming/case/respelling collapsed",
            max(0, stats["n_good"] - exact - stats["n_clean"]))
    log.add("channels", "rows merged into their campaign (a missing value filled, or a conflict resolved)",
            max(0, stats["n_clean"] - stats["n_campaigns"]))
    conflicts = resolved.filter(resolved.conflicts.notnull())
    listed = wh.to_pyarrow(conflicts.select("campaign_id", "conflicts")).to_pylist()
    log.add("channels", "campaigns with conflicting values (majority, then first row, wins)", len(listed),
            "; ".join(f"{r['campaign_id']}: {r['conflicts']}" for r in listed[:10]))
    log.add("channels", "campaigns in the dictionary", stats["n_campaigns"], always=True)
