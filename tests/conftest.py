"""Shared fixtures: tiny challenge databases built by hand, real datasets when present."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
from pathlib import Path

import pytest

from martops.attribution.challenge_schema import SOURCE_TABLES, create_tables
from martops.engine import connect

from . import pg_server as pg

# Tables print at one width everywhere: a pytest-xdist worker sets COLUMNS=80, a serial run falls back
# to the CLI's 140 for a non-terminal, and substring checks on rich tables must not depend on which.
os.environ["COLUMNS"] = "140"

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


LOOSE_DDL = """
CREATE TABLE session_sources (session_id, user_id, event_date, event_time, channel_name,
                              holder_engagement, closer_engagement, impression_interaction);
CREATE TABLE conversions (conv_id, user_id, conv_date, conv_time, revenue);
CREATE TABLE session_costs (session_id, cost);
"""


def make_challenge_db(path: Path, sessions: list[tuple], conversions: list[tuple], costs: list[tuple],
                      *, constraints: bool = True) -> Path:
    """A challenge-schema SQLite file holding exactly the given rows (source tables only).

    `constraints=False` drops the primary keys and NOT NULLs, as an export often does, so NULL
    keys and duplicate ids can reach martops.
    """
    con = sqlite3.connect(path)
    if constraints:
        create_tables(con, SOURCE_TABLES)
    else:
        con.executescript(LOOSE_DDL)
    con.executemany("INSERT INTO session_sources VALUES (?,?,?,?,?,?,?,?)", sessions)
    con.executemany("INSERT INTO conversions VALUES (?,?,?,?,?)", conversions)
    con.executemany("INSERT INTO session_costs VALUES (?,?)", costs)
    con.commit()
    con.close()
    return path


# user u1: three sessions then a conversion c1 (Sep 2), then one more session and c2 (Sep 4):
#   c1's journey = s1, s2, s3; c2's journey = s1..s4 (a session may sit in two journeys).
# user u2: s5 and s6 share a timestamp; c3 on Sep 3. user u3: c4 with no earlier session.
# user u4: a session after its conversion (must not count), and s8 on the conversion's second.
TINY_SESSIONS = [
    ("s1", "u1", "2023-08-30", "10:00:00", "Paid Search Brand", 1, 0, 0),
    ("s2", "u1", "2023-09-01", "09:00:00", "Direct Traffic", 0, 0, 0),
    ("s3", "u1", "2023-09-02", "08:00:00", "Newsletter & Email", 1, 1, 0),
    ("s4", "u1", "2023-09-03", "12:00:00", "FB & IG Ads", 1, 1, 0),
    ("s5", "u2", "2023-09-03", "07:00:00", "Performance Max", 1, 1, 0),
    ("s6", "u2", "2023-09-03", "07:00:00", "Organic Traffic", 1, 0, 0),
    ("s7", "u4", "2023-09-05", "11:00:00", "Referral", 1, 1, 0),
    ("s8", "u4", "2023-09-04", "09:30:00", "Direct Traffic", 1, 1, 0),
    ("s9", "u5", "2023-09-02", "09:30:00", "Paid Search Brand", 1, 1, 0),
]
TINY_CONVERSIONS = [
    ("c1", "u1", "2023-09-02", "09:00:00", 100.0),
    ("c2", "u1", "2023-09-04", "10:00:00", 50.0),
    ("c3", "u2", "2023-09-03", "18:00:00", 40.0),
    ("c4", "u3", "2023-09-03", "18:00:00", 30.0),
    ("c5", "u4", "2023-09-04", "09:30:00", 20.0),
]
TINY_COSTS = [("s1", 2.0), ("s4", 1.5), ("s5", 0.5), ("s9", None), ("ghost", 9.0)]


@pytest.fixture
def tiny_db(tmp_path: Path) -> Path:
    return make_challenge_db(tmp_path / "tiny.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)


@pytest.fixture
def wh(warehouse_location: str):
    """An open warehouse on each engine (DuckDB file, fresh PostgreSQL database): the domain tests
    that take it run on both."""
    with connect(path=warehouse_location) as w:
        yield w


def dataset(name: str) -> Path:
    """A real dataset folder from ../shared/datasets, or a skip saying it is absent."""
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"real dataset folder {path} is absent (it lives in ../shared/datasets)")
    return path


@pytest.fixture(scope="session")
def ihc_dataset() -> Path:
    return dataset("ihc-challenge")


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the whole session, started the first time a test asks for it;
    PGPASSWORD holds its password meanwhile (martops reads it from there, never from a DSN)."""
    if pg.binaries() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = pg.PostgresServer()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    saved = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = pg.PASSWORD
    try:
        yield server
    finally:
        if saved is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = saved
        server.stop()


_db_numbers = itertools.count(1)


@pytest.fixture
def pg_dsn(pg_server, request) -> str:
    """The DSN (no password) of a fresh, empty database on the session's server, one per test."""
    name = f"t{next(_db_numbers)}_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())}"[:63]
    return pg_server.create_database(name)


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The process's Spark session (local[2], 127.0.0.1 only, no UI), started the first time a test
    asks for it and kept for the whole run (a JVM start costs 15-25 s). Without pyspark or Java the
    test skips, unless MARTOPS_REQUIRE_SPARK is set (CI), where it fails."""
    import shutil

    import importlib.util

    missing = None
    if importlib.util.find_spec("pyspark") is None:
        missing = "pyspark is not installed (pip install 'martops[spark]')"
    if missing is None and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        missing = "Java is not installed (JAVA_HOME, or java on PATH)"
    if missing:
        if os.environ.get("MARTOPS_REQUIRE_SPARK"):
            pytest.fail(f"MARTOPS_REQUIRE_SPARK is set but {missing}")
        pytest.skip(missing)
    from martops.config import WarehouseConfig
    from martops.engines import spark_session as S

    return S.session(WarehouseConfig(), catalog_dir=str(tmp_path_factory.mktemp("spark-catalog")))


@pytest.fixture
def spark_location(spark_session, tmp_path) -> str:
    """--warehouse for a fresh Spark warehouse folder of the test's own."""
    return f"spark:{tmp_path / 'spark-warehouse'}"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_location(request, tmp_path) -> str:
    """Where a test's warehouse goes, on each engine: a DuckDB file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_dsn")
    return str(tmp_path / "warehouse.duckdb")

