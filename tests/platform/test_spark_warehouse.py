"""The Spark warehouse's write primitives and transactions on a real local Spark session
(local[2]); one JVM for the whole test run (the `spark_session` fixture)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import ibis
import pytest

from martops.engine import connect
from martops.engines.spark_files import data_files
from martops.errors import ConfigError, MartopsError

pytestmark = pytest.mark.spark

D1, D2, D3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
ROWS = ibis.memtable({"n": [1, 2, None], "date": [D1, D2, D3], "a": ["x", "y", "it's \\ z"]},
                     schema={"n": "int64", "date": "date", "a": "string"})


def _all(wh, name: str) -> Counter:
    """The table's rows, as a multiset."""
    return Counter(tuple(r.values()) for r in wh.to_pyarrow(wh.table(name)).to_pylist())


def test_writes_are_copy_on_write_of_the_files_they_touch(spark_location):
    with connect(path=spark_location) as wh:
        wh.ensure_table("staging.t", ROWS.schema(), partition="date")
        assert wh.insert("staging.t", ROWS) == 3
        folder = wh.store.table_dir("staging.t")
        assert sorted(p.parent.name for p in data_files(folder)) == ["date=2024-01-01", "date=2024-01-02", "date=2024-01-03"]
        assert wh.table("staging.t").columns == ("n", "date", "a")  # martops' order, not Spark's (partition last)
        untouched = set(data_files(folder / "date=2024-01-01"))
        assert wh.delete_where("staging.t", "date BETWEEN ? AND ?", [D2, D2]) == 1
        assert set(data_files(folder / "date=2024-01-01")) == untouched  # other partitions are not rewritten
        assert not (folder / "date=2024-01-02").exists()
        assert wh.execute("UPDATE `staging`.`t` SET n = ?, a = 'q' WHERE n IS NULL", [42]) == [(1,)]
        assert _all(wh, "staging.t") == Counter([(1, D1, "x"), (42, D3, "q")])
        assert wh.replace_where("staging.t", ROWS, "date >= ?", [D2]) == (1, 3)
        assert _all(wh, "staging.t") == Counter([(1, D1, "x"), (1, D1, "x"), (2, D2, "y"), (None, D3, "it's \\ z")])
        assert wh.upsert("staging.t", ROWS.filter(ROWS.a == "x").mutate(n=ibis.literal(9, "int64")), ["a"]) == (2, 1)
        assert _all(wh, "staging.t") == Counter([(2, D2, "y"), (9, D1, "x"), (None, D3, "it's \\ z")])
        t = wh.table("staging.t")
        assert wh.create_or_replace("marts.m", t.group_by("date").aggregate(k=t.count())) == 3
        assert wh.relations() == [("marts.m", "table", 2), ("staging.t", "table", 3)]
        wh.ensure_table("staging.t", ibis.schema({"n": "int64", "date": "date", "a": "string", "b": "float64"}))
        assert wh.table("staging.t").columns == ("n", "date", "a", "b")  # an added column reads NULL in old files
        assert wh.scalar(wh.table("staging.t").b.count()) == 0
    with connect(path=spark_location, read_only=True) as wh:  # a new catalog, from the files alone
        assert _all(wh, "marts.m") == Counter([(D1, 1), (D2, 1), (D3, 1)])
        assert wh.table("staging.t").columns == ("n", "date", "a", "b")
        assert wh.query("SELECT count(*) AS n FROM staging.t") == (["n"], [(3,)], False)
        with pytest.raises(ConfigError, match="martops sql reads only"):
            wh.query("DROP TABLE staging.t")


def test_a_failed_transaction_leaves_no_trace(spark_location):
    with connect(path=spark_location) as wh:
        wh.ensure_table("staging.t", ROWS.schema(), partition="date")
        wh.insert("staging.t", ROWS)
        before = _all(wh, "staging.t")
        with pytest.raises(RuntimeError, match="a check failed"):
            with wh.transaction():
                wh.delete_where("staging.t", "date = ?", [D1])
                wh.insert("staging.t", ROWS)
                wh.create_or_replace("marts.new", wh.table("staging.t"))
                wh.execute("UPDATE `staging`.`t` SET a = 'changed'")
                assert wh.count("staging.t") == 5  # the transaction sees its own writes
                raise RuntimeError("a check failed")
        assert _all(wh, "staging.t") == before
        assert not wh.exists("marts.new") and wh.relations() == [("staging.t", "table", 3)]
        assert not wh.store.log_path.exists()


def test_folders_that_are_no_warehouse_are_refused(spark_location, tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist \(nothing was created\)"):
        connect(path=spark_location, read_only=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds other files and no martops warehouse"):
        connect(path=f"spark:{tmp_path / 'other'}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file; a Spark warehouse is a folder"):
        connect(path=f"spark:{tmp_path / 'file'}")
    with connect(path=spark_location):
        with pytest.raises(MartopsError, match="another Spark warehouse .* is open in this process"):
            connect(path=f"spark:{tmp_path / 'second'}")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["notes.txt"]


def test_a_failed_first_build_leaves_no_warehouse_behind(capsys, tmp_path):
    from tests.cli_runner import run_cli

    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "channels.csv").write_text("not,the,export\n1,2,3\n")
    for folder in (tmp_path / "new-warehouse", tmp_path / "made-empty"):
        if folder.name == "made-empty":
            folder.mkdir()
        res = run_cli(capsys, "kpis", "build", "--source", tmp_path / "exports", "--warehouse", f"spark:{folder}")
        assert res.code != 0 and "Traceback" not in res.err
        assert res.err.startswith("error: ") and "neither leads_funnel.csv nor web_orders.csv" in res.err, res.err
        assert (not folder.exists()) if folder.name == "new-warehouse" else not any(folder.iterdir())
