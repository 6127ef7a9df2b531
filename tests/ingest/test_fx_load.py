"""fx.load against a real local server speaking Frankfurter's v1 contract: what lands in
staging.fx_rates, incremental runs, idempotence, a lost working directory, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from martops.demo.frankfurter import eur_rate
from martops.engine import connect
from martops.ingest import tables as T

from .conftest import project, run_fx

D = dt.date


def stored(wh, table: str = T.FX_RATES) -> dict[tuple[dt.date, str, str], float]:
    rows = wh.to_pyarrow(wh.table(table)).to_pylist()
    return {(r["date"], r["base"], r["currency"]): r["rate"] for r in rows}


def expected(server, since: dt.date, until: dt.date, symbols=("GBP", "USD")) -> dict:
    return {(d, "EUR", c): eur_rate(d, c) for d in server.table.days(since, until) for c in symbols}


def test_a_range_loads_one_row_per_business_day_and_currency(server, wh):
    result = run_fx(wh, project(server), D(2024, 3, 1), D(2024, 5, 31))
    got = stored(wh)
    assert got == expected(server, D(2024, 3, 1), D(2024, 5, 31))
    days = {d for d, _, _ in got}
    # weekends and the TARGET holidays (Good Friday, Easter Monday, Labour Day 2024) are absent
    assert not days & {D(2024, 3, 29), D(2024, 4, 1), D(2024, 5, 1), D(2024, 3, 30), D(2024, 3, 31)}
    assert {D(2024, 3, 28), D(2024, 4, 2), D(2024, 4, 30), D(2024, 5, 2)} <= days
    assert result.rows_out == len(got) and result.details["days"] == len(days)
    assert result.details["requests"] == 2  # the range, then the reconciliation's day
    assert server.paths() == ["/2024-03-01..2024-05-31", "/2024-05-31"]
    t = wh.to_pyarrow(wh.table(T.FX_RATES)).to_pylist()
    assert {r["_source"] for r in t} == {server.url} and len({r["_load_id"] for r in t}) == 1
    assert all(r["_loaded_at"] is not None and r["_run_id"] for r in t)


def test_re_running_a_range_replaces_it_with_the_same_rows(server, wh):
    cfg = project(server)
    run_fx(wh, cfg, D(2024, 1, 1), D(2024, 2, 29))
    first = stored(wh)
    again = run_fx(wh, cfg, D(2024, 1, 1), D(2024, 2, 29))
    assert stored(wh) == first
    assert again.details["deleted"] == len(first) == again.rows_out
    runs = wh.to_pyarrow(wh.table("ops.runs")).to_pylist()
    assert [r["status"] for r in runs] == ["success", "success"] and all(r["step"] == "fx.load" for r in runs)


def test_a_second_run_fetches_only_new_days_plus_the_look_back(server, wh):
    cfg = project(server, lookback_days=3)
    run_fx(wh, cfg, D(2024, 1, 1), D(2024, 5, 15))
    server.log.clear()
    result = run_fx(wh, cfg)  # no range: the watermark (2024-05-15) minus the look-back, to today
    first = D(2024, 5, 15) + dt.timedelta(days=1 - 3)
    assert result.since == first and result.until == dt.date.today()
    assert server.paths()[0] == f"/{first}..{min(first + dt.timedelta(days=365), dt.date.today())}"
    assert stored(wh) == expected(server, D(2024, 1, 1), server.table.last_day)
    # the replaced days are the look-back and later ones, nothing before
    t = wh.to_pyarrow(wh.table(T.FX_RATES)).to_pylist()
    runs = {r["date"]: r["_run_id"] for r in t}
    assert len({runs[d] for d in runs if d < first}) == 1 and result.details["deleted"] == 2 * len(
        server.table.days(first, D(2024, 5, 15)))


def test_a_currency_never_loaded_starts_at_the_configured_start(server, wh):
    cfg = project(server, start="2024-06-03", symbols=["GBP"])
    run_fx(wh, cfg)
    cfg = project(server, start="2024-06-17", symbols=["GBP", "USD"])
    server.log.clear()
    run_fx(wh, cfg)
    assert server.paths()[0].startswith("/2024-06-17..")
    got = stored(wh)
    assert {d for d, _, c in got if c == "USD"} == set(server.table.days(D(2024, 6, 17), server.table.last_day))
    assert min(d for d, _, c in got if c == "GBP") == D(2024, 6, 3)


def test_state_survives_a_lost_working_directory(server, tmp_path):
    """The watermark is the warehouse's own table: a run from another folder, with no dlt pipelines
    folder anywhere, continues where the last one stopped."""
    path = tmp_path / "w.duckdb"
    cfg = project(server, lookback_days=0)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(first)
        with connect(path=str(path)) as wh:
            run_fx(wh, cfg, D(2024, 6, 3), D(2024, 6, 14))
        assert [p.name for p in first.iterdir()] == []  # dlt kept nothing here (its pipelines_dir is temporary)
        os.chdir(second)
        server.log.clear()
        with connect(path=str(path)) as wh:
            result = run_fx(wh, cfg)
            assert result.since == D(2024, 6, 15) and server.paths()[0].startswith("/2024-06-15..")
            assert stored(wh) == expected(server, D(2024, 6, 3), server.table.last_day)
            loads = wh.execute("SELECT count(*) FROM raw_fx._dlt_loads")[0][0]
            assert loads == 2  # dlt's load log is in the warehouse, beside staging
    finally:
        os.chdir(cwd)


def test_a_weekend_only_range_loads_nothing_and_says_so(server, wh):
    result = run_fx(wh, project(server), D(2024, 6, 22), D(2024, 6, 23))
    assert result.rows_out == 0 and "no business day" in result.details["note"]
    assert server.log[-1][2] == 404


def test_the_same_load_on_each_engine(server, wh):
    """DuckDB and PostgreSQL (dlt loads into the loader DuckDB; martops moves the rows over)."""
    run_fx(wh, project(server), D(2024, 4, 1), D(2024, 4, 30))
    assert stored(wh) == expected(server, D(2024, 4, 1), D(2024, 4, 30))
    rec = wh.to_pyarrow(wh.table(T.FX_RECONCILIATION)).to_pylist()
    assert len(rec) == 1 and rec[0]["abs_diff"] <= rec[0]["tolerance"]


def test_with_no_day_to_start_from_the_step_named_alone_fails_saying_what_to_set(server, wh):
    from martops.config import ProjectConfig
    from martops.errors import MartopsError

    with pytest.raises(MartopsError, match="no EUR rates of GBP, USD yet, so there is no day to continue from; pass "
                       "--since YYYY-MM-DD or set ingest.fx.start"):
        run_fx(wh, ProjectConfig())
    assert server.log == [] and not wh.exists(T.FX_RATES)


def test_as_the_kpi_loads_upstream_in_a_project_without_fx_it_is_skipped(server, wh):
    from martops import domains
    from martops.config import ProjectConfig
    from martops.domain import StepContext

    report = domains.run(StepContext(wh, ProjectConfig()), ["fx.load"])  # not named alone (as in +kpis.load)
    assert [(o.status, o.reason.split(";")[0]) for o in report.outcomes] == [
        ("skipped", "staging.fx_rates holds no EUR rates of GBP, USD yet, so there is no day to continue from")]
    set_up = domains.run(StepContext(wh, project(server)), ["fx.load"])  # set up but no start: a failure
    assert set_up.outcomes[0].status == "failed" and server.log == []
