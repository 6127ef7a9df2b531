"""Preparation removes format differences (not identity), and the derived blocking rules."""

from __future__ import annotations

import duckdb
import pytest

from martops.crm.dedupe.kinds import blocking_keys, deterministic_keys
from martops.crm.dedupe.linker import prepare
from martops.crm.dedupe.spec import DedupeSpec, parse_block, parse_compare
from martops.errors import ConfigError


def prepared(kind: str, values: list[str | None]) -> list[str | None]:
    """Each value as the linker prepares it (folded, then the kind's SQL), in input order."""
    con = duckdb.connect()
    con.execute("CREATE TABLE input (id INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO input VALUES (?, ?)", list(enumerate(values)))
    spec = DedupeSpec("id", (("v", kind),))
    prepare(con, spec, spec.columns())
    return [r[0] for r in con.execute("SELECT v FROM prepared ORDER BY CAST(unique_id AS INTEGER)").fetchall()]


def test_phone_formats_of_one_number_prepare_equal():
    variants = ["(276) 903-7065", "276.903.7065", "+1-276-903-7065", "001-276-903-7065", "276-903-7065 x123",
                "2769037065", "+1 (276) 903 7065 ext. 12"]
    assert set(prepared("phone", variants)) == {"2769037065"}
    assert prepared("phone", ["12345", "", None, "n/a"]) == [None, None, None, None]


def test_email_name_postcode_city_address_lose_only_format():
    assert prepared("email", ["  John.Smith@Example.COM ", ""]) == ["john.smith@example.com", None]
    assert prepared("name", [" O'Brien ", "José", "  ", "Anne-Marie"]) == ["obrien", "jose", None, "annemarie"]
    assert prepared("postcode", ["sw1a 1aa", " 02139 "]) == ["SW1A1AA", "02139"]
    assert prepared("city", ["  New  York ", "São Paulo"]) == ["new york", "sao paulo"]
    assert prepared("address", ["12 Oak Street.", "12 oak st", "4 Elm Avenue, Apt 3"]) == [
        "12 oak st", "12 oak st", "4 elm ave apt 3"]


def test_names_in_any_script_are_transliterated_and_symbols_are_not_names():
    assert prepared("name", ["Łukasz", "Lukasz", "José", "Иван", "Ivan", "محمد", "王小明", "Ørsted", "Nguyễn"]) == [
        "lukasz", "lukasz", "jose", "ivan", "ivan", "mhmd", "wangxiaoming", "orsted", "nguyen"]
    assert prepared("name", ["😀", "❤️", "Ann 👍🏽", "★™", "👨\u200d👩\u200d👧"]) == [None, None, "ann", None, None]
    assert prepared("city", ["Москва", "Moskva", "Zürich 🏔"]) == ["moskva", "moskva", "zurich"]


def test_dates_parse_unambiguous_formats_only():
    assert prepared("date", ["1990-03-05", "1990/03/05", "05.03.1990", "19900305", "03/05/1990", "junk"]) == [
        "1990-03-05", "1990-03-05", "1990-03-05", "1990-03-05", None, None]


def test_blocking_rules_follow_the_kinds():
    cols = DedupeSpec("id", (("first", "name"), ("last", "name"), ("dob", "date"), ("zip", "postcode"),
                             ("email", "email"), ("city", "city"))).columns()
    keys = blocking_keys(cols)
    assert keys[0] == ("email",)
    assert ("first", "last") in keys and ("first__canon", "dob") in keys and ("dob", "zip") in keys
    assert not any(k == ("city",) for k in keys)  # never a city alone: billions of pairs at scale
    assert deterministic_keys(cols) == [("email",), ("first", "last", "dob")]
    # a company table with only a name and a city still gets a rule
    assert blocking_keys(DedupeSpec("id", (("company", "name"), ("city", "city"))).columns()) == [("company",)]


def test_spec_errors_say_what_to_do():
    assert parse_compare("First Name=name") == ("First Name", "name")
    assert parse_block("surname, dob") == ("surname", "dob")
    with pytest.raises(ConfigError, match="expected COLUMN=KIND"):
        parse_compare("surname")
    with pytest.raises(ConfigError, match="unknown kind 'nam'"):
        DedupeSpec("id", (("surname", "nam"),))
    with pytest.raises(ConfigError, match="nothing to compare"):
        DedupeSpec("id", ())
    with pytest.raises(ConfigError, match="above the cluster threshold"):
        DedupeSpec("id", (("s", "name"),), threshold=0.8, pairs_threshold=0.9)
    cols = DedupeSpec("id", (("First Name", "name"), ("first-name", "name"))).columns()
    assert [c.name for c in cols] == ["first_name", "first_name_"]
