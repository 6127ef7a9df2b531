"""The period a report covers, and the one it is compared with (week over week).

A period is closed on both ends, in days. `--week 2023-W36` is the ISO 8601 week (Monday to
Sunday, the week holding the year's first Thursday is W01: `datetime.date.fromisocalendar`); a
`--since/--until` range is compared with the range of the same length just before it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from martops.errors import ConfigError

WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date
    label: str = ""

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> "Period":
        """The same number of days just before (for an ISO week: the previous ISO week)."""
        until = self.since - dt.timedelta(days=1)
        since = until - dt.timedelta(days=self.days - 1)
        label = iso_week_label(since) if self.label and self.days == 7 and since.isoweekday() == 1 else ""
        return Period(since, until, label)

    def ending_window(self, days: int) -> "Period":
        """The `days` days ending on `until` (a trend chart's span)."""
        return Period(self.until - dt.timedelta(days=days - 1), self.until)

    @property
    def text(self) -> str:
        span = f"{self.since.isoformat()} to {self.until.isoformat()}"
        return f"{self.label} ({span})" if self.label else span


def as_day(value: object) -> dt.date | None:
    """A date from what an engine returns for a date column's max (a date, datetime or pandas Timestamp)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) or hasattr(value, "to_pydatetime"):
        return value.date()
    return value if isinstance(value, dt.date) else None


def iso_week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> Period:
    """`2023-W36` (or `2023W36`) -> Monday..Sunday of that ISO week; ConfigError naming the value."""
    m = WEEK.match(text.strip())
    if not m:
        raise ConfigError(f"--week {text!r}: expected an ISO week such as 2023-W36")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ConfigError(f"--week {text!r}: {year} has no ISO week {week} (weeks run 01 to 52 or 53)") from None
    return Period(monday, monday + dt.timedelta(days=6), f"{year}-W{week:02d}")


def resolve(week: str | None, since: dt.date | None, until: dt.date | None, latest: dt.date | None) -> Period:
    """The period asked for: `--week`, or `--since/--until` (both; labelled as an ISO week when they
    are one, Monday to Sunday), or else the last complete ISO week up to `latest` (the dated
    sections' newest date, `weekly.newest`: the week ending on it when it is a Sunday, else the
    week before). ConfigError on a mix or a reversed range."""
    if week and (since or until):
        raise ConfigError("give --week or --since/--until, not both")
    if week:
        return parse_week(week)
    if since or until:
        if not (since and until):
            raise ConfigError("--since and --until go together (or give --week 2023-W36)")
        if since > until:
            raise ConfigError(f"--since {since} is after --until {until}")
        whole_week = since.isoweekday() == 1 and (until - since).days == 6  # named as the week it is
        return Period(since, until, iso_week_label(since) if whole_week else "")
    if latest is None:
        raise ConfigError("the warehouse holds no dated data for a report yet: run `martops run` first, "
                          "or give --week / --since --until")
    # the last complete ISO week: a week whose data stop on its Monday would read as a 90% fall
    sunday = latest - dt.timedelta(days=latest.isoweekday() % 7)
    monday = sunday - dt.timedelta(days=6)
    return Period(monday, sunday, iso_week_label(monday))
