"""How the two loyalty files are typed: what loads, and what goes to `ops.quarantine` with why.

Values and points are whole numbers (cents, points): `12.50` in a cents column is not read as
1250 or as 12 (no rule can tell which was meant), it is quarantined. A transaction must name a
customer of the same delivery; its value must not be negative (a refund or correction is not a
purchase, and netting it would change the purchase counts). Exact copies of a transaction (same
date, customer, value and points) are quarantined as copies of the first; the real files hold none.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.config import LoyaltyConfig, SourceSettings
from martops.sources import timestamps as TS
from martops.sources.typed import Field, RawSpec

WHOLE = r"^[+-]?\d+$"
WHOLE_EXPECTED = "a whole number"
CENTS_EXPECTED = "a whole number of cents (the files write $10.74 as 1074)"


def whole(text: ir.StringValue) -> ir.IntegerValue:
    """A signed integer written in plain digits, else NULL (no decimals, exponents or grouping)."""
    s = text.strip()
    return ibis.ifelse(s.re_search(WHOLE) & (s.length() <= 18), s.try_cast("int64"), ibis.null("int64"))


def canonical(text: ir.StringValue, parsed: ir.Value) -> ir.StringValue:
    """The text duplicates are found on: the value as parsed where it parses (`007` and `7` are one
    customer, `2012-1-5` and `2012-01-05` one day), else the text as written."""
    return ibis.ifelse(parsed.notnull(), parsed.cast("string"), text)


def _arm(cfg: LoyaltyConfig):
    arms = [cfg.treated_arm, cfg.control_arm]

    def parse(t: ir.Table) -> ir.StringValue:
        v = t.loyalty.strip().lower()
        return ibis.ifelse(v.isin([a.lower() for a in arms]),
                           ibis.cases(*[(v == a.lower(), ibis.literal(a)) for a in arms]), ibis.null("string"))
    return parse


def customers(cfg: LoyaltyConfig, settings: SourceSettings) -> RawSpec:
    s = settings
    return RawSpec("loyalty_customers", (
        Field("id", "int64", "a customer id (a whole number)", required=True, parse=lambda t: whole(t.id),
              reject=((lambda v: v < 0, "is negative; a customer id is a whole number from 0"),)),
        Field("signup_date", "date", TS.DATETIME_EXPECTED, required=True,
              parse=lambda t: TS.calendar_date(t.signup_date, s.timezone, s.reporting_timezone)),
        Field("loyalty", "string", f"{cfg.treated_arm!r} or {cfg.control_arm!r} (loyalty.treated_arm / "
              "loyalty.control_arm)", required=True, parse=_arm(cfg)),
        Field("location"), Field("gender"), Field("age"), Field("favorite_movie_line"),
        Field("number_of_purchases"), Field("value_of_purchases"), Field("total_standard_points"),
        Field("total_points_redeemed"),
    ), key=("id",), null_values=tuple(s.null_values))


def transactions(settings: SourceSettings) -> RawSpec:
    """`t._customer` (the user_id of a loaded customer, else NULL) must be on the raw table: the
    load joins it in, so an unknown customer is a reason like any other."""
    s = settings
    return RawSpec("loyalty_transactions", (
        Field("date", "date", TS.DATETIME_EXPECTED, required=True,
              parse=lambda t: TS.calendar_date(t.date, s.timezone, s.reporting_timezone),
              reject=((lambda d: d > ibis.literal(dt.date.today()), "is in the future (after the day of the load): "
                       "a mistyped year? (not loaded)"),)),
        Field("user_id", "int64", "the id of a customer loaded from customers.csv (see martops quarantine --table "
              "loyalty_customers for one whose row was refused)", required=True, parse=lambda t: t._customer),
        Field("value", "int64", CENTS_EXPECTED, required=True, parse=lambda t: whole(t.value),
              reject=((lambda v: v < 0, "is negative: a refund or correction, not a purchase (not loaded, so "
                       "purchase counts stay counts of purchases)"),)),
        Field("point_differential", "int64", WHOLE_EXPECTED, required=True,
              parse=lambda t: whole(t.point_differential)),
    ), key=("date", "user_id", "value", "point_differential"), null_values=tuple(s.null_values))
