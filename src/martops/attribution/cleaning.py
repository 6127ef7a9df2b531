"""What the attribution ingest's settings did to a delivery, for `ops.cleaning_log` (domain attribution).

Respelled channels are logged by `channels`; this module counts the conversions a setting
quarantined (a reload resolved by `attribution.duplicate_conversions`, a refund by
`attribution.refunds`), read back from the quarantine rows the run just wrote, so the count and
the quarantine can never disagree.
"""

from __future__ import annotations

from martops.engine import Warehouse
from martops.ops.cleaning_log import CleaningLog
from martops.ops.quarantine import QUARANTINE

RULES = {
    "duplicate conversions (same conv_id, other date/time only): resolved by attribution.duplicate_conversions":
        "duplicate conv_id %",
    "refunds (negative revenue) quarantined by attribution.refunds: not conversions": "%is a refund (negative revenue)%",
}

def log_conversion_policies(log: CleaningLog, wh: Warehouse, run_id: str) -> None:
    """Inside the ingest's transaction, after the quarantine rows of `run_id` were written."""
    if not wh.exists(QUARANTINE):
        return
    q = wh.table(QUARANTINE)
    q = q.filter((q.run_id == run_id) & (q.table_name == "conversions"))
    for rule, pattern in RULES.items():
        hits = q.filter(q.reason.like(pattern))
        rows = wh.to_pyarrow(hits.aggregate(n=hits.count(), example=hits.row_key.min())).to_pylist()[0]
        log.add("conversions", rule, rows["n"], rows["example"] and f"conv_id {rows['example']!r}")

