"""`martops workflows history` keeps every park and every `workflows retry` of an entity, in the
order they happened, after the step finally succeeded (the action log keeps one row per step and
is overwritten); a warehouse whose workflows ran before ops.workflow_events existed gets it, with
the parks of that moment, at its first retry or run. Real SMTP and HTTP servers on 127.0.0.1."""

from __future__ import annotations

from martops.config import load_config
from martops.engine import connect
from martops.workflows import tables as T
from martops.workflows import views
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver

NOW = P.START + 3 * P.DAY  # every generated customer has signed up


def _log(config, location: str, entity: str) -> list[tuple]:
    """The history rows as (step, kind, status, attempts, error or detail) in the order shown."""
    with connect(path=location, read_only=True) as wh:
        _, log = views.history(wh, load_config(config), entity, None)
    return [(r["step"], r["kind"], r["status"], r["attempts"], r["error"] or r["detail"]) for r in log]


def test_history_keeps_each_park_and_retry_after_the_step_succeeds(capsys, tmp_path, warehouse_location):
    people = P.never_activating(warehouse_location)
    bad = people[1]
    entity = str(bad.user_id)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        hooks.answer = lambda r: (400, '{"error": "channel_not_found"}') if bad.email in r.body["text"] else (200, "ok")
        day = NOW
        assert run_cli(capsys, "workflows", "run", "--now", day.isoformat(), "--config", config).code == 1
        # retried while the channel is still wrong: parked a second time, a day later
        assert run_cli(capsys, "workflows", "retry", entity, "--config", config).code == 0
        day += P.DAY
        out = run_cli(capsys, "workflows", "run", "--now", day.isoformat(), "--config", config)
        assert out.code == 1 and f"1 entity parked: onboarding {entity} " in out.err
        # fixed: the third try goes through
        hooks.answer = lambda r: (200, "ok")
        assert run_cli(capsys, "workflows", "retry", "--all", "--workflow", "onboarding", "--config", config).code == 0
        day += P.DAY
        out = run_cli(capsys, "workflows", "run", "--now", day.isoformat(), "--config", config)
        assert out.code == 0, out.err
        assert sum(1 for r in hooks.effects() if bad.email in r.body["text"]) == 1
    # an id no workflow holds: the count and an example are the warehouse's own
    res = run_cli(capsys, "workflows", "history", "no-such-id", "--config", config)
    first = min(str(p.user_id) for p in people)
    assert res.code == 1 and "entity 'no-such-id' is in no workflow (onboarding: " in res.err, res.err
    assert f"e.g. `martops workflows history {first}`" in res.err, res.err
    log = _log(config, warehouse_location, entity)
    reason = log[2][4]
    assert reason.startswith("notify-sales: POST ") and "HTTP 400" in reason and "channel_not_found" in reason
    assert [row[:4] for row in log] == [
        (T.ENROL_STEP, "enrol", "done", 0),
        ("welcome", "email", "done", 1),
        ("notify-sales", "webhook", "parked", 1),
        ("notify-sales", "retry", "resumed", None),
        ("notify-sales", "webhook", "parked", 2),
        ("notify-sales", "retry", "resumed", None),
        ("notify-sales", "webhook", "done", 3),
        ("wait-2-days", "wait", "waiting", 0),
    ]
    assert log[4][4] == reason
    by = [row[4] for row in log if row[1] == "retry"]
    assert [b["by"] for b in by] == [f"martops workflows retry {entity}",
                                     "martops workflows retry --all --workflow onboarding"]
    assert all(b["as"] for b in by)
    with connect(path=warehouse_location, read_only=True) as wh:
        events = wh.execute(f"SELECT event, step, occurred_at, reason FROM {wh.quoted(T.EVENTS)} WHERE entity_id = ? "
                            "ORDER BY recorded_at", [entity])
        retried = wh.execute(f"SELECT occurred_at FROM {wh.quoted(T.EVENTS)} WHERE event = 'retried' ORDER BY "
                             "recorded_at")
    # a park is at its run's clock; a retry at the real time the command ran (not a run's clock)
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("parked", "notify-sales", NOW), ("retried", "notify-sales", retried[0][0]),
        ("parked", "notify-sales", NOW + P.DAY), ("retried", "notify-sales", retried[1][0])]
    assert all(r[0] > NOW + 100 * P.DAY for r in retried)
    assert events[1][3] == reason  # the retry keeps what the entity was parked for
    out = run_cli(capsys, "workflows", "history", entity, "--config", config)
    assert out.code == 0, out.err
    assert out.out.count("parked") == 2 and out.out.count("resumed") == 2
    assert f"by=martops workflows retry {entity}" in out.out and "channel_not_found" in out.out
    for shown in (NOW, NOW + P.DAY, NOW + 2 * P.DAY):
        assert f"{shown:%Y-%m-%d %H:%M}" in out.out


def test_a_warehouse_from_before_the_event_log_keeps_its_parks(capsys, tmp_path, warehouse_location):
    """ops.workflow_events and ops.workflow_clocks dropped after a park: the warehouse as a martops
    without them left it. History still shows the park (the action row), `retry` creates the log
    with that park in it, and the clock check falls back to the action log's latest clock."""
    people = P.never_activating(warehouse_location)
    bad = people[0]
    entity = str(bad.user_id)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        mail.refuse_rcpt[bad.email] = "550 5.1.1 no such mailbox"
        assert run_cli(capsys, "workflows", "run", "--now", NOW.isoformat(), "--config", config).code == 1
        with connect(path=warehouse_location) as wh:
            for table in (T.EVENTS, T.CLOCKS):
                wh.execute(f"DROP TABLE {wh.quoted(table)}")
        park = [("welcome", "email", "parked", 1)]
        assert [row[:4] for row in _log(config, warehouse_location, entity)] == [
            (T.ENROL_STEP, "enrol", "done", 0), *park]
        out = run_cli(capsys, "workflows", "run", "--now", (NOW - P.DAY).isoformat(), "--dry-run", "--config", config)
        assert out.code == 1
        assert "before the last run of workflow onboarding, at 2024-06-06 09:00:00 UTC" in out.err
        mail.refuse_rcpt.clear()
        out = run_cli(capsys, "workflows", "retry", entity, "--config", config)
        assert out.code == 0, out.err
        assert run_cli(capsys, "workflows", "run", "--now", NOW.isoformat(), "--config", config).code == 0
    log = _log(config, warehouse_location, entity)
    assert [row[:4] for row in log] == [
        (T.ENROL_STEP, "enrol", "done", 0), *park, ("welcome", "retry", "resumed", None),
        ("welcome", "email", "done", 2), ("notify-sales", "webhook", "done", 1), ("wait-2-days", "wait", "waiting", 0)]
    assert "550" in log[1][4] and "no such mailbox" in log[1][4]
    with connect(path=warehouse_location, read_only=True) as wh:
        events = wh.execute(f"SELECT event, occurred_at FROM {wh.quoted(T.EVENTS)} ORDER BY recorded_at")
        clocks = wh.execute(f"SELECT workflow, clock FROM {wh.quoted(T.CLOCKS)}")
    assert [e[0] for e in events] == ["parked", "retried"] and events[0][1] == NOW
    assert clocks == [("onboarding", NOW)]
