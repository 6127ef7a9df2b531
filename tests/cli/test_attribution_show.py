"""`martops attribution show`: the business view, checked against marts.channel_reporting."""

import csv
import io

import duckdb
import pytest

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _expected(wh, since, until):
    """Per (model, channel): sums of channel_reporting over the range, straight from DuckDB."""
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute(
            "SELECT model, channel_name, sum(cost), sum(ihc), sum(ihc_revenue), sum(unknown_cost_sessions) "
            "FROM marts.channel_reporting WHERE date BETWEEN ? AND ? GROUP BY ALL", [since, until]).fetchall()
    return {(m, c): (cost, credit, revenue, int(unknown)) for m, c, cost, credit, revenue, unknown in rows}


def test_csv_rows_are_the_sums_of_channel_reporting_with_cpo_and_roas(capsys, two_models):
    res = run_cli(capsys, "attribution", "show", *RANGE, "-m", "ihc", "-m", "last_touch", "--format", "csv",
                  "-w", two_models)
    assert res.code == 0, res.err
    got = list(csv.DictReader(io.StringIO(res.out)))
    expected = _expected(two_models, "2023-09-01", "2023-09-07")
    assert {(r["model"], r["channel_name"]) for r in got} == set(expected) and len(got) == len(expected)
    assert [r["model"] for r in got] == sorted((r["model"] for r in got), key=["ihc", "last_touch"].index)
    for r in got:
        cost, credit, revenue, unknown = expected[r["model"], r["channel_name"]]
        assert r["cost"] == ("" if cost is None else repr(round(cost, 2)).removesuffix(".0"))
        assert float(r["conversions"]) == pytest.approx(credit, abs=5e-7)
        assert float(r["revenue"]) == pytest.approx(revenue, abs=0.005)
        assert r["CPO"] == ("" if cost is None or not credit else repr(round(cost / credit, 2)).removesuffix(".0"))
        assert r["ROAS"] == ("" if not cost else repr(round(revenue / cost, 6)).removesuffix(".0"))
        assert int(r["unknown_cost_sessions"]) == unknown
    # by hand, on every date: last_touch gives c1 to s3 (Newsletter & Email), c2 to s4 (FB & IG Ads), c3 to
    # s6 (Organic Traffic: s5 and s6 share a time, ordered by session id); ihc spreads the same 3 conversions
    every = list(csv.DictReader(io.StringIO(run_cli(capsys, "attribution", "show", "-f", "csv", "-w", two_models).out)))
    assert {(r["channel_name"], r["conversions"]) for r in every if r["model"] == "last_touch" and r["conversions"] != "0"} \
        == {("Newsletter & Email", "1"), ("FB & IG Ads", "1"), ("Organic Traffic", "1")}
    assert sum(float(r["conversions"]) for r in every if r["model"] == "ihc") == pytest.approx(3.0)
    assert not any(r["channel_name"] == "TOTAL" for r in got)


def test_the_table_shows_both_models_side_by_side_and_a_total(capsys, two_models):
    res = run_cli(capsys, "attribution", "show", *RANGE, "-m", "ihc", "-m", "last_touch", "-w", two_models)
    assert res.code == 0
    lines = res.out.splitlines()
    assert lines[0].startswith("Channels, 2023-09-01 .. 2023-09-0")
    header = " ".join(line for line in lines[:6] if "┃" in line)
    for word in ("channel", "cost", "conversions", "ihc", "last_touch", "CPO", "ROAS"):
        assert word in header
    total = next(line for line in lines if "TOTAL" in line)
    expected = _expected(two_models, "2023-09-01", "2023-09-07")
    for column, model in ((3, "ihc"), (4, "last_touch")):  # conversions of each model, summed over the channels
        assert total.split("│")[column].strip() == f"{sum(v[1] for k, v in expected.items() if k[0] == model):,.2f}"
    assert total.split("│")[4].strip() == "3.00"  # last_touch credits sessions in the range only


def test_a_range_selects_session_dates(capsys, two_models):
    res = run_cli(capsys, "attribution", "show", "--since", "2023-09-03", "--until", "2023-09-03", "-m", "last_touch",
                  "-f", "csv", "-w", two_models)
    got = {r["channel_name"] for r in csv.DictReader(io.StringIO(res.out))}
    assert got == {c for m, c in _expected(two_models, "2023-09-03", "2023-09-03") if m == "last_touch"}
    assert got == {"FB & IG Ads", "Organic Traffic", "Performance Max"}  # sessions s4, s5, s6


@pytest.mark.parametrize("args,message", [
    (["-m", "linear"], "error: channel_reporting has no rows of model(s) 'linear'; models reported: ihc, last_touch"),
    (["--since", "2024-01-01"], "error: no rows in channel_reporting dated from 2024-01-01 for ihc, last_touch; "
                                "its rows are dated 2023-08-30..2023-09-0"),
    (["--format", "xml"], "error: --format 'xml' is not a format; choose table or csv"),
])
def test_errors_are_one_line(capsys, two_models, args, message):
    res = run_cli(capsys, "attribution", "show", *args, "-w", two_models)
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1 and res.err.startswith(message), res.err
