"""`crm build` stops on what it must not pass over: a declared error check on the dedupe, golden or
marts tables, and a role file that is a folder."""

from __future__ import annotations

import pytest

from martops.crm import tables as T
from martops.engine import connect
from tests.cli_runner import run_cli
from tests.crm.folders import write_folder

CHECKS = {
    "dedupe": ("crm.customer_clusters", "- row_count: {min: 1000}"),
    "golden": ("crm.customer_golden", "- not_null: [email]"),
    "marts": ("marts.crm_customer_value", "- range: {column: spend, max: 100}"),
}


@pytest.mark.parametrize("step", list(CHECKS))
def test_a_declared_error_check_on_a_later_step_fails_the_build(tmp_path, capsys, step):
    table, check = CHECKS[step]
    folder = write_folder(tmp_path / "d", customers=[("c1", "Ann Lee", "ann@example.com", "(276)903-7065", "USA"),
                                                     ("c2", "Bob Stone", "", "917.965.7512", "USA")])
    cfg = tmp_path / "martops.yml"
    cfg.write_text(f"checks:\n  {table}:\n    {check}\n", encoding="utf-8")
    wh = tmp_path / "w.duckdb"
    assert run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh).code == 0  # without the check
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh, "--config", cfg)
    assert res.code == 1 and "Traceback" not in res.err, res.out + res.err
    assert f"on {table} (error)" in res.err and "failing row(s)" in res.err
    # the same verdict as `martops check` (on the tables the failed step left as they were)
    assert run_cli(capsys, "check", "--warehouse", wh, "--config", cfg, "--select", table).code == 1
    with connect(path=wh) as w:
        runs = w.to_pyarrow(w.table("ops.runs")).to_pylist()
    failed_run = next(r["run_id"] for r in runs if r["status"] == "failed")
    steps = {r["step"]: r["status"] for r in runs if r["run_id"] == failed_run}
    assert steps[f"crm.{step}"] == "failed"
    later = {"dedupe": "crm.golden", "golden": "crm.marts"}.get(step)
    if later:  # nothing downstream of the failed step ran
        assert later not in steps


def test_a_role_file_that_is_a_folder_is_an_error_not_a_skipped_role(tmp_path, capsys):
    folder = write_folder(tmp_path / "d")
    wh = tmp_path / "w.duckdb"
    assert run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh).code == 0
    (folder / "transactions.csv").unlink()
    (folder / "transactions.csv").mkdir()   # e.g. an archive unpacked under the file's name
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh)
    assert res.code == 1 and "Traceback" not in res.err
    assert f"{folder / 'transactions.csv'} is a directory; expected a CSV file (the transactions file)" in res.err.replace("\n", "")
    with connect(path=wh) as w:   # nothing was loaded over the previous delivery
        assert w.count(T.TRANSACTIONS) == 2
