"""How the usage tables are typed: what loads, and what goes to `ops.quarantine` with why.

A person needs a user id (ids are text: `42` and `id_42` are both ids; compared trimmed); two rows
of one id that differ are a conflict and neither loads, exact copies load once. A `created_at` that
is written but does not read as a date (grain `month`: as a month number) refuses the person rather
than leaving a silent gap in a cohort. An event needs a loaded person and a time; its type is
optional (an untyped event is still an interaction: `(none)`). Copies of an event (same person,
type and time once parsed) are not refused rows but one event sent twice: the load keeps the first
and logs how many it dropped (`usage.build`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.config import UsageSourceSettings
from martops.sources import timestamps as TS
from martops.sources.numbers import number
from martops.sources.typed import Field, RawSpec

MONTH_EXPECTED = "a month number (a whole number from 1, e.g. 1 or 1.0)"
NO_TYPE = "(none)"
"""The event type of an event whose type is empty."""


def month_number(text: ir.StringValue) -> ir.IntegerValue:
    """A month written as a whole number >= 1 (`7`, `7.0`, as exports of a float column write it),
    else NULL: 7.5 is no month."""
    v = number(text)
    return ibis.ifelse(v.notnull() & (v == v.floor()) & (v >= 1) & (v < 100_000), v.cast("int64"),
                       ibis.null("int64"))


def _created(settings: UsageSourceSettings) -> Field:
    if settings.grain == "month":
        return Field("created_at", "int64", MONTH_EXPECTED, parse=lambda t: month_number(t.created_at))
    return Field("created_at", "timestamp", TS.DATETIME_EXPECTED,
                 parse=lambda t: TS.timestamp(t.created_at, settings.timezone))


HEADER_IDS = ("user_id", "userid", "user id", "id")
"""What the id column's header is called when none is mapped (see `usage.source`)."""


def _repeats_header(settings: UsageSourceSettings) -> tuple:
    """A person whose id is the id column's own header is a second copy of the header row (exports
    glued together, a header repeated per page): every column of such a row is text, so nothing
    else refuses it, and it would count as a dormant customer."""
    names = {*HEADER_IDS, settings.columns.get("people", {}).get("user_id", "user_id").strip().lower()}
    return ((lambda v: v.strip().lower().isin(sorted(names)),
             "repeats the header row (its user id is the id column's name), not a person"),)


def people(settings: UsageSourceSettings) -> RawSpec:
    return RawSpec("usage_people", (
        Field("user_id", "string", "a user id", required=True, reject=_repeats_header(settings)),
        Field("name"), Field("email"), Field("company"), _created(settings),
    ), key=("user_id",), null_values=tuple(settings.null_values))


def events(settings: UsageSourceSettings) -> RawSpec:
    """`t._person` (the trimmed user_id of a loaded person, else NULL) must be on the raw table: the
    load joins it in, so an event of an unknown person is a reason like any other."""
    if settings.grain == "month":
        when = Field("month", "int64", MONTH_EXPECTED, required=True, parse=lambda t: month_number(t.month))
    else:
        when = Field("timestamp", "timestamp", TS.DATETIME_EXPECTED, required=True,
                     parse=lambda t: TS.timestamp(t.timestamp, settings.timezone))
    return RawSpec("usage_events", (
        Field("user_id", "string", "the id of a person in the people table (see martops quarantine --table "
              "usage_people for one whose row was refused)", required=True, parse=lambda t: t._person),
        Field("event_type"), when,
    ), key=(), null_values=tuple(settings.null_values))
