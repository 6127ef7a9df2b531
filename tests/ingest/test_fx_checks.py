"""The checks that prove staging.fx_rates, the reconciliation against the API's own cross rate,
and their place in `martops check`."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest
from hypothesis import given, strategies as st

from martops.checks import catalog
from martops.checks.core import run_checks
from martops.config import ProjectConfig
from martops.demo.frankfurter import eur_rate, quote_round
from martops.ingest import frankfurter as F
from martops.ingest import quality, reconcile
from martops.ingest import tables as T

from .conftest import error_of, project, run_fx

D = dt.date


def results(wh, cfg=None):
    checks = catalog.for_table(wh, cfg or ProjectConfig(), T.FX_RATES, quality.TABLE_CHECKS, in_step=True)
    return {r.check: r for r in run_checks(wh, checks)}


def put(wh, rows):
    wh.create_or_replace(T.FX_RATES, ibis.memtable(
        [{"date": d, "base": b, "currency": c, "rate": r} for d, b, c, r in rows]).cast(
            {"date": "date", "base": "string", "currency": "string", "rate": "float64"}))


def test_the_reconciliation_compares_two_eur_rates_with_the_apis_cross_rate(server, wh):
    run_fx(wh, project(server), D(2024, 6, 3), D(2024, 6, 14))
    rec = wh.to_pyarrow(wh.table(T.FX_RECONCILIATION)).to_pylist()[0]
    day = D(2024, 6, 14)
    assert (rec["date"], rec["from_currency"], rec["to_currency"]) == (day, "GBP", "USD")
    assert rec["computed"] == pytest.approx(eur_rate(day, "USD") / eur_rate(day, "GBP"), rel=1e-12)
    assert rec["api_rate"] == quote_round(eur_rate(day, "USD") / eur_rate(day, "GBP"))
    assert rec["abs_diff"] <= rec["tolerance"] == pytest.approx(max(1e-4 * rec["api_rate"], 0.5e-4))
    assert server.log[-1][:2] == ("/v1/2024-06-14", {"base": "GBP", "symbols": "USD"})


def test_one_symbol_reconciles_against_the_inverse(server, wh):
    run_fx(wh, project(server, symbols=["GBP"]), D(2024, 6, 3), D(2024, 6, 14))
    rec = wh.to_pyarrow(wh.table(T.FX_RECONCILIATION)).to_pylist()[0]
    assert (rec["from_currency"], rec["to_currency"]) == ("GBP", "EUR")
    assert rec["computed"] == pytest.approx(1 / eur_rate(D(2024, 6, 14), "GBP"))


def test_a_cross_rate_off_by_more_than_the_tolerance_fails_the_load(server, wh):
    cfg = project(server)
    run_fx(wh, cfg, D(2024, 6, 3), D(2024, 6, 7))
    before = wh.to_pyarrow(wh.table(T.FX_RATES)).to_pylist()

    def skewed(path, body):  # the API's GBP-based quote 0.1% off: not its rounding
        if body.get("base") == "GBP":
            body["rates"] = {k: round(v * 1.001, 4) for k, v in body["rates"].items()}
        return body

    server.faults.mutate = skewed
    msg = error_of(run_fx, wh, cfg, D(2024, 6, 3), D(2024, 6, 14))
    assert "reconciled(abs_diff <= tolerance)" in msg and "ops.fx_reconciliation" in msg
    assert wh.to_pyarrow(wh.table(T.FX_RATES)).to_pylist() == before  # rolled back
    kept = wh.to_pyarrow(wh.table("ops.check_results")).to_pylist()
    assert any(r["check_name"].startswith("reconciled") and r["status"] == "fail" for r in kept)


@given(st.floats(min_value=1e-5, max_value=1e6, allow_nan=False))
def test_the_tolerance_always_admits_the_apis_own_rounding(x):
    api = quote_round(x)
    assert abs(x - api) <= reconcile.tolerance(api, 1e-4) * (1 + 1e-9) + 1e-15


@given(st.dates(D(1999, 1, 4), D(2030, 1, 1)), st.integers(0, 900), st.integers(1, 400))
def test_windows_cover_the_range_exactly_once(since, length, size):
    until = since + dt.timedelta(days=length)
    parts = list(F.windows(since, until, size))
    assert parts[0][0] == since and parts[-1][1] == until
    assert all((b - a).days < size for a, b in parts)
    assert all(b + dt.timedelta(days=1) == a2 for (_, b), (a2, _) in zip(parts, parts[1:]))


def test_the_checks_pass_on_a_clean_load(server, wh):
    run_fx(wh, project(server), D(2024, 1, 1), D(2024, 6, 28))
    assert {c: r.status for c, r in results(wh).items()} == {
        "not_null(date, base, currency, rate)": "pass", "unique(date, base, currency)": "pass",
        "positive(rate)": "pass", "base_not_in_rates(currency != base)": "pass",
        "no_gap(at most 4 days without a rate)": "pass", "daily_move(within 5%)": "pass",
        "row_count(>= 1, drop <= 50% of 252)": "pass"}  # 126 business days x 2 (the step's own check ran before)


def test_each_check_finds_the_rows_that_break_it(wh):
    put(wh, [
        (D(2024, 3, 28), "EUR", "GBP", 0.85), (D(2024, 4, 2), "EUR", "GBP", 0.86),   # Easter: 4 days, fine
        (D(2024, 4, 3), "EUR", "GBP", 0.95),                                          # +10.5% in a day: warn
        (D(2024, 4, 10), "EUR", "GBP", 0.95),                                         # 6 days without a rate
        (D(2024, 4, 10), "EUR", "USD", -1.0),                                         # not positive
        (D(2024, 4, 10), "EUR", "EUR", 1.0),                                          # the base in its own rates
        (D(2024, 4, 11), "EUR", "USD", 1.1), (D(2024, 4, 11), "EUR", "USD", 1.1),     # twice
    ])
    got = results(wh)
    gap = got["no_gap(at most 4 days without a rate)"]
    assert (gap.status, gap.failing_count) == ("fail", 1)
    assert gap.example == {"base": "EUR", "currency": "GBP", "previous_date": D(2024, 4, 3), "date": D(2024, 4, 10),
                           "days_without_rate": 6}
    move = got["daily_move(within 5%)"]
    assert (move.status, move.severity, move.example["date"]) == ("warn", "warn", D(2024, 4, 3))
    assert move.example["move_pct"] == pytest.approx((0.95 / 0.86 - 1) * 100)
    assert got["positive(rate)"].failing_count == 1 and got["positive(rate)"].status == "fail"
    assert got["base_not_in_rates(currency != base)"].example["currency"] == "EUR"
    assert got["unique(date, base, currency)"].example == {"date": D(2024, 4, 11), "base": "EUR", "currency": "USD",
                                                          "n_rows": 2}


def test_the_thresholds_are_settings(wh):
    put(wh, [(D(2024, 3, 28), "EUR", "GBP", 0.85), (D(2024, 4, 2), "EUR", "GBP", 0.87)])
    strict = ProjectConfig.model_validate({"quality": {"fx_max_gap_days": 3, "fx_max_daily_move_pct": 2}})
    got = results(wh, strict)
    assert got["no_gap(at most 3 days without a rate)"].status == "fail"
    assert got["daily_move(within 2%)"].status == "warn"
