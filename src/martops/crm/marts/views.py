"""Reading the CRM marts back: the rows and headline lines of `crm show`, the files of `crm export`.

Each mart has a few `--by` cuts; the first is its default. Headlines are the one-line answers the
issue asks for (top-decile revenue share, whether prices vary, overall resolution rate, the share
of reps over/under target), computed from the mart tables, never from the printed rows.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Collection

import ibis
import ibis.expr.types as ir

from martops.crm.marts import TABLES, customers, identity, products, sales, support
from martops.engine import Warehouse
from martops.errors import ConfigError, MartopsError
from martops.export_files import write_table

BY = {"customers": ("customer", "segment", "tier", "country"), "products": ("product", "category"),
      "support": ("channel", "month", "segment"), "sales": ("rep", "region", "band", "performer")}
"""`--by` choices per mart; the first is the default."""


@dataclasses.dataclass
class View:
    title: str
    columns: list[str]
    rows: list[dict]
    headlines: list[str]
    total_rows: int
    """Rows before `--limit`."""


def _mart(wh: Warehouse, mart: str) -> ir.Table:
    if mart not in TABLES:
        raise ConfigError(f"{mart!r} is not a CRM mart; choose one of {', '.join(TABLES)}")
    if not wh.exists(TABLES[mart]):
        raise MartopsError(f"{TABLES[mart]} does not exist in {wh.location}; build it first: "
                           "martops crm build --source <folder of the CRM extract>")
    return wh.table(TABLES[mart])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _customers(wh: Warehouse, t: ir.Table, by: str) -> tuple[ir.Table, list[str]]:
    buyers, n = wh.scalar((t.transactions > 0).sum()), wh.scalar(t.count())
    revenue = wh.scalar(t.spend.sum()) or 0.0
    who = ("golden customers (deduplicated through crm.customer_golden_map)" if identity.has_golden(wh)
           else "customers, one per customer_id (no crm.customer_golden_map yet: not deduplicated)")
    lines = [f"top 10% of buyers by spend bring {_pct(customers.top_decile_share(wh))} of revenue "
             f"({revenue:,.2f} from {buyers:,} buyers of {n:,} {who})"]
    if by == "customer":
        rfm = t.r_score.cast("string") + t.f_score.cast("string") + t.m_score.cast("string")
        cols = ["golden_id", "name", "country", "transactions", "spend", "last_purchase", "recency_days"]
        return t.select(*cols, rfm=rfm, segment=t.rfm_segment, tier=t.spend_tier).order_by(
            [ibis.desc("spend"), "golden_id"]), lines
    return customers.summary(wh, by), lines


def _products(wh: Warehouse, t: ir.Table, by: str) -> tuple[ir.Table, list[str]]:
    lines = []
    if products.prices_vary(wh):
        n = wh.scalar((t.price_points > 1).sum())
        lines.append(f"{n:,} products sold at several prices: volume per price point in "
                     "`martops crm export products-prices`")
    else:
        lines.append(products.NO_VARIATION)
    for kind in ("top", "bottom"):
        names = wh.to_pyarrow(t.filter(t.performer == kind).order_by("revenue_rank").select("product_name",
                                                                                           "product_id")).to_pylist()
        lines.append(f"{kind} {products.PERFORMERS} by revenue: " +
                     ", ".join(f"{r['product_name'] or '?'} ({r['product_id']})" for r in names))
    if by == "category":
        return products.by_category(wh), lines
    cols = ["revenue_rank", "product_id", "product_name", "category", "price", "volume", "revenue", "avg_amount",
            "revenue_share", "performer", "price_points", "id_conflict"]
    return t.select(*cols).order_by("revenue_rank"), lines


def _support(wh: Warehouse, t: ir.Table, by: str) -> tuple[ir.Table, list[str]]:
    o = support.overall(wh) or {}
    lines = [f"overall resolution rate {_pct(o.get('resolution_rate'))} "
             f"({o.get('resolved', 0):,} resolved of {o.get('resolved', 0) + o.get('unresolved', 0):,} with a known "
             f"outcome; {o.get('resolved_unknown', 0):,} blank, left out of the rate)"]
    rows = t.filter(t.dimension == by).drop("dimension").rename(**{by: "value"})
    return rows, lines


def _sales(wh: Warehouse, t: ir.Table, by: str) -> tuple[ir.Table, list[str]]:
    perf = {r["performer"]: r for r in wh.to_pyarrow(sales.performers(wh)).to_pylist()}
    n = sum(r["reps"] for r in perf.values())
    lines = ["reps " + ", ".join(f"{p}: {perf.get(p, {}).get('reps', 0)} "
                                 f"({_pct(perf.get(p, {}).get('reps', 0) / n if n else None)})"
                                 for p in sales.PERFORMERS) +
             f" (under < {sales.UNDER:.0%} of target <= on track < {sales.OVER:.0%} <= over)"]
    if by == "region":
        return sales.by_region(wh), lines
    if by == "band":
        return sales.distribution(wh), lines
    if by == "performer":
        return sales.performers(wh), lines
    return t.drop("sales_rep_id", "achieved_missing"), lines


SHOWS = {"customers": _customers, "products": _products, "support": _support, "sales": _sales}


def show(wh: Warehouse, mart: str, by: str | None = None, limit: int | None = None) -> View:
    """A mart's rows cut `by` one of `BY[mart]`, the first `limit` of them, and its headlines."""
    t = _mart(wh, mart)
    by = by or BY[mart][0]
    if by not in BY[mart]:
        raise ConfigError(f"--by {by!r} is not a cut of {mart}; choose one of {', '.join(BY[mart])}")
    expr, lines = SHOWS[mart](wh, t, by)
    data = wh.to_pyarrow(expr).to_pylist()
    rows = data[:limit] if limit else data
    return View(f"{mart} by {by} ({TABLES[mart]})", list(expr.columns), rows, lines, len(data))


def export(wh: Warehouse, mart: str, out: Path, money: Collection[str] | None = None) -> int:
    """A whole mart table, every column, to CSV/Parquet; `products-prices` is volume per price point."""
    if mart == "products-prices":
        _mart(wh, "products")
        t = products.price_volume(wh)
    else:
        t = _mart(wh, mart)
    data = wh.to_pyarrow(t.order_by(list(t.columns)))  # the same file on every engine and run
    write_table(data, Path(out), money)
    return data.num_rows
