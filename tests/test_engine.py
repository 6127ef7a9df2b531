import subprocess
import sys
import time

import pytest

from martops.engine import connect
from martops.errors import MartopsError, SourceError


def test_a_warehouse_held_by_another_process_gives_a_clear_error(tmp_path):
    path = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(MartopsError, match="in use by another martops process"):
            connect(path=path)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    with connect(path=path) as wh:  # free again once the other process is gone
        assert wh.exists("staging.nothing") is False


def test_attaching_a_missing_sqlite_file(tmp_path):
    with connect(path=":memory:") as wh, pytest.raises(SourceError, match="does not exist"):
        wh.attach_sqlite(tmp_path / "missing.db", "src")


def test_extensions_load_from_the_wheel_without_network():
    with connect(path=":memory:") as wh:
        wh.load_extension("sqlite_scanner")
        loaded = wh.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner'")
        assert loaded == [(True,)]
