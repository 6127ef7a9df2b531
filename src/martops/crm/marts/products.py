"""`marts.crm_product_sales`: one row per product: volume, revenue, rank, top/bottom performer.

- **Volume**: units sold where transactions carry a `quantity` (a row without one counts as 1),
  else the number of transactions. The real extract has no quantity column: volume = transactions.
- **Revenue** sums the known amounts; `avg_amount` = revenue / transactions with an amount.
- **Rank and performer**: `revenue_rank` 1 is the largest revenue (ties broken by product_id so
  the rank is stable); `performer` is `top` for ranks 1-5 and `bottom` for the last 5 ranks
  (products without a sale count, at revenue 0: selling nothing is the bottom), NULL otherwise.
  With fewer than 10 products the two overlap and `top` wins.
- **Price sensitivity** needs the same product sold at several prices. `price_points` counts the
  distinct prices observed per product: the transactions' own `price` when a delivery carries one,
  else the catalogue's list price (one per product, so 1). Where every product has one price point
  no sensitivity can be estimated, and `show` says so; where some vary, `price_volume` gives
  volume and revenue per (product, price) — a table to read, not a fitted elasticity.
- `id_conflict` is carried: revenue on such an id may belong to either product it names.
- A product id that transactions name but the catalogue lacks keeps its row (`orphan`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.crm import tables as T
from martops.engine import Warehouse
from martops.measures import ratio

TABLE = "marts.crm_product_sales"
PERFORMERS = 5
COLUMNS = ["product_id", "product_name", "category", "price", "orphan", "id_conflict", "transactions", "units",
           "volume", "transactions_with_amount", "revenue", "avg_amount", "revenue_share", "revenue_rank",
           "performer", "price_points"]
NO_VARIATION = "prices do not vary (one list price per product): no price-sensitivity estimate"


def _priced(wh: Warehouse, tx: ir.Table) -> ir.Table:
    """Transactions with the price each was sold at: its own `price`, else the list price."""
    p = wh.table(T.PRODUCTS).select(_pid="product_id", _list="price") if wh.exists(T.PRODUCTS) else None
    own = tx.price.cast("float64") if "price" in tx.columns else ibis.null("float64")
    t = tx.mutate(_own=own)
    if p is None:
        return t.mutate(sold_price=t._own).drop("_own")
    j = t.left_join(p, t.product_id == p._pid)
    return j.mutate(sold_price=j._own.fill_null(j._list)).drop("_own", "_pid", "_list")


def _units(tx: ir.Table) -> ir.NumericValue:
    return tx.quantity.cast("float64").fill_null(1.0) if "quantity" in tx.columns else ibis.literal(1.0)


def sales(wh: Warehouse) -> ir.Table:
    """The mart's rows (an expression)."""
    tx = _priced(wh, wh.table(T.TRANSACTIONS))
    has_qty = "quantity" in tx.columns and wh.scalar(tx.quantity.count()) > 0
    tx = tx.mutate(_units=_units(tx))
    per = tx.group_by("product_id").aggregate(
        transactions=tx.count(), units=tx._units.sum(), transactions_with_amount=tx.amount.count(),
        revenue=tx.amount.sum(), price_points=tx.sold_price.nunique())
    if wh.exists(T.PRODUCTS):
        cat = wh.table(T.PRODUCTS).select("product_id", "product_name", "category", "price", "id_conflict",
                                          orphan=ibis.literal(False))
    else:
        cat = per.select("product_id").limit(0).mutate(product_name=ibis.null("string"), category=ibis.null("string"),
                                                        price=ibis.null("float64"), id_conflict=ibis.null("boolean"),
                                                        orphan=ibis.literal(False))
    orphans = per.filter(per.product_id.notin(cat.product_id)).select(
        "product_id", product_name=ibis.null("string"), category=ibis.null("string"), price=ibis.null("float64"),
        id_conflict=ibis.null("boolean"), orphan=ibis.literal(True))
    j = cat.union(orphans).left_join(per, "product_id")
    listed = ibis.ifelse(j.price.isnull(), 0, 1)
    j = j.mutate(transactions=j.transactions.fill_null(0), units=j.units.fill_null(0.0),
                 transactions_with_amount=j.transactions_with_amount.fill_null(0), revenue=j.revenue.fill_null(0.0),
                 price_points=ibis.ifelse(j.transactions.isnull() | (j.transactions == 0), listed, j.price_points))
    j = j.mutate(volume=j.units if has_qty else j.transactions.cast("float64"),
                 avg_amount=ratio(j.revenue, j.transactions_with_amount),
                 revenue_share=ratio(j.revenue, j.revenue.sum().over(ibis.window())),
                 revenue_rank=ibis.row_number().over(order_by=[ibis.desc(j.revenue), j.product_id]) + 1)
    n = j.count().as_scalar()
    j = j.mutate(performer=ibis.cases((j.revenue_rank <= PERFORMERS, "top"), (j.revenue_rank > n - PERFORMERS, "bottom"),
                                      else_=ibis.null("string")))
    return j.select(*COLUMNS).order_by("revenue_rank")


def build(wh: Warehouse) -> int:
    return wh.create_or_replace(TABLE, sales(wh))


def prices_vary(wh: Warehouse) -> bool:
    """Some product was sold at more than one price (else no price sensitivity can be estimated)."""
    return (wh.scalar(wh.table(TABLE).price_points.max()) or 0) > 1


def price_volume(wh: Warehouse) -> ir.Table:
    """Volume and revenue per (product, price) for products sold at several prices."""
    tx = _priced(wh, wh.table(T.TRANSACTIONS))
    tx = tx.mutate(_units=_units(tx))
    g = tx.group_by(["product_id", "sold_price"]).aggregate(transactions=tx.count(), units=tx._units.sum(),
                                                           revenue=tx.amount.sum())
    g = g.mutate(_points=g.sold_price.count().over(ibis.window(group_by="product_id")))
    return g.filter(g._points > 1).drop("_points").rename(price="sold_price").order_by(["product_id", "price"])


def by_category(wh: Warehouse) -> ir.Table:
    t = wh.table(TABLE)
    g = t.group_by(category=t.category.fill_null("(none)")).aggregate(
        products=t.count(), transactions=t.transactions.sum(), volume=t.volume.sum(),
        _with_amount=t.transactions_with_amount.sum(), revenue=t.revenue.sum())
    g = g.mutate(avg_amount=ratio(g.revenue, g._with_amount),
                 revenue_share=ratio(g.revenue, g.revenue.sum().over(ibis.window()))).drop("_with_amount")
    return g.order_by([ibis.desc("revenue"), "category"])
