"""The real public journeys of the IHC challenge, turned into a challenge-schema SQLite file.

The full challenge database is not public; `shared/datasets/ihc-challenge/` holds its journeys
in two shapes. We rebuild `session_sources` and `conversions` from them:

* sessions: every row of `sessions_by_conversion.json` (strictly before its conversion) plus the
  sessions `journeys.json` lists at the conversion's own timestamp;
* a conversion's timestamp is that at-conversion session's timestamp where there is one, else one
  second after its last earlier session (the export does not carry it: an assumption);
* revenue comes from `journeys.json`; conversions that appear in neither file with a session
  (no user, no date, no revenue) cannot be placed and are counted in `skipped_conversions`;
* `session_costs` stays empty: no costs were published, so CPO and ROAS export empty.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import sqlite3
from pathlib import Path

from martops.attribution.challenge_schema import SOURCE_TABLES, create_tables
from martops.errors import SourceError


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("T", " "))


def build_sample_db(dataset_dir: str | Path, out: str | Path) -> dict:
    dataset_dir, out = Path(dataset_dir), Path(out)
    files = {name: dataset_dir / f"{name}.json" for name in ("journeys", "sessions_by_conversion")}
    for f in files.values():
        if not f.exists():
            raise SourceError(f"{f} not found: expected the ihc-challenge dataset folder")
    journeys = json.loads(files["journeys"].read_text("utf-8"))
    before = json.loads(files["sessions_by_conversion"].read_text("utf-8"))

    rows_by_conv: dict[str, list[dict]] = collections.defaultdict(list)
    for r in journeys:
        rows_by_conv[r["conversion_id"]].append(r)

    sessions: dict[str, tuple] = {}
    conversions: list[tuple] = []
    skipped = 0
    for conv_id in sorted(set(before) | set(rows_by_conv)):
        prior = before.get(conv_id, [])
        jrows = rows_by_conv.get(conv_id, [])
        prior_ids = {s["session_id"] for s in prior}
        at_conv = [r for r in jrows if r["session_id"] not in prior_ids]
        if not prior and not at_conv:
            skipped += 1
            continue
        user = prior[0]["user_id"] if prior else f"user-of-{conv_id[:16]}"
        for s in prior:
            sessions[s["session_id"]] = (
                s["session_id"], s["user_id"], s["event_date"], s["event_time"], s["channel_name"],
                s["holder_engagement"], s["closer_engagement"], s["impression_interaction"],
            )
        for r in at_conv:
            t = _ts(r["timestamp"])
            sessions.setdefault(r["session_id"], (
                r["session_id"], user, t.date().isoformat(), t.time().isoformat(), r["channel_label"],
                r["holder_engagement"], r["closer_engagement"], r["impression_interaction"],
            ))
        if at_conv:
            conv_ts = max(_ts(r["timestamp"]) for r in at_conv)
        else:
            conv_ts = max(_ts(s["session_timestamp"]) for s in prior) + dt.timedelta(seconds=1)
        revenue = jrows[0]["revenue"] if jrows else 0.0
        conversions.append((conv_id, user, conv_ts.date().isoformat(), conv_ts.time().isoformat(), revenue))

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    con = sqlite3.connect(out)
    try:
        create_tables(con, SOURCE_TABLES)
        con.executemany("INSERT INTO session_sources VALUES (?,?,?,?,?,?,?,?)", sorted(sessions.values()))
        con.executemany("INSERT INTO conversions VALUES (?,?,?,?,?)", conversions)
        con.commit()
    finally:
        con.close()
    return {"sessions": len(sessions), "conversions": len(conversions), "skipped_conversions": skipped}
