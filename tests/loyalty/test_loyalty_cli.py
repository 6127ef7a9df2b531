"""`martops loyalty ...` and the platform commands on a loyalty project, as a user runs them:
a project file with a schedule, run/check/status/quarantine, show with exports, and every mistake
a one-line error with a non-zero exit."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.cli_runner import run_cli
from tests.loyalty.folders import CUSTOMER_HEADER, customer, write_folder
from tests.loyalty.test_build import CUSTOMERS, TRANSACTIONS

PROJECT = """\
sources:
  loyalty: {path: delivery}
schedules:
  - name: loyalty-nightly
    cron: "0 5 * * *"
    select: [loyalty]
"""


def _ok(capsys, *args):
    res = run_cli(capsys, *args)
    assert res.code == 0, (args, res.out[-3000:], res.err)
    assert "Traceback" not in res.err
    return res


def test_a_loyalty_project_runs_checks_reports_and_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "delivery", CUSTOMERS, TRANSACTIONS)
    (tmp_path / "martops.yml").write_text(PROJECT)
    listed = _ok(capsys, "schedule", "list", "--count", "1")
    assert "loyalty-nightly" in listed.out
    ran = _ok(capsys, "run")  # no selector: the domains martops.yml has a source for
    for step in ("loyalty.load", "loyalty.fill", "loyalty.reporting", "loyalty.insights"):
        assert step in ran.out, step
    check = _ok(capsys, "check")
    assert "accepted_values(points_rule_ok" in check.out  # line 14 breaks the rule: a warning, kept
    status = _ok(capsys, "status")
    assert "staging.loyalty_transactions" in status.out
    q = _ok(capsys, "quarantine", "--table", "loyalty_transactions")
    assert "12.50" in q.out and "exact" in q.out and "03/07/2012" in q.out
    shown = _ok(capsys, "loyalty", "show", "programme", "--by", "location", "--export", "p.parquet")
    assert "net_revenue_per_customer" in shown.out
    table = pq.read_table(tmp_path / "p.parquet")
    assert {"ci_low", "ci_high", "p_value", "note"} <= set(table.column_names) and table.num_rows > 0
    again = run_cli(capsys, "loyalty", "show", "programme", "--export", "p.parquet")
    assert again.code != 0 and "p.parquet" in again.err  # never overwritten without --force
    cleaning = _ok(capsys, "loyalty", "cleaning")
    assert "rows read = loaded + quarantined" in cleaning.out


def test_mistakes_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = write_folder(tmp_path / "good", CUSTOMERS, TRANSACTIONS)
    cases = [
        (("loyalty", "build", "--source", "nowhere"), "does not exist"),
        (("loyalty", "build", "--source", str(good / "customers.csv")), "is not a folder"),
        (("loyalty", "build", "--source", str(good), "--as-of", "2013-13-01"), "--as-of '2013-13-01' is not a date"),
        (("loyalty", "show", "programme"), "does not exist"),  # no warehouse yet
    ]
    empty = write_folder(tmp_path / "empty", CUSTOMERS, [])
    cases.append((("loyalty", "build", "--source", str(empty)), "transactions.csv has a header but no rows"))
    nocol = tmp_path / "nocol"
    write_folder(nocol, CUSTOMERS, TRANSACTIONS)
    (nocol / "transactions.csv").write_text("date,user_id,value\n2012-01-01,1,100\n")
    cases.append((("loyalty", "build", "--source", str(nocol)), "column(s) point_differential missing"))
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "customers.csv").write_text(",".join(CUSTOMER_HEADER) + "\n" + ",".join(customer(1, "2012-01-01", "control")) + "\n")
    cases.append((("loyalty", "build", "--source", str(lone)), "transactions.csv is missing"))
    for args, expected in cases:
        res = run_cli(capsys, *args, "--warehouse", str(tmp_path / "w.duckdb"))
        assert res.code != 0, args
        assert expected in res.err, (args, res.err)
        assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1, (args, res.err)
    assert not (tmp_path / "w.duckdb").exists()  # nothing was built, so no warehouse was left behind


def test_show_needs_a_known_view_and_cut(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "d", CUSTOMERS, TRANSACTIONS)
    _ok(capsys, "loyalty", "build", "--source", "d")
    for args, expected in ((("loyalty", "show", "programs"), "unknown view 'programs'"),
                           (("loyalty", "show", "behaviour", "--by", "age"), "--by 'age' is not a cut of behaviour")):
        res = run_cli(capsys, *args)
        assert res.code == 1 and expected in res.err, res.err
    for view in ("behaviour", "programme", "segments"):
        assert _ok(capsys, "loyalty", "show", view).out.strip()


def test_stale_insights_and_other_mistakes_a_new_user_made(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "d", CUSTOMERS, TRANSACTIONS)
    _ok(capsys, "loyalty", "build", "--source", "d", "--as-of", "2012-12-31")
    # a fill to an earlier date without the insights after it: show must not present the old figures
    _ok(capsys, "loyalty", "fill", "--as-of", "2012-06-30")
    res = run_cli(capsys, "loyalty", "show", "programme")
    assert res.code == 1 and "the loyalty insights are as of 2012-12-31 but loyalty.customers is as of 2012-06-30" \
        in " ".join(res.err.split()), res.err
    early = run_cli(capsys, "loyalty", "build", "--source", "d", "--as-of", "2011-06-01")
    assert early.code == 1 and "no customer had signed up by the as-of date 2011-06-01" in " ".join(early.err.split())
    for args, says in ((("loyalty", "cleaning", "--run", "nosuch"), "--run 'nosuch': no loyalty build has that run id"),
                       (("loyalty", "generate", "--out", "d/customers.csv"), "is a file; give a folder"),
                       (("loyalty", "show", "segments", "--by", ""), "--by is empty")):
        res = run_cli(capsys, *args)
        assert res.code == 1 and says in " ".join(res.err.split()) and "Traceback" not in res.err, (args, res.err)
    (tmp_path / "martops.yml").write_text("loyalty: {treated_arm: control}\n")
    res = run_cli(capsys, "loyalty", "build", "--source", "d")
    assert res.code == 1 and "treated_arm and control_arm are both 'control'" in res.err, res.err
