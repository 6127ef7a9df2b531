"""`ops.report_deliveries`: every delivery of a report, so a re-run of a period mails no one twice.

One row per attempt to deliver one period's report (`period_since`..`period_until`, inclusive
days) to one destination: a mailbox (`kind` mail, `destination` the address lower-cased, without
its display name) or a file in a folder (`kind` folder, `destination` the file's absolute path).
`report` names the report (`weekly`); `attempt` counts a mailbox's earlier `sent` deliveries of the
period (0 for the first, 1 for the first deliberate resend; always 0 for a folder); `via` is who
delivered (the step `report.send` or `martops report send`), `run_id` the run (`ops.runs`).

A mail's row is committed as `sending` before the message leaves and becomes `sent` (with its
Message-ID and size) or `failed` (with the error) after the server answered. A mailbox with a
`sent` row for the period is not mailed again unless asked (`--resend`). A `sending` row found
later belongs to a process that died between the server's answer and the record (the writer
holds the warehouse's write lock, so no other one is alive): it is marked `in_doubt` and the
message is sent again with the same Message-ID (see `martops.reports.deliver`).

A folder's row is written `sent` once the file is in place; folder deliveries are never skipped:
the file is named by period and replaced whole, so writing it again is harmless.

Times are naive UTC (the wall clock), as in the workflow tables. The table is created on first
use, and a newer martops adds its columns to an older one (`Warehouse.ensure_table`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import ibis

from martops.engine import Warehouse

DELIVERIES = "ops.report_deliveries"

SCHEMA = ibis.schema({
    "delivery_id": "string", "report": "string", "period_since": "date", "period_until": "date",
    "period": "string", "kind": "string", "destination": "string", "attempt": "int64", "status": "string",
    "message_id": "string", "bytes": "int64", "started_at": "timestamp", "finished_at": "timestamp",
    "run_id": "string", "via": "string", "error": "string",
})

MAIL, FOLDER = "mail", "folder"
SENDING, SENT, FAILED, IN_DOUBT = "sending", "sent", "failed", "in_doubt"


def ensure(wh: Warehouse) -> None:
    wh.ensure_table(DELIVERIES, SCHEMA)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _key(report: str, since: dt.date, until: dt.date, kind: str, destination: str) -> tuple[str, list[Any]]:
    return ("report = ? AND period_since = ? AND period_until = ? AND kind = ? AND destination = ?",
            [report, since, until, kind, destination])


def history(wh: Warehouse, report: str, since: dt.date, until: dt.date, kind: str, destination: str,
            status: str | None = None) -> list[dict[str, Any]]:
    """The rows of one (report, period, destination), oldest first; only `status` when given."""
    if not wh.exists(DELIVERIES):
        return []
    where, params = _key(report, since, until, kind, destination)
    if status is not None:
        where, params = where + " AND status = ?", [*params, status]
    return wh.records(f"SELECT * FROM {wh.quoted(DELIVERIES)} WHERE {where} ORDER BY started_at, delivery_id", params)


def begin(wh: Warehouse, *, report: str, since: dt.date, until: dt.date, period: str, kind: str,
          destination: str, attempt: int, message_id: str | None, run_id: str, via: str,
          status: str = SENDING) -> tuple[str, list[dict[str, Any]]]:
    """Record an attempt (committed before the caller delivers; the caller must not be inside a
    transaction) and mark the destination's earlier `sending` rows `in_doubt`. Returns (its id, the
    rows it marked in doubt)."""
    if wh.in_transaction:  # pragma: no cover - a martops bug: the row must be committed before the send
        raise RuntimeError("report_deliveries.begin() inside a transaction")
    ensure(wh)
    where, params = _key(report, since, until, kind, destination)
    doubtful = [r for r in history(wh, report, since, until, kind, destination) if r["status"] == SENDING]
    delivery_id = uuid.uuid4().hex
    with wh.transaction():
        if doubtful:
            wh.execute(f"UPDATE {wh.quoted(DELIVERIES)} SET status = ?, error = ? WHERE {where} AND status = ?",
                       [IN_DOUBT, "the process ended after the delivery started and before its outcome was "
                        "recorded: the server may have accepted it", *params, SENDING])
        values = {"delivery_id": delivery_id, "report": report, "period_since": since, "period_until": until,
                  "period": period, "kind": kind, "destination": destination, "attempt": attempt, "status": status,
                  "message_id": message_id, "bytes": None, "started_at": _now(), "finished_at": None,
                  "run_id": run_id, "via": via, "error": None}
        cols = ", ".join(wh.ident(c) for c in values)
        wh.execute(f"INSERT INTO {wh.quoted(DELIVERIES)} ({cols}) VALUES ({', '.join('?' for _ in values)})",
                   list(values.values()))
    return delivery_id, doubtful


def finish(wh: Warehouse, delivery_id: str, status: str, *, size: int | None = None, error: str | None = None) -> None:
    """The outcome of an attempt `begin` recorded: `sent` (with the bytes delivered) or `failed`."""
    wh.after_interrupt(f"UPDATE {wh.quoted(DELIVERIES)} SET status = ?, finished_at = ?, bytes = ?, error = ? "
                       "WHERE delivery_id = ?", [status, _now(), size, (error or None) and error[:4000], delivery_id])
