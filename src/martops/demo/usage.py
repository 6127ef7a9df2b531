"""Synthetic usage databases in the shape of the seed's `data.db` (people with their company, events
per user), at any scale, for `make notebook`, demos and tests.

What makes it realistic, and what each part is for:

- companies of very different sizes: company weights are Pareto (shape 1.3), so a few companies
  hold many seats and most hold one to five;
- heavy-tailed activity: each person's share of active days is Beta(1, 8) and events per active day
  1 + Poisson(lognormal), times a company engagement factor, so a few users make most events;
- churn: 40% of people stop after an exponential lifetime (mean 90 days); signups grow over the year;
- a few people with no company (3%), test accounts (1%: `test+<id>@` mailboxes, `qa.<id>@example.com`,
  'Test User' names) and bots (0.3%, at least one from 200 people: ordinary-looking emails firing
  600-1,500 events a day on a few days), which `usage.exclude` finds;
- copies of events (1%, under a new event id) that the load drops and counts;
- with `dirty`, a few rows a real export gets wrong: unreadable timestamps, events naming no person
  or no one, a person without an id and two rows of one id that disagree; each is quarantined.

Everything is drawn from one numpy Generator seeded by `seed` in a fixed order, so the same spec
writes the same rows. One million events take a few seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np

from martops.export_files import write_atomically

START = dt.date(2024, 1, 1)
DAYS = 366
"""The events span 2024-01-01..2024-12-31."""
EVENT_TYPES = ("login", "view_dashboard", "run_query", "export_report", "share_dashboard", "api_call")
EVENT_P = (0.30, 0.28, 0.20, 0.08, 0.05, 0.09)
FIRST = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam", "Maya",
         "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wen", "Yusuf", "Zoe")
LAST = ("Silva", "Jones", "Martin", "Kowalski", "Nguyen", "Okafor", "Rossi", "Schmidt", "Tanaka", "Dubois",
        "Garcia", "Ivanova", "Larsen", "Murphy", "Novak", "Patel", "Smith", "Haddad", "Berg", "Costa")
PREFIX = ("North", "Blue", "Bright", "Iron", "Silver", "Green", "Swift", "Red", "Deep", "High", "Clear", "Nova",
          "Stone", "Oak", "Summit", "Harbor", "Polar", "Cedar", "Lumen", "Atlas")
SUFFIX = ("wind", "labs", "works", "data", "logic", "soft", "ware", "loop", "grid", "forge", "stack", "point")
FREE_MAIL = ("gmail.com", "outlook.com", "proton.me")


@dataclasses.dataclass(frozen=True)
class UsageDemoSpec:
    users: int = 2000
    seed: int = 7
    dirty: bool = True
    """Plant a few rows the load quarantines (see the module docstring)."""


def _company_names(n: int) -> list[str]:
    out = []
    for i in range(n):
        name = f"{PREFIX[i % len(PREFIX)]}{SUFFIX[(i // len(PREFIX)) % len(SUFFIX)]}"
        rounds = i // (len(PREFIX) * len(SUFFIX))
        out.append(name + (f" {rounds + 1}" if rounds else ""))
    return out


def _stamps(seconds: np.ndarray) -> np.ndarray:
    """Seconds since START as 'YYYY-MM-DD HH:MM:SS' texts."""
    base = np.datetime64(START.isoformat(), "s")
    text = (base + seconds.astype("timedelta64[s]")).astype(str)
    return np.char.replace(text, "T", " ")


@dataclasses.dataclass
class UsageData:
    """The generated rows, column by column (people: id, name, email, company, created_at, plan;
    events: event_id, user_id, event_type, timestamp). `bots` and `tests` are the planted ids."""

    people: dict[str, list]
    events: dict[str, np.ndarray]
    bots: list[int]
    tests: list[int]


def rows(spec: UsageDemoSpec) -> UsageData:
    """The rows of `spec`, the same for the same spec."""
    if spec.users < 10:
        raise ValueError("a usage database needs at least 10 users")
    rng = np.random.default_rng(spec.seed)
    n = spec.users
    ids = np.arange(1, n + 1)
    # companies: Pareto weights make a heavy-tailed size distribution
    n_comp = max(3, n // 12)
    weights = rng.pareto(1.3, n_comp) + 1.0
    company = rng.choice(n_comp, size=n, p=weights / weights.sum())
    no_company = rng.random(n) < 0.03
    names = _company_names(n_comp)
    engagement = rng.lognormal(0.0, 0.5, n_comp)
    plan = np.where(np.bincount(company, minlength=n_comp)[company] >= 20, "enterprise",
                    np.where(rng.random(n) < 0.5, "team", "free"))
    # signups grow over the year (density rising linearly); a lifetime for the 40% who churn
    signup_day = np.floor(np.sqrt(rng.random(n)) * DAYS).astype(np.int64)
    signup_sec = signup_day * 86400 + rng.integers(8 * 3600, 19 * 3600, n)
    churns = rng.random(n) < 0.4
    lifetime = np.where(churns, rng.exponential(90.0, n), np.inf)
    last_day = np.minimum(signup_day + lifetime, DAYS - 1).astype(np.int64)
    span = last_day - signup_day + 1
    active_share = rng.beta(1.0, 8.0, n)
    per_day = rng.lognormal(0.3, 0.9, n) * np.where(no_company, 1.0, engagement[company])
    # bots and test accounts
    order = rng.permutation(n)
    n_tests = max(1, n // 100)
    n_bots = max(1 if n >= 200 else 0, (3 * n) // 1000)
    tests, bots = order[:n_tests], order[n_tests:n_tests + n_bots]
    # events: active days, then events on each
    days = rng.binomial(span, active_share)
    days[bots] = rng.integers(2, 6, len(bots))
    user_of_day = np.repeat(np.arange(n), days)
    day = signup_day[user_of_day] + np.floor(rng.random(len(user_of_day)) * span[user_of_day]).astype(np.int64)
    count = 1 + rng.poisson(per_day[user_of_day])
    is_bot = np.zeros(n, bool)
    is_bot[bots] = True
    bot_days = is_bot[user_of_day]
    count[bot_days] = rng.integers(600, 1501, int(bot_days.sum()))
    user = np.repeat(user_of_day, count)
    sec = np.repeat(day, count) * 86400
    work = np.clip(rng.normal(14.0, 3.0, len(user)), 0, 23.99) * 3600
    sec = sec + np.where(np.repeat(bot_days, count), rng.integers(0, 86400, len(user)), work.astype(np.int64))
    kind = rng.choice(len(EVENT_TYPES), size=len(user), p=EVENT_P)
    # copies: 1% of events sent twice
    dup = rng.random(len(user)) < 0.01
    user, sec, kind = (np.concatenate([a, a[dup]]) for a in (user, sec, kind))
    sort = np.lexsort((user, sec))
    user, sec, kind = user[sort], sec[sort], kind[sort]
    ev_user = ids[user].astype(object)
    stamps = _stamps(sec).astype(object)
    ev_kind = np.array(EVENT_TYPES, dtype=object)[kind]
    # people
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    person = [f"{a} {b}" for a, b in zip(first, last)]
    domains = [names[c].lower().replace(" ", "") + ".com" for c in company]
    free = np.array(FREE_MAIL, dtype=object)[rng.integers(0, len(FREE_MAIL), n)]
    email = [f"{a.lower()}.{b.lower()}{i}@{free[k] if no_company[k] else domains[k]}"
             for k, (a, b, i) in enumerate(zip(first, last, ids))]
    comp = [None if no_company[k] else names[c] for k, c in enumerate(company)]
    for j, k in enumerate(tests):
        if j % 2 == 0:
            email[k] = f"test+{ids[k]}@{domains[k]}"
            person[k] = f"Test User {ids[k]}"
        else:
            email[k] = f"qa.{ids[k]}@example.com"
    created = _stamps(signup_sec).astype(object)
    people = {"id": [int(i) for i in ids], "name": person, "email": email, "company": comp,
              "created_at": list(created), "plan": list(plan)}
    events = {"user_id": ev_user, "event_type": ev_kind, "timestamp": stamps}
    if spec.dirty:
        events = _dirty_events(events, rng, n)
        people = _dirty_people(people)
    events["event_id"] = np.arange(1, len(events["user_id"]) + 1)
    return UsageData(people, events, sorted(int(ids[b]) for b in bots), sorted(int(ids[t]) for t in tests))


def _dirty_events(events: dict[str, np.ndarray], rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    total = len(events["user_id"])
    k = max(3, total // 5000)
    at = np.sort(rng.choice(total, size=3 * k, replace=False))
    user, kind, stamp = (events[c].copy() for c in ("user_id", "event_type", "timestamp"))
    stamp[at[:k]] = np.array(["not a date", "2024-13-45 10:00:00", "31/02/2024 10:00"], dtype=object)[np.arange(k) % 3]
    user[at[k:2 * k]] = n + 1000 + np.arange(k)  # names no person
    user[at[2 * k:]] = None
    return {"user_id": user, "event_type": kind, "timestamp": stamp}


def _dirty_people(people: dict[str, list]) -> dict[str, list]:
    """A person without an id, and a second row of person 5 that disagrees on the email."""
    out = {c: list(v) for c, v in people.items()}
    extra = [(None, "No Id", "no.id@gmail.com", None, "2024-03-01 09:00:00", "free"),
             (5, out["name"][4], "other." + str(out["email"][4]), out["company"][4], out["created_at"][4], "team")]
    for row in extra:
        for c, v in zip(("id", "name", "email", "company", "created_at", "plan"), row):
            out[c].append(v)
    return out


def write(path: Path, data: UsageData) -> dict[str, int]:
    """The rows as a SQLite file: `people` (id, name, email, company, created_at, plan) and `events`
    (event_id, user_id, event_type, timestamp); no constraints, as an export has none."""
    def go(tmp: Path) -> None:
        con = sqlite3.connect(tmp)
        try:
            con.execute("CREATE TABLE people (id INTEGER, name TEXT, email TEXT, company TEXT, created_at TEXT, "
                        "plan TEXT)")
            con.execute("CREATE TABLE events (event_id INTEGER, user_id INTEGER, event_type TEXT, timestamp TEXT)")
            p = data.people
            con.executemany("INSERT INTO people VALUES (?,?,?,?,?,?)",
                            zip(p["id"], p["name"], p["email"], p["company"], p["created_at"], p["plan"]))
            e = data.events
            uid = [None if u is None else int(u) for u in e["user_id"]]
            con.executemany("INSERT INTO events VALUES (?,?,?,?)",
                            zip(e["event_id"].tolist(), uid, e["event_type"].tolist(), e["timestamp"].tolist()))
            con.commit()
        finally:
            con.close()

    write_atomically(path, go)
    return {"people": len(data.people["id"]), "events": len(data.events["user_id"])}


def generate(path: Path, spec: UsageDemoSpec, *, force: bool = False) -> dict[str, int]:
    """Write `spec`'s database to `path` (replaced only with `force`); rows per table."""
    if path.exists() and not force:
        raise FileExistsError(path)
    return write(path, rows(spec))
