"""Golden records: each survivorship rule decides when it should, and every record is mapped."""

from __future__ import annotations

import ibis
import pyarrow as pa

from martops.crm import golden
from martops.engine import connect
from martops.config import WarehouseConfig


def rows(wh, name):
    return wh.to_pyarrow(wh.table(name)).to_pylist()


def test_survivorship_rules_and_audit(tmp_path):
    wh = connect(WarehouseConfig(), path=tmp_path / "w.duckdb")
    records = ibis.memtable({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "name": ["Ann Lee", "Ann Lee", "Anne Lee", "Bob Ray", "Bob Ray", "Cy Young"],
        "email": ["ann@x.com", None, "ann@y.com", "bob@x.com", "rob@x.com", None],
        "phone": [None, "+1555", "+1555", "+1666", "+1666", None],
        "loaded": [1, 2, 3, 1, 2, 1],
    })
    clusters = pa.table({"id": ["a", "b", "c", "d", "e", "f"], "cluster_id": ["a", "a", "a", "d", "d", "f"],
                         "match_probability": [0.99, 0.98, 0.97, 0.96, 0.96, None]})
    tables = golden.GoldenTables.for_entity("crm", "customer")
    with wh:
        out = golden.build(wh, records, "customer_id", clusters, ["name", "email", "phone"], tables, recency="loaded")
        gold = {r["golden_id"]: r for r in rows(wh, tables.golden)}
        values = {(r["golden_id"], r["column"]): r for r in rows(wh, tables.values)}
        mapping = {r["source_id"]: r for r in rows(wh, tables.mapping)}
    # merged: b and c into a, e into d (the golden ids themselves are not merged into anything)
    assert out == {"golden": 3, "records": 6, "merged_records": 3, "multi_record_golden": 2}
    assert gold["a"]["name"] == "Ann Lee" and values[("a", "name")]["rule"] == "most common value"
    assert values[("a", "name")]["holders"] == 2 and values[("a", "name")]["candidates"] == 2
    # ann@x.com (a: 2 values) vs ann@y.com (c: 3 values): the most complete record wins
    assert gold["a"]["email"] == "ann@y.com" and values[("a", "email")]["rule"] == "from the most complete record"
    assert values[("a", "email")]["source_id"] == "c"
    assert gold["a"]["phone"] == "+1555" and values[("a", "phone")]["rule"] == "only value"
    assert values[("a", "phone")]["holders"] == 2
    # bob@ (d) vs rob@ (e): same completeness, e is more recent
    assert gold["d"]["email"] == "rob@x.com" and values[("d", "email")]["rule"] == "from the most recent record"
    assert gold["d"]["phone"] == "+1666" and values[("d", "phone")]["rule"] == "only value"
    assert gold["f"]["n_records"] == 1 and gold["f"]["email"] is None and ("f", "email") not in values
    assert mapping["c"]["golden_id"] == "a" and mapping["c"]["merged"] and not mapping["a"]["merged"]
    assert mapping["f"]["match_probability"] is None and mapping["f"]["cluster_size"] == 1


def test_ties_fall_to_the_lowest_id(tmp_path):
    wh = connect(WarehouseConfig(), path=tmp_path / "w.duckdb")
    records = ibis.memtable({"id": ["2", "1"], "name": ["Zed", "Ada"]})
    clusters = pa.table({"id": ["1", "2"], "cluster_id": ["1", "1"], "match_probability": [0.99, 0.99]})
    tables = golden.GoldenTables.for_entity("crm", "person")
    with wh:
        golden.build(wh, records, "id", clusters, ["name"], tables)
        (value,) = rows(wh, tables.values)
    assert (value["value"], value["rule"], value["source_id"]) == ("Ada", "from the lowest id", "1")


def test_most_recent_compares_the_recency_column_by_value_not_as_text(tmp_path):
    """Source line 10 is more recent than line 9 (as text, '9' > '10'), and a timestamp by time."""
    wh = connect(WarehouseConfig(), path=tmp_path / "w.duckdb")
    records = ibis.memtable({
        "id": ["a", "b", "c", "d"],
        "email": ["old@x.com", "new@x.com", "old@y.com", "new@y.com"],
        "source_row": [9, 10, 99, 100],
    })
    clusters = pa.table({"id": ["a", "b", "c", "d"], "cluster_id": ["a", "a", "c", "c"],
                         "match_probability": [0.99, 0.99, 0.99, 0.99]})
    tables = golden.GoldenTables.for_entity("crm", "person")
    with wh:
        out = golden.build(wh, records, "id", clusters, ["email"], tables, recency="source_row")
        values = {r["golden_id"]: r for r in rows(wh, tables.values)}
    assert (values["a"]["value"], values["a"]["source_id"], values["a"]["rule"]) == (
        "new@x.com", "b", "from the most recent record")
    assert (values["c"]["value"], values["c"]["source_id"]) == ("new@y.com", "d")
    assert out["merged_records"] == 2


def test_merged_count_is_the_ids_merged_into_another(tmp_path):
    """Three clusters of two: 6 members of multi-record clusters, 3 merged into another's record."""
    wh = connect(WarehouseConfig(), path=tmp_path / "w.duckdb")
    ids = ["1", "2", "3", "4", "5", "6", "7"]
    records = ibis.memtable({"id": ids, "name": ["A", "A", "B", "B", "C", "C", "D"]})
    clusters = pa.table({"id": ids, "cluster_id": ["1", "1", "3", "3", "5", "5", "7"],
                         "match_probability": [0.99] * 6 + [None]})
    tables = golden.GoldenTables.for_entity("crm", "person")
    with wh:
        out = golden.build(wh, records, "id", clusters, ["name"], tables)
        merged = sorted(r["source_id"] for r in rows(wh, tables.mapping) if r["merged"])
    assert out["merged_records"] == 3 and merged == ["2", "4", "6"]
    assert out["multi_record_golden"] == 3 and out["golden"] == 4
