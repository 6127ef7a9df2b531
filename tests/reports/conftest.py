"""A warehouse with three domains built from generated deliveries, shared by the report tests."""

from __future__ import annotations

from pathlib import Path

import contextlib
import io

import pytest

from tests.cli_runner import run_cli_unfixtured

WEEK = ("2023-09-01", "2023-09-07")


def build_demo_warehouse(root: Path) -> Path:
    """Attribution for WEEK, campaigns over the 60 days up to its end, loyalty: what `make demo` builds, smaller."""
    wh = root / "warehouse.duckdb"
    steps = [
        ("attribution", "generate", "--out", root / "challenge.db", "--conversions", "400", "--seed", "3"),
        ("kpis", "generate", "--out", root / "exports", "--seed", "3", "--start", "2023-07-10", "--days", "60"),
        ("loyalty", "generate", "--out", root / "loyalty", "--customers", "300", "--seed", "3"),
        ("attribution", "run", "--db", root / "challenge.db", "--since", WEEK[0], "--until", WEEK[1],
         "--model", "ihc", "--warehouse", wh),
        ("attribution", "run", "--db", root / "challenge.db", "--since", WEEK[0], "--until", WEEK[1],
         "--model", "linear", "--warehouse", wh),
        ("kpis", "build", "--source", root / "exports", "--warehouse", wh),
        ("loyalty", "build", "--source", root / "loyalty", "--warehouse", wh),
    ]
    for args in steps:
        res = run_cli_unfixtured(*args)
        assert res.code == 0, (args, res.err[-2000:])
    return wh


@pytest.fixture(scope="package")
def demo_warehouse(tmp_path_factory) -> Path:
    return build_demo_warehouse(tmp_path_factory.mktemp("report-demo"))


@pytest.fixture(scope="package")
def page_html(demo_warehouse, tmp_path_factory) -> str:
    """The report for WEEK, built once."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    with contextlib.redirect_stdout(io.StringIO()):
        res = run_cli_unfixtured("report", "weekly", "--warehouse", demo_warehouse, "--since", WEEK[0],
                                 "--until", WEEK[1], "--out", out)
    assert res.code == 0, res.err
    return out.read_text("utf-8")
