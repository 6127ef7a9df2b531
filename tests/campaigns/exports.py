"""Hand-written POS Lite export folders: every row a test needs, nothing else."""

from __future__ import annotations

import csv
from pathlib import Path

from martops.campaigns.build import build
from martops.config import ProjectConfig
from martops.demo.campaigns import CHANNELS_HEADER, LEADS_HEADER, WEB_HEADER
from martops.engine import Warehouse
from martops.ops import runlog

ID = "120211151098440066"       # 18 digits: beyond float64's exact integers
LONG_ID = "11348193304807181773"  # 20 digits: beyond int64 too


def channel(cid: str = ID, name: str = "fb_es_landing_prospecting_pos-lite", budget: str = "alwayson",
            c3: str = "fb", c4: str = "fb prospecting", c5: str = "fb prospecting landing") -> dict:
    return dict(zip(CHANNELS_HEADER, (cid, name, budget, c3, c4, c5)))


def lead(date: str, cid: str = ID, *, country: str = "ES", currency: str = "EUR",
         name: str = "fb_es_landing_prospecting_pos-lite", product: str = "pos-lite",
         c3: str = "fb", c4: str = "fb prospecting", c5: str = "fb prospecting landing",
         impressions: str = "1000", clicks: str = "10", spend: str = "20", leads: str = "8", fake: str = "1",
         sqls: str = "6", meetings: str = "4", signed: str = "2", deals: str = "1") -> dict:
    return dict(zip(LEADS_HEADER, (date, currency, country, cid, name, product, c3, c4, c5, impressions, clicks,
                                   spend, leads, fake, sqls, meetings, signed, deals)))


def web(date: str, cid: str = ID, *, country: str = "ES", spend: str = "100.5", sessions: str = "50",
        signups: str = "5", orders: str = "2", items: str = "2", dispatched: str = "1") -> dict:
    return dict(zip(WEB_HEADER, (date, country, cid, spend, sessions, signups, orders, items, dispatched)))


def write_exports(folder: Path, channels: list[dict], leads: list[dict] | None = None,
                  webs: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (("channels", CHANNELS_HEADER, channels), ("leads_funnel", LEADS_HEADER, leads),
                               ("web_orders", WEB_HEADER, webs)):
        path = folder / f"{name}.csv"
        if rows is None:
            path.unlink(missing_ok=True)
            continue
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            w.writerows(rows)
    return folder


def run_build(wh: Warehouse, folder: Path, project: ProjectConfig | None = None):
    with runlog.invocation() as run_id:
        results, log = build(wh, folder, project or ProjectConfig())
    return run_id, results, log


def rows(wh: Warehouse, table: str, order: list[str] | None = None, where=None) -> list[dict]:
    t = wh.table(table)
    if where is not None:
        t = t.filter(where(t))
    if order:
        t = t.order_by(order)
    return wh.to_pyarrow(t).to_pylist()
