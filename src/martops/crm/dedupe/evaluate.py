"""Score a deduplication against the known truth (the generator's entity_id).

Two views, because they fail differently:
- pairs: is each predicted link between two records right? Precision and recall over record
  pairs are what a linkage threshold trades off, and what Splink's own charts show.
- clusters: is each predicted person exactly a true person? One wrong link can merge two big
  clusters while costing little pair precision; a golden record is built per cluster, so exact
  clusters are what the CRM marts feel.

Counting is done in DuckDB and, for clusters, from group sizes (a group of n records holds
n(n-1)/2 pairs) so a 1M-record truth with millions of pairs is scored without materialising them.
Inputs may be pyarrow Tables or pandas DataFrames; ids are compared as text, so integer and
string ids mix.

Conventions for empty denominators (no ZeroDivisionError, and no perfect score for doing
nothing): a ratio over an empty set is 1.0 when the other set is empty too (nothing predicted
and nothing to find: a perfect answer), else 0.0. So predicting no pairs when true pairs exist
gives precision 0, recall 0, F1 0; predicting pairs when none exist gives precision 0,
recall 0. F1 is 0 when precision + recall is 0.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb

log = logging.getLogger(__name__)


@dataclass
class Scores:
    """Precision, recall and F1 with the counts behind them (fn = true items not predicted)."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @classmethod
    def from_counts(cls, tp: int, predicted: int, true: int) -> Scores:
        """Scores from true positives, predicted items and true items (see module conventions)."""
        tp, predicted, true = int(tp), int(predicted), int(true)
        if not 0 <= tp <= min(predicted, true):
            raise ValueError(f"inconsistent counts: tp={tp}, predicted={predicted}, true={true}")
        both_empty = predicted == 0 and true == 0
        precision = tp / predicted if predicted else float(both_empty)
        recall = tp / true if true else float(both_empty)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1, tp, predicted - tp, true - tp)

    def __str__(self) -> str:
        return (f"precision {self.precision:.4f}  recall {self.recall:.4f}  f1 {self.f1:.4f}  "
                f"(tp {self.tp:,}  fp {self.fp:,}  fn {self.fn:,})")


def pair_scores(pairs: Any, truth: Any, id_l: str = "unique_id_l",
                id_r: str = "unique_id_r") -> Scores:
    """Scores of predicted matching pairs (already thresholded, e.g. Splink's predict() output)
    against truth (record_id, entity_id). A pair is counted once whatever its order or
    repetitions; self-pairs (l == r) are dropped as they say nothing. An id missing from truth
    raises ValueError: it would otherwise be silently scored as a false match."""
    with duckdb.connect() as con:
        _truth(con, truth)
        con.register("pairs_in", pairs)
        con.execute(f"""
            create temp table p as
            select distinct least(l, r) as a, greatest(l, r) as b
            from (select cast({_q(id_l)} as varchar) as l, cast({_q(id_r)} as varchar) as r
                  from pairs_in)
            where l is not null and r is not null and l <> r""")
        unknown, tp, predicted = con.execute("""
            select count(*) filter (where ta.entity_id is null or tb.entity_id is null),
                   count(*) filter (where ta.entity_id = tb.entity_id),
                   count(*)
            from p left join truth ta on ta.record_id = p.a
                   left join truth tb on tb.record_id = p.b""").fetchone()
        if unknown:
            raise ValueError(f"{unknown} predicted pair(s) name a record_id missing from truth")
        true = _true_pairs(con)
    log.debug("pair scores: %d distinct predicted pairs, %d true pairs", predicted, true)
    return Scores.from_counts(tp, predicted, true)


def cluster_scores(clusters: Any, truth: Any, id_col: str = "record_id",
                   cluster_col: str = "cluster_id") -> dict[str, Scores]:
    """Scores of a clustering (one cluster id per record) against truth (record_id, entity_id):

    - "pairs": over the record pairs the clusters imply (tp: pairs in the same cluster and the
      same entity; predicted: pairs in the same cluster; true: pairs in the same entity);
    - "clusters": exact clusters, singletons included (tp: predicted clusters whose members are
      exactly one entity's records; precision = tp / predicted clusters, recall = tp / true
      entities). A record rightly left alone is a right cluster; this is the cluster
      precision/recall of Menestrina, Whang & Garcia-Molina (VLDB 2010).

    Every truth record must be in exactly one cluster and every clustered record in truth;
    anything else raises ValueError with the count of offending ids."""
    with duckdb.connect() as con:
        _truth(con, truth)
        con.register("clusters_in", clusters)
        con.execute(f"""
            create temp table c as
            select cast({_q(id_col)} as varchar) as record_id,
                   cast({_q(cluster_col)} as varchar) as cluster_id
            from clusters_in""")
        missing, extra, repeated, null = con.execute("""
            select (select count(*) from truth t
                    where not exists (select 1 from c where c.record_id = t.record_id)),
                   (select count(*) from c
                    where not exists (select 1 from truth t where t.record_id = c.record_id)),
                   (select count(*) - count(distinct record_id) from c),
                   (select count(*) from c where record_id is null or cluster_id is null)
            """).fetchone()
        problems = [f"{k} {what}" for k, what in (
            (missing, "truth record_id(s) missing from clusters"),
            (extra, "clustered id(s) missing from truth"),
            (repeated, "id(s) in clusters more than once"),
            (null, "row(s) with a null id or cluster id")) if k]
        if problems:
            raise ValueError("; ".join(problems))
        row = con.execute("""
            with g as (select c.cluster_id, t.entity_id, count(*)::bigint as n
                       from c join truth t using (record_id) group by all),
                 cs as (select cluster_id, sum(n) as n from g group by all),
                 es as (select entity_id, sum(n) as n from g group by all)
            select (select sum(n * (n - 1) // 2) from g),
                   (select sum(n * (n - 1) // 2) from cs),
                   (select sum(n * (n - 1) // 2) from es),
                   (select count(*) from g join cs using (cluster_id) join es using (entity_id)
                    where g.n = cs.n and g.n = es.n),
                   (select count(*) from cs),
                   (select count(*) from es)""").fetchone()
    tp, predicted, true, exact, n_clusters, n_entities = (int(x or 0) for x in row)
    log.debug("cluster scores: %d clusters, %d entities, %d exact", n_clusters, n_entities, exact)
    return {"pairs": Scores.from_counts(tp, predicted, true),
            "clusters": Scores.from_counts(exact, n_clusters, n_entities)}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _truth(con: duckdb.DuckDBPyConnection, truth: Any) -> None:
    """Load truth as table `truth` (record_id, entity_id as text), refusing ids that repeat or
    are null: the scores would be meaningless."""
    con.register("truth_in", truth)
    con.execute("""
        create temp table truth as
        select cast(record_id as varchar) as record_id, cast(entity_id as varchar) as entity_id
        from truth_in""")
    repeated, null = con.execute("""
        select count(*) - count(distinct record_id),
               count(*) filter (where record_id is null or entity_id is null)
        from truth""").fetchone()
    if repeated or null:
        raise ValueError(f"truth must have one row per record_id and no nulls "
                         f"({repeated} repeated id(s), {null} row(s) with a null)")


def _true_pairs(con: duckdb.DuckDBPyConnection) -> int:
    (true,) = con.execute("""
        select coalesce(sum(n * (n - 1) // 2), 0)
        from (select count(*)::bigint as n from truth group by entity_id)""").fetchone()
    return int(true)
