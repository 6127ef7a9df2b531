"""channel_reporting as CSV with CPO and ROAS, written atomically and byte-identically."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import ibis

from martops.attribution import tables as T
from martops.engine import Warehouse
from martops.errors import StepError
from martops.export_files import write_atomically

COLUMNS = ["channel_name", "date", "cost", "ihc", "ihc_revenue", "CPO", "ROAS", "unknown_cost_sessions"]


def _fmt(value) -> str:
    """Empty for a missing ratio (never inf/NaN); floats rounded so the text is stable."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = repr(round(value, 6))
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def export_channel_reporting(
    wh: Warehouse, model: str, out: str | Path,
    since: dt.date | None = None, until: dt.date | None = None,
) -> int:
    """CPO = cost / ihc (cost of one attributed order), ROAS = ihc_revenue / cost.

    An unknown cost (NULL) stays empty, and so do its CPO and ROAS; `unknown_cost_sessions` says how
    many sessions of the row have an unknown cost (where it is > 0 and cost is given, cost, CPO and
    ROAS cover the known costs only).

    Raises OutputError (and leaves no file behind) when `out` is a directory or cannot be written.
    """
    if not wh.exists(T.CHANNEL_REPORTING):
        raise StepError("channel_reporting is empty; run `martops attribution report` first")
    t = wh.table(T.CHANNEL_REPORTING)
    t = t.filter(t.model == model)
    if since is not None:
        t = t.filter(t.date >= since)
    if until is not None:
        t = t.filter(t.date <= until)
    unknown = t.unknown_cost_sessions if "unknown_cost_sessions" in t.columns else ibis.literal(0)
    t = t.select(
        "channel_name", "date", "cost", "ihc", "ihc_revenue", unknown_cost_sessions=unknown.fill_null(0),
        CPO=ibis.ifelse(t.ihc != 0, t.cost / t.ihc, ibis.null("float64")),
        ROAS=ibis.ifelse(t.cost != 0, t.ihc_revenue / t.cost, ibis.null("float64")),
    ).order_by(["date", "channel_name"])
    rows = wh.to_pyarrow(t).to_pylist()

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow([_fmt(r[c]) for c in COLUMNS])

    write_atomically(out, write)
    return len(rows)
