"""The attribution domain's built-in checks, per warehouse table.

Ingest already quarantines rows with NULL keys, duplicates and unparseable values, so the staging
checks are the proof that it did, plus business sanity (no negative revenue or cost) that a
parser cannot judge: those are warnings, because a refund is real data.
"""

from __future__ import annotations

import dataclasses

import ibis.expr.types as ir

from martops.attribution import tables as T
from martops.attribution.ihc_api.answers import SUM_TOLERANCE as API_TOLERANCE
from martops.attribution.models import API_MODEL
from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig

FLAGS = ("holder_engagement", "closer_engagement", "impression_interaction")


def sessions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["session_id", "user_id", "event_date", "session_ts", "channel_name"]),
        B.unique(t, name, ["session_id"]),
        *[B.accepted_values(t, name, flag, [0, 1]) for flag in FLAGS],
        B.non_negative(t, name, "cost", severity="warn"),
    ]


DOUBLE_FIRED = "probable double-fired conversion (several conv_ids, one user_id, same second, same revenue)"


def conversions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    """Besides keys and sanity: one user converting twice in the same second for the same revenue is
    almost always a tag firing twice, not two orders; a warning with examples, since it can be real."""
    second = t.mutate(conv_second=t.conv_ts.truncate("s"))
    return [
        B.not_null(t, name, ["conv_id", "user_id", "conv_date", "conv_ts", "revenue"]),
        B.unique(t, name, ["conv_id"]),
        B.non_negative(t, name, "revenue", severity="warn"),
        B.shared_by_several(second, name, ["user_id", "conv_second", "revenue"], "conv_id", DOUBLE_FIRED),
    ]


def journeys(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.unique(t, name, ["conv_id", "position"]), B.unique(t, name, ["conv_id", "session_id"])]


def customer_journey(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    """Credits sum to 1 per conversion: exactly for local models, to the API's rounding for ihc_api."""
    local, api = t.filter(t.model != API_MODEL), t.filter(t.model == API_MODEL)
    api_sums = B.sums_to(api, name, group_by=["model", "conv_id"], column="ihc", tolerance=API_TOLERANCE)
    return [
        B.not_nan(t, name, "ihc"),
        B.non_negative(t, name, "ihc"),
        B.sums_to(local, name, group_by=["model", "conv_id"], column="ihc"),
        dataclasses.replace(api_sums, name=f"{api_sums.name} [ihc_api]"),
        B.unique(t, name, ["model", "conv_id", "session_id"]),
    ]


def channel_reporting(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["model", "channel_name", "date"]),
        B.unique(t, name, ["model", "channel_name", "date"]),
        B.non_negative(t, name, "ihc"),
        B.non_negative(t, name, "cost", severity="warn"),
    ]


TABLE_CHECKS = {
    T.SESSIONS: sessions,
    T.CONVERSIONS: conversions,
    T.JOURNEYS: journeys,
    T.CUSTOMER_JOURNEY: customer_journey,
    T.CHANNEL_REPORTING: channel_reporting,
}


# staging table -> the source tables whose rows feed it (for `martops status` and quarantine counts)
STAGING_SOURCES = {
    T.SESSIONS: ("session_sources", "session_costs"),
    T.CONVERSIONS: ("conversions",),
}
INGEST_STEP = "attribution.ingest"
