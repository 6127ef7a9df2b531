"""Features of each lead as of a date: its mapped columns and the behaviour the warehouse holds.

- numeric columns as they are; booleans as 0/1; categorical levels as text; a date column as the
  days from it to the as-of date (a date itself means nothing to a model trained last year);
- per behaviour source `<name>` joined by `leads.key` (events dated after the as-of date are not
  counted, so a score is reproducible for its date): `<name>_count` (all events up to the as-of
  date), `<name>_recent` (within `recent_days`), `<name>_value` (sum of the value column) and
  `<name>_days_since_last` (NaN when none). A source whose table the warehouse lacks is skipped with
  a note (product usage may not be built yet);
- `days_since_activity`: days from the latest of the lead's `last_activity` date and its
  behaviour events to the as-of date (NaN when nothing is dated): what the rules' decay reads.

Missing values stay NaN / None here; each model handles them its own way (see `leads.model`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import numpy as np
import pandas as pd

from martops.config_leads import LeadsConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.leads.mapping import Mapping

ACTIVITY = "days_since_activity"


@dataclasses.dataclass(frozen=True)
class Feature:
    name: str
    kind: str
    """numeric | categorical (what the model sees)."""
    role: str
    """fit | engagement."""
    label: str
    """What a person calls it: the header, or the behaviour measure's name."""
    post_outcome: bool = False


@dataclasses.dataclass
class Frame:
    """Features (one row per lead, index lead_id), their descriptions, and notes for the report."""

    data: pd.DataFrame
    features: list[Feature]
    notes: list[str]

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)


def measures(cfg: LeadsConfig) -> list[str]:
    """Every behaviour measure name the configured sources can give (for rules' field names)."""
    out = []
    for name, src in cfg.behaviour.items():
        out += [f"{name}_count", f"{name}_recent", f"{name}_days_since_last"]
        if src.value:
            out.append(f"{name}_value")
    return out


def _days(as_of: dt.date, dates: pd.Series) -> pd.Series:
    d = pd.to_datetime(dates, errors="coerce")
    return (pd.Timestamp(as_of) - d).dt.days.astype("float64")


def behaviour(wh: Warehouse | None, cfg: LeadsConfig, keys: pd.Series, as_of: dt.date
              ) -> tuple[pd.DataFrame, list[Feature], pd.Series, list[str]]:
    """(measures per lead, their features, the latest event date per lead, notes). `keys`: the
    lead's key per lead_id (index)."""
    out = pd.DataFrame(index=keys.index)
    feats: list[Feature] = []
    notes: list[str] = []
    last = pd.Series(pd.NaT, index=keys.index, dtype="datetime64[ns]")
    if wh is None:
        return out, feats, last, notes
    clean = keys.astype("string").str.strip()
    for name, src in cfg.behaviour.items():
        setting = f"leads.behaviour.{name}"
        if not wh.exists(src.table):
            notes.append(f"{name}: {src.table} is not in the warehouse; no {name} measures")
            continue
        t = wh.table(src.table)
        for what, col in (("key", src.key), ("date", src.date), ("value", src.value)):
            if col is not None and col not in t.columns:
                raise ConfigError(f"{setting}.{what}: {src.table} has no column {col!r} (its columns: "
                                  f"{', '.join(t.columns)})")
        day = t[src.date].cast("date")
        lo = as_of - dt.timedelta(days=src.recent_days)
        ev = t.select(k=t[src.key].cast("string").strip(), d=day,
                      v=t[src.value].cast("float64") if src.value else ibis.literal(0.0))
        ev = ev.filter(ev.d.notnull() & (ev.d <= as_of) & ev.k.notnull())
        agg = ev.group_by("k").aggregate(n=ev.count(), recent=(ev.d > lo).cast("int64").sum(), value=ev.v.sum(),
                                         last=ev.d.max())
        got = wh.to_pyarrow(agg).to_pandas().set_index("k")
        j = got.reindex(clean.values)
        j.index = keys.index
        out[f"{name}_count"] = j["n"].fillna(0).astype("float64")
        out[f"{name}_recent"] = j["recent"].fillna(0).astype("float64")
        if src.value:
            out[f"{name}_value"] = j["value"].fillna(0).astype("float64")
        out[f"{name}_days_since_last"] = _days(as_of, j["last"])
        feats += [Feature(c, "numeric", "engagement", c) for c in out.columns if c.startswith(f"{name}_")]
        lasts = pd.to_datetime(j["last"], errors="coerce")
        last = pd.concat([last, lasts], axis=1).max(axis=1)
        matched = int(j["n"].notna().sum())
        notes.append(f"{name}: {matched:,} of {len(keys):,} leads have events in {src.table} up to {as_of}")
    return out, feats, last, notes


def build(staged: pd.DataFrame, m: Mapping, cfg: LeadsConfig, as_of: dt.date, wh: Warehouse | None) -> Frame:
    """The feature frame of staged leads (`staging.leads` rows as pandas)."""
    s = staged.set_index("lead_id")
    data = pd.DataFrame(index=s.index)
    feats: list[Feature] = []
    for c in m.columns:
        col = s[c.name]
        if c.type == "numeric":
            data[c.name] = col.astype("float64")
        elif c.type == "boolean":
            data[c.name] = col.map({True: 1.0, False: 0.0}).astype("float64")
        elif c.type == "date":
            data[c.name] = _days(as_of, col)
        else:
            data[c.name] = col.astype(object).where(col.notna(), None)
        kind = "categorical" if c.type == "categorical" else "numeric"
        feats.append(Feature(c.name, kind, c.role, c.header, c.post_outcome))
    keys = s["lead_key"] if "lead_key" in s.columns else pd.Series(None, index=s.index, dtype="string")
    beh, bfeats, last, notes = behaviour(wh if m.key is not None else None, cfg, keys, as_of)
    if m.key is None and cfg.behaviour:
        notes.append("no behaviour joined: leads.key names no column of the input")
    for c in beh.columns:
        data[c] = beh[c]
    feats += bfeats
    if m.last_activity is not None:
        own = pd.to_datetime(s[m.last_activity.name], errors="coerce")
        last = pd.concat([last, own], axis=1).max(axis=1)
    days = _days(as_of, last)
    data[ACTIVITY] = np.where(days < 0, 0.0, days)
    return Frame(data, feats, notes)
