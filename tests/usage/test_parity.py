"""The usage build leaves the same tables on DuckDB and on PostgreSQL from the same generated database
(bots, test accounts, copies and planted bad rows included), and from the real sample where present."""

from __future__ import annotations

import pytest

from martops.engine import connect
from tests.cli_runner import run_cli_unfixtured
from tests.conftest import DATASETS
from tests.parity import VOLATILE, assert_same
from tests.usage.test_real import MAPPING

pytestmark = pytest.mark.postgres
IGNORE = VOLATILE | {"ops.check_results.query", "ops.check_results.observed"}


def _both(monkeypatch, tmp_path, pg_dsn, *args) -> str:
    duck = str(tmp_path / "warehouse.duckdb")
    monkeypatch.chdir(tmp_path)
    for location in (duck, pg_dsn):
        res = run_cli_unfixtured(*args, "--warehouse", location)
        assert res.code == 0, (res.out[-2000:], res.err)
    return duck


def _same(duck: str, pg_dsn: str) -> None:
    with connect(path=duck, read_only=True) as a, connect(path=pg_dsn, read_only=True) as b:
        assert_same(a, b, ignore=IGNORE)
        assert a.count("marts.usage_customers") > 0 and a.count("marts.usage_retention") > 0


def test_generated_database(monkeypatch, tmp_path, pg_dsn):
    res = run_cli_unfixtured("usage", "generate", "--out", str(tmp_path / "data.db"), "--users", "400", "--seed", "2")
    assert res.code == 0, res.err
    duck = _both(monkeypatch, tmp_path, pg_dsn, "usage", "build", "--source", "data.db")
    _same(duck, pg_dsn)
    with connect(path=duck, read_only=True) as a:
        assert a.count("marts.usage_companies") > 10


def test_real_sample(monkeypatch, tmp_path, pg_dsn):
    folder = DATASETS / "product-usage"
    if not folder.is_dir():
        pytest.skip(f"the real usage sample is not at {folder}")
    (tmp_path / "martops.yml").write_text(MAPPING)
    _same(_both(monkeypatch, tmp_path, pg_dsn, "usage", "build", "--source", str(folder)), pg_dsn)
