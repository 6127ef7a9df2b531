"""The Spark warehouse's parts that need no Spark: the file store's transactions and their recovery
after a kill, the `spark:` location grammar, the project file's spark settings, and the install hint.
(The warehouse itself on a real Spark session: test_spark_warehouse.py, marker spark.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from martops.config import WarehouseConfig, load_config
from martops.engines import spark_files as F
from martops.engines.location import resolve
from martops.errors import ConfigError

META = F.TableMeta((("date", "date"), ("n", "bigint")), "date")


def _staged(store: F.Store, files: dict[str, str]) -> Path:
    """A staging folder as Spark leaves it: data files, plus its own markers (not data)."""
    folder = store.staging_dir()
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.crc").write_text("")
    return folder


def _contents(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in F.data_files(folder)}


def _table(tmp_path: Path) -> tuple[F.Store, Path]:
    store = F.Store(tmp_path / "wh")
    store.replace_files("staging.t", [], _staged(store, {"date=2024-01-01/a.parquet": "old1",
                                                         "date=2024-01-02/b.parquet": "old2"}),
                        {F.TABLE_FILE: META.to_json()})
    return store, store.table_dir("staging.t")


def test_a_write_outside_a_transaction_commits_and_leaves_no_log(tmp_path):
    store, folder = _table(tmp_path)
    assert _contents(folder) == {"date=2024-01-01/a.parquet": "old1", "date=2024-01-02/b.parquet": "old2"}
    assert store.meta("staging.t") == META
    assert not store.log_path.exists() and not any((store.meta_dir / "staging").iterdir())


def test_rollback_restores_every_file_and_the_metadata_newest_first(tmp_path):
    store, folder = _table(tmp_path)
    store.begin()
    store.replace_files("staging.t", [folder / "date=2024-01-02/b.parquet"],
                        _staged(store, {"date=2024-01-02/c.parquet": "new2", "date=2024-01-03/d.parquet": "new3"}))
    wider = F.TableMeta(META.columns + (("x", "string"),), "date")
    store.replace_files("staging.t", [folder / "date=2024-01-01/a.parquet"], None, {F.TABLE_FILE: wider.to_json()})
    store.replace_files("marts.m", [], _staged(store, {"e.parquet": "m"}), {F.TABLE_FILE: META.to_json()})
    assert _contents(folder) == {"date=2024-01-02/c.parquet": "new2", "date=2024-01-03/d.parquet": "new3"}
    assert not (folder / "date=2024-01-01").exists()  # an emptied partition folder goes
    assert store.rollback() == ["marts.m", "staging.t"]
    assert _contents(folder) == {"date=2024-01-01/a.parquet": "old1", "date=2024-01-02/b.parquet": "old2"}
    assert store.meta("staging.t") == META
    assert not store.table_dir("marts.m").exists()  # a table the transaction created is gone again
    assert not store.log_path.exists() and not any((store.meta_dir / "undo").iterdir())


def test_commit_deletes_the_replaced_files(tmp_path):
    store, folder = _table(tmp_path)
    store.begin()
    store.replace_files("staging.t", [folder / "date=2024-01-02/b.parquet"], _staged(store, {"date=2024-01-02/c.parquet": "new"}))
    assert store.commit() == ["staging.t"]
    assert _contents(folder) == {"date=2024-01-01/a.parquet": "old1", "date=2024-01-02/c.parquet": "new"}
    assert not store.log_path.exists() and not any((store.meta_dir / "undo").iterdir())


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from martops.engines import spark_files as F

    store = F.Store(Path(sys.argv[1]))
    store.lock(5, "test")
    folder = store.table_dir("staging.t")
    stage = store.staging_dir()
    (stage / "date=2024-01-02").mkdir(parents=True)
    (stage / "date=2024-01-02" / "c.parquet").write_text("new")
    store.begin()
    moves = F._move
    def die_after_first_move(src, dst):  # the kill lands between two renames of one write
        moves(src, dst)
        os._exit(9)
    F._move = die_after_first_move
    store.replace_files("staging.t", [folder / "date=2024-01-02" / "b.parquet"], stage)
""")


def test_a_writer_killed_between_two_renames_is_rolled_back_by_the_next_writer(tmp_path):
    """The write-ahead log is on disk before the first file moves: whatever moved, the next writer
    (which can take the lock only once the killed one is gone) puts every file back."""
    store, folder = _table(tmp_path)
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(store.root)], env={"PYTHONPATH": str(src)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert store.log_path.exists() and "date=2024-01-02/b.parquet" not in _contents(folder)  # half done
    after = F.Store(store.root)
    after.lock(5, "test")  # the dead writer's lock went with its process
    assert after.recover() == ["staging.t"]
    assert _contents(folder) == {"date=2024-01-01/a.parquet": "old1", "date=2024-01-02/b.parquet": "old2"}
    assert not after.log_path.exists() and not (after.meta_dir / "staging").exists()
    after.unlock()


def test_a_committed_log_left_by_a_kill_is_finished_not_undone(tmp_path):
    store, folder = _table(tmp_path)
    store.begin()
    store.replace_files("staging.t", [folder / "date=2024-01-02/b.parquet"], _staged(store, {"date=2024-01-02/c.parquet": "new"}))
    tx = store._tx
    tx["state"] = "committed"
    F._write_json(store.log_path, tx)  # killed right after the commit point, before the clean-up
    assert F.Store(store.root).recover() == ["staging.t"]
    assert _contents(folder) == {"date=2024-01-01/a.parquet": "old1", "date=2024-01-02/c.parquet": "new"}
    assert not store.log_path.exists() and not any((store.meta_dir / "undo").iterdir())


def test_a_second_writer_waits_for_the_lock_then_says_who_holds_it(tmp_path):
    first = F.Store(tmp_path / "wh")
    first.lock(1, "spark:wh")
    with pytest.raises(Exception, match=r"spark:wh is in use by another martops process \(waited 0.2 s\)"):
        F.Store(tmp_path / "wh").lock(0.2, "spark:wh")
    first.unlock()
    F.Store(tmp_path / "wh").lock(0.2, "spark:wh")


def test_file_paths_spark_reports_are_local_paths():
    assert F.file_path("file:///tmp/w%20h/t/date=2024-01-01/part-0.parquet") == Path("/tmp/w h/t/date=2024-01-01/part-0.parquet")
    assert F.file_path("file:/tmp/a%253Ab/x.parquet") == Path("/tmp/a%3Ab/x.parquet")  # Hive-escaped ':' kept


# -- where: spark:DIR ------------------------------------------------------------------------
def test_spark_locations():
    where = resolve("spark:wh-spark", "duckdb", "warehouse.duckdb", None)
    assert (where.engine, where.target, where.master, where.shown) == ("spark", "wh-spark", None, "spark:wh-spark")
    where = resolve("spark:/data/wh?master=local[4]", "duckdb", "warehouse.duckdb", None)
    assert (where.target, where.master) == ("/data/wh", "local[4]")
    assert resolve(None, "spark", "warehouse.duckdb", None, "/data/wh").target == "/data/wh"


@pytest.mark.parametrize("given, message", [
    ("spark://host:7077", r"is a Spark master, not a warehouse: .* write spark:DIR\?master=spark://host:7077"),
    ("spark:", "names no folder"),
    ("spark:wh?mastr=local", r"only master=MASTER is read"),
    ("spark:wh?master=", r"only master=MASTER is read"),
    ("sprak:wh", r"sprak:// is not a warehouse martops supports \(did you mean spark://\?\)"),
])
def test_bad_spark_locations_say_the_form(given, message):
    with pytest.raises(ConfigError, match=message):
        resolve(given, "duckdb", "warehouse.duckdb", None)


def test_warehouse_path_holding_a_spark_location_says_where_it_goes():
    with pytest.raises(ConfigError, match="write engine: spark and warehouse_dir: wh instead"):
        resolve(None, "duckdb", "spark:wh", None)


def test_project_file_spark_settings(tmp_path):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("warehouse:\n  engine: spark\n  warehouse_dir: wh\n  master: local[4]\n"
                   "  spark_conf: {spark.executor.memory: 2g}\n")
    w = load_config(cfg).warehouse
    assert (w.engine, w.warehouse_dir, w.master, w.spark_conf) == ("spark", "wh", "local[4]", {"spark.executor.memory": "2g"})
    for text, message in [("warehouse:\n  engine: spark\n", "engine: spark needs warehouse_dir"),
                          ("warehouse:\n  warehouse_dir: wh\n", "warehouse_dir and spark_conf are for engine: spark"),
                          ("warehouse:\n  engine: sparc\n", "warehouse.engine")]:
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(cfg)


def test_without_pyspark_the_error_says_what_to_install(monkeypatch):
    from martops.engines import spark_session

    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(ConfigError, match=r"needs pyspark, which is not installed: pip install 'martops\[spark\]'"):
        spark_session.session(WarehouseConfig())


def test_log_is_json_a_person_can_read(tmp_path):
    store, folder = _table(tmp_path)
    store.begin()
    store.replace_files("staging.t", [folder / "date=2024-01-01/a.parquet"], None)
    entry = json.loads(store.log_path.read_text())["entries"][0]
    assert entry["table"] == "staging.t" and entry["removed"][0][0].endswith("date=2024-01-01/a.parquet")
    store.rollback()


def test_values_bound_into_spark_sql():
    import datetime as dt

    from martops.engines.spark_sql import bind

    sql = bind("UPDATE `o`.`r?` SET e = ?, t = ? WHERE a = '?' AND d BETWEEN ? AND ? AND n IN (?, ?, ?)",
               ["it's \\ done", dt.datetime(2024, 1, 2, 3, 4, 5), dt.date(2024, 1, 1), dt.date(2024, 1, 31),
                None, True, 2.5])
    assert sql == ("UPDATE `o`.`r?` SET e = 'it\\'s \\\\ done', t = TIMESTAMP'2024-01-02 03:04:05' WHERE a = '?' "
                   "AND d BETWEEN DATE'2024-01-01' AND DATE'2024-01-31' AND n IN (NULL, TRUE, 2.5D)")
