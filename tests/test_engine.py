import subprocess
import sys
import time

import pytest

from martops.engine import connect
from martops.errors import MartopsError, SourceError


def _hold(path, seconds, sql=""):
    """A child process that opens `path` read-write (the write lock), runs `sql`, and sleeps."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); c.execute({sql!r}) if {sql!r} else None; "
         f"print('ready', flush=True); time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_a_warehouse_held_by_another_process_gives_a_clear_error_after_the_timeout(tmp_path):
    path = tmp_path / "busy.duckdb"
    holder = _hold(path, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(MartopsError, match=r"in use by another martops process \(waited 0.5 s\)"):
            connect(path=path, lock_timeout=0.5)
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    with connect(path=path) as wh:  # free again once the other process is gone
        assert wh.exists("staging.nothing") is False


def test_a_second_process_waits_for_the_lock_then_proceeds(tmp_path):
    path = tmp_path / "busy.duckdb"
    holder = _hold(path, 1.5, "CREATE TABLE t AS SELECT 7 AS a")
    try:
        t0 = time.monotonic()
        with connect(path=path, lock_timeout=30) as wh:
            assert wh.execute("SELECT a FROM t") == [(7,)]  # the holder's committed table
            wh.execute("CREATE TABLE mine (b INT)")  # and it may write
        assert time.monotonic() - t0 >= 0.5  # it did wait for the holder
    finally:
        holder.kill()
        holder.wait()


# -- create, read-only ------------------------------------------------------------------------
def test_create_makes_the_file_and_its_folder_and_the_schemas(tmp_path):
    path = tmp_path / "new" / "wh.duckdb"
    with connect(path=path) as wh:
        schemas = {r[0] for r in wh.execute("SELECT schema_name FROM information_schema.schemata")}
    assert path.exists() and {"staging", "attribution", "marts", "ops", "crm", "snapshots"} <= schemas


@pytest.mark.parametrize("kw", [{"create": False}, {"read_only": True}, {"read_only": True, "create": True}])
def test_a_missing_file_without_create_is_an_error_and_nothing_is_made(tmp_path, kw):
    from martops.errors import ConfigError

    path = tmp_path / "typo" / "wh.duckdb"
    with pytest.raises(ConfigError, match=r"warehouse .*wh.duckdb does not exist \(nothing was created\); check "
                                          r"--warehouse .*, or build it first"):
        connect(path=path, **kw)
    assert list(tmp_path.iterdir()) == []


def test_read_only_creates_no_schema_and_refuses_writes(tmp_path):
    import duckdb

    path = tmp_path / "plain.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS a")
    before = path.read_bytes()
    with connect(path=path, read_only=True) as wh:
        assert wh.read_only and wh.reading_copy is None
        assert wh.execute("SELECT a FROM t") == [(1,)]
        assert wh.exists("ops.runs") is False  # a schema that is not there reads as empty
        with pytest.raises(duckdb.Error, match="read-only"):
            wh.execute("CREATE TABLE x (a INT)")
    assert path.read_bytes() == before
    schemas = {r[0] for r in duckdb.connect(str(path), read_only=True).execute(
        "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = 'plain'").fetchall()}
    assert schemas == {"main"}


def test_two_read_only_connections_from_two_processes(tmp_path):
    path = tmp_path / "shared.duckdb"
    with connect(path=path) as wh:
        wh.execute("CREATE TABLE ops.t AS SELECT 5 AS a")
    reader = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only=True); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "ready"
        with connect(path=path, read_only=True, lock_timeout=0) as wh:
            assert wh.reading_copy is None and wh.execute("SELECT a FROM ops.t") == [(5,)]
    finally:
        reader.kill()
        reader.wait()


def test_read_only_while_another_process_writes_reads_its_last_commit(tmp_path):
    """The writer committed rows (in its write-ahead log, not yet checkpointed) and has one
    transaction open: the reader sees the committed rows, not the open ones, at once."""
    path = tmp_path / "busy.duckdb"
    with connect(path=path) as wh:
        wh.execute("CREATE TABLE ops.runs_like AS SELECT range AS i FROM range(100000)")
    holder = _hold(path, 60, "INSERT INTO ops.runs_like VALUES (-1); BEGIN; INSERT INTO ops.runs_like VALUES (-2)")
    try:
        assert path.with_name("busy.duckdb.wal").exists()  # the committed insert is only in the log
        t0 = time.monotonic()
        with connect(path=path, read_only=True, lock_timeout=30) as wh:
            assert wh.read_only and wh.reading_copy is not None and wh.location == str(path)
            copy = wh.reading_copy.folder
            assert wh.execute("SELECT count(*), min(i) FROM ops.runs_like") == [(100001, -1)]
        assert time.monotonic() - t0 < 10  # did not wait for the 30 s lock timeout
        assert not copy.exists()  # the private copy is gone once closed
    finally:
        holder.kill()
        holder.wait()


def test_a_copy_is_taken_again_when_a_checkpoint_lands_during_it(tmp_path, monkeypatch):
    import shutil

    from martops.warehouse_copy import WarehouseCopy

    path = tmp_path / "w.duckdb"
    with connect(path=path) as wh:
        wh.execute("CREATE TABLE ops.t AS SELECT 1 AS a")
    header_reads = []
    real = WarehouseCopy._header

    def header(self):
        header_reads.append(1)
        h = real(self)
        return h + bytes([len(header_reads)]) if len(header_reads) <= 2 else h  # the first attempt sees a change

    monkeypatch.setattr(WarehouseCopy, "_header", header)
    copy = WarehouseCopy(path)
    copy.take()
    assert len(header_reads) == 4 and copy.path.read_bytes() == path.read_bytes()
    shutil.rmtree(copy.folder)


def test_attaching_a_missing_sqlite_file(tmp_path):
    with connect(path=":memory:") as wh, pytest.raises(SourceError, match="does not exist"):
        wh.attach_sqlite(tmp_path / "missing.db", "src")


def test_extensions_load_from_the_wheel_without_network():
    with connect(path=":memory:") as wh:
        wh.load_extension("sqlite_scanner")
        loaded = wh.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner'")
        assert loaded == [(True,)]


def test_a_warehouse_named_after_a_schema_is_refused_with_a_new_name(tmp_path):
    from martops.engine import connect
    from martops.errors import ConfigError

    with pytest.raises(ConfigError, match="crm-warehouse.duckdb"):
        connect(path=tmp_path / "crm.duckdb")


def test_a_warehouse_on_either_engine_writes_then_reads_back(warehouse_location):
    import ibis

    with connect(path=warehouse_location) as wh:
        wh.create_or_replace("marts.t", ibis.memtable({"a": [1, 2], "b": ["x", None]}))
    with connect(path=warehouse_location, read_only=True) as wh:
        assert wh.engine == ("postgres" if warehouse_location.startswith("postgresql://") else "duckdb")
        assert wh.execute("SELECT sum(a), count(b) FROM marts.t") == [(3, 1)]
        assert ("marts.t", "table", 2) in wh.relations()


def test_an_existing_file_that_is_no_duckdb_database_is_refused_unchanged(tmp_path):
    from martops.errors import ConfigError

    for name, content in [("seg2.csv", b"a,b\n1,2\n"), ("w.duckdb", b'{"a": 1}'), ("x.duckdb", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        for kw in [{}, {"read_only": True}]:
            with pytest.raises(ConfigError, match="is not a DuckDB database"):
                connect(path=path, **kw)
        assert path.read_bytes() == content
    with connect(path=tmp_path / "real.duckdb"):
        pass
    with connect(path=tmp_path / "real.duckdb", read_only=True) as w:  # a real one still opens
        assert w.relations() == []
    with pytest.raises(ConfigError, match=r"name it \*\.duckdb"):
        connect(path=tmp_path / "new.parquet")
    assert not (tmp_path / "new.parquet").exists()
