"""Reading the KPI mart back: summaries for `kpis show`, files for `kpis export`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Collection

from martops.campaigns import mart
from martops.campaigns import tables as T
from martops.engine import Warehouse
from martops.export_files import write_table
from martops.errors import ConfigError, MartopsError, StepError

SHOW_BY = {"funnel": "funnel", "channel_3": "channel_3", "channel_4": "channel_4", "channel_5": "channel_5",
           "country": "country_code", "campaign": "campaign_name", "budget_category": "budget_category"}
SHOWN = ["spend_eur", "leads", "meetings", "deals", "sessions", "orders", "cac", "cpl", "ctr", "lead_to_meeting",
         "session_to_order"]
GRAINS = {"daily": T.DAILY, "weekly": T.WEEKLY, "monthly": T.MONTHLY}
NONE_LABEL = "(none)"


def _mart(wh: Warehouse, table: str = T.DAILY):
    if not wh.exists(table):
        raise MartopsError(f"{table} does not exist in {wh.location}; build it first: "
                           "martops kpis build --source <folder of exports>")
    return wh.table(table)


def _in_range(t, column: str, since: dt.date | None, until: dt.date | None):
    if since is not None:
        t = t.filter(t[column] >= since)
    if until is not None:
        t = t.filter(t[column] <= until)
    return t


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def selected_span(wh: Warehouse, table: str, column: str, since: dt.date | None,
                  until: dt.date | None) -> tuple[dt.date, dt.date]:
    """The first and last `column` date of `table`'s rows in [since, until]. An empty selection
    is not an empty table: ConfigError when since > until, StepError naming the dates it has."""
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    t = _mart(wh, table)
    sel = _in_range(t, column, since, until)
    got = wh.to_pyarrow(sel.aggregate(first=sel[column].min(), last=sel[column].max())).to_pylist()[0]
    if got["first"] is not None:
        return _as_date(got["first"]), _as_date(got["last"])
    has = wh.to_pyarrow(t.aggregate(first=t[column].min(), last=t[column].max())).to_pylist()[0]
    held = (f"its rows are dated {_as_date(has['first'])}..{_as_date(has['last'])}" if has["first"] is not None
            else "it has no rows; build it with `martops kpis build --source <folder of exports>`")
    asked = f"{since}..{until}" if since and until else f"from {since}" if since else f"up to {until}"
    raise StepError(f"no rows of {table} dated {asked}; {held}")


def kpi_summary(wh: Warehouse, since: dt.date | None, until: dt.date | None,
                by: str) -> tuple[list[dict], list[str], tuple[dt.date, dt.date]]:
    """Rows per value of `by` (largest spend first) plus a TOTAL row; KPIs are ratios of sums.
    Also the first and last day summed; errors as `selected_span` when the range selects no day."""
    column = SHOW_BY[by]
    span = selected_span(wh, T.DAILY, "date", since, until)
    day = _in_range(_mart(wh), "date", since, until)
    day = day.mutate(**{by: day[column].fill_null(NONE_LABEL)})
    rows = wh.to_pyarrow(mart.summary(day, [by]).select(by, *SHOWN)).to_pylist()
    total = wh.to_pyarrow(mart.summary(day, []).select(*SHOWN)).to_pylist()
    if total and any(v is not None for v in total[0].values()):
        rows.append({by: "TOTAL", **total[0]})
    return rows, [by, *SHOWN], span


def export_mart(wh: Warehouse, table: str, out: Path, since: dt.date | None = None,
                until: dt.date | None = None, money: Collection[str] | None = None) -> int:
    """A whole mart table (optionally a date range), ordered by its grain, to CSV/Parquet."""
    t = _mart(wh, table)
    day = "date" if "date" in t.columns else "period_start"
    selected_span(wh, table, day, since, until)
    data = wh.to_pyarrow(_in_range(t, day, since, until).order_by([day, "funnel", "campaign_id", "country_code"]))
    write_table(data, Path(out), money)
    return data.num_rows
