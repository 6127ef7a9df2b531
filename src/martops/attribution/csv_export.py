"""channel_reporting as CSV with CPO and ROAS, written atomically and byte-identically."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import ibis

from martops.attribution import tables as T
from martops.engine import Warehouse
from martops.errors import StepError
from martops.export_files import csv_text, write_atomically

COLUMNS = ["channel_name", "date", "cost", "ihc", "ihc_revenue", "CPO", "ROAS", "unknown_cost_sessions"]
MONEY = ("cost", "ihc_revenue", "CPO")
"""Rounded to cents; the credit `ihc` and `ROAS` to 6 decimals (see `export_files.csv_text`)."""


def export_channel_reporting(
    wh: Warehouse, model: str, out: str | Path,
    since: dt.date | None = None, until: dt.date | None = None,
) -> int:
    """CPO = cost / ihc (cost of one attributed order), ROAS = ihc_revenue / cost. Money (cost,
    ihc_revenue, CPO) is rounded to cents, the credit and ROAS to 6 decimals.

    An unknown cost (NULL) stays empty, and so do its CPO and ROAS; `unknown_cost_sessions` says how
    many sessions of the row have an unknown cost (where it is > 0 and cost is given, cost, CPO and
    ROAS cover the known costs only).

    `since`/`until` keep the rows dated in [since, until] (the row's `date`, a session date).

    Raises StepError, writing nothing, when `model` has no rows in channel_reporting (naming the
    models that have) or none dated in the range (naming the dates it has); OutputError (and
    leaves no file behind) when `out` is a directory or cannot be written.
    """
    if not wh.exists(T.CHANNEL_REPORTING):
        raise StepError("channel_reporting is empty; run `martops attribution report` first")
    t = wh.table(T.CHANNEL_REPORTING)
    t = t.filter(t.model == model)
    span = _model_span(wh, t, model)
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
    if not rows:
        raise StepError(f"no rows of model {model!r} in channel_reporting dated {since or '...'}..{until or '...'}; "
                        f"its rows are dated {span[0]}..{span[1]}")

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow([csv_text(r[c], c in MONEY) for c in COLUMNS])

    write_atomically(out, write)
    return len(rows)


def _model_span(wh: Warehouse, rows: ibis.Table, model: str) -> tuple[dt.date, dt.date]:
    """The first and last date of the model's rows; StepError naming the models run when it has none."""
    span = wh.to_pyarrow(rows.aggregate(first=rows.date.min(), last=rows.date.max())).to_pylist()[0]
    if span["first"] is None:
        cr = wh.table(T.CHANNEL_REPORTING)
        models = sorted(wh.to_pyarrow(cr.select("model").distinct()).column("model").to_pylist())
        raise StepError(f"channel_reporting has no rows of model {model!r}; models run: "
                        f"{', '.join(models) or 'none'} (run `martops attribution attribute` and `report` with "
                        f"--model {model} first)")
    return tuple(v.date() if isinstance(v, dt.datetime) else v for v in (span["first"], span["last"]))
