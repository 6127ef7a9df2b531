"""Check an API answer against what was sent, before anything of it is stored.

Every sent session must come back exactly once, nothing unknown may come back, and each
conversion's `ihc` must sum to 1 within 1e-3 (the API rounds to 4 decimals). A 206 lists failed
journeys: those are returned as failures; any other gap makes the whole answer invalid (retried).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from martops.attribution.ihc_api.payload import Journey

SUM_TOLERANCE = 1e-3
PHASES = ("initializer", "holder", "closer", "ihc")


class InvalidAnswer(Exception):
    """The response does not match the request; the chunk is retried."""


@dataclasses.dataclass
class Answer:
    rows: list[dict[str, Any]]          # one per (conversion, session) of answered journeys
    failed: dict[str, str]              # conv_id -> error, from a 206


def _failure_messages(errors: Any, sent: set[str]) -> dict[str, str]:
    """partialFailureErrors in whatever shape it comes: dicts naming a conversion, or strings."""
    found: dict[str, str] = {}
    for item in errors or []:
        if isinstance(item, dict):
            conv = item.get("conversion_id") or item.get("conv_id") or item.get("conversionId")
            msg = item.get("error") or item.get("message") or item.get("errorMessage") or str(item)
            if conv is not None and str(conv) in sent:
                found[str(conv)] = str(msg)
        else:
            for conv in sent:
                if conv in str(item):
                    found[conv] = str(item)
    return found


def parse_answer(payload: Any, chunk: list[Journey], http_status: int) -> Answer:
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise InvalidAnswer("body is not an object with a 'value' list")
    status = payload.get("statusCode", http_status)
    partial = status == 206 or http_status == 206
    expected = {j.conv_id: {r["session_id"] for r in j.rows} for j in chunk}
    got: dict[str, dict[str, dict]] = {}
    for item in payload["value"]:
        if not isinstance(item, dict):
            raise InvalidAnswer(f"value item is not an object: {str(item)[:80]}")
        conv, sess = str(item.get("conversion_id")), str(item.get("session_id"))
        if conv not in expected or sess not in expected[conv]:
            raise InvalidAnswer(f"answer has a session that was not sent: conversion {conv}, session {sess}")
        if sess in got.setdefault(conv, {}):
            raise InvalidAnswer(f"answer has session {sess} of conversion {conv} twice")
        values = {}
        for phase in PHASES:
            v = item.get(phase)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < -1e-9:
                raise InvalidAnswer(f"conversion {conv}, session {sess}: {phase}={v!r} is not a credit >= 0")
            values[phase] = float(v)
        got[conv][sess] = values
    failed = _failure_messages(payload.get("partialFailureErrors"), set(expected)) if partial else {}
    rows = []
    for conv, sessions in expected.items():
        answered = got.get(conv, {})
        if not answered:
            if partial:
                failed.setdefault(conv, "not answered (HTTP 206 partial failure)")
                continue
            raise InvalidAnswer(f"conversion {conv} is missing from the answer")
        if conv in failed:
            raise InvalidAnswer(f"conversion {conv} is listed as failed but was answered")
        if set(answered) != sessions:
            missing = sorted(sessions - set(answered))
            raise InvalidAnswer(f"conversion {conv}: {len(missing)} session(s) missing, e.g. {missing[0]}")
        total = sum(v["ihc"] for v in answered.values())
        if abs(total - 1) > SUM_TOLERANCE:
            raise InvalidAnswer(f"conversion {conv}: ihc sums to {total:.6f}, not 1 (within {SUM_TOLERANCE})")
        rows.extend({"conv_id": conv, "session_id": s, **v} for s, v in answered.items())
    return Answer(rows, failed)
