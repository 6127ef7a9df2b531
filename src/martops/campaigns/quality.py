"""The campaign mart's built-in checks, per warehouse table.

Staging rows already passed typing (bad ones are in quarantine), so staging checks prove it did.
Funnel monotonicity is a warning: the real exports break it in most rows (steps are counted on
different days and systems), and the count with examples is the useful part, not a stop.
"""

from __future__ import annotations

import dataclasses

import ibis.expr.types as ir

from martops.campaigns import tables as T
from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig

SALES_STEPS = ["leads", "sqls", "meetings", "signed"]
WEB_STEPS = ["sessions", "signups", "orders"]


def _tagged(check: Check, tag: str) -> Check:
    return dataclasses.replace(check, name=f"{check.name} [{tag}]")


def channels(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["campaign_id"]), B.unique(t, name, ["campaign_id"])]


def leads(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["date", "country_code", "campaign_id", "currency", "product"]),
        B.non_negative(t, name, "spend_eur"),
        B.value_range(t, name, "fx_rate", min=0),
    ]


def web(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["date", "country_code", "campaign_id"]), B.non_negative(t, name, "spend_eur")]


def snapshot(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    cur = t.filter(t.valid_to.isnull())
    return [
        B.not_null(t, name, ["snapshot_key", "valid_from"]),
        B.unique(t, name, ["snapshot_key", "valid_from"]),
        _tagged(B.unique(cur, name, ["funnel", "date", "country_code", "campaign_id"]), "current"),
        _tagged(B.value_range(t.mutate(_span_seconds=t.valid_to.epoch_seconds() - t.valid_from.epoch_seconds()),
                              name, "_span_seconds", min=0), "valid_to >= valid_from"),
    ]


def daily(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    parent = t.get_backend().table(T.CHANNELS.split(".")[1], database=T.CHANNELS.split(".")[0])
    ids = t.select("campaign_id").distinct()
    orphans = B.relationships(ids, name, "campaign_id", parent, T.CHANNELS, "campaign_id", severity="warn")
    return [
        B.not_null(t, name, ["date", "funnel", "campaign_id", "country_code"]),
        B.unique(t, name, ["date", "campaign_id", "country_code", "funnel"]),
        B.accepted_values(t, name, "funnel", list(T.FUNNELS)),
        B.non_negative(t, name, "spend_eur"),
        _tagged(B.monotonic_funnel(t.filter(t.funnel == "sales_assisted"), name, SALES_STEPS, "warn"), "sales_assisted"),
        _tagged(B.monotonic_funnel(t.filter(t.funnel == "web"), name, WEB_STEPS, "warn"), "web"),
        orphans,
    ]


def rollup(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["period_start", "funnel", "campaign_id", "country_code"]),
        B.unique(t, name, ["period_start", "campaign_id", "country_code", "funnel"]),
        B.non_negative(t, name, "spend_eur"),
    ]


TABLE_CHECKS = {
    T.CHANNELS: channels, T.LEADS: leads, T.WEB: web, T.SNAPSHOT: snapshot,
    T.DAILY: daily, T.WEEKLY: rollup, T.MONTHLY: rollup,
}
STAGING_SOURCES = {T.CHANNELS: ("channels",), T.LEADS: ("leads_funnel",), T.WEB: ("web_orders",)}
LOAD_STEP = "kpis.load"
