"""The usage domain's built-in checks, per warehouse table: keys present and unique at each table's
grain, counts not negative, shares between 0 and 1, tiers among the documented ones."""

from __future__ import annotations

import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig
from martops.usage import tables as T


def staging_people(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["user_id"]), B.unique(t, name, ["user_id"])]


def staging_events(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["user_id", "event_type", "activity_month"]), B.unique(t, name, ["_row"])]


def customers(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["customer_id", "tier", "interactions"]), B.unique(t, name, ["customer_id"]),
            B.non_negative(t, name, "interactions"), B.non_negative(t, name, "recent"),
            B.accepted_values(t, name, "tier", list(T.TIER_ORDER))]


def companies(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["company", "seats", "tier"]), B.unique(t, name, ["company"]),
            B.value_range(t, name, "active_share", 0, 1), B.non_negative(t, name, "interactions_per_seat"),
            B.accepted_values(t, name, "tier", list(T.TIER_ORDER))]


def tiers(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["entity", "tier", "members"]), B.unique(t, name, ["entity", "tier"]),
            B.value_range(t, name, "share", 0, 1)]


def retention(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["cohort", "months_since_signup"]), B.unique(t, name, ["cohort", "months_since_signup"]),
            B.value_range(t, name, "retention", 0, 1)]


def event_types(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.unique(t, name, ["entity", "entity_id", "event_type"]), B.non_negative(t, name, "interactions")]


TABLE_CHECKS = {
    T.STAGING_PEOPLE: staging_people, T.STAGING_EVENTS: staging_events, T.CUSTOMERS: customers,
    T.COMPANIES: companies, T.TIERS: tiers, T.RETENTION: retention, T.EVENT_TYPES: event_types,
}
STAGING_SOURCES = {T.STAGING_PEOPLE: ("usage_people",), T.STAGING_EVENTS: ("usage_events",)}
"""Staging table -> its `ops.quarantine.table_name` (for `martops status`)."""
