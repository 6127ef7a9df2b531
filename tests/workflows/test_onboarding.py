"""The whole onboarding sequence for generated customers over eleven simulated days, against a real
SMTP server (aiosmtpd) and a real HTTP receiver on 127.0.0.1, on DuckDB and PostgreSQL: the right
messages on the right days, none after activation, nothing twice, and every action in the log."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.workflows import tables as T
from martops.workflows.domain import ActionsFailed, run_logged
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver

RUNS = 11


def _run(wh, cfg, day: float):
    return run_logged(wh, cfg, now=(P.START + day * P.DAY).replace(tzinfo=dt.timezone.utc), sleep=lambda s: None)


def test_seven_day_sequence_sends_the_right_messages_on_the_right_days(wh):
    people = P.customers()
    P.load(wh, people)
    want = P.expected(people, RUNS)
    assert sum(len(w["mail"]) for w in want.values()) >= 10 and any(w["task"] for w in want.values())
    mailed = {to for w in want.values() for to, _ in w["mail"]}
    assert any(c.email not in mailed for c in people)  # activated before their first run: no message at all
    with smtp_server() as (mail, port), receiver() as hooks:
        cfg = P.config(P.project(port, hooks.url))
        for day in range(RUNS):
            before_mail, before_hooks = len(mail.received), len(hooks.requests)
            _run(wh, cfg, day)
            got = {(m.message["To"], m.message["Subject"]) for m in mail.received[before_mail:]}
            assert got == want[day]["mail"], f"day {day}"
            texts = [r.body["text"] for r in hooks.requests[before_hooks:]]
            assert sorted(t.split("<")[1].split(">")[0] for t in texts) == sorted(want[day]["hook"]), f"day {day}"
            tasks = wh.execute(f"SELECT title FROM {wh.quoted(T.TASKS)} WHERE created_at = ?",
                               [P.START + day * P.DAY]) if wh.exists(T.TASKS) else []
            assert {t[0].split("(")[1].rstrip(")") for t in tasks} == want[day]["task"], f"day {day}"
        # nothing twice: one Message-ID per mail, one key per webhook, headers carry the key
        ids = [m.message["Message-ID"] for m in mail.received]
        assert len(ids) == len(set(ids)) == sum(len(w["mail"]) for w in want.values())
        keys = [r.key for r in hooks.requests]
        assert len(keys) == len(set(keys)) and all(k and k.startswith("mo-") for k in keys)
        assert all(m.message["X-Martops-Idempotency-Key"].startswith("mo-") for m in mail.received)
        # two more runs at the last clock: nothing new happens
        n_mail, n_hooks = len(mail.received), len(hooks.requests)
        _run(wh, cfg, RUNS - 1)
        _run(wh, cfg, RUNS - 1)
        assert (len(mail.received), len(hooks.requests)) == (n_mail, n_hooks)
    # every customer ended: activated ones stopped by the goal, the rest completed after the task
    states = dict(wh.execute(f"SELECT entity_id, status FROM {wh.quoted(T.ENTITIES)}"))
    for c in people:
        assert states[str(c.user_id)] == (T.STOPPED if c.activated_at and c.activated_at <= P.START + 10 * P.DAY
                                          else T.COMPLETED), c
    # the log: one done row per effect, its key the one the receiver saw
    done = wh.execute(f"SELECT kind, count(*) FROM {wh.quoted(T.ACTIONS)} WHERE status = 'done' AND kind IN "
                      "('email', 'webhook', 'task') GROUP BY kind ORDER BY kind")
    assert dict(done) == {"email": len(ids), "webhook": len(keys), "task": sum(len(w["task"]) for w in want.values())}
    logged = {r[0] for r in wh.execute(f"SELECT idempotency_key FROM {wh.quoted(T.ACTIONS)} WHERE kind = 'webhook'")}
    assert logged == set(keys)


def test_duplicate_triggers_enrol_once(wh):
    people = P.customers(6, seed=9)
    for c in people:
        c.activated_at = None
    P.load(wh, people)
    with smtp_server() as (mail, port), receiver() as hooks:
        cfg = P.config(P.project(port, hooks.url))
        _, report = _run(wh, cfg, 3)  # everyone has signed up by day 3
        assert report.counts["onboarding"].enrolled == 6 and len(mail.received) == 6
        # the same people delivered again (a reload), one of them twice with a later signup time
        again = people + [P.Customer(people[0].user_id, people[0].name, people[0].email, None,
                                     P.START + 3 * P.DAY + dt.timedelta(minutes=5), None)]
        P.load(wh, again)
        _, report = _run(wh, cfg, 4)
        assert report.counts["onboarding"].enrolled == 0 and report.counts["onboarding"].duplicates == 1
        assert len(mail.received) == 6 and len(hooks.requests) == 6
        assert any("duplicate trigger" in n for n in report.notes)
        # a trigger row of a new key arrives: it alone is enrolled
        newcomer = P.Customer(999, "Zoe New", "zoe@example.com", None, P.START + 4 * P.DAY, None)
        P.load(wh, again + [newcomer])
        _, report = _run(wh, cfg, 4.5)  # before anyone's tips are due
        assert report.counts["onboarding"].enrolled == 1
        assert [m.message["To"] for m in mail.received[6:]] == ["zoe@example.com"]
        assert sum(1 for m in mail.received if m.message["Subject"].startswith("Welcome")) == 7


@pytest.mark.parametrize("engine", ["duckdb"])
def test_a_lead_becoming_sales_ready_triggers_once(tmp_path, engine):
    """A change of a column: marts.lead_scores gets a row per lead and as-of date; the lead enters
    the first time a row says sales_ready, not before, and not again."""
    import ibis

    from martops.engine import connect

    with connect(path=str(tmp_path / "w.duckdb")) as wh, receiver() as hooks:
        def scores(rows):
            wh.create_or_replace("marts.lead_scores", ibis.memtable(
                {"lead_id": [r[0] for r in rows], "as_of": [r[1] for r in rows], "sales_ready": [r[2] for r in rows]},
                schema={"lead_id": "string", "as_of": "date", "sales_ready": "boolean"}))

        d = dt.date(2024, 6, 3)
        scores([("L1", d, False), ("L2", d, True)])
        cfg = P.config({"webhooks": {"crm": {"url": f"{hooks.url}/lead"}}, "workflows": {"sales-ready": {
            "trigger": {"table": "marts.lead_scores", "key": "lead_id", "watermark": "as_of",
                        "where": {"sales_ready": True}},
            "steps": {"tell-sales": {"webhook": {"endpoint": "crm", "json": {"lead": "{{ lead_id }}",
                                                                            "as_of": "{{ as_of }}"}}}}}}})
        run_logged(wh, cfg, now=dt.datetime(2024, 6, 3, 12, tzinfo=dt.timezone.utc))
        assert [r.body for r in hooks.requests] == [{"lead": "L2", "as_of": "2024-06-03"}]
        d2 = d + dt.timedelta(days=1)
        scores([("L1", d, False), ("L2", d, True), ("L1", d2, True), ("L2", d2, True)])
        run_logged(wh, cfg, now=dt.datetime(2024, 6, 4, 12, tzinfo=dt.timezone.utc))
        assert [r.body["lead"] for r in hooks.requests] == ["L2", "L1"]
        mark = wh.execute(f"SELECT column_name, value FROM {wh.quoted(T.WATERMARKS)}")
        assert mark == [("as_of", "2024-06-04")]


def test_branches_lists_stops_and_a_disabled_workflow(tmp_path):
    """A branch on a condition sends activated customers to a list and stops the others' sequence
    with a reason; `since` keeps older signups out, also on later runs; a disabled workflow is left alone."""
    from martops.engine import connect

    people = P.customers(8, seed=21)
    with connect(path=str(tmp_path / "w.duckdb")) as wh, receiver() as hooks:
        P.load(wh, people)
        cut = P.START + dt.timedelta(hours=12)
        data = P.project(1, hooks.url, trigger={"table": "staging.usage_people", "key": "user_id",
                                                "watermark": "created_at", "since": cut.isoformat(" ")},
                         stop_when=[], steps={
                             "hello": {"webhook": {"endpoint": "sales"}},
                             "wait-a-day": {"wait": {"hours": 24}},
                             "sort": {"branch": {"if": "not activated", "then": "give-up"}},
                             "champions": {"list": {"name": "activated-in-a-day"}},
                             "done": {"stop": "activated"},
                             "give-up": {"stop": "not activated within a day"}})
        data["workflows"]["dormant"] = {**data["workflows"]["onboarding"], "enabled": False}
        cfg = P.config(data)
        for day in range(6):
            _, report = _run(wh, cfg, day)
        assert "workflow dormant is disabled (enabled: false): left alone" in report.notes
        entered = [c for c in people if c.created_at >= cut]
        assert 0 < len(entered) < len(people)
        assert sorted(r.body["entity_id"] for r in hooks.requests) == sorted(str(c.user_id) for c in entered)
        assert hooks.requests[0].body["data"]["email"] and hooks.requests[0].body["workflow"] == "onboarding"
        states = dict((r[0], (r[1], r[2])) for r in wh.execute(
            f"SELECT entity_id, status, reason FROM {wh.quoted(T.ENTITIES)} WHERE workflow = 'onboarding'"))
        listed = {r[0] for r in wh.execute(f"SELECT entity_id FROM {wh.quoted(T.LIST_MEMBERS)} WHERE list_name = "
                                           "'activated-in-a-day'")}
        for c in entered:
            first = P.START + P.DAY * max(0, -(-(c.created_at - P.START) // P.DAY))
            active = c.activated_at is not None and c.activated_at <= first + P.DAY
            assert states[str(c.user_id)] == (T.STOPPED, "stop done: activated" if active else
                                              "stop give-up: not activated within a day"), c
            assert (str(c.user_id) in listed) == active
        assert wh.execute(f"SELECT count(*) FROM {wh.quoted(T.ENTITIES)} WHERE workflow = 'dormant'") == [(0,)]
        mark = wh.execute(f"SELECT value FROM {wh.quoted(T.WATERMARKS)} WHERE workflow = 'onboarding'")[0][0]
        assert mark >= cut.isoformat(" ")


def test_an_entity_at_a_step_the_project_file_no_longer_has_is_parked(tmp_path):
    from martops.engine import connect

    people = P.customers(3, seed=8)
    for c in people:
        c.activated_at = None
    with connect(path=str(tmp_path / "w.duckdb")) as wh, smtp_server() as (mail, port), receiver() as hooks:
        P.load(wh, people)
        data = P.project(port, hooks.url)
        _run(wh, P.config(data), 3)
        steps = data["workflows"]["onboarding"]["steps"]
        steps["wait-two-days"] = steps.pop("wait-2-days")  # renamed while everyone waits there
        with pytest.raises(ActionsFailed, match=rf"^{len(people)} entities parked: onboarding ") as failed:
            _run(wh, P.config(data), 6)  # a run that parks fails (`martops run workflows` exits 1)
        report = failed.value.report
        assert report.counts["onboarding"].parked == len(people) and len(mail.received) == len(people)
        reasons = {r[0] for r in wh.execute(f"SELECT reason FROM {wh.quoted(T.ENTITIES)}")}
        assert reasons == {"its step 'wait-2-days' is no longer in workflows.onboarding.steps (welcome, notify-sales, "
                           "tips, wait-5-days, check-in, wait-two-days); put it back, or retry after renaming it back"}
