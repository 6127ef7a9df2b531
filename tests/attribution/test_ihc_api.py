"""The IHC API client against a real local HTTP server speaking the API's contract, with faults."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from martops.attribution import tables as T
from martops.attribution.credit import PartialFailure, attribute
from martops.attribution.ihc_api import store
from martops.attribution.ihc_api.client import IhcApiError
from martops.attribution.ihc_api.payload import JourneyTooLong
from martops.attribution.ihc_api.runner import ApiOptions
from martops.attribution.ingest import ingest
from martops.attribution.journeys import build_journeys
from martops.ops import runlog
from martops.config import AttributionConfig, IhcApiConfig
from martops.demo.attribution import generate_challenge_db
from martops.engine import connect
from martops.errors import ConfigError

from ..cli_runner import run_cli
from .ihc_api_server import IhcApiServer

SINCE, UNTIL = dt.date(2023, 9, 1), dt.date(2023, 9, 3)
LIMITS = dict(max_journeys_per_request=25, max_sessions_per_request=60)
FAST = dict(backoff_seconds=0.01, max_backoff_seconds=0.05, requests_per_second=1000, timeout_seconds=0.5)


@pytest.fixture(scope="module")
def source_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "challenge.db"
    generate_challenge_db(path, conversions=700, seed=3)
    return path


@pytest.fixture
def server(monkeypatch):
    with IhcApiServer() as srv:
        monkeypatch.setenv("IHC_API_URL", srv.url)
        monkeypatch.setenv("IHC_API_KEY", srv.key)
        yield srv


@pytest.fixture
def prepared(source_db, tmp_path):
    """A warehouse path holding staging and journeys for the range (the API step's input)."""
    path = tmp_path / "wh.duckdb"
    with connect(path=path) as wh:  # logged as the steps log them: `attribute` checks journeys ran on its range
        runlog.timed(wh, "attribution", "ingest", {}, lambda: (ingest(wh, source_db, SINCE, UNTIL), {"rows": 0})[1],
                     None, "rows", since=SINCE, until=UNTIL)
        runlog.timed(wh, "attribution", "journeys", {}, lambda: build_journeys(wh, SINCE, UNTIL, None),
                     "conversions", "journey_rows", since=SINCE, until=UNTIL)
    return path


def api_opts(**overrides) -> ApiOptions:
    cfg_kw = {**LIMITS, **FAST, **overrides.pop("cfg", {})}
    return ApiOptions(config=IhcApiConfig(conv_type_id="all_markets", **cfg_kw), sleep=time.sleep, **overrides)


def run_api(path: Path, **overrides) -> dict:
    with connect(path=path) as wh:
        return attribute(wh, SINCE, UNTIL, "ihc_api", AttributionConfig(), api_opts(**overrides))


def snapshot(path: Path) -> dict:
    """The warehouse content that must not depend on faults (run ids and times excluded)."""
    with connect(path=path) as wh:
        acj = wh.table(T.CUSTOMER_JOURNEY)
        acj = acj.filter(acj.model == "ihc_api").order_by(["conv_id", "session_id"])
        ans = wh.table(store.ANSWERS).drop("run_id", "answered_at").order_by(["conv_id", "session_id"])
        return {"acj": wh.to_pyarrow(acj).to_pylist(), "answers": wh.to_pyarrow(ans).to_pylist()}


def journeys_in(path: Path) -> dict[str, list[str]]:
    with connect(path=path) as wh:
        j = wh.table(T.JOURNEYS)
        rows = wh.to_pyarrow(j.filter(j.conv_date.between(SINCE, UNTIL)).order_by(["conv_id", "position"])).to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["conv_id"], []).append(r["session_id"])
    return out


def assert_limits_and_no_split(server: IhcApiServer, journeys: dict[str, list[str]]) -> None:
    assert server.seen, "the server saw no request"
    for s in server.seen:
        assert len(s.journeys) <= LIMITS["max_journeys_per_request"]
        assert s.sessions <= LIMITS["max_sessions_per_request"]
        for conv, sessions in s.journeys.items():
            assert sessions == journeys[conv], f"journey {conv} was split or reordered"
        assert s.conv_type_id == "all_markets"


def test_clean_run_stores_every_journey_with_its_phases(server, prepared):
    summary = run_api(prepared)
    journeys = journeys_in(prepared)
    assert summary["answered"] == summary["journeys"] == len(journeys) > 200
    assert summary["failed"] == 0 and summary["retries"] == 0
    assert summary["requests"] == summary["chunks"] == len(server.seen) > 5
    assert_limits_and_no_split(server, journeys)
    rows = snapshot(prepared)["answers"]
    assert len(rows) == sum(len(v) for v in journeys.values())
    assert all({"initializer", "holder", "closer", "ihc"} <= set(r) for r in rows)
    body = server.seen[0].body
    first = body["customer_journeys"][0]
    assert set(first) == {"conversion_id", "session_id", "timestamp", "channel_label", "holder_engagement",
                          "closer_engagement", "impression_interaction", "conversion"}
    assert dt.datetime.strptime(first["timestamp"], "%Y-%m-%d %H:%M:%S")
    assert "redistribution_parameter" not in body
    for conv, sessions in server.seen[0].journeys.items():  # conversion=1 only on the last session
        flags = [r["conversion"] for r in body["customer_journeys"] if r["conversion_id"] == conv]
        assert flags == [0] * (len(sessions) - 1) + [1]


def test_faults_end_in_the_same_warehouse_as_a_clean_run(server, prepared, source_db, tmp_path):
    clean = tmp_path / "clean.duckdb"
    clean.write_bytes(prepared.read_bytes())
    run_api(clean)
    n_clean = len(server.seen)
    server.seen.clear()
    server.faults = ["429", "429-retry-after", "500", "drop", "slow", "malformed", "missing-session", "206"]
    with pytest.raises(PartialFailure) as err:
        run_api(prepared, cfg={"max_attempts": 10})  # six faults in a row land on the first chunk
    assert "2 of" in str(err.value) and "ops.ihc_api_failures" in str(err.value)
    faulty = list(server.seen)
    assert [s.fault for s in faulty[:8]] == [
        "429", "429-retry-after", "500", "drop", "slow", "malformed", "missing-session", "206"]
    # Retry-After: 1 was honoured before the next attempt
    assert faulty[2].at - faulty[1].at >= 0.95
    with connect(path=prepared) as wh:
        failures = wh.to_pyarrow(wh.table(store.FAILURES).order_by("recorded_at")).to_pylist()
        log = wh.to_pyarrow(wh.table(store.REQUESTS)).to_pylist()
    # the journey with a session missing fails alone (chunk 1), the 206 fails one journey of chunk 2
    assert [f["error"].split(",")[0] for f in failures] == [
        "invalid answer: 1 session(s) missing", "journey could not be processed"]
    assert len(log) == len(faulty) and sum(1 for r in log if r["error"]) == 6
    # the same command again sends only the failed journeys
    server.seen.clear()
    summary = run_api(prepared)
    assert len(server.seen) == 1 and sorted(server.seen[0].journeys) == sorted(f["conv_id"] for f in failures)
    assert summary["already_answered"] == summary["journeys"] - 2 and summary["failed"] == 0
    assert snapshot(prepared) == snapshot(clean)
    assert_limits_and_no_split(server, journeys_in(prepared))
    assert n_clean == len(faulty) - 6  # every retried fault cost exactly one extra request


@pytest.mark.parametrize("fault,reason", [("sum-2", "ihc sums to 2.000000, not 1"),
                                          ("missing-session", "1 session(s) missing")])
def test_one_invalid_journey_keeps_the_valid_journeys_of_its_answer(capsys, server, prepared, tmp_path, fault, reason):
    """Exit 1 naming the failure, the chunk's other journeys stored; a re-run sends only the failed one."""
    yml = tmp_path / "martops.yml"
    yml.write_text("ihc_api:\n  conv_type_id: all_markets\n  max_journeys_per_request: 25\n"
                   "  max_sessions_per_request: 60\n  requests_per_second: 1000\n")
    cmd = ["attribution", "attribute", "--since", "2023-09-01", "--until", "2023-09-03", "--model", "ihc_api",
           "--config", yml, "--warehouse", prepared]
    server.faults = [fault]
    res = run_cli(capsys, *cmd)
    assert res.code == 1 and "1 of" in res.err and "could not be attributed" in res.err, res.err
    first = server.seen[0]
    with connect(path=prepared) as wh:
        failures = wh.to_pyarrow(wh.table(store.FAILURES)).to_pylist()
        answered = {r["conv_id"] for r in wh.to_pyarrow(wh.table(store.ANSWERS).select("conv_id")).to_pylist()}
        credited = {r["conv_id"] for r in wh.to_pyarrow(wh.table(T.CUSTOMER_JOURNEY).select("conv_id")).to_pylist()}
        retried = [r for r in wh.to_pyarrow(wh.table(store.REQUESTS)).to_pylist() if r["error"]]
    assert len(failures) == 1 and reason in failures[0]["error"]
    bad = failures[0]["conv_id"]
    assert bad in first.journeys and len(first.journeys) == 25
    assert set(first.journeys) - {bad} <= answered and bad not in answered  # the valid 24 were stored
    assert credited == answered and retried == []  # the answer was accepted, not retried
    server.seen.clear()
    res = run_cli(capsys, *cmd)
    assert res.code == 0, res.err
    assert [list(s.journeys) for s in server.seen] == [[bad]]


def test_allow_partial_accepts_the_gap(server, prepared):
    server.faults = ["206"]
    summary = run_api(prepared, allow_partial=True)
    assert summary["failed"] == 1 and summary["answered"] == summary["journeys"] - 1


def test_no_key_fails_before_any_request(server, prepared, monkeypatch):
    monkeypatch.delenv("IHC_API_KEY")
    with pytest.raises(IhcApiError, match="IHC_API_KEY is not set"):
        run_api(prepared)
    assert server.seen == []


def test_missing_conv_type_id_is_a_config_error(server, prepared):
    with pytest.raises(ConfigError, match="--conv-type-id"):
        with connect(path=prepared) as wh:
            attribute(wh, SINCE, UNTIL, "ihc_api", AttributionConfig(),
                      ApiOptions(config=IhcApiConfig(**LIMITS, **FAST)))
    assert server.seen == []


def test_wrong_key_fails_fast_and_never_shows_the_key(server, prepared, monkeypatch, caplog):
    secret = "sk-live-DO-NOT-LEAK-123456"
    monkeypatch.setenv("IHC_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IhcApiError) as err:
        run_api(prepared)
    assert len(server.seen) == 1  # 401 is not retried
    assert "HTTP 401" in str(err.value) and "Invalid API key" in str(err.value) and "IHC_API_KEY" in str(err.value)
    assert secret not in str(err.value) and secret not in caplog.text
    with connect(path=prepared) as wh:
        for schema in ("staging", "attribution", "marts", "ops"):
            for table in wh.backend.list_tables(database=schema):
                text = wh.execute(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {schema}.{table}")
                assert secret not in str(text), f"{schema}.{table}"


def test_bad_request_fails_fast_with_the_server_message(server, prepared):
    server.faults = ["400"]
    with pytest.raises(IhcApiError, match=r"HTTP 400\): Invalid input: timestamp format"):
        run_api(prepared)
    assert len(server.seen) == 1


def test_retries_are_bounded(server, prepared):
    server.faults = ["500"] * 10
    with pytest.raises(IhcApiError, match="failed after 3 attempt"):
        run_api(prepared, cfg={"max_attempts": 3})
    assert len(server.seen) == 3


def test_a_long_retry_after_stops_instead_of_waiting(server, prepared):
    server.faults = ["429-retry-after-long"]
    with pytest.raises(IhcApiError, match="asks to wait 3600s"):
        run_api(prepared)
    assert len(server.seen) == 1


def test_resume_after_a_failure_sends_only_unanswered_journeys(server, prepared):
    server.faults = ["ok", "ok", "500"]
    with pytest.raises(IhcApiError):
        run_api(prepared, cfg={"max_attempts": 1})
    first = {c for s in server.seen[:2] for c in s.journeys}
    with connect(path=prepared) as wh:
        assert set(store.answered_fingerprints(wh, list(first))) == first  # persisted per chunk
    server.seen.clear()
    summary = run_api(prepared)
    resent = {c for s in server.seen for c in s.journeys}
    assert not (resent & first) and summary["already_answered"] == len(first)
    assert len(resent) + len(first) == summary["journeys"]


def test_refresh_and_changed_settings_send_everything_again(server, prepared):
    run_api(prepared)
    n = len(server.seen)
    run_api(prepared)
    assert len(server.seen) == n  # nothing new to send
    run_api(prepared, refresh=True)
    assert len(server.seen) == 2 * n
    with connect(path=prepared) as wh:
        attribute(wh, SINCE, UNTIL, "ihc_api", AttributionConfig(),
                  ApiOptions(config=IhcApiConfig(conv_type_id="other_type", **LIMITS, **FAST)))
    assert len(server.seen) == 3 * n and server.seen[-1].conv_type_id == "other_type"


def test_pacing_holds_the_request_rate(server, prepared):
    run_api(prepared, cfg={"requests_per_second": 25})
    gaps = sorted(b.at - a.at for a, b in zip(server.seen, server.seen[1:]))
    # 1/25 s = 0.04 s between request starts as the client sends them; the server stamps arrivals,
    # which a loaded machine delays unevenly, so one gap may shrink by the delay of the one before.
    # Unpaced requests on loopback arrive ~1 ms apart: the median and the whole span tell pacing apart.
    assert gaps[len(gaps) // 2] >= 0.038
    assert server.seen[-1].at - server.seen[0].at >= 0.04 * len(gaps) * 0.95
    assert gaps[0] >= 0.02


def test_a_journey_over_the_session_limit(server, prepared):
    journeys = journeys_in(prepared)
    longest = max(journeys, key=lambda c: len(journeys[c]))
    limit = len(journeys[longest]) - 1
    with pytest.raises(JourneyTooLong, match=f"conversion {longest} has {limit + 1} sessions"):
        run_api(prepared, cfg={"max_sessions_per_request": limit})
    assert server.seen == []
    summary = run_api(prepared, cfg={"max_sessions_per_request": limit, "long_journeys": "keep_recent"})
    assert summary["truncated"] >= 1
    sent = next(s.journeys[longest] for s in server.seen if longest in s.journeys)
    assert sent == journeys[longest][-limit:]  # the most recent sessions
    with connect(path=prepared) as wh:
        assert longest in {r["conv_id"] for r in wh.to_pyarrow(wh.table(store.TRUNCATED)).to_pylist()}


def test_redistribution_parameter_is_sent_when_configured(server, prepared):
    cfg = {"redistribution_parameter": {"initializer": {"direction": "later_sessions_only", "receive_threshold": 0.1,
                                                        "redistribution_channel_labels": ["Direct Traffic"]}}}
    run_api(prepared, cfg=cfg)
    assert server.seen[0].body["redistribution_parameter"] == {
        "initializer": {"direction": "later_sessions_only", "receive_threshold": 0.1,
                        "redistribution_channel_labels": ["Direct Traffic"]}}


def test_cli_exit_codes_for_partial_failures(capsys, server, source_db, tmp_path):
    yml = tmp_path / "martops.yml"
    yml.write_text("ihc_api:\n  conv_type_id: all_markets\n  max_journeys_per_request: 25\n"
                   "  max_sessions_per_request: 60\n  backoff_seconds: 0.01\n  requests_per_second: 1000\n")
    base = ["attribution", "run", "--db", source_db, "--since", "2023-09-01", "--until", "2023-09-03",
            "--model", "ihc_api", "--config", yml, "--warehouse", tmp_path / "w.duckdb",
            "--export", tmp_path / "out.csv", "--force"]
    server.faults = ["206"]
    res = run_cli(capsys, *base)
    assert res.code == 1 and "could not be attributed" in res.err and "not run: attribution.report" in res.err
    summary = {line.split()[1]: line.split()[3] for line in res.out.splitlines() if line.startswith("│ attribution.")}
    assert summary["attribution.ingest"] == "success" and summary["attribution.attribute"] == "failed", res.out
    server.faults = ["206"]
    res = run_cli(capsys, *base, "--refresh", "--allow-partial")
    assert res.code == 0 and "failed=1" in res.out
    res = run_cli(capsys, *base)  # the one failed journey is retried and the run completes
    assert res.code == 0 and "failed=0" in res.out and (tmp_path / "out.csv").exists()


def test_sigkill_mid_run_then_resume(server, prepared, tmp_path):
    """A real crash: the CLI process is SIGKILLed while a request hangs; answers so far survive."""
    yml = tmp_path / "martops.yml"
    yml.write_text("ihc_api:\n  conv_type_id: all_markets\n  max_journeys_per_request: 25\n"
                   "  max_sessions_per_request: 60\n  timeout_seconds: 30\n  requests_per_second: 1000\n")
    server.slow_seconds = 20
    server.faults = ["ok", "ok", "ok", "slow"]
    env = dict(os.environ, IHC_API_URL=server.url, IHC_API_KEY=server.key)
    proc = subprocess.Popen([sys.executable, "-m", "martops.cli", "attribution", "attribute", "--since",
                             "2023-09-01", "--until", "2023-09-03", "--model", "ihc_api", "--config", str(yml),
                             "--warehouse", str(prepared)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(server.seen) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert len(server.seen) == 4, proc.stderr.read() if proc.poll() is not None else "timeout"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    answered = {c for s in server.seen[:3] for c in s.journeys}
    server.seen.clear()
    server.slow_seconds = 0
    summary = run_api(prepared, cfg={"timeout_seconds": 30})
    resent = {c for s in server.seen for c in s.journeys}
    assert summary["already_answered"] == len(answered) and not (resent & answered)


@pytest.mark.parametrize("setup,message", [
    ("no-key", "IHC_API_KEY is not set"),
    ("no-conv-type", "needs a conversion type"),
    ("no-url", "is not an http(s) URL"),
])
def test_run_without_key_url_or_conversion_type_stops_before_ingest(capsys, server, source_db, tmp_path,
                                                                      monkeypatch, setup, message):
    yml = tmp_path / "martops.yml"
    yml.write_text("ihc_api:\n  conv_type_id: all_markets\n" if setup != "no-conv-type" else "ihc_api: {}\n")
    if setup == "no-key":
        monkeypatch.delenv("IHC_API_KEY")
    if setup == "no-url":
        monkeypatch.setenv("IHC_API_URL", "")
        yml.write_text("ihc_api:\n  conv_type_id: all_markets\n  url: ''\n")
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", source_db, "--since", "2023-09-01", "--until", "2023-09-03",
                  "--model", "ihc_api", "--config", yml, "--warehouse", wh)
    assert res.code == 1 and message in " ".join(res.err.split()) and "nothing was ingested" in " ".join(res.err.split())
    assert "Traceback" not in res.err and server.seen == []
    with connect(path=wh) as w:
        assert not w.exists(T.SESSIONS) and not w.exists(T.CONVERSIONS)


def test_default_session_limit_fits_a_free_test_account():
    assert IhcApiConfig().max_sessions_per_request == 200
