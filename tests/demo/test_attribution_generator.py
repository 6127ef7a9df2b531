"""The synthetic challenge database must have the real schema and the real data's shape.

Every figure is measured with SQL on the written file, the way the pipeline will see it. Targets
come from the real journeys in shared/datasets/ihc-challenge (see the generator's constants).
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import numpy as np
import pytest

from martops.attribution.challenge_schema import default_ddl
from martops.demo import attribution
from martops.demo.attribution import GenerateResult, generate_challenge_db

REAL_CHANNELS = {
    "Direct Traffic", "Performance Max", "Newsletter & Email", "Paid Search Brand",
    "Organic Traffic", "FB & IG Ads", "Affiliate & Partnerships", "Referral",
    "Untracked Conversions", "Paid Search Non Brand", "Social Organic", "Microsoft Ads",
    "TikTok Ads",
}
PAID = {"Performance Max", "Paid Search Brand", "Paid Search Non Brand", "FB & IG Ads",
        "Microsoft Ads", "TikTok Ads", "Display", "Pinterest Ads", "YouTube Ads",
        "Affiliate & Partnerships"}
# PRAGMA table_info rows without cid/default: (name, type, notnull, pk)
SCHEMA = {
    "conversions": [("conv_id", "TEXT", 1, 1), ("user_id", "TEXT", 1, 0),
                    ("conv_date", "TEXT", 1, 0), ("conv_time", "TEXT", 1, 0),
                    ("revenue", "REAL", 1, 0)],
    "session_costs": [("session_id", "TEXT", 1, 1), ("cost", "REAL", 0, 0)],
    "session_sources": [("session_id", "TEXT", 1, 1), ("user_id", "TEXT", 1, 0),
                        ("event_date", "TEXT", 1, 0), ("event_time", "TEXT", 1, 0),
                        ("channel_name", "TEXT", 1, 0), ("holder_engagement", "INTEGER", 1, 0),
                        ("closer_engagement", "INTEGER", 1, 0),
                        ("impression_interaction", "INTEGER", 1, 0)],
}
# A conversion's journey: its user's sessions strictly before it (text stamps sort as time).
JOURNEYS = """
    WITH s AS MATERIALIZED (
        SELECT user_id, event_date || ' ' || event_time AS ts FROM session_sources
        WHERE user_id IN (SELECT user_id FROM conversions))
    SELECT c.conv_id, c.user_id, c.conv_date || ' ' || c.conv_time AS conv_ts, count(s.ts) AS n
    FROM conversions c LEFT JOIN s ON s.user_id = c.user_id
                                  AND s.ts < c.conv_date || ' ' || c.conv_time
    GROUP BY c.conv_id, c.user_id, conv_ts
"""


def one(con: sqlite3.Connection, sql: str):
    return con.execute(sql).fetchone()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("challenge") / "challenge.db"
    calls = []
    result = generate_challenge_db(path, conversions=2000, seed=7,
                                   progress=lambda phase, f: calls.append((phase, f)))
    con = sqlite3.connect(path)
    con.execute(f"CREATE TEMP TABLE journeys AS {JOURNEYS}")
    yield con, result, calls
    con.close()


def test_result_and_progress(db):
    con, result, calls = db
    assert isinstance(result, GenerateResult)
    assert (result.sessions, result.conversions) == (450_000, 2000)
    assert result.users == one(con, """SELECT count(*) FROM (SELECT user_id FROM session_sources
                                       UNION SELECT user_id FROM conversions)""")[0]
    assert "450,000 sessions" in str(result) and str(result.path) in str(result)
    assert all(0.0 <= f <= 1.0 for _, f in calls) and calls[-1] == ("done", 1.0)
    writing = [f for phase, f in calls if phase == "writing"]
    assert writing == sorted(writing) and writing[-1] == 1.0


def test_exact_schema_source_tables_only(db):
    con, _, _ = db
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(SCHEMA)  # the output tables are the pipeline's write-back, not ours
    reference = sqlite3.connect(":memory:")
    reference.executescript(default_ddl())
    for table, columns in SCHEMA.items():
        info = con.execute(f"PRAGMA table_info({table})").fetchall()
        assert info == reference.execute(f"PRAGMA table_info({table})").fetchall(), table
        assert [(r[1], r[2].upper(), r[3], r[5]) for r in info] == columns, table
        pk = f"SELECT count(*) FROM pragma_index_list('{table}') WHERE origin = 'pk'"
        assert one(con, pk)[0] == 1


def malformed(con, table, key, day, clock, where="1"):
    """Rows whose ids are not 32-char lowercase hex or whose date/time are not valid text."""
    hex32 = "[0-9a-f]" * 32
    return one(con, f"""SELECT count(*) FROM {table} WHERE {where} AND (
        {key} NOT GLOB '{hex32}' OR user_id NOT GLOB '{hex32}'
        OR {day} NOT GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]' OR date({day}) != {day}
        OR {clock} NOT GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]' OR time({clock}) != {clock})""")[0]


def test_value_formats(db):
    con, _, _ = db
    assert malformed(con, "conversions", "conv_id", "conv_date", "conv_time") == 0
    # GLOB is slow in SQLite: a fixed eighth of the (shuffled) sessions is plenty.
    assert malformed(con, "session_sources", "session_id", "event_date", "event_time",
                     where="rowid % 8 = 0") == 0
    # Sessions from a few days before the window; conversions inside it (2023-08-29 + 10 days).
    assert one(con, "SELECT min(event_date), max(event_date) FROM session_sources") == (
        "2023-08-26", "2023-09-07")
    assert one(con, "SELECT min(conv_date), max(conv_date) FROM conversions") == (
        "2023-08-29", "2023-09-07")
    hours = one(con, "SELECT count(DISTINCT substr(event_time, 1, 2)) FROM session_sources")[0]
    assert hours == 24


def test_channels(db):
    con, _, _ = db
    names = {r[0] for r in con.execute("SELECT DISTINCT channel_name FROM session_sources")}
    assert len(names) == 16 and REAL_CHANNELS < names
    top = [r[0] for r in con.execute("""SELECT channel_name FROM session_sources
                                        GROUP BY 1 ORDER BY count(*) DESC LIMIT 3""")]
    assert set(top) == {"Direct Traffic", "Performance Max", "Newsletter & Email"}


def test_volume(db):
    con, _, _ = db
    sessions, conversions = one(con, """SELECT (SELECT count(*) FROM session_sources),
                                               (SELECT count(*) FROM conversions)""")
    assert abs(sessions / conversions - 225) <= 22.5


def test_journey_shape(db):
    con, _, _ = db
    median, p95, longest, empty = one(con, """
        WITH r AS (SELECT n, row_number() OVER (ORDER BY n) AS rn, count(*) OVER () AS cnt
                   FROM journeys)
        SELECT min(n) FILTER (WHERE rn >= 0.5 * cnt), min(n) FILTER (WHERE rn >= 0.95 * cnt),
               max(n), avg(n = 0) FROM r""")
    assert median == 1
    assert 3 <= p95 <= 8
    assert 15 <= longest <= 60
    assert 0.015 <= empty <= 0.05


def test_repeat_buyers(db):
    con, _, _ = db
    pairs = con.execute("""SELECT a.n, b.n FROM journeys a JOIN journeys b
                           ON a.user_id = b.user_id AND a.conv_ts < b.conv_ts""").fetchall()
    assert 1 <= len(pairs) <= 0.06 * 2000
    assert one(con, "SELECT max(k) FROM (SELECT count(*) AS k FROM conversions GROUP BY user_id)"
               )[0] == 2
    # The second journey holds the first one's sessions plus some in between.
    assert any(second > first > 0 for first, second in pairs)


def test_same_user_duplicate_timestamps(db):
    con, _, _ = db
    shared = one(con, """SELECT coalesce(sum(k), 0) FROM (
                           SELECT count(*) AS k FROM session_sources
                           GROUP BY user_id, event_date, event_time HAVING k > 1)""")[0]
    assert 1 <= shared <= 0.03 * 450_000


def test_engagement_rates(db):
    con, _, _ = db
    holder, closer, impression = one(con, """SELECT avg(holder_engagement),
        avg(closer_engagement), avg(impression_interaction) FROM session_sources""")
    assert abs(holder - 0.92) <= 0.03 and abs(closer - 0.78) <= 0.03
    assert 0 < impression < 0.01
    on = {r[0] for r in con.execute(
        "SELECT DISTINCT channel_name FROM session_sources WHERE impression_interaction = 1")}
    assert on <= {"FB & IG Ads", "TikTok Ads", "Display", "Pinterest Ads", "YouTube Ads"}


def test_costs_only_on_paid_channels(db):
    con, _, _ = db
    rows = con.execute("""SELECT s.channel_name, count(*), count(c.cost), min(c.cost), max(c.cost)
                          FROM session_costs c LEFT JOIN session_sources s USING (session_id)
                          GROUP BY 1""").fetchall()
    assert {r[0] for r in rows} == PAID  # no orphan (None) and every paid channel present
    total, priced = sum(r[1] for r in rows), sum(r[2] for r in rows)
    assert 0.03 <= 1 - priced / total <= 0.07
    assert min(r[3] for r in rows) >= 0.01 and max(r[4] for r in rows) < 100
    assert one(con, "SELECT count(*) FROM session_costs WHERE cost != round(cost, 2)")[0] == 0


def test_revenue(db):
    con, _, _ = db
    median, mean, zeros = one(con, """
        WITH r AS (SELECT revenue, row_number() OVER (ORDER BY revenue) AS rn,
                          count(*) OVER () AS cnt FROM conversions)
        SELECT min(revenue) FILTER (WHERE rn >= 0.5 * cnt), avg(revenue),
               sum(revenue = 0) FROM r""")
    assert abs(median - 44) <= 0.15 * 44 and abs(mean - 58) <= 0.15 * 58
    assert zeros >= 1
    assert one(con, "SELECT count(*) FROM conversions WHERE revenue != round(revenue, 2)")[0] == 0


def dump(path) -> dict[str, list[tuple]]:
    with closing(sqlite3.connect(path)) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in SCHEMA}


def test_deterministic(tmp_path):
    kwargs = dict(conversions=100, start=date(2024, 3, 1), days=5)
    a = generate_challenge_db(tmp_path / "a.db", seed=11, **kwargs)
    b = generate_challenge_db(tmp_path / "b.db", seed=11, **kwargs)
    c = generate_challenge_db(tmp_path / "c.db", seed=12, **kwargs)
    assert a.users == b.users
    first = dump(a.path)
    assert first == dump(b.path)
    assert first["session_sources"] != dump(c.path)["session_sources"]
    assert min(row[2] for row in first["conversions"]) >= "2024-03-01"  # start is honoured


def test_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "x.db"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="--force"):
        generate_challenge_db(path, conversions=10)
    assert path.read_text() == "precious"
    generate_challenge_db(path, conversions=10, force=True)
    assert len(dump(path)["conversions"]) == 10


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("where", ["generator", "writer"])
def test_failure_leaves_no_file(tmp_path, monkeypatch, existing, where):
    path = tmp_path / "x.db"
    if existing:
        path.write_text("old")
    insert = attribution._Writer._insert

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    def last_insert_fails(self, name, table):  # in the writer thread, after the sessions
        return boom() if name == "conversions" else insert(self, name, table)

    if where == "generator":  # main thread, while the costs are being inserted
        monkeypatch.setattr(attribution, "_who_and_when", boom)
    else:
        monkeypatch.setattr(attribution._Writer, "_insert", last_insert_fails)
    with pytest.raises(RuntimeError, match="boom"):
        generate_challenge_db(path, conversions=10, force=True)
    assert [p.name for p in tmp_path.iterdir()] == (["x.db"] if existing else [])
    if existing:
        assert path.read_text() == "old"


def test_too_few_sessions(tmp_path):
    with pytest.raises(ValueError, match="too few"):
        generate_challenge_db(tmp_path / "x.db", conversions=100, sessions=50)
    assert not list(tmp_path.iterdir())


def test_hex_ids_sort_like_their_numbers():
    words = np.array([[0x0123456789ABCDEF, 0xFEDCBA9876543210], [0, 1]], dtype=np.uint64)
    assert [v.tobytes() for v in attribution._hex(words)] == [
        b"0123456789abcdeffedcba9876543210", b"00000000000000000000000000000001"]

    class Colliding:  # the first draw repeats a high word; _ids must redraw it
        draws = iter([np.array([[5, 1], [5, 2], [3, 3]], dtype=np.uint64),
                      np.array([9], dtype=np.uint64)])

        def integers(self, *args, **kwargs):
            return next(self.draws)

    ids = [v.tobytes() for v in attribution._hex(attribution._ids(Colliding(), 3))]
    assert ids == sorted(set(ids)) and len(ids) == 3
