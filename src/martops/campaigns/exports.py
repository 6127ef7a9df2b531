"""The POS Lite exports as a source: a folder holding `channels.csv` and the funnel files.

Any folder with the same shapes works: headers are matched trimmed and case-insensitively, extra
columns are ignored, a missing column is an error naming the file, the column and what it has.
Every column is read as text (campaign ids of 17-25 digits must never pass through a float), and
columns are renamed to the lower-case header, which is also what quarantine reasons say.
"""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir

from martops.config import CampaignSourceSettings, SourceSettings
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources import headers
from martops.sources.csv_folder import CsvFolder
from martops.sources.typed import ROW

COLUMNS: dict[str, tuple[str, ...]] = {
    "channels": ("campaign_id", "campaign_name", "campaign_period_budget_category",
                 "channel_3", "channel_4", "channel_5"),
    "leads_funnel": ("date", "currency", "country_code", "campaign_id", "campaign_name", "product",
                     "channel_3", "channel_4", "channel_5", "total_impressions", "total_clicks", "total_spend",
                     "total_leads", "total_fake_leads", "total_sqls", "total_meeting_done",
                     "total_signed_leads", "total_pos_lite_deals"),
    "web_orders": ("date", "country_code", "campaign_id", "total_spend_eur", "nb_of_sessions", "nb_of_signups",
                   "nb_of_orders", "nb_of_poslite_items_ordered", "nb_poslite_items_dispatched"),
}
SETTING = "sources.campaigns"
FUNNEL_FILES = {"sales_assisted": "leads_funnel", "web": "web_orders"}


class CampaignExports:
    """`channels.csv` is required (it names the campaigns); each funnel file is optional, so a
    re-delivery of one funnel is a valid delivery."""

    def __init__(self, wh: Warehouse, folder: str | Path, settings: SourceSettings | None = None):
        self.path = Path(folder)
        self.settings = settings or CampaignSourceSettings()
        if not self.path.is_dir():
            raise SourceError(f"{self.path} is not a folder; expected a folder holding channels.csv, "
                              "leads_funnel.csv and/or web_orders.csv")
        self.name = str(self.path.resolve())
        self._csv = CsvFolder(wh, self.path, delimiter=self.settings.delimiter, setting=SETTING)
        if not (self.path / "channels.csv").exists():
            raise SourceError(f"{self.path}: channels.csv is missing; it names the campaigns (files found: "
                              f"{sorted(p.name for p in self.path.glob('*.csv')) or 'none'})")
        self.funnels = {f: tbl for f, tbl in FUNNEL_FILES.items() if (self.path / f"{tbl}.csv").exists()}
        if not self.funnels:
            raise SourceError(f"{self.path}: neither leads_funnel.csv nor web_orders.csv is there; "
                              "a delivery needs at least one funnel export")
        self._headers = {t: self._header(t) for t in ["channels", *self.funnels.values()]}
        for table in self._headers:
            if not self._csv.has_rows(table):
                raise SourceError(f"{self.file(table)} has a header but no rows; an empty export is a failed "
                                  "export, not a day without data (leave the file out to skip a funnel)")

    def _header(self, table: str) -> dict[str, str]:
        """lower-case name -> the file's spelling, after checking every expected column is there."""
        found = self._csv.columns(table)
        names, missing = headers.match(found, list(COLUMNS[table]))
        if missing:
            raise SourceError(f"{self.path / (table + '.csv')}: column(s) {[c.upper() for c in missing]} missing; "
                              f"the header has {found}")
        return names

    def raw(self, table: str) -> ir.Table:
        """Every expected column as text, named in lower case, plus `_row` (the line in the file)."""
        names = self._headers[table]
        t = self._csv.raw(table, list(names.values()))
        return t.rename({low: orig for low, orig in names.items()}).select(ROW, *COLUMNS[table])

    def has_rows(self, table: str) -> bool:
        return self._csv.has_rows(table)

    def file(self, table: str) -> Path:
        return self.path / f"{table}.csv"

    def close(self) -> None:
        self._csv.close()
