"""The usage section: a state as of the marts' day, its figures equal to the marts."""

from __future__ import annotations

import shutil

import pytest

from martops.engine import connect
from tests.cli_runner import run_cli, run_cli_unfixtured
from tests.reports.page import read


@pytest.fixture(scope="module")
def usage_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("usage-only")
    wh = root / "u.duckdb"
    assert run_cli_unfixtured("usage", "generate", "--out", root / "usage.db", "--users", "300", "--seed", "5").code == 0
    assert run_cli_unfixtured("usage", "build", "--source", root / "usage.db", "--warehouse", wh).code == 0
    return wh


def test_a_usage_only_warehouse_reports_its_tiers(capsys, usage_warehouse, tmp_path):
    wh = usage_warehouse
    res = run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", tmp_path / "r.html")
    assert res.code == 0, res.err
    page = read((tmp_path / "r.html").read_text("utf-8"))
    assert page.sections == ["usage", "health"] and "usage.retention" in page.charts
    with connect(path=wh, read_only=True) as w:
        kept, = w.execute("SELECT count(*) FROM marts.usage_customers WHERE NOT excluded")[0]
        tiers = dict(w.execute("SELECT tier, members FROM marts.usage_tiers WHERE entity = 'customer'"))
    assert int(page.metrics["usage.customers"]["value"]) == kept
    assert {r["tier"]: int(r["members"]) for r in page.cells["usage.tiers_customer"]} == tiers


@pytest.mark.parametrize("week", ["1999-W01", "2030-W05"])
def test_a_usage_only_warehouse_refuses_a_week_outside_its_data(capsys, usage_warehouse, tmp_path, week):
    """The usage section is a state, never empty: it used to publish a report for any week with exit 0."""
    with connect(path=usage_warehouse, read_only=True) as w:
        first, last = w.execute("SELECT min(first_seen)::DATE, max(as_of) FROM marts.usage_customers")[0]
    res = run_cli(capsys, "report", "weekly", "--warehouse", usage_warehouse, "--out", tmp_path / "r.html",
                  "--week", week)
    err = " ".join(res.err.split())
    assert res.code == 1 and "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert f"the warehouse's dated data: Product usage {first} to {last}; pick a period inside them" in err
    assert not (tmp_path / "r.html").exists()
    # a week inside the usage data is still reported
    inside = last.isocalendar()
    res = run_cli(capsys, "report", "weekly", "--warehouse", usage_warehouse, "--out", tmp_path / "r.html",
                  "--week", f"{inside[0]}-W{inside[1]:02d}")
    assert res.code == 0, res.err


def test_the_default_week_is_the_dated_sections_not_the_usage_builds(capsys, demo_warehouse, usage_warehouse, tmp_path):
    """The usage marts' as-of day (2024) is later than every campaign (2023): a week picked from it
    held no attribution, campaign or loyalty figure at all, and was published with exit 0."""
    wh = tmp_path / "both.duckdb"
    shutil.copy(demo_warehouse, wh)
    assert run_cli(capsys, "usage", "build", "--source", usage_warehouse.parent / "usage.db", "--warehouse", wh).code == 0
    res = run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", tmp_path / "r.html")
    assert res.code == 0, res.err
    assert "weekly report for 2023-W35 (2023-08-28 to 2023-09-03)" in " ".join(res.out.split())
    page = read((tmp_path / "r.html").read_text("utf-8"))
    assert {"attribution", "campaigns", "usage"} <= set(page.sections)
