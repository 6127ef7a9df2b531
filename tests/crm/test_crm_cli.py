"""`martops crm ...` end to end on a hand-written folder, as a user runs it."""

from __future__ import annotations

from martops.engine import connect
from tests.cli_runner import run_cli
from tests.crm.folders import write_folder


def test_build_prints_steps_cleaning_and_checks_then_cleaning_reprints_the_log(tmp_path, capsys):
    folder = write_folder(tmp_path / "d", transactions=[("t1", "c1", "1", "2024-04-01", "", "r1"),
                                                        ("t2", "ghost", "1", "2024-04-01", "-3", "r1"),
                                                        ("t3", "ghost", "1", "2024-04-01", "5", "r1")])
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh)
    assert res.code == 0, res.out + res.err
    for text in ("crm build", "load", "What cleaning did", "rows read = loaded + quarantined", "orphan customer_id",
                 "amount missing", "Checks that did not pass", "relationships(customer_id"):
        assert text in res.out, text
    again = run_cli(capsys, "crm", "cleaning", "--warehouse", wh)
    assert again.code == 0 and "rows read = loaded + quarantined" in again.out and "3 = 2 + 1" in again.out
    q = run_cli(capsys, "quarantine", "--table", "crm_transactions", "--warehouse", wh)
    assert q.code == 0 and "-3" in q.out


def test_errors_print_without_a_traceback(tmp_path, capsys):
    res = run_cli(capsys, "crm", "build", "--source", tmp_path, "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 1 and "customers.csv is missing" in res.err and "Traceback" not in res.err


def test_cleaning_before_any_build(tmp_path, capsys):
    connect(path=tmp_path / "w.duckdb").close()  # a warehouse that exists (a missing one is an error)
    res = run_cli(capsys, "crm", "cleaning", "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 0 and "no crm build has been logged yet" in res.out


def test_a_step_whose_input_is_missing_names_the_step_that_writes_it(tmp_path, capsys):
    """Was: `crm golden` without crm.customer_clusters said 'run crm.load first' (the load does not write it)."""
    wh = tmp_path / "w.duckdb"
    connect(path=wh).close()
    res = run_cli(capsys, "crm", "dedupe-customers", "--warehouse", wh)
    assert res.code == 1 and res.err.strip().splitlines() == [
        "error: crm.dedupe: crm.customers does not exist yet; run crm.load first (martops run +crm.dedupe "
        "--source FOLDER)"], res.err
    assert run_cli(capsys, "crm", "load", "--source", write_folder(tmp_path / "d"), "--warehouse", wh).code == 0
    res = run_cli(capsys, "crm", "golden", "--warehouse", wh)
    assert res.code == 1 and res.err.strip().splitlines() == [
        "error: crm.golden: crm.customer_clusters does not exist yet; run crm.dedupe first (martops run +crm.golden "
        "--source FOLDER)"], res.err
