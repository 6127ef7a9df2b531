"""A `martops workflows run` process killed with SIGKILL, then run again: no action is repeated that
was recorded done, none is lost, and the one in flight when the process died is sent again with the
same idempotency key (or, with `in_doubt: park`, parked for a person), on DuckDB and PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from martops.engine import connect
from martops.workflows import tables as T
from tests.conftest import REPO
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P
from tests.workflows.receiver import receiver

NOW = (P.START + 3 * P.DAY).isoformat()


def _start(config, cwd) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-m", "martops", "workflows", "run", "--now", NOW, "--config",
                             str(config)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _people(location, n=5):
    people = P.customers(n, seed=11)
    for c in people:
        c.activated_at = None
    with connect(path=location) as wh:
        P.load(wh, people)
    return sorted(people, key=lambda c: str(c.user_id))


def _kill_on_request(hooks, number: int, holder: dict) -> None:
    """SIGKILL the run when the receiver gets its `number`th request, before answering it: the
    request arrived, its answer never reaches martops (the window between sending and recording)."""
    seen = [0]

    def answer(r):
        seen[0] += 1
        if seen[0] == number:
            holder["proc"].send_signal(signal.SIGKILL)
            holder["proc"].wait(30)
        return 200, "ok"

    hooks.answer = answer


@pytest.mark.parametrize("in_doubt", ["resend", "park"])
def test_sigkill_while_a_webhook_is_in_flight(capsys, tmp_path, warehouse_location, in_doubt):
    if in_doubt == "park" and warehouse_location.startswith("postgresql://"):
        pytest.skip("the park policy is engine-independent; PostgreSQL runs the resend case")
    people = _people(warehouse_location)
    holder: dict = {}
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url, in_doubt=in_doubt), warehouse_location)
        _kill_on_request(hooks, 3, holder)
        holder["proc"] = _start(config, tmp_path)
        holder["proc"].communicate(timeout=120)
        assert holder["proc"].returncode == -signal.SIGKILL
        # entities 1-2 went through welcome and notify-sales; 3 got its welcome and was in flight
        assert [m.message["To"] for m in mail.received] == [c.email for c in people[:3]]
        with connect(path=warehouse_location, read_only=True) as wh:
            started = wh.execute(f"SELECT entity_id, step FROM {wh.quoted(T.ACTIONS)} WHERE status = 'started'")
        assert started == [(str(people[2].user_id), "notify-sales")]
        status = run_cli(capsys, "workflows", "status", "--now", NOW, "--config", config)
        assert "in doubt" in status.out and str(people[2].user_id) in status.out
        hooks.answer = lambda r: (200, "ok")
        again = _start(config, tmp_path)
        out, err = again.communicate(timeout=120)
        # parking the one in doubt fails the run: a person must check whether it arrived
        assert again.returncode == (1 if in_doubt == "park" else 0), err
        if in_doubt == "park":
            said = " ".join(err.split())
            assert f"1 entity parked: onboarding {people[2].user_id} (first: notify-sales: in doubt: webhook was " \
                   "started" in said
            assert len(hooks.requests) == 3 + 2  # 4 and 5; 3 is parked, not resent
            out = run_cli(capsys, "workflows", "retry", str(people[2].user_id), "--config", config)
            assert out.code == 0, out.err
            assert run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config).code == 0
        # nothing lost: every entity got one welcome and one notify-sales effect
        ids = [m.message["Message-ID"] for m in mail.received]
        assert len(ids) == len(set(ids)) == len(people)
        assert len(hooks.effects()) == len(people)
        # the only repeat is the in-flight request, with the key it had
        keys = [r.key for r in hooks.requests]
        assert len(keys) == len(people) + 1 and keys.count(hooks.requests[2].key) == 2
    with connect(path=warehouse_location, read_only=True) as wh:
        states = wh.execute(f"SELECT DISTINCT status, step FROM {wh.quoted(T.ENTITIES)}")
        runs = wh.execute("SELECT status FROM ops.runs WHERE step = 'workflows.run' ORDER BY started_at")
    assert states == [("active", "wait-2-days")]
    assert runs[0] == ("abandoned",) and runs[-1] == ("success",)


def test_sigkill_at_random_moments_loses_and_repeats_nothing(tmp_path):
    """Runs killed at random moments until one finishes: every e-mail and webhook happened, each
    key's effect once; a repeat (only ever of an action in flight at a kill) carries its key."""
    location = str(tmp_path / "w.duckdb")
    people = _people(location, n=8)
    rng = random.Random(4)
    with smtp_server() as (mail, port), receiver() as hooks:
        config = P.write(tmp_path, P.project(port, hooks.url), location)
        hooks.answer = lambda r: (time.sleep(0.15), (200, "ok"))[1]
        t0 = time.monotonic()
        whole = _start(config, tmp_path)
        whole.communicate(timeout=120)
        took = time.monotonic() - t0
        # start over on a fresh warehouse and fresh counts, killing at random until a run completes
        for name in ("w.duckdb", "w.duckdb.wal"):
            (tmp_path / name).unlink(missing_ok=True)
        _people(location, n=8)
        mail.received.clear()
        hooks.requests.clear()
        kills = 0
        while True:
            proc = _start(config, tmp_path)
            timer = threading.Timer(rng.uniform(0.3, took), lambda p=proc: p.poll() is None and p.send_signal(
                signal.SIGKILL))
            timer.start()
            proc.communicate(timeout=120)
            timer.cancel()
            if proc.returncode == 0:
                break
            assert proc.returncode == -signal.SIGKILL
            kills += 1
            assert kills < 15, "no run finished"
        ids = [m.message["Message-ID"] for m in mail.received]
        assert len(set(ids)) == len(people) and len(ids) - len(set(ids)) <= kills
        assert len(hooks.effects()) == len(people)
        assert len(hooks.requests) - len(hooks.effects()) <= kills
    assert kills >= 1
    with connect(path=location, read_only=True) as wh:
        assert wh.execute(f"SELECT DISTINCT step FROM {wh.quoted(T.ENTITIES)}") == [("wait-2-days",)]
        done = wh.execute(f"SELECT kind, count(*) FROM {wh.quoted(T.ACTIONS)} WHERE status = 'done' AND kind IN "
                          "('email', 'webhook') GROUP BY kind ORDER BY kind")
    assert done == [("email", len(people)), ("webhook", len(people))]
