"""Hand-written usage sources: every row a test needs, nothing else, and the figures they give,
worked out by hand in the comments of `PEOPLE` and `EVENTS`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from martops.engine import Warehouse

PEOPLE_COLUMNS = ("id", "name", "email", "company", "created_at")
EVENTS_COLUMNS = ("user_id", "event_type", "timestamp")

# As of 2024-03-31 (the last event day, a month end) with usage.trend_weeks: 1, the recent window is
# 2024-03-25..31 and the previous 03-18..24.
PEOPLE = [
    (1, "Ana Silva", "ana@acme.com", "Acme", "2024-01-05 08:00:00"),     # 7 events, recent 3, previous 1: up, medium
    (2, "Ben Jones", "ben@acme.com", " acme ", "2024-01-20"),            # recent 0, previous 2: stopped, dormant
    (3, "Cy Rossi", "cy@beta.io", "Beta", "2024-02-10"),                 # recent 1, previous 0: started, low
    (4, "Dee Patel", "dee@gmail.com", None, "2024-02-15"),               # no company; recent 4: high
    (5, "Test User", "test+5@acme.com", "Acme", "2024-01-10"),           # a test account: excluded
    (6, "Eve Berg", "eve@beta.io", "Beta", "2024-03-25T10:00:00"),       # signed up in the recent window: new
    (7, "Zed Okafor", "zed@beta.io", "Beta", "2024-01-02"),              # 6 events on one day (> 5): a bot
    (8, "Fay Costa", "fay@acme.com", "Acme", "2024-01-03"),              # no events: dormant
    (None, "Nobody", "no@acme.com", "Acme", "2024-01-01"),               # no id: quarantined
]
EVENTS = [
    (1, "login", "2024-01-05 09:00:00"), (1, "view", "2024-01-05 10:00:00"), (1, "login", "2024-02-01 09:00:00"),
    (1, "login", "2024-03-20 09:00:00"), (1, "view", "2024-03-26 09:00:00"), (1, "view", "2024-03-27 09:00:00"),
    (1, "login", "2024-03-31 09:00:00"),
    (1, "login", "2024-03-31 09:00:00"),          # an exact copy: dropped
    (1, "login", "2024-03-31T09:00:00"),          # the same event written differently: dropped
    (2, "login", "2024-01-21 10:00:00"), (2, "login", "2024-03-19 10:00:00"), (2, "login", "2024-03-21 10:00:00"),
    (3, "login", "2024-02-10 08:00:00"), (3, "view", "2024-03-25 08:00:00"),
    (4, "login", "2024-02-16 12:00:00"), (4, "login", "2024-03-28 12:00:00"), (4, "login", "2024-03-29 12:00:00"),
    (4, "export", "2024-03-30 12:00:00"), (4, "view", "2024-03-30 13:00:00"),
    (5, "login", "2024-03-30 09:00:00"),
    (6, "login", "2024-03-26 09:00:00"), (6, "view", "2024-03-27 09:00:00"),
    *[(7, "api_call", f"2024-03-01 00:00:0{s}") for s in range(1, 7)],
    (99, "login", "2024-03-02 09:00:00"),         # names no person: quarantined
    (None, "login", "2024-03-02 09:00:00"),       # names no one: quarantined
    (3, "login", "yesterday"),                    # no timestamp: quarantined
]
PROJECT = "usage:\n  trend_weeks: 1\n  exclude: {max_events_per_day: 5}\n"


def write_db(path: Path, people=PEOPLE, events=EVENTS, *, people_columns=PEOPLE_COLUMNS,
             events_columns=EVENTS_COLUMNS, people_table: str = "people", events_table: str = "events") -> Path:
    """A SQLite file with the two tables, no constraints (as an export has none)."""
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE {people_table} ({', '.join(people_columns)})")
    con.execute(f"CREATE TABLE {events_table} ({', '.join(events_columns)})")
    con.executemany(f"INSERT INTO {people_table} VALUES ({', '.join('?' * len(people_columns))})", people)
    con.executemany(f"INSERT INTO {events_table} VALUES ({', '.join('?' * len(events_columns))})", events)
    con.commit()
    con.close()
    return path


def write_csv_folder(folder: Path, files: dict[str, list[str]]) -> Path:
    """`files`: name -> lines (header first), written as `<name>.csv`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return folder


def by_key(wh: Warehouse, table: str, *key: str) -> dict:
    rows = wh.to_pyarrow(wh.table(table)).to_pylist()
    return {r[key[0]] if len(key) == 1 else tuple(r[k] for k in key): r for r in rows}
