"""The loyalty programme (seed 002) as a domain of the step graph (`loyalty`): load -> fill -> reporting
-> insights."""

from __future__ import annotations

from pathlib import Path

from martops.domain import Domain, Parameter, Step, TableSpec
from martops.loyalty import build, quality
from martops.loyalty import tables as T
from martops.loyalty import report_section

SOURCE = Parameter("source", "Folder holding customers.csv and transactions.csv (the February Challenge's shape).",
                   "sources.loyalty.path")
AS_OF = Parameter("as_of", "Date (YYYY-MM-DD) the customer fills are computed as of.",
                  "loyalty.as_of, else the last transaction day")
PERIOD_GRAIN = ("period_start", "loyalty")

DOMAIN = Domain(
    name="loyalty",
    title="Loyalty programme (February Challenge: customer fills, points, reporting tables)",
    steps=(
        Step("loyalty.load", "Load a delivery (customers.csv, transactions.csv) into staging; bad rows to "
             "ops.quarantine", build.step_load, inputs=("source:loyalty",),
             outputs=(T.STAGING_CUSTOMERS, T.STAGING_TRANSACTIONS), parameters=(SOURCE,)),
        Step("loyalty.fill", "Apply the points rule to every transaction and fill the customer table as of a date",
             build.step_fill, inputs=(T.STAGING_CUSTOMERS, T.STAGING_TRANSACTIONS),
             outputs=(T.TRANSACTIONS, T.CUSTOMERS), parameters=(AS_OF,)),
        Step("loyalty.reporting", "Purchases and revenue per arm by day, week and month; customer-month "
             "activity; points liability", build.step_reporting, inputs=(T.TRANSACTIONS, T.CUSTOMERS),
             outputs=(*T.PERIODS.values(), T.CUSTOMER_MONTH, T.LIABILITY)),
        Step("loyalty.insights", "Purchase behaviour (frequency, drop-off between purchases, seasonality, "
             "segments) and the programme test (enrolled vs control: intervals, p-values, balance, net effect)",
             build.step_insights, inputs=(T.TRANSACTIONS, T.CUSTOMERS, T.CUSTOMER_MONTH), outputs=T.INSIGHTS),
    ),
    tables=(
        TableSpec(T.STAGING_CUSTOMERS, ("id",), "typed customers as delivered (the four ETL columns untouched)"),
        TableSpec(T.STAGING_TRANSACTIONS, ("_row",), "typed transactions that loaded",
                  indexes=(("user_id", "date"),)),
        TableSpec(T.TRANSACTIONS, ("_row",), "transactions with the points rule applied",
                  indexes=(("user_id", "date"), ("date",))),
        TableSpec(T.CUSTOMERS, ("id",), "customers with the fills as of a date", indexes=(("loyalty",),)),
        *(TableSpec(t, PERIOD_GRAIN, f"purchases and revenue per arm, {p}", indexes=(("loyalty", "period_start"),))
          for p, t in T.PERIODS.items()),
        TableSpec(T.CUSTOMER_MONTH, ("customer_id", "month"), "activity per customer and month",
                  indexes=(("month", "loyalty"),)),
        TableSpec(T.LIABILITY, ("month",), "points earned, redeemed and outstanding per month"),
        TableSpec(T.FREQUENCY, ("loyalty", "purchases"), "customers per number of purchases"),
        TableSpec(T.DROPOFF, ("loyalty", "purchase_number"), "drop-off from one purchase to the next"),
        TableSpec(T.SEASONALITY, ("loyalty", "dimension", "level"), "purchases by month of year and weekday"),
        TableSpec(T.SEGMENTS, ("dimension", "level", "loyalty"), "customers and revenue per segment level"),
        TableSpec(T.PROGRAMME_TEST, ("segment", "level", "metric", "method"), "enrolled vs control per metric"),
        TableSpec(T.PROGRAMME_BALANCE, ("covariate", "level"), "balance of the arms at signup"),
        TableSpec(T.PROGRAMME_SUMMARY, ("measure",), "revenue loss, liability, net effect"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="loyalty.load",
    source_setting="loyalty",
    source_path=lambda cfg: Path(cfg.sources.loyalty.path) if cfg.sources.loyalty.path else None,
    build_hint="build it first: martops loyalty build --source <folder with customers.csv and transactions.csv>",
    report=report_section.REPORT,
)
