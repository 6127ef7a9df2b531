"""What `martops leads show` and `leads explain` print, read from the lead tables (never
recomputed here, so the screen, the export and the warehouse agree)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.leads import tables as T
from martops.results import View

VIEWS = {
    "scores": (T.SCORES, ["lead_id", "score", "probability", "rules_score", "grade", "sales_ready", "top_reasons",
                          "model_version"]),
    "sales-ready": (T.SCORES, ["lead_id", "rules_score", "grade", "score", "probability", "rules_reasons"]),
    "companies": (T.COMPANY_SCORES, ["company", "contacts", "company_score", "grade", "sales_ready", "aggregation"]),
    "metrics": (T.METRICS, ["scorer", "detail", "metric", "value"]),
    "leakage": (T.LEAKAGE, ["field", "flagged", "excluded", "single_auc", "one_class_share", "auc_kept_columns",
                            "auc_with_column", "reasons"]),
    "calibration": (T.CALIBRATION, ["bin", "lower", "upper", "leads", "mean_predicted", "observed_rate"]),
    "drift": (T.DRIFT, ["field", "psi", "status", "model_version"]),
}
"""view -> (table, the columns the screen shows, most telling first)."""
HINT = {T.SCORES: "martops leads score --input FILE", T.COMPANY_SCORES: "martops leads score (with leads.company.key)",
        T.DRIFT: "martops leads score (with a saved model)"}


def _table(wh: Warehouse, table: str):
    if not wh.exists(table):
        raise ConfigError(f"{table} does not exist yet; run {HINT.get(table, 'martops leads train --input FILE')}")
    return wh.table(table)


def _day(v: Any) -> dt.date | None:
    """A date from what an engine returns for max(date): a date, a datetime, None or pandas' NaT."""
    if v is None or v != v:  # NaT is not equal to itself
        return None
    return v.date() if isinstance(v, dt.datetime) else v


def latest_as_of(wh: Warehouse, table: str) -> dt.date:
    t = _table(wh, table)
    day = _day(wh.scalar(t.as_of.max()))
    if day is None:
        raise ConfigError(f"{table} holds no rows yet; run {HINT.get(table, 'martops leads score --input FILE')}")
    return day


def latest_version(wh: Warehouse, table: str) -> str:
    t = _table(wh, table)
    versions = [v for v in wh.to_pyarrow(t.select("model_version").distinct()).column(0).to_pylist() if v]
    if not versions:
        raise ConfigError(f"{table} holds no model's rows yet; run martops leads train --input FILE")
    return max(versions, key=lambda v: int(v[1:]) if v[1:].isdigit() else -1)


def _require(wh: Warehouse, t, selected, flag: str, table: str, column: str) -> None:
    """ConfigError listing what `table` holds when the selection `flag` names none of its rows: an
    empty table would read as "nothing there" when the flag has a typo."""
    if int(wh.scalar(t.filter(selected).count())):
        return
    there = sorted(str(v)[:10] for v in wh.to_pyarrow(t.select(column).distinct()).column(0).to_pylist() if v)
    raise ConfigError(f"{flag}: {table} has no rows for it; it holds {', '.join(there[-10:]) or 'none yet'}")


def show(wh: Warehouse, view: str, as_of: dt.date | None = None, version: str | None = None) -> View:
    if view not in VIEWS:
        raise ConfigError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    table, columns = VIEWS[view]
    t = _table(wh, table)
    headlines: list[str] = []
    if "as_of" in t.columns:
        day = as_of or latest_as_of(wh, table)
        if as_of is not None:
            _require(wh, t, t.as_of == day, f"--as-of {day.isoformat()}", table, "as_of")
        t = t.filter(t.as_of == day)
        title = f"{table} as of {day.isoformat()}"
        if view == "sales-ready":
            t = t.filter(t.sales_ready)
        if view == "drift":
            t = t.order_by([ibis.desc("psi"), "field"])
        elif "score" in t.columns:
            t = t.order_by([ibis.desc(t.score), ibis.desc(t.rules_score), t.lead_id])
        elif "company_score" in t.columns:
            t = t.order_by([ibis.desc(t.company_score), t.company])
    else:
        v = version or latest_version(wh, table)
        if version is not None:
            _require(wh, t, t.model_version == v, f"--version {v}", table, "model_version")
        t = t.filter(t.model_version == v)
        title = f"{table} of model {v}"
        order = {"metrics": ["scorer", "metric"], "leakage": [ibis.desc("flagged"), ibis.desc("single_auc")],
                 "calibration": ["bin"]}[view]
        t = t.order_by(order)
    rows = wh.to_pyarrow(t).to_pylist()
    if view == "scores" and rows:
        ready = sum(1 for r in rows if r["sales_ready"])
        headlines.append(f"{len(rows):,} leads scored, {ready:,} sales-ready (rules score at or above leads.rules."
                         "sales_ready)")
    return View(title, columns, rows, headlines)


def explain(wh: Warehouse, lead_id: str, as_of: dt.date | None = None) -> tuple[dict, list[dict], list[dict]]:
    """(the lead's marts.lead_scores row, its rules reasons, its model reasons) for the as-of date
    (default: the latest the lead was scored for)."""
    t = _table(wh, T.SCORES)
    mine = t.filter(t.lead_id == lead_id)
    day = as_of or _day(wh.scalar(mine.as_of.max()))
    if day is None:
        _quarantined(wh, lead_id)
        n = int(wh.scalar(t.lead_id.nunique()))
        raise ConfigError(f"lead {lead_id!r} is not in {T.SCORES} ({n:,} leads scored); check the id, or score it "
                          "first: martops leads score --input FILE")
    row = wh.to_pyarrow(mine.filter(mine.as_of == day)).to_pylist()
    if not row:
        raise ConfigError(f"lead {lead_id!r} was not scored as of {day.isoformat()}; leave --as-of out for its "
                          "latest scores")
    r = _table(wh, T.REASONS)
    r = r.filter((r.lead_id == lead_id) & (r.as_of == day)).order_by(["kind", "rank"])
    reasons = wh.to_pyarrow(r).to_pylist()
    return row[0], [x for x in reasons if x["kind"] == "rules"], [x for x in reasons if x["kind"] == "model"]


def _quarantined(wh: Warehouse, lead_id: str) -> None:
    """ConfigError naming the row and the reason when the lead's row was quarantined by the last
    scoring run: it is absent from the scores for that reason, not because of a typo."""
    from martops.ops.quarantine import QUARANTINE

    if not wh.exists(QUARANTINE):
        return
    q = wh.table(QUARANTINE)
    q = q.filter((q.source == T.SOURCE) & (q.table_name == "leads") & (q.row_key == lead_id))
    hit = wh.to_pyarrow(q.order_by("row_number").limit(1).select("row_number", "reason")).to_pylist()
    if hit:
        raise ConfigError(f"lead {lead_id!r} was not scored: its row was quarantined: "
                          f"{hit[0]['reason']}; fix it and score again (martops quarantine --table leads)")
