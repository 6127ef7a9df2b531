"""Warehouse tables of the loyalty programme (seed 002, "February Challenge"), in data-flow order.

Values are integer cents as the source writes them; points are integer points. The raw customers
stay as delivered (`staging.loyalty_customers`, the four ETL columns untouched); the filled
customer table sits beside them in schema `loyalty`.
"""

STAGING_CUSTOMERS = "staging.loyalty_customers"
"""One row per customer id that loaded: typed columns, the four blank-by-design columns as delivered."""
STAGING_TRANSACTIONS = "staging.loyalty_transactions"
"""One row per transaction that loaded (exact copies quarantined): date, user_id, value (cents),
point_differential."""
TRANSACTIONS = "loyalty.transactions"
"""Every staged transaction with its arm and the points rule applied: kind (purchase | redemption),
points_earned, points_redeemed, discount_cents, net_value_cents and flags."""
CUSTOMERS = "loyalty.customers"
"""One row per customer: the raw columns plus the fills (number_of_purchases, value_of_purchases in
cents, total_standard_points, total_points_redeemed) as of `as_of`."""
DAILY = "loyalty.purchases_daily"
WEEKLY = "loyalty.purchases_weekly"
MONTHLY = "loyalty.purchases_monthly"
"""Purchases, purchasers, gross/net revenue (cents), discounts and points per period and arm."""
CUSTOMER_MONTH = "loyalty.customer_month"
"""One row per customer and calendar month with a purchase: activity, revenue, points."""
LIABILITY = "loyalty.points_liability"
"""Per month: points earned, redeemed and outstanding at month end, and the outstanding points'
value in cents at the redemption rate."""

FREQUENCY = "loyalty.behaviour_frequency"
"""Customers per arm and number of purchases (0 included)."""
DROPOFF = "loyalty.behaviour_dropoff"
"""Per arm and purchase number 1..10: customers reaching it, drop-off from the previous, days between."""
SEASONALITY = "loyalty.behaviour_seasonality"
"""Purchases and gross value per arm by month of the year and by weekday."""
SEGMENTS = "loyalty.segments"
"""Customers, purchases and revenue per customer by location, gender and age bucket ('unknown' counted)."""
PROGRAMME_TEST = "loyalty.programme_test"
"""Enrolled vs control per metric and segment: means, difference, 95% interval, p-value, method."""
PROGRAMME_BALANCE = "loyalty.programme_balance"
"""Balance of the arms at signup: chi-square per segment column, standardised difference of signup dates."""
PROGRAMME_SUMMARY = "loyalty.programme_summary"
"""Revenue loss from redemptions, points liability, the programme's incremental net revenue and net effect."""
INSIGHTS = (FREQUENCY, DROPOFF, SEASONALITY, SEGMENTS, PROGRAMME_TEST, PROGRAMME_BALANCE, PROGRAMME_SUMMARY)

PERIODS = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}
SOURCE = "loyalty"
"""`ops.quarantine.source` of every loyalty delivery; `table_name` is `loyalty_customers` or
`loyalty_transactions`."""
FILES = ("customers", "transactions")
FILE_ORDER = ("customers", "transactions", "fill", "reporting", "insights")
"""The order `loyalty build` prints its cleaning log in."""
