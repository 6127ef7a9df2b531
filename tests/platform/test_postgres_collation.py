"""PostgreSQL gives DuckDB's tables whatever the database's collation and whatever a source holds.

The test cluster's databases sort text as C.UTF-8 (byte order, as DuckDB); a real server's default
is a language's order (en_US.UTF-8, ICU en-US), where 'a-2' sorts before 'B1'. The warehouse here
is such a database, so a tie broken by a text key, a min over text ids and every exported order
must still come out as on DuckDB (martops compiles text orderings with COLLATE "C"). And a NUL
character, which PostgreSQL cannot store, is U+FFFD on both engines."""

from __future__ import annotations

import re

import ibis
import psycopg
import pytest

from martops.attribution import tables as T
from martops.engine import connect
from tests.attribution.test_csv_source import write_folder as write_attribution_folder
from tests.crm.folders import write_folder as write_crm_folder

from .. import pg_server as pg
from ..conftest import make_challenge_db
from ..parity import assert_same
from .test_domain_parity import IGNORE, _build_both, _ok

pytestmark = pytest.mark.postgres

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


@pytest.fixture
def collated_dsn(pg_server, request) -> str:
    """A fresh database whose default collation is not byte order: ICU en-US when the server has
    ICU, else a libc English locale; a skip when the server has neither."""
    name = f"coll_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())}"[:63]
    if pg_server.has_icu():
        dsn = pg_server.create_database(name, icu_locale="en-US")
    else:
        import subprocess

        found = [loc for loc in subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
                 if loc.lower().replace("-", "") in ("en_us.utf8", "en_gb.utf8")]
        if not found:
            pytest.skip("the PostgreSQL server has no ICU and the system no en_US/en_GB UTF-8 locale: "
                        "no database with a language's collation can be made")
        dsn = pg_server.create_database(name, locale=found[0])
    with psycopg.connect(dsn, password=pg.PASSWORD) as con:  # what the tests rely on: it does not sort bytes
        assert [r[0] for r in con.execute("SELECT x FROM (VALUES ('a-2'), ('B1')) v(x) ORDER BY x")] == ["a-2", "B1"]
    return dsn


def test_a_compiled_order_by_min_max_and_comparison_over_text_is_byte_order():
    import martops.engines.postgres as pg_engine  # importing it patches Ibis's PostgreSQL compiler

    assert pg_engine.PostgresWarehouse
    def sql(expr) -> str:
        return ibis.to_sql(expr, dialect="postgres", pretty=False)

    t = ibis.table({"id": "string", "g": "string", "n": "int64"}, name="t")
    ordered = sql(t.filter(t.id > "a", t.id.between("a", "z"))
                  .mutate(r=ibis.row_number().over(group_by="g", order_by="id")).order_by(["id", "n"]))
    assert re.search(r'ORDER BY "t\d"\."id" COLLATE "C" ASC, "t\d"\."n" ASC$', ordered)
    assert re.search(r'OVER \(PARTITION BY "t\d"\."g" ORDER BY "t\d"\."id" COLLATE "C" ASC', ordered)
    assert '"t0"."id" COLLATE "C" > \'a\' COLLATE "C"' in ordered
    assert '("t0"."id" COLLATE "C") BETWEEN (\'a\' COLLATE "C") AND (\'z\' COLLATE "C")' in ordered
    agg = sql(t.group_by("g").aggregate(lo=t.id.min(), hi=t.id.max(), n=t.n.min(), top=t.n.argmax(t.id)))
    assert 'MIN("t0"."id" COLLATE "C") COLLATE "default"' in agg  # then the database's again (lower/upper)
    assert 'MAX("t0"."id" COLLATE "C") COLLATE "default"' in agg
    assert 'MIN("t0"."n") AS' in agg  # numbers untouched
    assert 'ORDER BY "t0"."id" COLLATE "C" DESC' in agg
    window = sql(t.mutate(first=t.id.min().over(group_by="g")))
    assert re.search(r'MIN\("t0"\."id" COLLATE "C"\) OVER \(.*\) COLLATE "default"', window)
    assert "COLLATE" not in sql(t.order_by("n").mutate(m=t.n.max(), b=t.n.between(1, 2)))


def test_the_compiled_sql_runs_and_sorts_bytes_on_a_language_collated_database(tmp_path, collated_dsn):
    seen = []
    for location in (str(tmp_path / "w.duckdb"), collated_dsn):
        with connect(path=location) as w:
            w.execute("CREATE TABLE marts.t AS SELECT * FROM (VALUES ('a-2', 'g', 'ŁUKASZ'), ('B1', 'g', 'Ann'), "
                      "('b', 'h', NULL)) v(id, g, name)")
            t = w.table("marts.t")
            got = [w.to_pyarrow(t.filter(t.id < "a").order_by("id")).column("id").to_pylist()]
            agg = t.group_by("g").aggregate(lo=t.id.min(), hi=t.id.max(), low=t.name.max().lower(),
                                            top=t.name.argmax(t.id)).order_by("g")
            got.append(w.to_pyarrow(agg).to_pylist())
            over = t.mutate(first=t.id.min().over(group_by="g"),
                            up=t.id.max().over(group_by="g").upper()).order_by(ibis.desc("id"))
            got.append([(r["first"], r["up"]) for r in w.to_pyarrow(over).to_pylist()])
            # text compared with a min/max (collated back to the database's) in one expression
            m = t.mutate(hi=t.id.max().over(group_by="g"), lo=t.id.min().over(group_by="g"))
            both = m.filter(m.id.between("B", m.hi), m.id >= m.lo, m.id > m.name.min()).order_by("id")
            got.append(w.to_pyarrow(both).column("id").to_pylist())
            seen.append(got)
    assert seen[0] == seen[1]
    assert seen[1] == [
        ["B1"],
        [{"g": "g", "lo": "B1", "hi": "a-2", "low": "łukasz", "top": "ŁUKASZ"},
         {"g": "h", "lo": "b", "hi": "b", "low": None, "top": None}],
        [("b", "B"), ("B1", "A-2"), ("B1", "A-2")],
        ["B1", "a-2", "b"]]


def test_first_touch_breaks_a_tie_by_session_id_in_byte_order(monkeypatch, tmp_path, collated_dsn):
    # two sessions at the same second: position 1 is the smaller session id, 'B1' in byte order
    sessions = [("a-2", "u1", "2023-09-01", "10:00:00", "Email", 1, 0, 0),
                ("B1", "u1", "2023-09-01", "10:00:00", "Paid Search", 1, 1, 0),
                ("s3", "u1", "2023-09-01", "12:00:00", "Direct Traffic", 0, 0, 0),
                ("b-9", "u2", "2023-09-02", "08:00:00", "Referral", 1, 0, 0),
                ("A7", "u2", "2023-09-02", "08:00:00", "Organic Traffic", 1, 0, 0)]
    conversions = [("c1", "u1", "2023-09-02", "09:00:00", 100.0), ("c2", "u2", "2023-09-03", "09:00:00", 10.0)]
    make_challenge_db(tmp_path / "challenge.db", sessions, conversions, [("a-2", 1.0), ("B1", 2.0)])
    duck = _build_both(monkeypatch, tmp_path, collated_dsn,
                       ("attribution", "run", "--db", "challenge.db", "--model", "first_touch", *RANGE))
    _same(duck, collated_dsn, T.CUSTOMER_JOURNEY, T.JOURNEYS, T.CHANNEL_REPORTING)
    for location in (duck, collated_dsn):
        with connect(path=location, read_only=True) as w:
            credited = w.execute(f"SELECT conv_id, session_id FROM {T.CUSTOMER_JOURNEY} "
                                 "WHERE model = 'first_touch' AND ihc > 0 ORDER BY conv_id")
            assert [tuple(r) for r in credited] == [("c1", "B1"), ("c2", "A7")], location


def test_crm_golden_id_is_the_byte_order_smallest(monkeypatch, tmp_path, collated_dsn):
    write_crm_folder(tmp_path / "extract", customers=[
        ("b1", "Ann Lee", "ann@example.com", "(276)903-7065", "United States"),
        ("B2", "Ann Lee", "ann@example.com", "(276)903-7065", "United States"),
        ("a-3", "Łukasz Nowak", "lukasz@example.pl", "+48 600 700 800", "Poland"),
        ("Z4", "Łukasz Nowak", "lukasz@example.pl", "+48 600 700 800", "Poland"),
    ], transactions=[("t1", "b1", "1", "2024-04-01", "10", "r1"), ("t2", "B2", "2", "2024-04-02", "20", "r1"),
                     ("t3", "a-3", "1", "2024-04-03", "5", "r1"), ("t4", "Z4", "2", "2024-04-04", "7", "r1")],
       interactions=[("i1", "b1", "2024-05-01", "Phone", "True"), ("i2", "Z4", "2024-05-02", "Chat", "False")])
    duck = _build_both(monkeypatch, tmp_path, collated_dsn, ("crm", "build", "--source", "extract"))
    _same(duck, collated_dsn, "crm.customers", "crm.customer_golden", "crm.customer_golden_values",
          "marts.crm_customer_value")
    for location in (duck, collated_dsn):
        with connect(path=location, read_only=True) as w:
            golden = {r[0] for r in w.execute("SELECT DISTINCT golden_id FROM crm.customer_golden")}
            assert {"B2", "Z4"} <= golden and not {"b1", "a-3"} & golden, (location, golden)


def test_campaigns_generated_exports(monkeypatch, tmp_path, collated_dsn):
    _ok("kpis", "generate", "--out", tmp_path / "d1", "--campaigns", "10", "--days", "30", "--seed", "5")
    duck = _build_both(monkeypatch, tmp_path, collated_dsn, ("kpis", "build", "--source", "d1"))
    _same(duck, collated_dsn, "marts.campaign_kpis_daily", "marts.campaign_kpis_monthly", "ops.quarantine")


def test_a_nul_in_a_source_value_is_the_replacement_character_on_both_engines(monkeypatch, tmp_path, pg_dsn):
    from tests.conftest import TINY_SESSIONS

    sessions = [("s1", "u1", "2023-08-30", "10:00:00", "Paid\x00Search", 1, 0, 0), *TINY_SESSIONS[1:]]
    write_attribution_folder(tmp_path / "export", sessions=sessions)
    assert b"Paid\x00Search" in (tmp_path / "export" / "session_sources.csv").read_bytes()
    duck = _build_both(monkeypatch, tmp_path, pg_dsn, ("attribution", "run", "--db", "export", *RANGE))
    _same(duck, pg_dsn, T.SESSIONS, T.CUSTOMER_JOURNEY)
    for location in (duck, pg_dsn):
        with connect(path=location, read_only=True) as w:
            names = {r[0] for r in w.execute(f"SELECT channel_name FROM {T.SESSIONS} WHERE session_id = 's1'")}
            assert names == {"Paid\ufffdSearch"}, location


def _same(duck: str, dsn: str, *must_hold: str) -> None:
    with connect(path=duck, read_only=True) as a, connect(path=dsn, read_only=True) as b:
        assert_same(a, b, ignore=IGNORE)
        for table in must_hold:  # what was compared is not empty
            assert a.count(table) > 0, table

