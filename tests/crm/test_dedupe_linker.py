"""Splink deduplication on generated people with known duplicates: quality, shape, errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from martops.crm.dedupe.evaluate import cluster_scores, pair_scores
from martops.crm.dedupe.linker import dedupe
from martops.crm.dedupe.spec import DedupeSpec
from martops.demo.crm_people import PeopleSpec, generate
from martops.errors import SourceError

PEOPLE = (("first_name", "name"), ("surname", "name"), ("dob", "date"), ("email", "email"), ("phone", "phone"),
          ("address", "address"), ("postcode", "postcode"), ("city", "city"))


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return generate(PeopleSpec(n_records=3000, seed=5))


@pytest.fixture(scope="module")
def result(people):
    spec = DedupeSpec("record_id", PEOPLE, u_max_pairs=2e5)
    return dedupe(people.drop_columns(["entity_id", "corruptions"]), spec)


def test_finds_the_planted_duplicates(people, result):
    truth = people.select(["record_id", "entity_id"])
    scores = cluster_scores(result.clusters, truth, id_col="id")
    assert scores["pairs"].recall > 0.97 and scores["pairs"].precision > 0.9, scores
    at_threshold = result.pairs.filter(pa.compute.greater_equal(result.pairs["match_probability"], 0.95))
    assert pair_scores(at_threshold, truth, id_l="id_l", id_r="id_r").f1 > 0.93


def test_every_record_gets_one_cluster_and_evidence(people, result):
    c = result.clusters.to_pandas()
    assert len(c) == people.num_rows and c.id.is_unique
    sizes = c.groupby("cluster_id").id.transform("size")
    assert (sizes == c.cluster_size).all()
    assert c.loc[c.cluster_size == 1, "match_probability"].isna().all()
    assert (c.loc[c.cluster_size > 1, "match_probability"] >= 0.95).all()
    p = result.pairs.to_pandas()
    assert (p.match_probability >= 0.5).all() and set(p.blocking_rule) <= set(result.stats["blocking_rules"])
    assert result.stats["em_sessions"][0] == "email" and not result.stats["m_untrained"]
    assert "records ->" in str(result)


def test_same_input_same_clusters(people, result):
    again = dedupe(people.drop_columns(["entity_id", "corruptions"]), DedupeSpec("record_id", PEOPLE, u_max_pairs=2e5))
    assert again.clusters.equals(result.clusters)


def test_a_clean_table_stays_apart():
    """No pair shares a near-certain key: the prior falls back to one match in all pairs, m stays
    untrained (reported), and nobody is merged."""
    t = pa.table({"id": ["1", "2", "3", "4"], "name": ["Ann", "Bob", "Cy", "Dee"],
                  "email": ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]})
    r = dedupe(t, DedupeSpec("id", (("name", "name"), ("email", "email")), u_max_pairs=1e3))
    assert r.stats["multi_clusters"] == 0 and r.clusters.num_rows == 4
    assert r.stats["m_untrained"] == ["email", "name"]


@pytest.mark.parametrize("ids, message", [
    (["1", "1", "2"], "id is not unique .1 id.s. repeat, e.g. '1' x2"),
    (["1", None, "2"], "1 row.s. have no id"),
])
def test_bad_ids_are_named(ids, message):
    t = pa.table({"id": ids, "name": ["a", "b", "c"]})
    with pytest.raises(SourceError, match=message):
        dedupe(t, DedupeSpec("id", (("name", "name"),)), label="people.csv")


def test_missing_columns_and_unknown_block_columns_are_named():
    t = pa.table({"id": ["1"], "name": ["a"]})
    with pytest.raises(SourceError, match=r"people.csv: column\(s\) \['dob'\] not found; the table has \['id', 'name'\]"):
        dedupe(t, DedupeSpec("id", (("name", "name"), ("dob", "date"))), label="people.csv")
    with pytest.raises(SourceError, match="--block city: .'city'. not among the compared columns"):
        dedupe(t, DedupeSpec("id", (("name", "name"),), blocking=(("city",),)))
