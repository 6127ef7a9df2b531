"""Every check kind on a real DuckDB table: passes on good rows, counts and samples the bad ones,
and keeps a query that reruns to the same failing rows."""

import datetime as dt

import ibis
import pytest

from martops.checks import builders as B
from martops.checks.core import run_check
from martops.checks.store import CHECK_RESULTS, previous_observation, record

FUNNEL = {
    "day": [dt.date(2023, 9, d) for d in (1, 1, 2, 3)],
    "campaign": ["a", "b", "a", "a"],
    "spend": [10.0, 0.0, -5.0, None],
    "funnel": ["web", "web", "sales", "retail"],
    "leads": [10, 5, 8, 3],
    "meetings": [4, 6, 8, None],
    "deals": [1, 2, 9, 1],
    "loaded_at": [dt.datetime(2023, 9, 4, 6)] * 4,
}


@pytest.fixture
def table(wh):
    wh.create_or_replace("marts.funnel", ibis.memtable(FUNNEL))
    wh.create_or_replace("marts.campaigns", ibis.memtable({"campaign": ["a"], "name": ["Spring"]}))
    return wh.table("marts.funnel")


def _rerun(wh, result):
    return len(wh.execute(result.query))


@pytest.mark.parametrize("make,failing", [
    (lambda t, wh: B.not_null(t, "marts.funnel", ["spend", "meetings"]), 1),
    (lambda t, wh: B.not_null(t, "marts.funnel", ["day", "campaign"]), 0),
    (lambda t, wh: B.unique(t, "marts.funnel", ["day", "campaign"]), 0),
    (lambda t, wh: B.unique(t, "marts.funnel", ["campaign"]), 1),  # one duplicated key ('a', 3 rows)
    (lambda t, wh: B.accepted_values(t, "marts.funnel", "funnel", ["web", "sales"]), 1),
    (lambda t, wh: B.relationships(t, "marts.funnel", "campaign", wh.table("marts.campaigns"), "marts.campaigns", "campaign"), 1),
    (lambda t, wh: B.value_range(t, "marts.funnel", "spend", min=0), 1),
    (lambda t, wh: B.value_range(t, "marts.funnel", "leads", min=4, max=9), 2),
    (lambda t, wh: B.monotonic_funnel(t, "marts.funnel", ["leads", "meetings", "deals"]), 2),
    (lambda t, wh: B.sums_to(t, "marts.funnel", group_by=["day"], column="leads", value=15), 2),
    (lambda t, wh: B.row_count(t, "marts.funnel", min=5), 1),
    (lambda t, wh: B.row_count(t, "marts.funnel", min=1, max_drop_pct=50, previous=10), 1),  # 4 < 10 * 0.5
    (lambda t, wh: B.row_count(t, "marts.funnel", min=1, max_drop_pct=70, previous=10), 0),
    (lambda t, wh: B.expression(t, "marts.funnel", "deals <= leads",
                                lambda c: wh.backend.sql(f"SELECT * FROM marts.funnel WHERE {c}")), 1),
])
def test_each_kind_counts_the_failing_rows(wh, table, make, failing):
    check = make(table, wh)
    result = run_check(wh, check)
    assert result.failing_count == failing, str(result)
    assert result.status == ("pass" if failing == 0 else "fail")
    assert len(result.sample) == min(failing, 5)
    assert _rerun(wh, result) == failing  # the stored query text finds the same rows


def test_a_sample_shows_the_bad_row(wh, table):
    result = run_check(wh, B.monotonic_funnel(table, "marts.funnel", ["leads", "meetings", "deals"]))
    assert {(r["campaign"], r["leads"], r["meetings"]) for r in result.sample} == {("b", 5, 6), ("a", 8, 8)}
    assert "monotonic_funnel(leads >= meetings >= deals)" in str(result) and "2 failing" in str(result)


def test_freshness_warns_after_12h_and_errors_after_24h(wh, table):
    loaded = dt.datetime(2023, 9, 4, 6)
    for hours, warn_fails, error_fails in [(1, 0, 0), (13, 1, 0), (25, 1, 1)]:
        now = loaded + dt.timedelta(hours=hours)
        w = run_check(wh, B.freshness(table, "marts.funnel", "loaded_at", 12, now, "warn"))
        e = run_check(wh, B.freshness(table, "marts.funnel", "loaded_at", 24, now, "error"))
        assert (w.failing_count, e.failing_count) == (warn_fails, error_fails)
        assert w.observed == pytest.approx(hours)
        assert w.status == ("warn" if warn_fails else "pass") and e.status == ("fail" if error_fails else "pass")


def test_an_empty_table_is_never_fresh(wh):
    wh.create_or_replace("staging.empty", ibis.memtable({"loaded_at": [dt.datetime(2023, 1, 1)]}).limit(0))
    r = run_check(wh, B.freshness(wh.table("staging.empty"), "staging.empty", "loaded_at", 12, dt.datetime.now(), "error"))
    assert r.failing_count == 1 and r.status == "fail"


def test_warn_severity_does_not_block(wh, table):
    r = run_check(wh, B.value_range(table, "marts.funnel", "spend", min=0, severity="warn"))
    assert r.status == "warn" and not r.blocking


def test_an_unknown_column_is_an_error_status_naming_what_exists(wh, table):
    r = run_check(wh, B.not_null(table, "marts.funnel", ["spnd"]))
    assert r.status == "error" and r.blocking
    assert "['spnd'] not in marts.funnel" in r.message and "'spend'" in r.message


def test_results_are_recorded_and_row_count_remembers_the_last_figure(wh, table):
    r = run_check(wh, B.row_count(table, "marts.funnel", min=1, max_drop_pct=50))
    assert r.observed == 4
    record(wh, "run-1", [r])
    assert previous_observation(wh, "marts.funnel", "row_count(") == 4
    rows = wh.to_pyarrow(wh.table(CHECK_RESULTS)).to_pylist()
    assert rows[0]["run_id"] == "run-1" and rows[0]["status"] == "pass" and rows[0]["query"].startswith("SELECT")
