"""Names in any script survive standardisation and are compared (transliterated); emoji are not
names; two identical records of a tiny table are one cluster even though the model is untrained."""

from __future__ import annotations

import csv

import pyarrow as pa

from martops.crm import tables as T
from martops.crm.dedupe.linker import dedupe
from martops.crm.dedupe.spec import DedupeSpec
from tests.cli_runner import run_cli
from tests.crm.folders import by_id, run_build, write_folder


def _csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _clusters(path) -> dict[str, str]:
    with path.open(encoding="utf-8") as fh:
        return {r["person_id"]: r["cluster_id"] for r in csv.DictReader(fh)}


def test_dedupe_links_identical_names_in_any_script_and_their_transliterations(tmp_path, capsys):
    people = _csv(tmp_path / "people.csv", ["person_id", "first_name", "surname", "dob"], [
        ("1", "محمد", "علي", "1980-02-03"), ("2", "محمد", "علي", "1980-02-03"),
        ("3", "Иван", "Петров", "1975-11-30"), ("4", "Ivan", "Petrov", "1975-11-30"),
        ("5", "Łukasz", "Nowak", "1990-07-14"), ("6", "Lukasz", "Nowak", "1990-07-14"),
        ("7", "José", "García", "1988-01-01"), ("8", "Jose", "Garcia", "1988-01-01"),
        ("9", "王", "小明", "1979-05-05"), ("10", "Anna", "Schmidt", "1992-09-09"),
        ("11", "😀", "🎉", "1980-02-03"), ("12", "😀", "🎉", "1980-02-03"),   # emoji are no names: apart
    ])
    out = tmp_path / "clusters.csv"
    res = run_cli(capsys, "crm", "dedupe", "--input", people, "--id", "person_id", "--compare", "first_name=name",
                  "--compare", "surname=name", "--compare", "dob=date", "--out", out)
    assert res.code == 0, res.err
    c = _clusters(out)
    assert c["1"] == c["2"] and c["3"] == c["4"] and c["5"] == c["6"] and c["7"] == c["8"]
    assert len({c["1"], c["3"], c["5"], c["7"], c["9"], c["10"], c["11"], c["12"]}) == 8


def test_two_identical_records_are_one_cluster_in_a_tiny_table(tmp_path):
    spec = DedupeSpec("id", (("first_name", "name"), ("surname", "name"), ("email", "email"), ("phone", "phone"),
                             ("country", "category")))
    ann = {"first_name": "Ann", "surname": "Lee", "email": "ann@example.com", "phone": "2769037065", "country": "US"}
    for others in ([], [{"id": "3", "first_name": "Bob", "surname": "Stone", "email": "bob@example.org",
                         "phone": "9179657512", "country": "FR"},
                        {"id": "4", "first_name": "Ann", "surname": "Lee", "email": "ann.lee@example.net",
                         "phone": "9179650000", "country": "US"}]):
        r = dedupe(pa.Table.from_pylist([{"id": "1", **ann}, {"id": "2", **ann}, *others]), spec)
        c = {row["id"]: row["cluster_id"] for row in r.clusters.to_pylist()}
        assert c["1"] == c["2"], r.pairs.to_pylist()
        assert r.stats["m_untrained"]  # the untrained fallback decided it
        linked = [p for p in r.pairs.to_pylist() if p["exact_agreement"]]
        assert [(p["id_l"], p["id_r"]) for p in linked] == [("1", "2")]
        if others:  # the same name with another email and phone is another person
            assert len({c["1"], c["3"], c["4"]}) == 3


def test_a_null_on_one_side_does_not_contradict_but_a_difference_does(tmp_path):
    spec = DedupeSpec("id", (("name", "name"), ("email", "email"), ("city", "city")))
    t = pa.Table.from_pylist([
        {"id": "1", "name": "Ann Lee", "email": "ann@example.com", "city": "Paris"},
        {"id": "2", "name": "Ann Lee", "email": "ann@example.com", "city": None},       # nothing differs
        {"id": "3", "name": "Bo Chan", "email": "bo@example.com", "city": "Lyon"},
        {"id": "4", "name": "Bo Chan", "email": "bo@example.com", "city": "Nice"},       # the city differs
    ])
    c = {row["id"]: row["cluster_id"] for row in dedupe(t, spec).clusters.to_pylist()}
    assert c["1"] == c["2"] and c["3"] != c["4"]


def test_crm_build_keeps_names_in_their_script_drops_emoji_and_links_identical_customers(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[
        ("c1", "Иван Петров", "ivan@example.com", "+7 495 123-45-67", "Russia"),
        ("c2", "Иван Петров", "ivan@example.com", "+7 495 123-45-67", "Russia"),   # the same person, 2nd id
        ("c3", "محمد علي", "", "", "Egypt"),
        ("c4", "😀🎉", "smiley@example.com", "", "France"),
        ("c5", "Ann 👍🏽 Lee", "ann@example.com", "", "USA"),
    ])
    _, _, log = run_build(wh, folder)
    c = by_id(wh, T.CUSTOMERS, "customer_id")
    assert (c["c1"]["name"], c["c1"]["first_name"], c["c1"]["surname"]) == ("Иван Петров", "Иван", "Петров")
    assert (c["c3"]["name"], c["c3"]["surname"]) == ("محمد علي", "علي")
    assert (c["c4"]["name"], c["c4"]["first_name"], c["c4"]["surname"]) == (None, None, None)
    assert c["c5"]["name"] == "Ann Lee"
    assert log.get("customers", "names without a letter in any script (only emoji/symbols): missing") == 1
    assert log.get("customers", "names: emoji/symbols dropped (not part of a name)") == 1
    m = by_id(wh, "crm.customer_golden_map", "source_id")
    assert m["c1"]["golden_id"] == m["c2"]["golden_id"] == "c1"
    assert len({m[k]["golden_id"] for k in ("c1", "c3", "c4", "c5")}) == 4
    assert log.get("golden", "customer ids merged into another's golden record") == 1
