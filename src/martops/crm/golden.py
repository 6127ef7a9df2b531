"""Golden records: one row per cluster of source records, each value chosen by a named rule.

Survivorship, per column and cluster, among the members' non-null values:
1. the value most members hold (`most common value`);
2. on a tie, the value of the most complete member: most non-null compared columns
   (`from the most complete record`);
3. then the most recent member, by the recency column compared in its own type (a line number as a
   number, a timestamp as a time), `from the most recent record`;
4. then the lowest source id (`from the lowest id`), so a rebuild always picks the same value.
A value alone in its cluster is `only value`. Nothing in the source is changed or deleted: the
golden tables are rebuilt from the source records and the clusters on every run, so undoing a
merge is re-running with the pair kept apart, and the audit tables say where each value came from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from martops.engine import Warehouse


@dataclasses.dataclass(frozen=True)
class GoldenTables:
    golden: str
    """One row per cluster: golden_id, the chosen values, n_records."""
    mapping: str
    """Every source record -> its golden id, with the match probability that put it there."""
    values: str
    """Every golden value -> the rule that chose it and the source record it came from."""

    @classmethod
    def for_entity(cls, schema: str, entity: str) -> "GoldenTables":
        return cls(f"{schema}.{entity}_golden", f"{schema}.{entity}_golden_map", f"{schema}.{entity}_golden_values")


RULES = ("only value", "most common value", "from the most complete record", "from the most recent record",
         "from the lowest id")


def _golden_ids(clusters: ir.Table) -> ir.Table:
    """A golden id is its cluster's smallest source id: stable while the cluster keeps that member."""
    w = ibis.window(group_by="cluster_id")
    return clusters.mutate(golden_id=clusters.id.min().over(w))


def _long(records: ir.Table, id_col: str, columns: list[str], recency: str | None) -> ir.Table:
    """Records as (id, column, value, completeness, recency): one row per non-null value."""
    completeness = sum((records[c].notnull().cast("int64") for c in columns), ibis.literal(0, "int64"))
    # compared in its own type: as text, line 9 would be more recent than line 10
    rec = records[recency] if recency else ibis.literal(0, "int64")
    base = records.select(id=records[id_col].cast("string"), completeness=completeness, recency=rec,
                          **{c: records[c].cast("string") for c in columns})
    parts = [base.select("id", "completeness", "recency", column=ibis.literal(c), value=base[c]).filter(
        base[c].notnull()) for c in columns]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _ranked(long: ir.Table, ids: ir.Table) -> ir.Table:
    """Each distinct value of a column in a cluster, ranked by the survivorship order."""
    t = long.join(ids.select("id", "golden_id"), "id")
    holder = ibis.window(group_by=["golden_id", "column", "value"],
                         order_by=[ibis.desc("completeness"), ibis.desc("recency"), "id"])
    t = t.mutate(holder_rank=ibis.row_number().over(holder), n=t.id.count().over(
        ibis.window(group_by=["golden_id", "column", "value"])))
    per_value = t.filter(t.holder_rank == 0).select("golden_id", "column", "value", "n", "completeness",
                                                    "recency", source_id=t.id)
    order = ibis.window(group_by=["golden_id", "column"],
                        order_by=[ibis.desc("n"), ibis.desc("completeness"), ibis.desc("recency"), "source_id"])
    return per_value.mutate(rank=ibis.row_number().over(order),
                            candidates=per_value.value.count().over(ibis.window(group_by=["golden_id", "column"])))


def _with_rule(ranked: ir.Table) -> ir.Table:
    first = ranked.filter(ranked["rank"] == 0)
    second = ranked.filter(ranked["rank"] == 1).select(
        "golden_id", "column", n2="n", completeness2="completeness", recency2="recency")
    t = first.left_join(second, ["golden_id", "column"]).select(first, "n2", "completeness2", "recency2")
    rule = ibis.cases((t.n2.isnull(), RULES[0]), (t.n > t.n2, RULES[1]),
                      (t.completeness > t.completeness2, RULES[2]), (t.recency > t.recency2, RULES[3]),
                      else_=RULES[4])
    return t.select("golden_id", "column", "value", "source_id", "candidates", holders="n", rule=rule)


def build(wh: Warehouse, records: ir.Table, id_col: str, clusters: ir.Table | pa.Table, columns: list[str],
          tables: GoldenTables, *, recency: str | None = None,
          built_at: dt.datetime | None = None) -> dict[str, int]:
    """Write the golden, map and values tables (replacing them) from `records` and `clusters`
    (`id`, `cluster_id`, `match_probability`: a warehouse table or Arrow); the caller owns the
    transaction."""
    if isinstance(clusters, pa.Table):
        clusters = ibis.memtable(clusters)
    ids = wh.materialize(_golden_ids(clusters.select("id", "cluster_id", "match_probability")), "_golden_ids")
    values = wh.materialize(_with_rule(_ranked(_long(records, id_col, columns, recency), ids)), "_golden_values")
    sizes = ids.group_by("golden_id").aggregate(n_records=ids.id.count())
    wide = sizes
    for c in columns:
        v = values.filter(values.column == c).select("golden_id", **{c: values.value})
        wide = wide.left_join(v, "golden_id").select(wide, c)
    ts = ibis.literal(built_at or dt.datetime.now(), "timestamp")
    n_golden = wh.create_or_replace(tables.golden, wide.select("golden_id", *columns, "n_records", built_at=ts))
    mapping = ids.join(sizes, "golden_id").select(
        source_id="id", golden_id="golden_id", cluster_size="n_records",
        match_probability=ids.match_probability.cast("float64"),
        merged=ids.id != ids.golden_id)
    n_map = wh.create_or_replace(tables.mapping, mapping.mutate(built_at=ts).order_by(["golden_id", "source_id"]))
    wh.create_or_replace(tables.values, values.mutate(built_at=ts).order_by(["golden_id", "column"]))
    merged = wh.scalar(ids.filter(ids.id != ids.golden_id).count())
    return {"golden": n_golden, "records": n_map, "merged_records": int(merged),
            "multi_record_golden": wh.scalar(sizes.filter(sizes.n_records > 1).count())}
