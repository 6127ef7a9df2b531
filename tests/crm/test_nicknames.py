"""The nickname table must be a flat, lower-case map that DuckDB can join on."""
from __future__ import annotations

import duckdb

from martops.crm.nicknames import NICKNAMES, as_rows, canonical


def test_flat_lower_case_map():
    assert 100 <= len(NICKNAMES) <= 200
    assert all(k == k.strip().lower() and v == v.strip().lower() for k, v in NICKNAMES.items())
    assert not set(NICKNAMES) & set(NICKNAMES.values())   # one lookup is enough, no chains
    assert {NICKNAMES[k] for k in ("bob", "rob", "bobby", "bill", "will", "liz", "beth", "kate",
                                   "katie", "jim", "jimmy", "mike", "tony", "dave", "chris")} == {
        "robert", "william", "elizabeth", "katherine", "james", "michael", "anthony", "david",
        "christopher"}


def test_canonical():
    assert canonical(" Bob ") == "robert"
    assert canonical("Robert") == "robert"
    assert canonical("Zebedee") == "zebedee"
    assert canonical(None) is None


def test_loads_into_duckdb():
    con = duckdb.connect()
    con.execute("create table nick (nickname varchar primary key, canonical varchar)")
    con.executemany("insert into nick values (?, ?)", as_rows())
    assert con.execute("select canonical from nick where nickname = 'liz'").fetchone() == (
        "elizabeth",)
