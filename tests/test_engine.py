import subprocess
import sys
import time

import pytest

from martops.engine import connect
from martops.errors import MartopsError, SourceError


def _hold(path, seconds):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep({seconds})"],
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
    holder = _hold(path, 1.5)
    try:
        t0 = time.monotonic()
        with connect(path=path, lock_timeout=30) as wh:
            assert wh.count("ops.runs") == 0 if wh.exists("ops.runs") else True
        assert time.monotonic() - t0 >= 0.5  # it did wait for the holder
    finally:
        holder.kill()
        holder.wait()


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
