"""The run's clock may not go back: `--now` before the clock of a workflow's last run is refused,
naming that clock, before anything is read, sent or written (a dry run too); the same clock again
is fine; `--allow-earlier-now` accepts it once and records it. The step of the graph (the real
clock) after a run with a --now in the future by mistake fails the same way until it is accepted.
Real SMTP and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

from martops.engine import connect
from martops.workflows import tables as T
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver

DAY3 = P.START + 3 * P.DAY  # every generated customer has signed up


def _state(location: str) -> tuple:
    with connect(path=location, read_only=True) as wh:
        return tuple(sorted(map(repr, wh.execute(f"SELECT * FROM {wh.quoted(t)}"))) for t in (T.ENTITIES, T.ACTIONS))


def _clock(location: str) -> list[tuple]:
    with connect(path=location, read_only=True) as wh:
        return wh.execute(f"SELECT workflow, clock FROM {wh.quoted(T.CLOCKS)}")


def test_an_earlier_now_is_refused_naming_the_last_runs_clock(capsys, tmp_path, warehouse_location):
    people = P.never_activating(warehouse_location)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        out = run_cli(capsys, "workflows", "run", "--now", DAY3.isoformat(), "--config", config)
        assert out.code == 0, out.err
        assert _clock(warehouse_location) == [("onboarding", DAY3)]
        before, sent = _state(warehouse_location), (len(mail.received), len(hooks.requests))
        # a day back; an hour back written with an offset (10:00+02:00 is 08:00 UTC); each as a dry run too
        for earlier in ((DAY3 - P.DAY).isoformat(), "2024-06-06T10:00+02:00"):
            for dry in ([], ["--dry-run"]):
                out = run_cli(capsys, "workflows", "run", "--now", earlier, *dry, "--config", config)
                assert out.code == 1, (earlier, dry)
                line = out.err.strip()
                assert "\n" not in line and "Traceback" not in line
                assert " is before the last run of workflow onboarding, at 2024-06-06 09:00:00 UTC: " in line, line
                assert "give --now 2024-06-06T09:00:00 or later" in line and "--allow-earlier-now" in line
        assert _state(warehouse_location) == before and (len(mail.received), len(hooks.requests)) == sent
        assert _clock(warehouse_location) == [("onboarding", DAY3)]
        # the same clock again is a re-run of that day: allowed, and nothing happens twice
        out = run_cli(capsys, "workflows", "run", "--now", DAY3.isoformat(), "--config", config)
        assert out.code == 0, out.err
        assert (len(mail.received), len(hooks.requests)) == sent == (len(people), len(people))
        # accepted on purpose: a note, and the earlier clock is the last one from then on
        earlier = DAY3 - dt.timedelta(hours=6)
        out = run_cli(capsys, "workflows", "run", "--now", earlier.isoformat(), "--allow-earlier-now", "--config",
                      config)
        assert out.code == 0, out.err
        said = " ".join(out.out.split())
        assert "(--allow-earlier-now): this clock is recorded as its last from now on" in said
        # nothing is undone, and the note says so: the waits the later run set still end when it said
        assert (f"what the later run did stays (what it sent went out; {len(people)} entities wait until times it "
                f"set, the latest {DAY3 + 2 * P.DAY:%Y-%m-%d %H:%M} UTC; the trigger reads on from its watermark)") in said
        assert _clock(warehouse_location) == [("onboarding", earlier)]
        out = run_cli(capsys, "workflows", "run", "--now", (earlier + dt.timedelta(hours=1)).isoformat(), "--config",
                      config)
        assert out.code == 0, out.err
        # tips are due two days after the welcome, on the clock that is moving forward again
        out = run_cli(capsys, "workflows", "run", "--now", (DAY3 + 2 * P.DAY).isoformat(), "--config", config)
        assert out.code == 0, out.err
        assert sorted(m.message["Subject"] for m in mail.received[len(people):]) == [P.TIPS] * len(people)


def test_each_workflow_has_its_own_clock(capsys, tmp_path, warehouse_location):
    """A workflow run alone (--workflow) moves only its own clock: another one may still run at an
    earlier clock, and is refused only against its own last run."""
    P.never_activating(warehouse_location)
    with smtp_server() as (mail, port), receiver() as hooks:
        data = P.project(port, hooks.url)
        data["workflows"]["follow-up"] = {**data["workflows"]["onboarding"], "steps": {
            "ping": {"webhook": {"endpoint": "sales", "json": {"text": "{{ email }}"}}}}}
        config = P.write(tmp_path, data, warehouse_location)
        assert run_cli(capsys, "workflows", "run", "--now", DAY3.isoformat(), "--workflow", "onboarding",
                       "--config", config).code == 0
        out = run_cli(capsys, "workflows", "run", "--now", (DAY3 - P.DAY).isoformat(), "--workflow", "follow-up",
                      "--config", config)
        assert out.code == 0, out.err
        out = run_cli(capsys, "workflows", "run", "--now", (DAY3 - dt.timedelta(hours=1)).isoformat(), "--config",
                      config)
        assert out.code == 1 and "the last run of workflow onboarding, at 2024-06-06 09:00:00 UTC" in out.err
        assert sorted(_clock(warehouse_location)) == [("follow-up", DAY3 - P.DAY), ("onboarding", DAY3)]
        out = run_cli(capsys, "workflows", "run", "--now", (DAY3 - dt.timedelta(hours=1)).isoformat(), "--workflow",
                      "follow-up", "--config", config)
        assert out.code == 0, out.err
    assert sorted(_clock(warehouse_location)) == [("follow-up", DAY3 - dt.timedelta(hours=1)), ("onboarding", DAY3)]


def test_the_graph_step_after_a_future_now_fails_until_it_is_accepted(capsys, tmp_path, warehouse_location):
    """`martops run workflows` runs on the real clock: after a run with --now in 2100 by mistake it
    fails naming that clock (ops.runs says so), sends nothing, and runs again once `martops
    workflows run --allow-earlier-now` has put the real clock back."""
    people = P.never_activating(warehouse_location)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        assert run_cli(capsys, "workflows", "run", "--now", "2100-01-01T00:00", "--config", config).code == 0
        assert len(mail.received) == len(people)
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 1 and "workflows.run" in out.out
        assert "before the last run of workflow onboarding, at 2100-01-01 00:00:00 UTC" in " ".join(out.err.split())
        assert run_cli(capsys, "workflows", "run", "--config", config).code == 1  # the real clock, without the flag
        out = run_cli(capsys, "workflows", "run", "--allow-earlier-now", "--config", config)
        assert out.code == 0, out.err
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 0, out.err
        assert len(mail.received) == len(people) and len(hooks.effects()) == len(people)
    with connect(path=warehouse_location, read_only=True) as wh:
        runs = wh.execute("SELECT status, error FROM ops.runs WHERE step = 'workflows.run' ORDER BY started_at")
        (clock,), = wh.execute(f"SELECT clock FROM {wh.quoted(T.CLOCKS)}")
    assert [r[0] for r in runs] == ["success", "failed", "failed", "success", "success"]
    assert "2100-01-01 00:00:00 UTC" in runs[1][1]
    assert abs(clock - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=5)


def test_the_graph_step_fails_when_it_parks_and_not_again_for_the_same_parks(capsys, tmp_path, warehouse_location):
    """`martops run workflows` (what a schedule runs) agrees with `martops workflows run`: a run that
    parks anyone fails with one line naming them, in ops.runs too; the next run, with nothing newly
    parked, succeeds."""
    people = P.never_activating(warehouse_location)
    bad = people[3]
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), warehouse_location)
        mail.refuse_rcpt[bad.email] = "550 5.1.1 no such mailbox"
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 1 and "workflows.run" in out.out
        assert f"1 entity parked: onboarding {bad.user_id} (first: welcome: " in " ".join(out.err.split())
        assert len(mail.received) == len(people) - 1 and len(hooks.effects()) == len(people) - 1
        out = run_cli(capsys, "run", "workflows", "--config", config)
        assert out.code == 0, out.err
    with connect(path=warehouse_location, read_only=True) as wh:
        runs = wh.execute("SELECT status, error FROM ops.runs WHERE step = 'workflows.run' ORDER BY started_at")
    assert [r[0] for r in runs] == ["failed", "success"]
    assert runs[0][1].startswith(f"1 entity parked: onboarding {bad.user_id} (first: welcome: ") and "550" in runs[0][1]
