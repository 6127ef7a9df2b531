"""Airflow: the DAG factory's DAG runs a small real project end to end with `dag.test()` (Airflow 3,
its own venv, sqlite metadata DB in tmp), and a failing step fails its task with martops' error."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.automation.project import MARTOPS, count, orchestrator_python, run_script, runs, small_project

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAG_FILE = '''
import datetime as dt
from martops.automation.orchestration.airflow import martops_dag

daily = martops_dag("martops_daily", select=["kpis", "+attribution.report"], schedule="0 0 * * *",
                    start_date=dt.datetime(2023, 9, 1, tzinfo=dt.timezone.utc), retries=1,
                    retry_delay=dt.timedelta(seconds=0), config="{good}/martops.yml", cwd="{good}")
broken = martops_dag("martops_broken", select=["+attribution.journeys"], schedule="0 0 * * *",
                     start_date=dt.datetime(2023, 9, 1, tzinfo=dt.timezone.utc), retries=1,
                     retry_delay=dt.timedelta(seconds=0), config="{bad}/martops.yml", cwd="{bad}")
'''

SCRIPT = '''
import datetime as dt, json, sys
sys.path.insert(0, "{dags}")
from martops_dags import daily, broken
out = {{}}
for dag in (daily, broken):
    run = dag.test(logical_date=dt.datetime(2023, 9, 8, tzinfo=dt.timezone.utc))
    out[dag.dag_id] = {{"state": str(run.state),
                        "tasks": {{t.task_id: [str(t.state), t.try_number] for t in run.get_task_instances()}},
                        "upstream": {{t: sorted(dag.task_dict[t].upstream_task_ids) for t in dag.task_dict}}}}
print(json.dumps(out))
'''


def test_dag_test_runs_the_graph_and_a_failed_step_fails_its_task(tmp_path):
    python = orchestrator_python("airflow")
    good = small_project(tmp_path / "good")
    bad = small_project(tmp_path / "bad", attribution_db="bad.db")
    (bad / "bad.db").write_text("not a database\n", encoding="utf-8")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "martops_dags.py").write_text(DAG_FILE.format(good=good, bad=bad), encoding="utf-8")
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")}
    migrate = subprocess.run([str(python.parent / "airflow"), "db", "migrate"], capture_output=True, text=True,
                             env={**os.environ, **env}, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    out = run_script(python, SCRIPT.format(dags=home / "dags"), tmp_path, env)

    # one task per step, dependencies exactly the graph's upstream (as martops itself reports it)
    graph = json.loads(subprocess.run([str(MARTOPS), "steps", "kpis", "+attribution.report", "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)["steps"]
    daily = out["martops_daily"]
    assert daily["upstream"] == {s["name"]: sorted(s["upstream"]) for s in graph}
    assert daily["state"] == "success", out["log"][-4000:]
    assert set(daily["tasks"]) == {s["name"] for s in graph}
    assert all(state == "success" for state, _ in daily["tasks"].values())
    # the run's data interval [2023-09-07, 2023-09-08) is --since/--until 2023-09-07 for ranged steps;
    # the kpis steps take no range
    ran = runs(good / "warehouse.duckdb")
    assert sorted(r[0] for r in ran) == sorted(s["name"] for s in graph)
    for step, since, until, status in ran:
        assert status == "success"
        assert (since, until) == (("2023-09-07", "2023-09-07") if step.startswith("attribution") else (None, None))
    assert count(good / "warehouse.duckdb", "marts.channel_reporting") > 0
    assert count(good / "warehouse.duckdb", "marts.campaign_kpis_daily") > 0

    broken = out["martops_broken"]
    assert broken["state"] == "failed"
    assert broken["tasks"]["attribution.ingest"] == ["failed", 2]  # retried once
    assert broken["tasks"]["attribution.journeys"][0] == "upstream_failed"
    assert ("martops step attribution.ingest failed (exit 1): error: bad.db is not a readable SQLite database: "
            "file is not a database") in out["log"]
