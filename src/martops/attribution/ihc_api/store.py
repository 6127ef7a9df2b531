"""Where API answers live: persisted per chunk, so a crash or Ctrl-C loses at most one request."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from martops.engine import Warehouse

ANSWERS = "attribution.ihc_api_answers"
FAILURES = "ops.ihc_api_failures"
REQUESTS = "ops.ihc_api_requests"
TRUNCATED = "ops.ihc_api_truncated"

ANSWERS_SCHEMA = ibis.schema({
    "conv_id": "string", "conv_date": "date", "session_id": "string", "initializer": "float64",
    "holder": "float64", "closer": "float64", "ihc": "float64", "fingerprint": "string",
    "run_id": "string", "answered_at": "timestamp",
})
FAILURES_SCHEMA = ibis.schema({"run_id": "string", "conv_id": "string", "conv_date": "date",
                               "error": "string", "recorded_at": "timestamp"})
REQUESTS_SCHEMA = ibis.schema({"run_id": "string", "chunk": "int64", "attempt": "int64", "status": "int64",
                               "journeys": "int64", "sessions": "int64", "seconds": "float64",
                               "error": "string", "at": "timestamp"})
TRUNCATED_SCHEMA = ibis.schema({"run_id": "string", "conv_id": "string", "sessions": "int64",
                                "sent": "int64", "recorded_at": "timestamp"})


def ensure_tables(wh: Warehouse) -> None:
    for name, schema in [(ANSWERS, ANSWERS_SCHEMA), (FAILURES, FAILURES_SCHEMA),
                         (REQUESTS, REQUESTS_SCHEMA), (TRUNCATED, TRUNCATED_SCHEMA)]:
        wh.ensure_table(name, schema)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def append(wh: Warehouse, name: str, rows: list[dict], schema: ibis.Schema) -> None:
    if rows:
        wh.insert(name, ibis.memtable(pa.Table.from_pylist(rows, schema=schema.to_pyarrow())))


def answered_fingerprints(wh: Warehouse, conv_ids: list[str]) -> dict[str, str]:
    """conv_id -> fingerprint of its stored answer, for the given conversions."""
    if not conv_ids or not wh.exists(ANSWERS):
        return {}
    a = wh.table(ANSWERS)
    wanted = ibis.memtable({"conv_id": conv_ids})
    q = a.semi_join(wanted, "conv_id").select("conv_id", "fingerprint").distinct()
    return {r["conv_id"]: r["fingerprint"] for r in wh.to_pyarrow(q).to_pylist()}


def replace_answers(wh: Warehouse, conv_ids: list[str], rows: list[dict]) -> None:
    placeholders = ", ".join("?" for _ in conv_ids)
    wh.delete_where(ANSWERS, f"conv_id IN ({placeholders})", list(conv_ids))
    append(wh, ANSWERS, rows, ANSWERS_SCHEMA)
