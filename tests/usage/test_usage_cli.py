"""`martops usage ...` and the platform commands on a usage project, as a user runs them: generate,
run/check/status/quarantine from martops.yml, show with exports, and every mistake a one-line error
with a non-zero exit."""

from __future__ import annotations

import csv
import sqlite3

from tests.cli_runner import run_cli
from tests.usage.handmade import EVENTS, PEOPLE, write_csv_folder, write_db

PROJECT = """\
sources:
  usage: {path: data.db}
usage:
  trend_weeks: 1
  exclude: {max_events_per_day: 5}
"""


def _ok(capsys, *args):
    res = run_cli(capsys, *args)
    assert res.code == 0, (args, res.out[-3000:], res.err)
    assert "Traceback" not in res.err
    return res


def test_a_usage_project_runs_checks_reports_and_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_db(tmp_path / "data.db")
    (tmp_path / "martops.yml").write_text(PROJECT)
    ran = _ok(capsys, "run", "usage")
    assert "usage.load" in ran.out and "usage.marts" in ran.out
    assert "usage" in _ok(capsys, "steps", "usage").out
    check = _ok(capsys, "check")
    assert "marts.usage_customers" in check.out
    status = _ok(capsys, "status")
    assert "staging.usage_events" in status.out
    q = _ok(capsys, "quarantine", "--table", "usage_events")
    assert "yesterday" in q.out
    tiers = _ok(capsys, "usage", "show", "tiers")
    assert "quantiles 0.25 and 0.75" in tiers.out
    shown = _ok(capsys, "usage", "show", "customers", "--tier", "excluded", "--export", "excluded.csv")
    assert "wrote 2 rows" in shown.out
    with open(tmp_path / "excluded.csv", newline="") as fh:
        got = {r["customer_id"]: r["excluded_reason"] for r in csv.DictReader(fh)}
    assert set(got) == {"5", "7"} and "test+5@acme.com" in got["5"]
    again = run_cli(capsys, "usage", "show", "customers", "--export", "excluded.csv")
    assert again.code != 0 and "excluded.csv" in again.err  # never overwritten without --force
    _ok(capsys, "usage", "show", "retention", "--export", "retention.csv")
    with open(tmp_path / "retention.csv", newline="") as fh:
        first = next(csv.DictReader(fh))
    assert (first["cohort"], first["cohort_size"], first["month_0"]) == ("2024-01", "3", "0.666667")  # CSV exports: fractions to 6 decimals
    companies = _ok(capsys, "usage", "show", "companies")
    assert "Acme" in companies.out and "Beta" in companies.out
    assert "rows read = loaded + copies dropped + quarantined" in _ok(capsys, "usage", "cleaning").out
    rebuilt = _ok(capsys, "usage", "build", "--as-of", "2024-03-24")  # the source from martops.yml
    assert "as of 2024-03-24" in rebuilt.out


def test_generate_then_build_and_a_source_without_companies(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _ok(capsys, "usage", "generate", "--out", "data.db", "--users", "300", "--seed", "3")
    again = run_cli(capsys, "usage", "generate", "--out", "data.db")
    assert again.code != 0 and "--force" in again.err
    built = _ok(capsys, "usage", "build", "--source", "data.db", "--warehouse", "w.duckdb")
    assert "copies of an event dropped" in built.out
    before = _ok(capsys, "usage", "show", "customers", "--warehouse", "w.duckdb").out
    early = run_cli(capsys, "usage", "build", "--source", "data.db", "--warehouse", "w.duckdb", "--as-of", "2000-01-01")
    assert early.code == 1 and "--as-of 2000-01-01 is before the first event" in " ".join(early.err.split())
    assert _ok(capsys, "usage", "show", "customers", "--warehouse", "w.duckdb").out == before  # marts kept
    folder = write_csv_folder(tmp_path / "monthly", {
        "registrations": ["id;registration_month", "a;1", "b;2"],
        "activity": ["id;activity_month", "a;1", "a;2", "b;2"]})
    (tmp_path / "martops.yml").write_text(
        "sources:\n  usage:\n    delimiter: ';'\n    grain: month\n    tables: {people: registrations, events: activity}\n"
        "    columns: {people: {created_at: registration_month}, events: {user_id: id, month: activity_month}}\n")
    _ok(capsys, "usage", "build", "--source", str(folder), "--warehouse", "m.duckdb")
    none = _ok(capsys, "usage", "show", "companies", "--warehouse", "m.duckdb")
    assert "no companies: the source names no company" in none.out
    assert "M01" in _ok(capsys, "usage", "show", "retention", "--warehouse", "m.duckdb").out
    (tmp_path / "martops.yml").write_text(
        "sources:\n  usage:\n    delimiter: ';'\n    grain: month\n    month_one: 2024-01\n"
        "    tables: {people: registrations, events: activity}\n"
        "    columns: {people: {created_at: registration_month}, events: {user_id: id, month: activity_month}}\n")
    mid = run_cli(capsys, "usage", "build", "--source", str(folder), "--warehouse", "m.duckdb", "--as-of", "2024-02-15")
    assert mid.code == 1 and "is inside a month" in mid.err and "2024-02-29" in mid.err, mid.err
    _ok(capsys, "usage", "build", "--source", str(folder), "--warehouse", "m.duckdb", "--as-of", "2024-02-29")
    early = run_cli(capsys, "usage", "build", "--source", str(folder), "--warehouse", "m.duckdb", "--as-of", "2023-12-31")
    assert early.code == 1 and "before the first month with activity (2024-01)" in " ".join(early.err.split())


def test_mistakes_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = write_db(tmp_path / "good.db")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    nocol = write_db(tmp_path / "nocol.db", [p[:4] for p in PEOPLE], [e[:2] for e in EVENTS],
                     people_columns=("id", "name", "email", "company"), events_columns=("user_id", "event_type"))
    empty = write_db(tmp_path / "empty.db", PEOPLE, [])
    other = write_db(tmp_path / "other.db", events_table="activity")
    locked = tmp_path / "folder.db"
    locked.mkdir()
    cases = [
        (("usage", "build", "--source", "nowhere.db"), "does not exist"),
        (("usage", "build", "--source", str(text)), "is not a SQLite database"),
        (("usage", "build", "--source", str(nocol)), "lacks column 'timestamp' or 'event_time' or 'time'"),
        (("usage", "build", "--source", str(empty)), "has no rows; an empty events table is a failed export"),
        (("usage", "build", "--source", str(other)), "the events table 'events' is missing (set sources.usage.tables.events"),
        (("usage", "build", "--source", str(locked)), "the people table people.csv is missing"),
        (("usage", "build", "--source", str(good), "--as-of", "2024-02-30"), "--as-of '2024-02-30' is not a date"),
        (("usage", "build"), "usage.load has no delivery: pass --source FOLDER or set sources.usage.path"),
        (("usage", "show", "customers"), "does not exist"),  # no warehouse yet
        (("usage", "generate", "--out", str(locked)), "is a folder"),
    ]
    for args, expected in cases:
        res = run_cli(capsys, *args, *(() if args[1] == "generate" else ("--warehouse", str(tmp_path / "w.duckdb"))))
        assert res.code != 0, args
        assert expected in res.err, (args, res.err)
        assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1, (args, res.err)
    assert not (tmp_path / "w.duckdb").exists()  # nothing was built, so no warehouse was left behind
    _ok(capsys, "usage", "build", "--source", str(good), "--warehouse", "w.duckdb")
    for args, expected in [
        (("usage", "show", "custmers"), "unknown view 'custmers'; views: customers, companies, tiers, retention"),
        (("usage", "show", "tiers", "--tier", "high"), "--tier filters customers or companies"),
        (("usage", "show", "customers", "--tier", "hi"), "--tier 'hi' is not a tier"),
        (("usage", "build", "--source", str(good), "--as-of", "2999-01-01"), "is in the future"),
    ]:
        res = run_cli(capsys, *args, "--warehouse", "w.duckdb")
        assert res.code != 0 and expected in res.err, (args, res.err)
        assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1, (args, res.err)


def test_config_mistakes_name_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_db(tmp_path / "data.db")
    for text, expected in [
        ("sources:\n  usage: {columns: {people: {userid: id}}}\n", "'userid' is not a column of the people table"),
        ("sources:\n  usage: {tables: {persons: users}}\n", "sources.usage.tables.persons"),
        ("sources:\n  usage: {grain: daily}\n", "sources.usage.grain"),
        ("sources:\n  usage: {month_one: 2019-1}\n", "write a calendar month as YYYY-MM"),
        ("usage: {tier_quantiles: [0.8, 0.2]}\n", "tier_quantiles must be two shares"),
        ("usage: {exclude: {email_patterns: ['(']}}\n", "is not a regular expression"),
        ("usage: {trend_weeks: 0}\n", "usage.trend_weeks"),
    ]:
        (tmp_path / "martops.yml").write_text(text)
        res = run_cli(capsys, "usage", "build", "--source", "data.db", "--warehouse", "w.duckdb")
        assert res.code != 0 and expected in res.err, (text, res.err)
        assert "Traceback" not in res.err, res.err


def test_a_locked_or_broken_sqlite_file(tmp_path, capsys):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    res = run_cli(capsys, "usage", "build", "--source", str(broken), "--warehouse", str(tmp_path / "w.duckdb"))
    assert res.code != 0 and "broken.db" in res.err and "Traceback" not in res.err
    con = sqlite3.connect(write_db(tmp_path / "busy.db"))
    con.execute("BEGIN EXCLUSIVE")
    try:
        res = run_cli(capsys, "usage", "build", "--source", str(tmp_path / "busy.db"), "--warehouse",
                      str(tmp_path / "w.duckdb"))
    finally:
        con.rollback()
        con.close()
    assert res.code != 0 and "locked" in res.err and "Traceback" not in res.err


def test_a_repeated_header_row_is_quarantined_not_a_customer(tmp_path, capsys):
    """A people file without dates: every column is text, so only its id gives the copy away."""
    folder = write_csv_folder(tmp_path / "glued", {
        "people": ["user_id,name,email", "1,Ann,ann@a.io", "USER_ID,Name,Email", "2,Bob,bob@a.io"],
        "events": ["user_id,event_type,timestamp", "1,login,2024-03-01 09:00:00", "2,login,2024-03-02 09:00:00"]})
    wh = tmp_path / "w.duckdb"
    assert run_cli(capsys, "usage", "build", "--source", folder, "--warehouse", wh).code == 0
    from martops.engine import connect

    with connect(path=wh, read_only=True) as w:
        ids = sorted(r[0] for r in w.execute("SELECT customer_id FROM marts.usage_customers"))
        why = w.execute("SELECT reason FROM ops.quarantine WHERE table_name = 'usage_people'")
    assert ids == ["1", "2"]
    assert len(why) == 1 and "repeats the header row" in why[0][0]


def test_file_names_in_another_case_and_a_monthly_export_at_event_grain(tmp_path, capsys, monkeypatch):
    """`People.csv` / `EVENTS.CSV` (exports from Windows tools) are the people and events tables; two
    files differing only in case are an error naming both; a month-grain export read at the default
    event grain says which setting to change."""
    monkeypatch.chdir(tmp_path)
    folder = write_csv_folder(tmp_path / "upper", {"People": ["id,created_at", "a,2024-01-02", "b,2024-01-03"]})
    (folder / "EVENTS.CSV").write_text("user_id,event_type,timestamp\na,login,2024-01-02 10:00\n"
                                       "b,login,2024-01-05 11:00\n")
    _ok(capsys, "usage", "build", "--source", str(folder), "--warehouse", "w.duckdb")
    (folder / "people.csv").write_text("id,created_at\na,2024-01-02\n")
    twice = run_cli(capsys, "usage", "build", "--source", str(folder), "--warehouse", "w2.duckdb")
    assert twice.code != 0 and "People.csv and people.csv differ only in case" in twice.err, twice.err
    assert len(twice.err.strip().splitlines()) == 1
    monthly = write_csv_folder(tmp_path / "monthly", {"people": ["id,created_at", "a,1"],
                                                      "events": ["user_id,activity_month", "a,1"]})
    res = run_cli(capsys, "usage", "build", "--source", str(monthly), "--warehouse", "w3.duckdb")
    assert res.code != 0 and "set sources.usage.grain: month" in res.err, res.err
