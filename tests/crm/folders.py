"""Hand-written CRM folders: every row a test needs, nothing else."""

from __future__ import annotations

import csv
from pathlib import Path

from martops.config import ProjectConfig
from martops.crm.build import build
from martops.engine import Warehouse
from martops.ops import runlog

HEADERS = {
    "customers": ["Customer_ID", "Name", "Email", "Phone", "Country"],
    "transactions": ["Transaction_ID", "Customer_ID", "Product_ID", "Date", "Amount", "Sales_Rep_ID"],
    "products": ["Product_ID", "Product_Name", "Category", "Price"],
    "interactions": ["Interaction_ID", "Customer_ID", "Interaction_Date", "Interaction_Type", "Issue_Resolved"],
    "sales_team": ["Sales_Rep_ID", "Name", "Region", "Sales_Target", "Sales_Achieved"],
    "countries": ["Country", "Country_Code"],
}

CUSTOMERS = [("c1", "Ann Lee", "ann@example.com", "(276)903-7065", "Japan"),
             ("c2", "Bob Stone", "bob@example.org", "917.965.7512", "France")]
PRODUCTS = [("1", "Sofa Set", "Home", "411 "), ("2", "Laptop", "Electronics", "333 ")]
REPS = [("r1", "Rita Rep", "Ohio", "1000", "500.0")]
TRANSACTIONS = [("t1", "c1", "1", "2024-04-01", "234.0", "r1"), ("t2", "c2", "2", "2024-04-02", "99.5", "r1")]
INTERACTIONS = [("i1", "c1", "2024-05-01", "Phone", "True"), ("i2", "c2", "2024-05-02", "Chat", "False")]


def write_folder(folder: Path, *, headers: dict[str, list[str]] | None = None, names: dict[str, str] | None = None,
                 **rows: list[tuple] | None) -> Path:
    """One CSV per role given (`customers=[...]`); `None` leaves a role out; unspecified roles get
    the small defaults above (countries only when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"customers": CUSTOMERS, "products": PRODUCTS, "sales_team": REPS, "transactions": TRANSACTIONS,
                "interactions": INTERACTIONS}
    for role, header in HEADERS.items():
        data = rows.get(role, defaults.get(role))
        path = folder / (names or {}).get(role, f"{role}.csv")
        if data is None:
            path.unlink(missing_ok=True)
            continue
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow((headers or {}).get(role, header))
            w.writerows(data)
    return folder


def run_build(wh: Warehouse, folder: Path, project: ProjectConfig | None = None):
    with runlog.invocation() as run_id:
        results, log = build(wh, folder, project or ProjectConfig())
    return run_id, results, log


def rows(wh: Warehouse, table: str, order: list[str] | None = None) -> list[dict]:
    t = wh.table(table)
    return wh.to_pyarrow(t.order_by(order or ["_row" if "_row" in t.columns else t.columns[0]])).to_pylist()


def by_id(wh: Warehouse, table: str, key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows(wh, table, [key])}
