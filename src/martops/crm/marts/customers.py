"""`marts.crm_customer_value`: one row per golden customer, buyers or not, with RFM and spend tier.

Frequency counts every transaction (one with a missing amount still happened); spend sums the
known amounts only, so `avg_order_value` = spend / transactions_with_amount (NULL when no amount
is known). A buyer none of whose amounts is known has spend NULL (unknown is never summed as 0),
and so NULL `avg_order_value`, `m_score`, `spend_tier` and `spend_decile` (see `rfm`); a customer
with no transaction at all has spend 0 (spent nothing, for certain).

`as_of`, the day recency is measured to, defaults to the day after the latest transaction: the
extract is historical (its last sale is months or years before any "today"), and measuring to
today would make every customer equally stale and the R score meaningless. Pass `as_of` to
score a snapshot at another date; transactions after it are then left out.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.config import DEFAULT_UNKNOWN_COUNTRY
from martops.crm import tables as T
from martops.crm.marts import identity, rfm
from martops.engine import Warehouse
from martops.measures import ratio

TABLE = "marts.crm_customer_value"
COLUMNS = ["golden_id", "name", "country", "known", "transactions", "transactions_with_amount", "spend",
           "avg_order_value", "first_purchase", "last_purchase", "recency_days", "r_score", "f_score", "m_score",
           "rfm_segment", "spend_tier", "spend_decile"]


def default_as_of(wh: Warehouse) -> dt.date | None:
    """The day after the latest transaction (None without transactions)."""
    if not wh.exists(T.TRANSACTIONS):
        return None
    t = wh.table(T.TRANSACTIONS)
    last = wh.to_pyarrow(t.aggregate(last=t.date.max())).column("last")[0].as_py()  # a date, not a Timestamp
    return None if last is None else last + dt.timedelta(days=1)


def value(wh: Warehouse, as_of: dt.date | None = None, unknown_country: str = DEFAULT_UNKNOWN_COUNTRY) -> ir.Table:
    """The mart's rows (an expression); `as_of` as in the module docstring; orphan customers'
    country is `unknown_country` (`countries.unknown`)."""
    as_of = as_of or default_as_of(wh)
    tx = wh.table(T.TRANSACTIONS) if wh.exists(T.TRANSACTIONS) else None
    people = identity.customers(wh, *([tx] if tx is not None else []), unknown_country=unknown_country)
    if tx is None:
        j = people.mutate(transactions=ibis.literal(0, "int64"), transactions_with_amount=ibis.literal(0, "int64"),
                          spend=ibis.literal(0.0), first_purchase=ibis.null("date"), last_purchase=ibis.null("date"))
    else:
        if as_of is not None:
            tx = tx.filter(tx.date < as_of)
        tx = identity.to_golden(wh, tx)
        per = tx.group_by("golden_id").aggregate(
            transactions=tx.count(), transactions_with_amount=tx.amount.count(), spend=tx.amount.sum(),
            first_purchase=tx.date.min(), last_purchase=tx.date.max())
        j = people.left_join(per, "golden_id")
        j = j.mutate(transactions=j.transactions.fill_null(0),
                     transactions_with_amount=j.transactions_with_amount.fill_null(0),
                     spend=ibis.ifelse(j.transactions.isnull(), 0.0, j.spend))  # no transaction: 0; no known amount: NULL
    recency = (ibis.literal(as_of, "date") - j.last_purchase).cast("int64") if as_of is not None \
        else ibis.null("int64")
    j = j.mutate(avg_order_value=ratio(j.spend, j.transactions_with_amount),
                 recency_days=ibis.ifelse(j.last_purchase.isnull(), ibis.null("int64"), recency))
    return rfm.scored(j).select(*COLUMNS).order_by([ibis.desc("spend"), "golden_id"])


def build(wh: Warehouse, as_of: dt.date | None = None, unknown_country: str = DEFAULT_UNKNOWN_COUNTRY) -> int:
    return wh.create_or_replace(TABLE, value(wh, as_of, unknown_country))


def top_decile_share(wh: Warehouse) -> float | None:
    """Share of revenue (known amounts) from the top 10% of buyers by spend; NULL without revenue."""
    t = wh.table(TABLE)
    top = ibis.ifelse(t.spend_decile == 1, t.spend, 0.0).sum()
    return wh.to_pyarrow(t.aggregate(share=ratio(top, t.spend.sum()))).column("share")[0].as_py()


SUMMARY_BY = {"segment": "rfm_segment", "tier": "spend_tier", "country": "country"}
ORDER = {"rfm_segment": rfm.SEGMENTS, "spend_tier": rfm.TIERS}


def summary(wh: Warehouse, by: str) -> ir.Table:
    """Customers, buyers, transactions, spend and shares per segment, tier or country."""
    t = wh.table(TABLE)
    col = SUMMARY_BY[by]
    g = t.group_by(**{by: t[col]}).aggregate(
        customers=t.count(), buyers=(t.transactions > 0).sum(), transactions=t.transactions.sum(),
        spend=t.spend.sum(), _with_amount=t.transactions_with_amount.sum())
    total = g.spend.sum().over(ibis.window())
    g = g.mutate(avg_order_value=ratio(g.spend, g._with_amount), revenue_share=ratio(g.spend, total)).drop("_with_amount")
    if col in ORDER:
        pos = ibis.cases(*[(g[by] == v, i) for i, v in enumerate(ORDER[col])], else_=len(ORDER[col]))
        return g.order_by([pos, by])
    return g.order_by([ibis.desc("spend"), by])
