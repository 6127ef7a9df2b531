"""`crm build` links customer ids that are one person (Splink) and writes their golden records."""

from __future__ import annotations

import pyarrow.compute as pc

from martops.config import CrmConfig, CrmDedupeConfig, ProjectConfig
from martops.crm import tables as T
from martops.crm.customer_dedupe import GOLDEN
from martops.crm.dedupe.evaluate import cluster_scores
from martops.demo.crm_people import PeopleSpec, generate
from martops.engine import connect
from tests.cli_runner import run_cli
from tests.crm.folders import by_id, rows, run_build, write_folder

PROJECT = ProjectConfig(crm=CrmConfig(dedupe=CrmDedupeConfig(u_max_pairs=2e5)))


def people_folder(tmp_path, n=1500):
    """Generated people as a CRM customers.csv: the copies are other customer ids of one person."""
    people = generate(PeopleSpec(n_records=n, seed=11, household_share=0.0))
    name = pc.binary_join_element_wise(people["first_name"], people["surname"], " ")
    customers = list(zip(people["record_id"].to_pylist(), name.to_pylist(), people["email"].to_pylist(),
                         people["phone"].to_pylist(), ["United States"] * n))
    truth = people.select(["record_id", "entity_id"])
    return write_folder(tmp_path / "d", customers=customers, transactions=None, interactions=None), truth


def test_ids_of_one_person_share_a_golden_record(tmp_path):
    folder, truth = people_folder(tmp_path)
    with connect(path=tmp_path / "w.duckdb") as wh:
        _, results, log = run_build(wh, folder, PROJECT)
        assert [r.step for r in results] == ["load", "dedupe", "golden", "marts"]
        clusters = wh.to_pyarrow(wh.table(T.CLUSTERS).select(id="customer_id", cluster_id="cluster_id"))
        scores = cluster_scores(clusters, truth, id_col="id")
        assert scores["pairs"].f1 > 0.9, scores
        mapping = by_id(wh, GOLDEN.mapping, "source_id")
        golden = by_id(wh, GOLDEN.golden, "golden_id")
        values = rows(wh, GOLDEN.values, ["golden_id", "column"])
    assert len(mapping) == truth.num_rows  # every customer id mapped, none lost
    assert sum(g["n_records"] for g in golden.values()) == truth.num_rows
    merged = [m for m in mapping.values() if m["merged"]]
    assert merged and all(m["match_probability"] >= 0.95 and m["cluster_size"] > 1 for m in merged)
    assert {v["rule"] for v in values} >= {"only value", "most common value"}
    assert log.get("dedupe", "customer ids linked to another id (Splink)") == len(merged) + sum(
        1 for g in golden.values() if g["n_records"] > 1)


def test_rebuild_gives_the_same_golden_records(tmp_path):
    folder, _ = people_folder(tmp_path, n=600)
    with connect(path=tmp_path / "w.duckdb") as wh:
        run_build(wh, folder, PROJECT)
        first = rows(wh, GOLDEN.mapping, ["source_id"])
        run_build(wh, folder, PROJECT)
        second = rows(wh, GOLDEN.mapping, ["source_id"])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "built_at"} for r in rs]  # noqa: E731
    assert strip(first) == strip(second)


def test_dedupe_command_on_a_file_and_on_a_table(tmp_path, capsys):
    people = generate(PeopleSpec(n_records=800, seed=3))
    import pyarrow.csv as pacsv

    pacsv.write_csv(people.drop_columns(["entity_id", "corruptions"]), tmp_path / "people.csv")
    args = ["--id", "record_id", "--compare", "first_name=name", "--compare", "surname=name", "--compare", "dob=date",
            "--compare", "email=email", "--compare", "postcode=postcode"]
    res = run_cli(capsys, "crm", "dedupe", "--input", tmp_path / "people.csv", *args, "--out", tmp_path / "c.csv",
                  "--model", tmp_path / "m.json")
    assert res.code == 0, res.out + res.err
    assert "800 records ->" in res.out and "blocking rules: email" in res.out
    clusters = pacsv.read_csv(tmp_path / "c.csv")
    assert clusters.column_names[:2] == ["record_id", "cluster_id"] and clusters.num_rows == 800
    assert pacsv.read_csv(tmp_path / "c_pairs.csv").column_names[:3] == ["record_id_l", "record_id_r",
                                                                         "match_probability"]
    assert '"comparisons"' in (tmp_path / "m.json").read_text()
    # the same records as a warehouse table
    folder, _ = people_folder(tmp_path, n=300)
    wh = tmp_path / "w.duckdb"
    assert run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh).code == 0
    res = run_cli(capsys, "crm", "dedupe", "--table", "crm.customers", "--warehouse", wh, "--id", "customer_id",
                  "--compare", "name=name", "--compare", "email=email", "--out", tmp_path / "t.parquet")
    assert res.code == 0 and "300 records ->" in res.out, res.out + res.err
    bad = run_cli(capsys, "crm", "dedupe", "--input", tmp_path / "people.csv", "--id", "record_id",
                  "--compare", "surname=nam", "--out", tmp_path / "x.csv")
    assert bad.code != 0 and "unknown kind 'nam'" in bad.err
