"""Checks declared in martops.yml: `martops check` exit codes and --select, and pipeline gating
(an error stops the downstream steps naming check, table, count and an example; a warning does not)."""

import json

import pytest

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _config(tmp_path, text):
    path = tmp_path / "martops.yml"
    path.write_text(text)
    return path


@pytest.fixture
def loaded(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--warehouse", wh).code == 0
    return wh


def test_check_passes_on_a_clean_warehouse_and_records_results(capsys, loaded):
    res = run_cli(capsys, "check", "--warehouse", loaded)
    assert res.code == 0, res.out
    assert "0 fail, 0 error" in res.out
    with connect(path=loaded) as w:
        statuses = {r["status"] for r in w.to_pyarrow(w.table("ops.check_results")).to_pylist()}
        steps = [r["step"] for r in w.to_pyarrow(w.table("ops.runs")).to_pylist()]
    assert statuses == {"pass"} and "check" in steps


def test_a_declared_error_check_fails_check_with_exit_1_and_select_narrows_it(capsys, loaded, tmp_path):
    cfg = _config(tmp_path, """
checks:
  staging.sessions:
    - accepted_values: {column: channel_name, values: [Direct Traffic, Referral]}
    - expression: {expr: "holder_engagement >= closer_engagement", severity: warn}
  staging.conversions:
    - range: {column: revenue, max: 60, severity: warn}
""")
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg)
    out = " ".join(res.out.split())
    assert res.code == 1
    assert "accepted_values(channel_name in [Direct Traffic, Referral])" in out
    assert "staging.sessions" in out and "6 failing row(s)" in out and "Rerun: SELECT" in out
    assert "range(revenue <= 60)" in out  # a warning is shown too
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg, "--select", "staging.conversions")
    assert res.code == 0 and "1 warn" in " ".join(res.out.split())
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg, "--select", "no_such*")
    lines = res.err.strip().splitlines()
    assert res.code == 1 and len(lines) == 1 and lines[0].startswith(
        "error: --select 'no_such*' matches no check (a glob on the table, the check or table:check); the ")
    named = [n.strip("'") for n in lines[0].split(" checks here include ")[1].split("', '")]
    assert len(named) == 4 and len({n.split(":")[0] for n in named}) == 4  # one check of each of 4 tables
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg, "--select", named[0])
    assert res.code in (0, 1) and "matches no check" not in res.err


def test_a_select_typo_names_the_nearest_table_or_check(capsys, loaded):
    for typo, near in (("staging.sesions", "staging.sessions"), ("STAGING.CONVERSIONS", "staging.conversions")):
        res = run_cli(capsys, "check", "--warehouse", loaded, "--select", typo)
        lines = res.err.strip().splitlines()
        assert res.code == 1 and len(lines) == 1 and f"--select {typo!r} matches no check" in lines[0], res
        assert lines[0].endswith(f"; did you mean {near}?"), lines[0]


def test_a_check_on_a_missing_column_is_reported_not_crashed(capsys, loaded, tmp_path):
    cfg = _config(tmp_path, "checks:\n  staging.sessions:\n    - not_null: [sesion_id]\n")
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg, "--select", "staging.sessions:not_null(sesion*")
    assert res.code == 1 and "could not run" in res.out and "'session_id'" in " ".join(res.out.split())


def test_an_invalid_declaration_is_a_config_error_naming_the_key(capsys, loaded, tmp_path):
    cfg = _config(tmp_path, "checks:\n  staging.sessions:\n    - uniqe: [session_id]\n")
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg)
    assert res.code == 1 and "checks.staging.sessions.0" in res.err and "unknown check kind 'uniqe'" in res.err


def test_an_error_check_in_a_step_stops_downstream_and_keeps_prior_data(capsys, tiny_db, tmp_path, loaded):
    before = _journey_count(loaded)
    cfg = _config(tmp_path, "checks:\n  staging.sessions:\n    - range: {column: cost, max: 1.0}\n")
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--warehouse", loaded, "--config", cfg)
    err = " ".join(res.err.split())
    assert res.code == 1
    assert "check range(cost <= 1) on staging.sessions (error): 2 failing row(s)" in err
    assert '"session_id": "s' in err  # an example row
    assert "journeys" not in _steps_of_last_run(loaded)  # downstream did not run
    assert _journey_count(loaded) == before
    with connect(path=loaded) as w:  # the failing result is kept although the step rolled back
        t = w.table("ops.check_results")
        failed = w.to_pyarrow(t.filter(t.status == "fail")).to_pylist()
    assert len(failed) == 1 and failed[0]["failing_count"] == 2 and json.loads(failed[0]["sample"])


def test_a_warning_in_a_step_lets_the_pipeline_continue(capsys, tiny_db, tmp_path, loaded):
    cfg = _config(tmp_path, "checks:\n  staging.sessions:\n    - range: {column: cost, max: 1.0, severity: warn}\n")
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--warehouse", loaded, "--config", cfg)
    assert res.code == 0
    assert "Checks that did not pass" in res.out and "range(cost <= 1)" in " ".join(res.out.split())
    assert {"attribution.ingest", "attribution.journeys", "attribution.report"} <= set(_steps_of_last_run(loaded))


def test_row_count_drop_against_the_previous_run_fails_ingest(capsys, tmp_path):
    from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db
    wh = tmp_path / "wh.duckdb"
    full = make_challenge_db(tmp_path / "full.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    assert run_cli(capsys, "attribution", "ingest", "--db", full, *RANGE, "--warehouse", wh).code == 0
    cfg = _config(tmp_path, "checks:\n  staging.sessions:\n    - row_count: {min: 1, max_drop_pct: 20}\n")
    small = make_challenge_db(tmp_path / "small.db", TINY_SESSIONS[:3], TINY_CONVERSIONS, TINY_COSTS)
    res = run_cli(capsys, "attribution", "ingest", "--db", small, *RANGE, "--warehouse", wh, "--config", cfg)
    err = " ".join(res.err.split())
    assert res.code == 1 and "row_count(>= 1, drop <= 20% of 9)" in err
    assert "set quality.row_count_max_drop_pct" in err  # the setting to change when the drop is expected
    with connect(path=wh) as w:
        assert w.count(T.SESSIONS) == 9


def _journey_count(wh_path):
    with connect(path=wh_path) as w:
        return w.count(T.JOURNEYS)


def _steps_of_last_run(wh_path):
    with connect(path=wh_path) as w:
        runs = w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()
    last = runs[-1]["run_id"]
    return [r["step"] for r in runs if r["run_id"] == last]
