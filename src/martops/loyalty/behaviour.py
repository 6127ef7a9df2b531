"""Purchase behaviour marts (the seed's "customer purchasing trends"), per programme arm, as Ibis
expressions over `loyalty.transactions` up to the fills' as-of date and `loyalty.customers`.

Medians and quartiles are interpolated (`quantile_cont` / `percentile_cont`: the same on DuckDB and
PostgreSQL). Days between purchases are calendar days from a customer's previous purchase; two
purchases on one day are 0 days apart. Customers with no purchase count in every denominator that
is "customers" (the arms were randomised at signup, so they are part of the comparison).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

MAX_PURCHASE_NUMBER = 10
"""Drop-off is shown from the 1st to the 10th purchase; later ones are rare and noisy."""
SEGMENTS = ("location", "gender", "age")
UNKNOWN = "unknown"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def frequency(customers: ir.Table) -> ir.Table:
    """Distribution of purchases per customer: per arm and number of purchases (0 included),
    customers and their share of the arm. Grain (loyalty, purchases)."""
    c = customers
    g = c.group_by(["loyalty", c.number_of_purchases.name("purchases")]).aggregate(customers=c.count())
    arm = ibis.window(group_by="loyalty")
    return g.mutate(share=g.customers.cast("float64") / g.customers.sum().over(arm)).order_by(["loyalty", "purchases"])


def ranked(tx: ir.Table) -> ir.Table:
    """Each transaction with its purchase number per customer (1 = first, ties on a day by line)
    and the days since the customer's previous purchase (NULL for the first)."""
    w = ibis.window(group_by="user_id", order_by=["date", "_row"])
    t = tx.mutate(purchase_number=ibis.row_number().over(w) + 1, _previous=tx.date.lag().over(w))
    return t.mutate(days_since_previous=(t.date.delta(t._previous, unit="day")).cast("int64")).drop("_previous")


def dropoff(tx: ir.Table, customers: ir.Table) -> ir.Table:
    """Per arm and purchase number k (1..10): customers who made a k-th purchase, the share of those
    who made a (k-1)-th (for k = 1: of all the arm's customers), the drop-off (1 - that share) and
    the days from purchase k-1 to k (mean, median, quartiles). Grain (loyalty, purchase_number)."""
    r = ranked(tx)
    r = r.filter(r.purchase_number <= MAX_PURCHASE_NUMBER)
    d = r.days_since_previous
    g = r.group_by(["loyalty", "purchase_number"]).aggregate(
        customers=r.count(), mean_days_since_previous=d.mean(), median_days_since_previous=d.quantile(0.5),
        p25_days_since_previous=d.quantile(0.25), p75_days_since_previous=d.quantile(0.75))
    arms = customers.group_by("loyalty").aggregate(arm_customers=customers.count())
    g = g.inner_join(arms, "loyalty")
    w = ibis.window(group_by="loyalty", order_by="purchase_number")
    before = ibis.ifelse(g.purchase_number == 1, g.arm_customers, g.customers.lag().over(w))
    g = g.mutate(previous_customers=before.cast("int64"))
    g = g.mutate(share_of_previous=g.customers.cast("float64") / g.previous_customers)
    return g.mutate(drop_off=1 - g.share_of_previous).drop("arm_customers").order_by(["loyalty", "purchase_number"])


def seasonality(tx: ir.Table) -> ir.Table:
    """Purchases and gross value (cents) per arm by month of the year and by weekday, with the share
    of the arm's purchases. Grain (loyalty, dimension, level); `position` orders the levels."""
    t = tx.select("loyalty", "date", gross=tx.value)
    month = t.mutate(dimension=ibis.literal("month_of_year"), position=t.date.month().cast("int64"))
    month = month.mutate(level=month.position.cast("string").lpad(2, "0"))
    wd = t.date.day_of_week.index().cast("int64")  # Monday = 0
    day = t.mutate(dimension=ibis.literal("weekday"), position=wd + 1,
                   level=ibis.cases(*[(wd == i, ibis.literal(n)) for i, n in enumerate(WEEKDAYS)]))
    both = ibis.union(*[x.select("loyalty", "dimension", "level", "position", "gross") for x in (month, day)])
    g = both.group_by(["loyalty", "dimension", "level", "position"]).aggregate(
        purchases=both.count(), gross_value_cents=both.gross.sum())
    w = ibis.window(group_by=["loyalty", "dimension"])
    return g.mutate(share_of_purchases=g.purchases.cast("float64") / g.purchases.sum().over(w)) \
        .order_by(["dimension", "loyalty", "position"])


def _level(c: ir.Table, column: str) -> ir.StringValue:
    v = c[column].strip()
    return ibis.ifelse(v.isnull() | (v == ""), ibis.literal(UNKNOWN), v)


def segments(customers: ir.Table) -> ir.Table:
    """Per segment column (location, gender, age), level ('unknown' where blank) and arm:
    customers, their share of the arm (so the unknown share is visible), purchasers, purchases and
    net revenue (cents) per customer. Grain (dimension, level, loyalty)."""
    parts = []
    for col in SEGMENTS:
        c = customers.mutate(dimension=ibis.literal(col), level=_level(customers, col))
        parts.append(c.select("dimension", "level", "loyalty", "number_of_purchases", "net_value_of_purchases",
                              "value_of_purchases"))
    u = ibis.union(*parts)
    g = u.group_by(["dimension", "level", "loyalty"]).aggregate(
        customers=u.count(), purchasers=(u.number_of_purchases > 0).cast("int64").sum(),
        purchases=u.number_of_purchases.sum(), gross_value_cents=u.value_of_purchases.sum(),
        net_value_cents=u.net_value_of_purchases.sum())
    w = ibis.window(group_by=["dimension", "loyalty"])
    return g.mutate(share_of_arm=g.customers.cast("float64") / g.customers.sum().over(w),
                    purchases_per_customer=g.purchases.cast("float64") / g.customers,
                    net_revenue_per_customer_cents=g.net_value_cents.cast("float64") / g.customers) \
        .order_by(["dimension", "level", "loyalty"])
