"""Generated customers, their product events, and a project file with the onboarding workflow, for
the workflow tests (the README's onboarding sequence: day 0 welcome, day 2 tips, day 7 check-in task,
stop on activation)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path
from typing import Any

import ibis
import yaml

from martops.config import ProjectConfig

START = dt.datetime(2024, 6, 3, 9, 0)
"""The first simulated run (a Monday, 09:00 UTC); the tests run once a day at that hour."""
DAY = dt.timedelta(days=1)
WELCOME, TIPS = "Welcome to Acme, {name}", "Three tips for your first week"


@dataclasses.dataclass
class Customer:
    user_id: int
    name: str
    email: str
    company: str | None
    created_at: dt.datetime
    activated_at: dt.datetime | None


def customers(n: int = 12, seed: int = 5) -> list[Customer]:
    """`n` people signing up between a day before the first run and three days after it, in four
    kinds by id: never activating, activating before their first run (they get nothing), between
    the welcome and the tips (day 0-2), and between the tips and the check-in (day 2-7)."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        created = START + dt.timedelta(hours=rng.randint(-24, 72), minutes=rng.randint(0, 59))
        first = START + DAY * max(0, -(-(created - START) // DAY))  # the first daily run at or after signup
        hours = (created - first).total_seconds() / 3600
        activated = [None, first + dt.timedelta(hours=rng.uniform(hours, 0)),
                     first + dt.timedelta(hours=rng.uniform(1, 47)),
                     first + dt.timedelta(hours=rng.uniform(49, 167))][i % 4]
        name = f"{rng.choice(['Ana', 'Ben', 'Chloe', 'Dev', 'Eli', 'Fay'])} {rng.choice(['Silva', 'Berg', 'Okafor'])}"
        out.append(Customer(100 + i, name, f"user{100 + i}@example.com", rng.choice(["Northwind", "Bluelabs", None]),
                            created, activated))
    return out


def load(wh, people: list[Customer], extra_events: list[tuple[int, str, dt.datetime]] = ()) -> None:
    """staging.usage_people and staging.usage_events (a login at signup, the activation as an
    `export_report`), as `martops usage build` names them."""
    wh.create_or_replace("staging.usage_people", ibis.memtable({
        "user_id": [c.user_id for c in people], "name": [c.name for c in people],
        "email": [c.email for c in people], "company": [c.company for c in people],
        "created_at": [c.created_at for c in people]},
        schema={"user_id": "int64", "name": "string", "email": "string", "company": "string", "created_at": "timestamp"}))
    events = [(c.user_id, "login", c.created_at) for c in people]
    events += [(c.user_id, "export_report", c.activated_at) for c in people if c.activated_at]
    events += list(extra_events)
    wh.create_or_replace("staging.usage_events", ibis.memtable(
        {"user_id": [e[0] for e in events], "event_type": [e[1] for e in events], "event_at": [e[2] for e in events]},
        schema={"user_id": "int64", "event_type": "string", "event_at": "timestamp"}))


def never_activating(location: str, n: int = 4, seed: int = 3) -> list[Customer]:
    """`n` customers of whom none activates (every step is due for each), loaded into the warehouse
    at `location` (a DuckDB path or a PostgreSQL DSN)."""
    from martops.engine import connect

    people = customers(n, seed=seed)
    for c in people:
        c.activated_at = None
    with connect(path=location) as wh:
        load(wh, people)
    return people


def project(smtp_port: int, hook_url: str, **workflow: Any) -> dict:
    """The project file as a dict: the onboarding workflow, `workflow` keys replacing its own."""
    onboarding = {
        "trigger": {"table": "staging.usage_people", "key": "user_id", "watermark": "created_at"},
        "conditions": {"activated": {"table": "staging.usage_events", "match": "user_id",
                                     "where": {"event_type": ["export_report", "share_dashboard"]}, "time": "event_at"}},
        "stop_when": ["activated"],
        "retry": {"max_attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        "steps": {
            "welcome": {"email": {"to": "{{ email }}", "subject": "Welcome to Acme, {{ name }}",
                                  "body": "Hi {{ name }},\n\nyour workspace is ready.\n"}},
            "notify-sales": {"webhook": {"endpoint": "sales", "json": {
                "text": "New signup: {{ name }} <{{ email }}> ({{ company or 'no company' }})"}}},
            "wait-2-days": {"wait": {"days": 2}},
            "tips": {"email": {"to": "{{ email }}", "subject": "Three tips for your first week",
                               "body": "Hi {{ name }}, try exporting a report.\n"}},
            "wait-5-days": {"wait": {"days": 5}},
            "check-in": {"task": {"title": "Check in with {{ name }} ({{ email }})",
                                  "assignee": "{{ company or 'unassigned' }} account owner", "due_in_days": 1}},
        },
    }
    onboarding.update(workflow)
    return {"smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none", "from": "Acme <hello@example.com>",
                     "timeout_seconds": 5},
            "webhooks": {"sales": {"url": f"{hook_url}/hooks/signup", "timeout_seconds": 5}},
            "workflows": {"onboarding": onboarding}}


def config(data: dict) -> ProjectConfig:
    return ProjectConfig.model_validate(data)


def write(folder: Path, data: dict, warehouse: str) -> Path:
    path = folder / "martops.yml"
    path.write_text(yaml.safe_dump({**data, "warehouse": _warehouse(warehouse)}, sort_keys=False))
    return path


def _warehouse(location: str) -> dict:
    if location.startswith("postgresql://"):
        return {"engine": "postgres", "dsn": location}
    return {"path": location}


def expected(people: list[Customer], runs: int) -> dict[int, dict[str, set]]:
    """Per run (day number): the mails (to, subject), webhook texts' e-mails and tasks' e-mails the
    onboarding sequence should produce, computed from the customers alone."""
    out: dict[int, dict[str, set]] = {d: {"mail": set(), "hook": set(), "task": set()} for d in range(runs)}
    for c in people:
        first = next(d for d in range(runs) if START + d * DAY >= c.created_at)

        def active(day: int) -> bool:
            return c.activated_at is not None and c.activated_at <= START + day * DAY

        for offset, kinds in ((0, ("mail-welcome", "hook")), (2, ("mail-tips",)), (7, ("task",))):
            day = first + offset
            if day >= runs or active(day):
                break
            for k in kinds:
                if k == "mail-welcome":
                    out[day]["mail"].add((c.email, WELCOME.format(name=c.name)))
                elif k == "mail-tips":
                    out[day]["mail"].add((c.email, TIPS))
                else:
                    out[day][k].add(c.email)
    return out
