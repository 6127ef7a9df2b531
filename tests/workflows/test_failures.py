"""Failures against real servers on 127.0.0.1, through the `martops workflows` commands: a 500 that
recovers within the run's retries, a permanent 400 that parks the entity until `retry` resumes it
at that step, a server down for a whole run (exit 1, the next run sends), SMTP 4xx and 5xx replies
and an address that is no address."""

from __future__ import annotations


import pytest

from martops.engine import connect
from martops.workflows import tables as T
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver

NOW = (P.START + 3 * P.DAY).isoformat()  # every generated customer has signed up


@pytest.fixture
def people(warehouse_location):
    return P.never_activating(warehouse_location)


def _project(tmp_path, warehouse_location, port, hooks, **workflow):
    return P.write(tmp_path, P.project(port, hooks.url, **workflow), warehouse_location)


def _log(warehouse_location, entity: int, step: str):
    with connect(path=warehouse_location, read_only=True) as wh:
        return wh.execute(f"SELECT status, attempts, error FROM {wh.quoted(T.ACTIONS)} WHERE entity_id = ? AND step = ?",
                          [str(entity), step])


def test_a_500_recovers_within_the_run(capsys, tmp_path, warehouse_location, people):
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        hooks.fail_times(500, 2)
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert len(hooks.requests) == len(people) + 2 and len(hooks.effects()) == len(people)
        first = hooks.requests[0].key
        assert [r.key for r in hooks.requests[:3]] == [first] * 3  # the retries carry the same key
        assert len(mail.received) == len(people)
    entity = min(c.user_id for c in people)
    assert _log(warehouse_location, entity, "notify-sales") == [("done", 3, None)]
    out = run_cli(capsys, "workflows", "history", str(entity), "--config", config)
    assert out.code == 0, out.err
    assert "notify-sales" in out.out and "http_status=200" in out.out and "welcome" in out.out


def test_a_400_parks_the_entity_and_retry_resumes_at_that_step(capsys, tmp_path, warehouse_location, people):
    bad = people[1]
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        hooks.answer = lambda r: (400, '{"error": "channel_not_found"}') if bad.email in r.body["text"] else (200, "ok")
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        # the other three went through, but a run that parks anyone fails, so a schedule notices
        assert out.code == 1
        assert "parked" in out.out and "HTTP 400" in out.out
        line = out.err.strip()
        assert "\n" not in line and line.startswith(
            f"error: 1 entity parked: onboarding {bad.user_id} (first: notify-sales: POST {hooks.url}/hooks/signup: "
            "answered HTTP 400"), line
        assert "channel_not_found" in line and line.endswith("see `martops workflows status`, then `martops "
                                                             "workflows retry`"), line
        assert len(hooks.effects()) == len(people) and len(mail.received) == len(people)
        status = run_cli(capsys, "workflows", "status", "--now", NOW, "--config", config)
        assert status.code == 0 and str(bad.user_id) in status.out and "channel_not_found" in status.out
        # parked stays parked: the next run does not try again, and parks nothing new, so it exits 0
        asked = len(hooks.requests)
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert len(hooks.requests) == asked
        # retrying an entity that is not parked is an error naming its state
        other = people[0]
        out = run_cli(capsys, "workflows", "retry", str(other.user_id), "--config", config)
        assert out.code == 1 and f"entity '{other.user_id}' is not parked (active in onboarding)" in out.err
        # fixed receiver: retry, then the next run resumes at notify-sales (no second welcome)
        hooks.answer = lambda r: (200, "ok")
        out = run_cli(capsys, "workflows", "retry", str(bad.user_id), "--config", config)
        assert out.code == 0 and "resumes at step notify-sales" in out.out
        assert run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config).code == 0
        assert [r.body["text"] for r in hooks.requests[asked:]] == [hooks.requests[asked].body["text"]]
        assert bad.email in hooks.requests[asked].body["text"]
        assert sum(1 for m in mail.received if m.message["To"] == bad.email) == 1
    with connect(path=warehouse_location, read_only=True) as wh:
        state = wh.execute(f"SELECT status, step FROM {wh.quoted(T.ENTITIES)} WHERE entity_id = ?", [str(bad.user_id)])
    assert state == [("active", "wait-2-days")]
    status, attempts, _ = _log(warehouse_location, bad.user_id, "notify-sales")[0]
    assert (status, attempts) == ("done", 2)
    out = run_cli(capsys, "workflows", "retry", "--all", "--config", config)
    assert out.code == 1 and "no entity is parked" in out.err


def test_a_server_down_for_the_whole_run_exits_1_and_the_next_run_sends(capsys, tmp_path, warehouse_location, people):
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        hooks.answer = lambda r: (503, "maintenance")
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1
        assert "failed and are left for the next run" in out.err and "HTTP 503" in out.err
        # 3 attempts for the first entity; the others were not tried against a server known to be down
        assert len(hooks.requests) == 3 and len(mail.received) == len(people)
        status = run_cli(capsys, "workflows", "status", "--now", NOW, "--config", config)
        assert "failing" in status.out and "not tried" in status.out
        hooks.answer = lambda r: (200, "ok")
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert len(hooks.effects()) == len(people) and len(mail.received) == len(people)
    with connect(path=warehouse_location, read_only=True) as wh:
        runs = wh.execute("SELECT status FROM ops.runs WHERE step = 'workflows.run' ORDER BY started_at")
    assert runs == [("failed",), ("success",)]


def test_smtp_temporary_reply_is_retried_and_a_permanent_one_parks(capsys, tmp_path, warehouse_location, people):
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        original, calls = mail.handle_DATA, []

        async def flaky(server, session, envelope):
            calls.append(envelope.rcpt_tos[0])
            if len(calls) == 1:
                return "451 4.3.0 try again later"
            return await original(server, session, envelope)

        mail.handle_DATA = flaky
        mail.refuse_rcpt[people[2].email] = "550 5.1.1 no such mailbox"
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1  # the 451 recovered within the run; the 550 parked one customer
        assert f"1 entity parked: onboarding {people[2].user_id} (first: welcome: " in out.err
        assert "no such mailbox" in out.err and "failed and are left" not in out.err
        assert calls[0] == calls[1]  # the 451 was retried at once, same message
        ids = [m.message["Message-ID"] for m in mail.received]
        assert len(ids) == len(set(ids)) == len(people) - 1
    status, attempts, error = _log(warehouse_location, people[2].user_id, "welcome")[0]
    assert status == "parked" and attempts == 1 and "550" in error and "no such mailbox" in error


def test_an_address_that_is_no_address_parks_before_any_server_is_asked(capsys, tmp_path, warehouse_location, people):
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks, steps={
            "welcome": {"email": {"to": "{{ company }}", "subject": "Hi", "body": "x"}}})
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1  # every due entity parked: the run did nothing and must not look fine
        ids = ", ".join(f"onboarding {c.user_id}" for c in sorted(people, key=lambda c: str(c.user_id)))
        line = out.err.strip()
        assert "\n" not in line and line.startswith(f"error: 4 entities parked: {ids} (first: welcome: to: "), line
        assert line.endswith("see `martops workflows status`, then `martops workflows retry`"), line
        assert mail.received == [] and hooks.requests == []
    with connect(path=warehouse_location, read_only=True) as wh:
        reasons = wh.execute(f"SELECT reason FROM {wh.quoted(T.ENTITIES)} WHERE status = 'parked'")
    assert len(reasons) == len(people)
    assert all(r[0].startswith("welcome: to: ") and "is not one mail address" in r[0] for r in reasons), reasons
    out = run_cli(capsys, "workflows", "status", "--now", NOW, "--config", config)
    assert "Needing attention (4)" in out.out and "workflows retry" in out.out


def test_the_graph_step_runs_the_workflows_and_fails_while_a_server_is_down(capsys, tmp_path, warehouse_location,
                                                                            people):
    """`martops run workflows` (what the schedule runs) is the same run on the real clock, logged as
    step workflows.run; a server down makes it fail, so the schedule's log and ops.runs say so."""
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        hooks.answer = lambda r: (502, "bad gateway")
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 1 and "workflows.run" in out.out and "HTTP 502" in out.err
        hooks.answer = lambda r: (200, "ok")
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 0, out.err
        assert "enrolled=0" in out.out and f"actions={len(people)}" in out.out
        assert len(mail.received) == len(people) and len(hooks.effects()) == len(people)
    with connect(path=warehouse_location, read_only=True) as wh:
        runs = wh.execute("SELECT status, rows_in, rows_out FROM ops.runs WHERE step = 'workflows.run' "
                          "ORDER BY started_at")
    assert runs == [("failed", None, None), ("success", 0, len(people))]


def test_an_empty_value_prints_as_nothing_and_an_empty_address_parks(capsys, tmp_path, warehouse_location):
    """A NULL company prints as nothing, not as Python's `None` ("None account owner" in a task, "at
    None" in a Slack message); a NULL e-mail address parks that customer with the reason."""
    people = P.customers(4, seed=3)
    for c in people:
        c.activated_at = None
    people[0].company, people[1].company, people[2].email = None, "Northwind", None
    with connect(path=warehouse_location) as wh:
        P.load(wh, people)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks, steps={
            "welcome": {"email": {"to": "{{ email }}", "subject": "Welcome{% if company %}, {{ company }}{% endif %}",
                                  "body": "Hi {{ name }} ({{ company }})\n"}},
            "notify-sales": {"webhook": {"endpoint": "sales", "json": {"text": "{{ name }} at {{ company }}"}}},
            "check-in": {"task": {"title": "Check in with {{ name }}", "assignee": "{{ company }} account owner"}}})
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1 and f"1 entity parked: onboarding {people[2].user_id} (first: welcome: to: " in out.err
        assert len(mail.received) == len(people) - 1
        bodies = {m.message["To"]: m.message.get_content().replace("\r\n", "\n") for m in mail.received}
        assert bodies[people[0].email] == f"Hi {people[0].name} ()\n"
        assert bodies[people[1].email] == f"Hi {people[1].name} (Northwind)\n"
        texts = {r.body["text"] for r in hooks.requests}
        assert f"{people[0].name} at " in texts and f"{people[1].name} at Northwind" in texts
        assert not any("None" in t for t in texts)
    with connect(path=warehouse_location, read_only=True) as wh:
        tasks = dict(wh.execute("SELECT entity_id, assignee FROM marts.workflow_tasks"))
        parked = wh.execute(f"SELECT entity_id, reason FROM {wh.quoted(T.ENTITIES)} WHERE status = 'parked'")
    assert tasks[str(people[0].user_id)] == " account owner" and tasks[str(people[1].user_id)] == "Northwind account owner"
    assert parked == [(str(people[2].user_id), "welcome: to: expected a mail address such as someone@example.com, "
                                               "got nothing")]


def test_a_refused_smtp_login_parks_no_one_and_fails_the_run_until_the_password_is_fixed(
        capsys, tmp_path, warehouse_location, people, monkeypatch):
    """A wrong password is the same for every customer: parking each of them (exit 0, every signup
    needing `retry --all` afterwards) would hide it; the run fails and the next one after the fix sends."""
    from tests.smtp_server import PASSWORD, USER

    with smtp_server(login=True) as (mail, port), receiver() as hooks:
        data = P.project(port, hooks.url)
        data["smtp"].update(user=USER, password_env="MARTOPS_TEST_SMTP_PASSWORD")
        config = P.write(tmp_path, data, warehouse_location)
        monkeypatch.setenv("MARTOPS_TEST_SMTP_PASSWORD", "wrong-" + PASSWORD)
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1
        assert "failed and are left for the next run" in out.err and f"login as {USER} refused" in out.err
        assert "wrong-" + PASSWORD not in out.err + out.out
        assert mail.received == [] and mail.logins == []
        status = run_cli(capsys, "workflows", "status", "--now", NOW, "--config", config)
        assert status.code == 0 and "parked" not in status.out.split("Needing attention")[-1]
        with connect(path=warehouse_location, read_only=True) as wh:
            states = wh.execute(f"SELECT status, step FROM {wh.quoted(T.ENTITIES)}")
        assert states == [("active", "welcome")] * len(people)
        monkeypatch.setenv("MARTOPS_TEST_SMTP_PASSWORD", PASSWORD)
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert sorted(m.message["To"] for m in mail.received) == sorted(c.email for c in people)
        assert len(hooks.effects()) == len(people)


@pytest.mark.parametrize("status", [401, 404, 410])
def test_a_webhook_endpoint_refusing_everything_parks_no_one(capsys, tmp_path, warehouse_location, people, status):
    """A revoked Slack URL (404 no_service, 410) or a token refused (401) is the endpoint's, not one
    signup's: the first request says so, the rest are not sent, nobody is parked, the run fails."""
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        hooks.answer = lambda r: (status, "no_service")
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1
        assert f"HTTP {status}" in out.err and "check webhooks.sales (its URL and secret_headers)" in out.err
        assert len(hooks.requests) == 1 and len(mail.received) == len(people)  # no retries, no other entity
        with connect(path=warehouse_location, read_only=True) as wh:
            states = wh.execute(f"SELECT DISTINCT status, step FROM {wh.quoted(T.ENTITIES)}")
        assert states == [("active", "notify-sales")]
        hooks.answer = lambda r: (200, "ok")
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert len(hooks.effects()) == len(people) and len(mail.received) == len(people)


def test_one_mailbox_refused_for_now_holds_back_no_one_else(capsys, tmp_path, warehouse_location, people):
    """A 4xx refusing one recipient (a full mailbox, greylisting) is that entity's: it stays at the
    step for the next run, and the server, which takes everyone else's mail, is not treated as down
    (it was: the first entity's full mailbox deferred every e-mail after it, run after run)."""
    first = min(people, key=lambda c: str(c.user_id))  # due entities run in id order: this one goes first
    with smtp_server() as (mail, port), receiver() as hooks:
        config = _project(tmp_path, warehouse_location, port, hooks)
        mail.refuse_rcpt[first.email] = "452 4.2.2 mailbox full"
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1 and "1 action(s) failed and are left for the next run" in out.err, out.err
        assert f"onboarding {first.user_id} welcome" in out.err and "mailbox full" in out.err
        assert "deferred" not in out.out and "not tried" not in out.out
        others = {c.email for c in people} - {first.email}
        assert {m.message["To"] for m in mail.received} == others  # everyone else was mailed this run
        assert len(hooks.effects()) == len(people) - 1
        status, attempts, error = _log(warehouse_location, first.user_id, "welcome")[0]
        assert status == "failed" and attempts == 3 and "452" in error  # retried within the run, not parked
        del mail.refuse_rcpt[first.email]  # the mailbox has room again
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 0, out.err
        assert [m.message["To"] for m in mail.received].count(first.email) == 1
        assert len(mail.received) == len(people) and len(hooks.effects()) == len(people)
    assert _log(warehouse_location, first.user_id, "welcome")[0][:2] == ("done", 4)
