"""Hand-made `crm.*` tables for the mart tests: only the columns the marts read, typed as the load writes them."""

from __future__ import annotations

import datetime as dt

import ibis

from martops.engine import Warehouse

SCHEMAS = {
    "crm.customers": {"customer_id": "string", "name": "string", "country": "string"},
    "crm.transactions": {"transaction_id": "string", "customer_id": "string", "product_id": "string",
                         "date": "date", "amount": "float64"},
    "crm.products": {"product_id": "string", "product_name": "string", "category": "string", "price": "float64",
                     "id_conflict": "boolean"},
    "crm.interactions": {"interaction_id": "string", "customer_id": "string", "date": "date", "type": "string",
                         "resolved": "boolean"},
    "crm.sales_team": {"sales_rep_id": "string", "name": "string", "region": "string", "sales_target": "float64",
                       "sales_achieved": "float64", "achieved_missing": "boolean"},
    "crm.customer_golden_map": {"source_id": "string", "golden_id": "string", "cluster_size": "int64",
                                "match_probability": "float64", "merged": "boolean"},
    "crm.customer_golden": {"golden_id": "string", "name": "string", "first_name": "string", "surname": "string",
                            "email": "string", "phone": "string", "country": "string", "n_records": "int64"},
}


def put(wh: Warehouse, table: str, rows: list[tuple], extra: dict[str, str] | None = None) -> None:
    """`rows` as tuples in SCHEMAS[table]'s column order (then `extra`'s); dates as YYYY-MM-DD strings."""
    schema = {**SCHEMAS[table], **(extra or {})}
    cols = list(schema)
    data = {c: [r[k] if k < len(r) else None for r in rows] for k, c in enumerate(cols)}
    for c, t in schema.items():
        if t == "date":
            data[c] = [dt.date.fromisoformat(v) if isinstance(v, str) else v for v in data[c]]
    wh.create_or_replace(table, ibis.memtable(data, schema=ibis.schema(schema)))


def tx(rows: list[tuple]) -> list[tuple]:
    """(customer_id, date, amount[, product_id]) -> transaction rows with ids t1, t2, ..."""
    return [(f"t{k}", r[0], r[3] if len(r) > 3 else "p1", r[1], r[2]) for k, r in enumerate(rows, 1)]
