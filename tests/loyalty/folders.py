"""Hand-written loyalty folders: every row a test needs, nothing else."""

from __future__ import annotations

import csv
from pathlib import Path

from martops.engine import Warehouse

CUSTOMER_HEADER = ["id", "signup_date", "loyalty", "location", "gender", "age", "favorite_movie_line",
                   "number_of_purchases", "value_of_purchases", "total_standard_points", "total_points_redeemed"]
TRANSACTION_HEADER = ["date", "user_id", "value", "point_differential"]


def customer(id, signup, arm, location="", gender="", age="", line=""):
    return (str(id), signup, arm, location, gender, age, line, "", "", "", "")


def write_folder(folder: Path, customers: list[tuple], transactions: list[tuple]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (("customers", CUSTOMER_HEADER, customers),
                               ("transactions", TRANSACTION_HEADER, transactions)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
    return folder


def rows(wh: Warehouse, table: str, order: list[str] | None = None) -> list[dict]:
    t = wh.table(table)
    return wh.to_pyarrow(t.order_by(order or list(t.columns[:1]))).to_pylist()


def by_id(wh: Warehouse, table: str, key: str = "id") -> dict:
    return {r[key]: r for r in rows(wh, table, [key])}
