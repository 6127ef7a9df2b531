"""The whole onboarding sequence for generated customers over eleven simulated days, against a real
SMTP server (aiosmtpd) and a real HTTP receiver on 127.0.0.1, on DuckDB and PostgreSQL: the right
messages on the right days, none after activation, nothing twice, and every action in the log."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.workflows import tables as T
from martops.workflows.domain import run_logged
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
