"""What the pipeline does when the API misbehaves: 4xx fail at once in one line, 5xx and timeouts
are retried (bounded), a changed answer shape fails naming the field, and nothing is written."""

from __future__ import annotations

import datetime as dt

from martops.ingest import tables as T

from .conftest import error_of, project, run_fx

D = dt.date


def _rows(wh) -> int:
    return wh.count(T.FX_RATES) if wh.exists(T.FX_RATES) else 0


def test_a_bad_currency_pair_is_the_apis_422_message_in_one_line(server, wh):
    msg = error_of(run_fx, wh, project(server, base="GBP", symbols=["GBP"]), D(2024, 1, 1), D(2024, 1, 31))
    url = f"{server.url}/2024-01-01..2024-01-31?base=GBP&symbols=GBP"
    assert msg == f"Frankfurter refused GET {url} (HTTP 422): bad currency pair"
    assert len(server.log) == 1 and _rows(wh) == 0  # not retried


def test_a_range_with_no_rates_is_the_apis_404_named(server, wh):
    msg = error_of(run_fx, wh, project(server), D(1990, 1, 1), D(1990, 3, 31))
    assert "has no EUR rates at all for 1990-01-01..1990-03-31" in msg and "404 not found" in msg
    assert "\n" not in msg


def test_a_404_that_is_not_frankfurters_answer_names_the_url(server, wh):
    wrong = server.url.removesuffix("/v1") + "/v2"  # no such route: an empty 404, not the contract's "not found"
    msg = error_of(run_fx, wh, project(server, url=wrong), D(2024, 1, 1), D(2024, 1, 31))
    assert msg == f"Frankfurter refused GET {wrong}/2024-01-01..2024-01-31?base=EUR&symbols=GBP,USD (HTTP 404): Not Found"


def test_an_unknown_symbol_is_an_error_not_a_silent_gap(server, wh):
    msg = error_of(run_fx, wh, project(server, symbols=["GBP", "XYZ"]), D(2024, 1, 1), D(2024, 1, 31))
    assert "answered no EUR->XYZ rate for 2024-01-01..2024-01-31 (it quoted GBP)" in msg
    assert "does not quote XYZ (check --symbols); it quotes " in msg and "USD" in msg
    assert _rows(wh) == 0


def test_an_unknown_code_alone_is_named_not_blamed_on_the_dates(server, wh):
    """The API answers 404 for XYZ as for a holiday; its /currencies list tells the two apart."""
    msg = error_of(run_fx, wh, project(server, symbols=["XYZ"]), D(2024, 1, 1), D(2024, 1, 31))
    assert "does not quote XYZ (check --symbols)" in msg and "rates at all" not in msg, msg
    msg = error_of(run_fx, wh, project(server, base="XXX", symbols=["GBP"]), D(2024, 1, 1), D(2024, 1, 31))
    assert "does not quote XXX (check --base)" in msg, msg


def test_a_500_that_recovers_is_retried(server, wh):
    server.faults.fail_times = 2
    result = run_fx(wh, project(server, max_attempts=3), D(2024, 1, 1), D(2024, 1, 31))
    assert [s for _, _, s in server.log][:3] == [500, 500, 200]
    assert result.details["retries"] == 2 and result.details["requests"] == 4
    assert _rows(wh) == result.rows_out > 0


def test_a_500_that_persists_fails_after_the_attempts_in_one_line(server, wh):
    server.faults.fail_times = 99
    msg = error_of(run_fx, wh, project(server, max_attempts=3), D(2024, 1, 1), D(2024, 1, 31))
    assert msg == (f"Frankfurter failed GET {server.url}/2024-01-01..2024-01-31?base=EUR&symbols=GBP,USD after 3 "
                   "attempt(s); last error: HTTP 500: internal server error")
    assert len(server.log) == 3 and _rows(wh) == 0
    runs = wh.to_pyarrow(wh.table("ops.runs")).to_pylist()
    assert runs[-1]["status"] == "failed" and runs[-1]["error"] == msg


def test_a_timeout_is_retried_and_recovers(server, wh):
    server.faults.sleep_times, server.faults.sleep_seconds = 1, 0.5
    result = run_fx(wh, project(server, timeout_seconds=0.2, max_attempts=2), D(2024, 1, 1), D(2024, 1, 31))
    assert result.details["retries"] == 1 and _rows(wh) == result.rows_out > 0


def test_a_timeout_that_persists_fails_bounded(server, wh):
    server.faults.sleep_times, server.faults.sleep_seconds = 99, 0.4
    msg = error_of(run_fx, wh, project(server, timeout_seconds=0.1, max_attempts=2), D(2024, 1, 1), D(2024, 1, 31))
    assert msg.endswith("after 2 attempt(s); last error: no answer within 0.1s") and _rows(wh) == 0


def _renamed(path, body):
    return {("quotes" if k == "rates" else k): v for k, v in body.items()}


def _rate_as_text(path, body):
    if "rates" in body and "start_date" in body:
        day = next(iter(body["rates"]))
        body["rates"][day]["GBP"] = str(body["rates"][day]["GBP"])
    return body


def _new_field(path, body):
    return {**body, "provider": "ECB"}


def test_a_changed_shape_fails_naming_the_field_and_loads_nothing(server, wh):
    cfg = project(server)
    run_fx(wh, cfg, D(2024, 1, 1), D(2024, 1, 31))
    before = _rows(wh)
    server.faults.mutate = _renamed
    msg = error_of(run_fx, wh, cfg, D(2024, 1, 1), D(2024, 2, 29))
    assert msg.startswith("Frankfurter's answer changed shape: field rates is missing (the answer has amount, base, "
                          "end_date, quotes, start_date)")
    server.faults.mutate = _rate_as_text
    msg = error_of(run_fx, wh, cfg, D(2024, 1, 1), D(2024, 2, 29))
    assert msg.startswith("Frankfurter's answer changed shape: field rates.2024-01-02.GBP is a str ('0.")
    assert "expected a JSON number" in msg
    server.faults.mutate = _new_field
    msg = error_of(run_fx, wh, cfg, D(2024, 1, 1), D(2024, 2, 29))
    assert msg.startswith("Frankfurter's answer changed shape: field provider is new")
    assert _rows(wh) == before and all("\n" not in m for m in [msg])


def test_dlts_frozen_columns_refuse_a_new_column(wh):
    """The second line behind the contract check: dlt's own frozen schema, named by column."""
    from martops.errors import SourceError
    from martops.ingest import fx_load

    fx_load.load(wh.loader.con, [{"date": D(2024, 1, 2), "base": "EUR", "currency": "GBP", "rate": 0.86}])
    try:
        fx_load.load(wh.loader.con, [{"date": D(2024, 1, 3), "base": "EUR", "currency": "GBP", "rate": 0.86,
                                      "provider": "ECB"}])
    except SourceError as exc:
        assert "column provider" in str(exc) and "frozen" in str(exc)
    else:
        raise AssertionError("a new column passed dlt's frozen schema")


def test_a_range_apart_from_the_loaded_days_names_the_days_to_add(server, wh):
    """Loading June after January-March would leave April-May without rates: the gap check would fail
    after the fetch naming rows; the step says which days to add before asking the API anything."""
    cfg = project(server)
    run_fx(wh, cfg, D(2024, 1, 1), D(2024, 3, 31))
    asked = len(server.log)
    msg = error_of(run_fx, wh, cfg, D(2024, 6, 1), D(2024, 6, 30))
    assert "2024-06-01..2024-06-30 would leave 2024-03-29..2024-05-31 without rates after the days loaded" in msg, msg
    assert msg.endswith("load those days too: --since 2024-03-29") and len(server.log) == asked
    msg = error_of(run_fx, wh, cfg, D(2023, 10, 1), D(2023, 10, 31))
    assert "load those days too: --until 2024-01-01" in msg, msg
    run_fx(wh, cfg, D(2024, 3, 29), D(2024, 6, 30))  # the days between, and on: fine
