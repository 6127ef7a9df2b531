"""Journeys as the API wants them, and chunks that respect its limits.

A journey is never split across requests: the API normalises each conversion's credit to 1 per
request, so a split journey silently comes back summing to 1 in each part.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any, Iterable

from martops.config import IhcApiConfig
from martops.errors import MartopsError

TIMESTAMP = "%Y-%m-%d %H:%M:%S"


class JourneyTooLong(MartopsError):
    """A journey has more sessions than one request may carry."""


@dataclasses.dataclass(frozen=True)
class Journey:
    conv_id: str
    conv_date: dt.date
    rows: tuple[dict[str, Any], ...]
    fingerprint: str
    truncated_from: int | None = None  # original session count when only recent ones are sent

    @property
    def sessions(self) -> int:
        return len(self.rows)


def _row(conv_id: str, s: dict, last: bool) -> dict[str, Any]:
    return {
        "conversion_id": str(conv_id),
        "session_id": str(s["session_id"]),
        "timestamp": s["session_ts"].strftime(TIMESTAMP),
        "channel_label": s["channel_name"],
        "holder_engagement": int(s["holder_engagement"]),
        "closer_engagement": int(s["closer_engagement"]),
        "impression_interaction": int(s["impression_interaction"]),
        "conversion": 1 if last else 0,
    }


def fingerprint(rows: Iterable[dict], conv_type_id: str, redistribution: Any) -> str:
    """What an answer depends on; a stored answer is reused only while this is unchanged."""
    blob = json.dumps([conv_type_id, redistribution, list(rows)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def build_journeys(sessions_by_conv: dict[str, list[dict]], conv_dates: dict[str, dt.date],
                   cfg: IhcApiConfig, conv_type_id: str) -> list[Journey]:
    """sessions_by_conv: rows of attribution.journeys per conversion, in position order."""
    limit = cfg.max_sessions_per_request
    keep = min(cfg.keep_recent_sessions or limit, limit)
    redistribution = _redistribution(cfg)
    out = []
    for conv_id in sorted(sessions_by_conv):
        sessions = sessions_by_conv[conv_id]
        truncated_from = None
        if len(sessions) > limit:
            if cfg.long_journeys != "keep_recent":
                raise JourneyTooLong(
                    f"conversion {conv_id} has {len(sessions)} sessions, more than "
                    f"max_sessions_per_request={limit}; a journey cannot be split across requests. "
                    f"Raise the limit (if your account allows it) or set ihc_api.long_journeys: "
                    f"keep_recent in martops.yml to send its {keep} most recent sessions."
                )
            truncated_from, sessions = len(sessions), sessions[-keep:]
        rows = tuple(_row(conv_id, s, i == len(sessions) - 1) for i, s in enumerate(sessions))
        out.append(Journey(conv_id, conv_dates[conv_id], rows,
                           fingerprint(rows, conv_type_id, redistribution), truncated_from))
    return out


def plan_chunks(journeys: list[Journey], max_journeys: int, max_sessions: int) -> list[list[Journey]]:
    """Greedy, in order: fill a request until either limit would be exceeded."""
    chunks: list[list[Journey]] = []
    current: list[Journey] = []
    size = 0
    for j in journeys:
        if j.sessions > max_sessions:
            raise JourneyTooLong(f"conversion {j.conv_id}: {j.sessions} sessions > {max_sessions}")
        if current and (len(current) >= max_journeys or size + j.sessions > max_sessions):
            chunks.append(current)
            current, size = [], 0
        current.append(j)
        size += j.sessions
    if current:
        chunks.append(current)
    return chunks


def _redistribution(cfg: IhcApiConfig) -> dict | None:
    if not cfg.redistribution_parameter:
        return None
    return {phase: p.model_dump() for phase, p in cfg.redistribution_parameter.items()}


def request_body(chunk: list[Journey], cfg: IhcApiConfig) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_journeys": [r for j in chunk for r in j.rows]}
    redistribution = _redistribution(cfg)
    if redistribution:
        body["redistribution_parameter"] = redistribution
    return body
