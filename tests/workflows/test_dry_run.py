"""`martops workflows run --dry-run` shows every action with its rendered content and touches
nothing: the SMTP server and the webhook receiver see no request, and the warehouse is unchanged
(the DuckDB file byte for byte; every row of every table on PostgreSQL)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from martops.engine import connect
from martops.workflows import tables as T
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver


def _snapshot(location: str) -> object:
    if not location.startswith("postgresql://"):
        path = Path(location)
        return hashlib.sha256(path.read_bytes()).hexdigest(), path.with_name(path.name + ".wal").exists()
    with connect(path=location, read_only=True) as wh:
        return {name: sorted(map(repr, wh.execute(f"SELECT * FROM {wh.quoted(name)}")))
                for name, kind, _ in wh.relations() if kind == "table"}


def _day(n: float) -> str:
    return (P.START + n * P.DAY).isoformat()


def test_dry_run_shows_everything_and_touches_nothing(capsys, tmp_path, warehouse_location):
    people = P.customers(6, seed=2)
    for c in people:
        c.activated_at = None
    with connect(path=warehouse_location) as wh:
        P.load(wh, people)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        before = _snapshot(warehouse_location)
        dry = run_cli(capsys, "workflows", "run", "--dry-run", "--now", _day(3), "--config", config)
        assert dry.code == 0, dry.err
        assert mail.received == [] and hooks.requests == [] and _snapshot(warehouse_location) == before
        with connect(path=warehouse_location, read_only=True) as wh:
            assert not wh.exists(T.ENTITIES) and not wh.exists(T.ACTIONS)
        assert "dry run: nothing is sent, written or recorded" in dry.out
        for c in people:  # each welcome rendered in full, each webhook with its key and JSON
            assert f"To: {c.email}" in dry.out and f"Subject: Welcome to Acme, {c.name}" in dry.out
            assert f"Hi {c.name},\n" in dry.out.replace("    ", "")
            assert f'"text": "New signup: {c.name} <{c.email}>' in dry.out
        assert dry.out.count("    Idempotency-Key: mo-") == len(people)
        assert dry.out.count("X-Martops-Idempotency-Key: mo-") == len(people)
        assert dry.out.count("would send:") == len(people) and dry.out.count("would post:") == len(people)
        # the real run at the same clock does exactly what the dry run showed
        real = run_cli(capsys, "workflows", "run", "--now", _day(3), "--config", config)
        assert real.code == 0, real.err
        assert sorted(m.message["Subject"] for m in mail.received) == sorted(
            line.split("Subject: ", 1)[1] for line in dry.out.splitlines() if "Subject: " in line)
        assert {r.key for r in hooks.requests} == {line.split("Idempotency-Key: ", 1)[1] for line in
                                                  dry.out.splitlines() if line.strip().startswith("Idempotency-Key:")}
        assert {m.message["Message-ID"] for m in mail.received} == {
            line.split("Message-ID: ", 1)[1] for line in dry.out.splitlines() if "Message-ID: " in line}
        # two days later a dry run shows the tips, still touching nothing
        sent = (len(mail.received), len(hooks.requests))
        before = _snapshot(warehouse_location)
        dry = run_cli(capsys, "workflows", "run", "--dry-run", "--now", _day(5.5), "--config", config)
        assert dry.code == 0, dry.err
        assert dry.out.count("Subject: Three tips for your first week") == len(people)
        assert "waiting:" in dry.out and "until" in dry.out  # then the wait before the check-in
        assert (len(mail.received), len(hooks.requests)) == sent and _snapshot(warehouse_location) == before


def test_a_missing_secret_is_a_note_in_a_dry_run_and_an_error_in_a_real_one(capsys, tmp_path, monkeypatch):
    location = str(tmp_path / "w.duckdb")
    people = P.customers(2, seed=1)
    with connect(path=location) as wh:
        P.load(wh, people)
    monkeypatch.delenv("MARTOPS_TEST_HOOK_URL", raising=False)
    data = P.project(1, "http://127.0.0.1:1")
    data["webhooks"]["sales"] = {"url_env": "MARTOPS_TEST_HOOK_URL"}
    config = P.write(tmp_path, data, location)
    before = _snapshot(location)
    dry = run_cli(capsys, "workflows", "run", "--dry-run", "--now", _day(3), "--config", config)
    assert dry.code == 0, dry.err
    assert "MARTOPS_TEST_HOOK_URL is not set" in dry.out and "$MARTOPS_TEST_HOOK_URL" in dry.out
    assert _snapshot(location) == before
    real = run_cli(capsys, "workflows", "run", "--now", _day(3), "--config", config)
    assert real.code == 1
    assert real.err.strip().endswith("webhooks.sales.url_env: the environment variable MARTOPS_TEST_HOOK_URL is not "
                                     "set; export it first")
    with connect(path=location, read_only=True) as wh:  # stopped before anything was enrolled or sent
        assert not wh.exists(T.ENTITIES) or wh.count(T.ENTITIES) == 0
