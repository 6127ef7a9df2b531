"""Check an API answer against what was sent, before anything of it is stored.

Every sent session must come back exactly once, nothing unknown may come back, and each
conversion's `ihc` must sum to 1 within 1e-3 (the API rounds to 4 decimals). A journey that breaks
this fails alone (recorded in ops.ihc_api_failures, like a journey a 206 lists) and the valid
journeys of the same answer are kept; only an answer that is wrong as a whole is retried.
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


def _phases(item: dict) -> dict[str, float] | str:
    """The four credits of an answer row, or why they are not credits."""
    values = {}
    for phase in PHASES:
        v = item.get(phase)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < -1e-9:
            return f"{phase}={v!r} is not a credit >= 0"
        values[phase] = float(v)
    return values


def parse_answer(payload: Any, chunk: list[Journey], http_status: int) -> Answer:
    """Valid journeys as rows; each invalid or unanswered journey as a failure with its reason.

    Raises InvalidAnswer (the chunk is retried) only for faults of the whole answer: a body that is
    not the API's shape, an item that is not an object, a conversion that was not sent, or a
    conversion missing from a 200 answer that lists no failures (an answer cut short). A journey whose
    own answer is wrong (a session missing, twice or unknown, a credit that is not a number >= 0,
    `ihc` not summing to 1) fails alone, like a journey a 206 lists: the others are kept.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise InvalidAnswer("body is not an object with a 'value' list")
    status = payload.get("statusCode", http_status)
    partial = status == 206 or http_status == 206
    expected = {j.conv_id: {r["session_id"] for r in j.rows} for j in chunk}
    got: dict[str, dict[str, dict]] = {}
    invalid: dict[str, str] = {}
    for item in payload["value"]:
        if not isinstance(item, dict):
            raise InvalidAnswer(f"value item is not an object: {str(item)[:80]}")
        conv, sess = str(item.get("conversion_id")), str(item.get("session_id"))
        if conv not in expected:
            raise InvalidAnswer(f"answer has a conversion that was not sent: {conv}")
        values = _phases(item)
        if sess not in expected[conv]:
            invalid.setdefault(conv, f"answer has session {sess}, which was not sent")
        elif sess in got.setdefault(conv, {}):
            invalid.setdefault(conv, f"answer has session {sess} twice")
        elif isinstance(values, str):
            invalid.setdefault(conv, f"session {sess}: {values}")
        else:
            got[conv][sess] = values
    failed = _failure_messages(payload.get("partialFailureErrors"), set(expected)) if partial else {}
    missing = [c for c in expected if c not in got and c not in invalid and c not in failed]
    if missing and not partial:
        raise InvalidAnswer(f"conversion {missing[0]} is missing from the answer")
    rows = []
    for conv, sessions in expected.items():
        answered = got.get(conv, {})
        if conv in failed:
            if answered:
                raise InvalidAnswer(f"conversion {conv} is listed as failed but was answered")
            continue
        if not answered and conv not in invalid:
            failed[conv] = "not answered (HTTP 206 partial failure)"
            continue
        problem = invalid.get(conv) or _journey_problem(answered, sessions)
        if problem:
            failed[conv] = f"invalid answer: {problem}"
            continue
        rows.extend({"conv_id": conv, "session_id": s, **v} for s, v in answered.items())
    return Answer(rows, failed)


def _journey_problem(answered: dict[str, dict], sessions: set[str]) -> str | None:
    if set(answered) != sessions:
        gone = sorted(sessions - set(answered))
        return f"{len(gone)} session(s) missing, e.g. {gone[0]}"
    total = sum(v["ihc"] for v in answered.values())
    if abs(total - 1) > SUM_TOLERANCE:
        return f"ihc sums to {total:.6f}, not 1 (within {SUM_TOLERANCE})"
    return None
