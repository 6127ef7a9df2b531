"""Deduplication scores must count exactly what they claim, on hand-checked cases and on any
clustering (checked against a brute-force pair enumeration)."""
from __future__ import annotations

from itertools import combinations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martops.crm.dedupe.evaluate import Scores, cluster_scores, pair_scores

# r1-r3 are one person, r4-r5 another, r6 is alone: 3 + 1 = 4 true pairs, 3 true clusters.
TRUTH = pa.table({"record_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
                  "entity_id": ["A", "A", "A", "B", "B", "C"]})


def clusters(*groups: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame([(r, f"c{i}") for i, g in enumerate(groups) for r in g],
                        columns=["record_id", "cluster_id"])


def pairs(*ps: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(ps), columns=["unique_id_l", "unique_id_r"], dtype=object)


def approx(s: Scores, precision: float, recall: float, tp: int, fp: int, fn: int) -> None:
    assert (s.tp, s.fp, s.fn) == (tp, fp, fn)
    assert s.precision == pytest.approx(precision) and s.recall == pytest.approx(recall)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert s.f1 == pytest.approx(f1)


def test_perfect():
    r = cluster_scores(clusters(("r1", "r2", "r3"), ("r4", "r5"), ("r6",)), TRUTH)
    approx(r["pairs"], 1, 1, 4, 0, 0)
    approx(r["clusters"], 1, 1, 3, 0, 0)
    s = pair_scores(pairs(("r1", "r2"), ("r3", "r1"), ("r2", "r3"), ("r5", "r4")), TRUTH)
    approx(s, 1, 1, 4, 0, 0)


def test_one_false_merge():
    r = cluster_scores(clusters(("r1", "r2", "r3"), ("r4", "r5", "r6")), TRUTH)
    approx(r["pairs"], 4 / 6, 1, 4, 2, 0)
    approx(r["clusters"], 1 / 2, 1 / 3, 1, 1, 2)
    s = pair_scores(pairs(("r1", "r2"), ("r1", "r3"), ("r2", "r3"), ("r4", "r5"), ("r4", "r6"),
                          ("r5", "r6")), TRUTH)
    approx(s, 4 / 6, 1, 4, 2, 0)


def test_one_missed_record():
    r = cluster_scores(clusters(("r1", "r2"), ("r3",), ("r4", "r5"), ("r6",)), TRUTH)
    approx(r["pairs"], 1, 2 / 4, 2, 0, 2)
    approx(r["clusters"], 2 / 4, 2 / 3, 2, 2, 1)


def test_pairs_are_normalised_and_deduplicated():
    s = pair_scores(pairs(("r2", "r1"), ("r1", "r2"), ("r1", "r2"), ("r3", "r3"), ("r6", "r4")),
                    TRUTH)
    approx(s, 1 / 2, 1 / 4, 1, 1, 3)


def test_custom_column_names_and_integer_ids():
    truth = pd.DataFrame({"record_id": [1, 2, 3], "entity_id": [7, 7, 8]})
    p = pd.DataFrame({"a": [2], "b": [1]})
    approx(pair_scores(p, truth, id_l="a", id_r="b"), 1, 1, 1, 0, 0)
    c = pd.DataFrame({"id": ["1", "2", "3"], "cid": [0, 0, 1]})
    r = cluster_scores(c, truth, id_col="id", cluster_col="cid")
    approx(r["clusters"], 1, 1, 2, 0, 0)


def test_singletons_only():
    truth = pa.table({"record_id": ["a", "b", "c"], "entity_id": ["1", "2", "3"]})
    r = cluster_scores(clusters(("a",), ("b",), ("c",)), truth)
    approx(r["pairs"], 1, 1, 0, 0, 0)   # nothing to find, nothing predicted: perfect
    approx(r["clusters"], 1, 1, 3, 0, 0)
    approx(pair_scores(pairs(), truth), 1, 1, 0, 0, 0)
    # predicting a pair where none exist
    approx(pair_scores(pairs(("a", "b")), truth), 0, 0, 0, 1, 0)


def test_predicting_nothing_scores_zero_not_perfect():
    approx(pair_scores(pairs(), TRUTH), 0, 0, 0, 0, 4)
    r = cluster_scores(clusters(*[(f"r{i}",) for i in range(1, 7)]), TRUTH)
    approx(r["pairs"], 0, 0, 0, 0, 4)
    approx(r["clusters"], 1 / 6, 1 / 3, 1, 5, 2)   # only r6's singleton is a true cluster


def test_unknown_and_missing_ids_are_refused():
    with pytest.raises(ValueError, match="2 truth record_id"):
        cluster_scores(clusters(("r1", "r2", "r3"), ("r4",)), TRUTH)
    with pytest.raises(ValueError, match="1 clustered id"):
        cluster_scores(clusters(("r1", "r2", "r3"), ("r4", "r5"), ("r6", "r7")), TRUTH)
    with pytest.raises(ValueError, match="more than once"):
        cluster_scores(clusters(("r1", "r2", "r3"), ("r4", "r5"), ("r6", "r1")), TRUTH)
    with pytest.raises(ValueError, match="missing from truth"):
        pair_scores(pairs(("r1", "x9")), TRUTH)
    with pytest.raises(ValueError, match="one row per record_id"):
        pair_scores(pairs(), pa.table({"record_id": ["a", "a"], "entity_id": ["1", "2"]}))


def test_scores_str():
    assert str(Scores.from_counts(3, 4, 6)) == (
        "precision 0.7500  recall 0.5000  f1 0.6000  (tp 3  fp 1  fn 3)")


# --- properties -------------------------------------------------------------------------------

labelings = st.lists(st.integers(0, 6), min_size=1, max_size=25)


def _table(labels: list[int], name: str) -> pd.DataFrame:
    return pd.DataFrame({"record_id": [f"r{i}" for i in range(len(labels))],
                         name: [str(x) for x in labels]})


def _same_pairs(labels: list[int]) -> set[tuple[str, str]]:
    return {(f"r{i}", f"r{j}") for i, j in combinations(range(len(labels)), 2)
            if labels[i] == labels[j]}


@settings(max_examples=40, deadline=None)
@given(labelings)
def test_truth_scores_perfectly(entities):
    truth = _table(entities, "entity_id")
    r = cluster_scores(truth.rename(columns={"entity_id": "cluster_id"}), truth)
    for s in r.values():
        assert (s.precision, s.recall, s.f1, s.fp, s.fn) == (1.0, 1.0, 1.0, 0, 0)
    true = sorted(_same_pairs(entities))
    s = pair_scores(pd.DataFrame(true, columns=["unique_id_l", "unique_id_r"], dtype=object),
                    truth)
    assert (s.precision, s.recall, s.f1, s.tp) == (1.0, 1.0, 1.0, len(true))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_counts_match_brute_force(data):
    entities = data.draw(labelings)
    guess = data.draw(st.lists(st.integers(0, 6), min_size=len(entities),
                               max_size=len(entities)))
    truth = _table(entities, "entity_id")
    true, predicted = _same_pairs(entities), _same_pairs(guess)
    r = cluster_scores(_table(guess, "cluster_id"), truth)
    s = r["pairs"]
    assert s.tp == len(true & predicted)
    assert s.tp + s.fn == len(true) and s.tp + s.fp == len(predicted)
    # the same pairs, listed, score the same
    listed = pd.DataFrame(sorted(predicted), columns=["unique_id_l", "unique_id_r"], dtype=object)
    assert pair_scores(listed, truth) == s
    # exact clusters
    def groups(labels):
        return {frozenset(i for i, x in enumerate(labels) if x == v) for v in set(labels)}
    c = r["clusters"]
    assert c.tp == len(groups(entities) & groups(guess))
    assert c.tp + c.fp == len(set(guess)) and c.tp + c.fn == len(set(entities))
