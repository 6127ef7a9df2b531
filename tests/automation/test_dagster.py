"""Dagster: the graph as assets with martops' checks as asset checks, materialized end to end on a
small real project (Dagster's own venv); a failing step fails with martops' one-line error."""

from __future__ import annotations

import pytest

from tests.automation.project import count, orchestrator_python, run_script, runs, small_project

pytestmark = [pytest.mark.dagster, pytest.mark.slow]

SCRIPT = '''
import json
from dagster import materialize
from martops.automation.orchestration.dagster import MartopsResource, martops_assets

out = {{}}
for name, cwd in (("good", "{good}"), ("bad", "{bad}")):
    res = MartopsResource(config=cwd + "/martops.yml", cwd=cwd)
    assets = martops_assets(res, ["kpis"])
    result = materialize(assets, resources={{"martops": res}}, raise_on_error=False)
    out[name] = {{
        "success": result.success,
        "specs": {{k.to_user_string(): sorted(d.to_user_string() for d in a.asset_deps[k])
                   for a in assets if hasattr(a, "asset_deps") for k in a.keys}},
        "materialized": sorted(e.asset_key.to_user_string() for e in result.get_asset_materialization_events()),
        "checks": {{e.asset_key.to_user_string(): [e.passed, e.severity.value, e.metadata["not passed"].value]
                    for e in result.get_asset_check_evaluations()}},
        "failures": [e.message + " " + str(e.event_specific_data.error.message if e.event_specific_data.error else "")
                     for e in result.all_events if e.is_step_failure],
    }}
print(json.dumps(out))
'''

KPI_TABLES = ["staging/campaign_channels", "staging/leads_funnel", "staging/web_orders", "snapshots/campaign_daily",
              "marts/campaign_kpis_daily", "marts/campaign_kpis_weekly", "marts/campaign_kpis_monthly"]


def test_materialize_runs_the_assets_and_their_checks(tmp_path):
    python = orchestrator_python("dagster")
    good = small_project(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "martops.yml").write_text("sources:\n  campaigns: {path: no-such-folder}\n", encoding="utf-8")

    out = run_script(python, SCRIPT.format(good=good, bad=bad), tmp_path, {})

    ok = out["good"]
    assert ok["success"], out["log"][-4000:]
    # one asset per output table; dependencies from the steps' inputs (source and fx rates external)
    assert ok["specs"]["staging/leads_funnel"] == ["source/kpis", "staging/fx_rates"]
    assert ok["specs"]["marts/campaign_kpis_weekly"] == ["snapshots/campaign_daily"]
    assert ok["materialized"] == sorted(KPI_TABLES)
    assert [r[0] for r in runs(good / "warehouse.duckdb")] == ["kpis.load", "kpis.snapshot", "kpis.mart"]
    assert count(good / "warehouse.duckdb", "marts.campaign_kpis_daily") > 0
    # every kpis table has martops checks: each is an asset check; the daily mart's warn-level
    # findings on this dirty data show as a failed WARN check naming them, the rest pass
    assert sorted(ok["checks"]) == sorted(KPI_TABLES)
    passed, severity, listed = ok["checks"]["marts/campaign_kpis_daily"]
    assert (passed, severity) == (False, "WARN") and listed.startswith("warn: monotonic_funnel(")
    assert all(v[0] for k, v in ok["checks"].items() if k != "marts/campaign_kpis_daily")

    failed = out["bad"]
    assert not failed["success"] and failed["materialized"] == []
    assert any("martops step kpis.load failed (exit 1): error: kpis.load: martops.yml sources.campaigns.path: "
               "no-such-folder does not exist" in f for f in failed["failures"]), failed["failures"]
