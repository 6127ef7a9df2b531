"""The usage section: a state as of the marts' day, its figures equal to the marts."""

from __future__ import annotations

from martops.engine import connect
from tests.cli_runner import run_cli
from tests.reports.page import read


def test_a_usage_only_warehouse_reports_its_tiers(capsys, tmp_path):
    wh = tmp_path / "u.duckdb"
    assert run_cli(capsys, "usage", "generate", "--out", tmp_path / "usage.db", "--users", "300", "--seed", "5").code == 0
    assert run_cli(capsys, "usage", "build", "--source", tmp_path / "usage.db", "--warehouse", wh).code == 0
    res = run_cli(capsys, "report", "weekly", "--warehouse", wh, "--out", tmp_path / "r.html")
    assert res.code == 0, res.err
    page = read((tmp_path / "r.html").read_text("utf-8"))
    assert page.sections == ["usage", "health"] and "usage.retention" in page.charts
    with connect(path=wh, read_only=True) as w:
        kept, = w.execute("SELECT count(*) FROM marts.usage_customers WHERE NOT excluded")[0]
        tiers = dict(w.execute("SELECT tier, members FROM marts.usage_tiers WHERE entity = 'customer'"))
    assert int(page.metrics["usage.customers"]["value"]) == kept
    assert {r["tier"]: int(r["members"]) for r in page.cells["usage.tiers_customer"]} == tiers
