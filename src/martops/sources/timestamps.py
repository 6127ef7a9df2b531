"""Dates, times and timestamps from export text, as Ibis expressions: the value, or NULL.

Every domain reads dates and times through these builders. NULL means "not a valid value";
`sources.typed` turns a NULL from a non-empty cell into a quarantine reason, so a text no rule
reads can never crash a later cast.

Grammar (after trimming; case-insensitive letters):

    date      = YYYY-M-D | YYYY/M/D | D.M.YYYY        (one- or two-digit month and day)
    time      = H:MM[:SS[.fraction]] [AM|PM] [offset]
    datetime  = date ('T' | spaces) time
    offset    = 'Z' | 'UTC' | +HH:MM | +HHMM | +HH     (or '-'; at most 14 hours)

- A 24-hour clock runs 0:00 to 23:59:59; `24:00[:00]` is the next day's 00:00 (ISO 8601's end
  of day), so the date a timestamp falls on and the timestamp always agree.
- A 12-hour clock has hours 1-12: `12:00 AM` is 00:00, `12:30 PM` is 12:30, `9:10:00 PM` 21:10.
- Fractions keep microseconds (further digits are cut). Leap seconds (`:60`) are not valid.
- Slashed day-first or month-first dates (`03/04/2024`) are refused: nothing says which.

Time zones: a time with an offset is that instant; a naive time is in the source's time zone
(`sources.<domain>.timezone`, default UTC). Timestamps come out as naive TIMESTAMPs in UTC. A date
derived from a timestamp is the calendar date in the reporting time zone
(`sources.<domain>.reporting_timezone`, default UTC).
"""

from __future__ import annotations

import dataclasses

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

UTC = "UTC"
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:\s*([AaPp])\.?[Mm]\.?)?"
_OFFSET = r"(?:\s*([Zz]|UTC|utc|[+-]\d{2}(?::?\d{2})?))?"
DATETIME_RE = rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:(?:[Tt]|\s+){_TIME}{_OFFSET})?$"
"""Groups: 1 year, 2 month, 3 day, 4 hour, 5 minute, 6 second, 7 fraction, 8 a/p, 9 offset."""
TIME_RE = rf"^{_TIME}{_OFFSET}$"
"""Groups: 1 hour, 2 minute, 3 second, 4 fraction, 5 a/p, 6 offset."""
_FAST_DATE = r"^\d{4}-\d{2}-\d{2}$"
_FAST_TIME = r"^(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d$"

DATE_EXPECTED = "a date (YYYY-MM-DD, YYYY/MM/DD or DD.MM.YYYY)"
TIME_EXPECTED = "a time (HH:MM[:SS], 24-hour or with AM/PM, optional offset such as Z or +02:00)"
DATETIME_EXPECTED = "a date or a timestamp (YYYY-MM-DD[ HH:MM:SS][offset])"


@ibis.udf.scalar.builtin(name="timezone")
def _at_zone(zone: str, ts: dt.Timestamp()) -> dt.Timestamp(timezone="UTC"):  # type: ignore[empty-body]
    """DuckDB: the wall-clock time `ts` read in `zone`, as an instant."""


@ibis.udf.scalar.builtin(name="timezone")
def _wall_clock(zone: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():  # type: ignore[empty-body]
    """DuckDB: the wall-clock time an instant shows in `zone`."""


def local_to_utc(ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """A naive wall-clock time in `zone` as a naive UTC timestamp (DuckDB's ICU time zones)."""
    return ts if zone == UTC else _wall_clock(UTC, _at_zone(zone, ts))


def utc_to_local(ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    return ts if zone == UTC else _wall_clock(zone, _at_zone(UTC, ts))


def _int(text: ir.StringValue) -> ir.IntegerValue:
    return text.nullif("").try_cast("int64")


def _iso_dates(s: ir.StringValue) -> ir.StringValue:
    """`YYYY/M/D` and `D.M.YYYY` at the start of the text rewritten as `YYYY-M-D`."""
    s = s.re_replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})(\D|$)", r"\1-\2-\3\4")
    return s.re_replace(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(\D|$)", r"\3-\2-\1\4")


def _make_date(y: ir.StringValue, m: ir.StringValue, d: ir.StringValue) -> ir.DateValue:
    return (y + "-" + m.lpad(2, "0") + "-" + d.lpad(2, "0")).try_cast("date")


@dataclasses.dataclass(frozen=True)
class _Clock:
    """A parsed time of day: microseconds since midnight (86,400,000,000 for 24:00) and the
    offset in minutes east of UTC (NULL when the text had none). NULL micros: not a valid time."""

    micros: ir.IntegerValue
    offset: ir.IntegerValue
    present: ir.BooleanValue
    """The text had a time part (false for a bare date)."""


def _clock(h: ir.StringValue, mi: ir.StringValue, sec: ir.StringValue, frac: ir.StringValue,
           ampm: ir.StringValue, off: ir.StringValue) -> _Clock:
    hh, mm, ss = _int(h), _int(mi), _int(sec).fill_null(0)
    fr = frac.nullif("").rpad(6, "0").left(6).try_cast("int64").fill_null(0)
    twelve = ampm.nullif("").notnull()
    pm = ampm.upper() == "P"
    hour = ibis.ifelse(twelve, (hh % 12) + ibis.ifelse(pm, 12, 0), hh)
    end_of_day = ~twelve & (hh == 24) & (mm == 0) & (ss == 0) & (fr == 0)
    ok = (ibis.ifelse(twelve, hh.between(1, 12), (hh <= 23) | end_of_day)
          & (mm <= 59) & (ss <= 59))
    micros = ((hour * 60 + mm) * 60 + ss) * 1_000_000 + fr
    o = off.nullif("").upper()
    o_h, o_m = _int(o.re_extract(r"^[+-](\d{2})", 1)), _int(o.re_extract(r"^[+-]\d{2}:?(\d{2})$", 1)).fill_null(0)
    sign = ibis.ifelse(o.startswith("-"), -1, 1)
    offset = ibis.cases((o.isin(["Z", "UTC"]), 0), (o.notnull(), sign * (o_h * 60 + o_m)), else_=ibis.null("int64"))
    ok = ok & (o.isnull() | o.isin(["Z", "UTC"]) | ((o_h <= 14) & (o_m <= 59)))
    return _Clock(ibis.ifelse(ok.fill_null(False), micros, ibis.null("int64")), offset, h.nullif("").notnull())


def _instant(day: ir.DateValue, clock: _Clock, zone: str) -> ir.TimestampValue:
    """Date + time of day (+ offset, else `zone`) as a naive UTC timestamp; NULL if either is."""
    local = day.cast("timestamp") + clock.micros.as_interval("us")
    shifted = local - clock.offset.as_interval("m")
    return ibis.ifelse(clock.offset.notnull(), shifted, local_to_utc(local, zone))


def _datetime_parts(text: ir.StringValue) -> tuple[ir.DateValue, _Clock]:
    s = _iso_dates(text.strip())
    g = [s.re_extract(DATETIME_RE, i) for i in range(1, 10)]
    day = _make_date(g[0], g[1], g[2])
    return day, _clock(*g[3:])


def time_of_day(text: ir.StringValue) -> _Clock:
    """A time column's text parsed alone (see the grammar)."""
    s = text.strip()
    return _clock(*[s.re_extract(TIME_RE, i) for i in range(1, 7)])


def date(text: ir.StringValue) -> ir.DateValue:
    """A bare date (no time part) in one of the accepted styles, else NULL."""
    s = text.strip()
    day, clock = _datetime_parts(s)
    slow = ibis.ifelse(clock.present, ibis.null("date"), day)
    return ibis.ifelse(s.re_search(_FAST_DATE), s.try_cast("date"), slow)


def timestamp(text: ir.StringValue, zone: str = UTC) -> ir.TimestampValue:
    """A date or datetime (a bare date is its midnight) as a naive UTC timestamp, else NULL."""
    day, clock = _datetime_parts(text)
    micros = ibis.ifelse(clock.present, clock.micros, 0)
    return _instant(day, _Clock(micros, clock.offset, clock.present), zone)


def holds_time(text: ir.StringValue) -> ir.BooleanValue:
    """The text is a valid datetime (it has a time part), not a bare date."""
    s = text.strip()
    day, clock = _datetime_parts(s)
    return (~s.re_search(_FAST_DATE) & day.notnull() & clock.present & clock.micros.notnull()).fill_null(False)


def calendar_date(text: ir.StringValue, zone: str = UTC, reporting_zone: str = UTC) -> ir.DateValue:
    """The date a DATE column's text names. A bare date is itself (a calendar date has no zone); a
    datetime (with an offset, or naive in `zone`) is the date it falls on in `reporting_zone`."""
    s = text.strip()
    day, clock = _datetime_parts(s)
    when = _instant(day, clock, zone)
    from_ts = utc_to_local(when, reporting_zone).date()
    slow = ibis.ifelse(clock.present, from_ts, day)
    return ibis.ifelse(s.re_search(_FAST_DATE), s.try_cast("date"), slow)


def combined(date_text: ir.StringValue, time_text: ir.StringValue, zone: str = UTC) -> ir.TimestampValue:
    """The instant a separate date column and time column name, as a naive UTC timestamp, else NULL.

    Built from the parsed parts, never by casting the concatenated text. A date column holding a
    datetime is read when it is unambiguous: its time is a naive midnight (a spreadsheet's date
    cell), or it names the same instant as the time column; otherwise NULL.
    """
    d, t = date_text.strip(), time_text.strip()
    fast = d.re_search(_FAST_DATE) & t.re_search(_FAST_TIME)
    fast_ts = local_to_utc((d + " " + t).try_cast("timestamp"), zone)
    day, d_clock = _datetime_parts(d)
    t_clock = time_of_day(t)
    ts = _instant(day, t_clock, zone)
    midnight = (d_clock.micros == 0) & d_clock.offset.isnull()
    agrees = _instant(day, d_clock, zone) == ts
    slow = ibis.ifelse(~d_clock.present | (d_clock.micros.notnull() & (midnight | agrees)).fill_null(False),
                       ts, ibis.null("timestamp"))
    return ibis.ifelse(fast, fast_ts, slow)


def combined_date(date_text: ir.StringValue, time_text: ir.StringValue, zone: str = UTC,
                  reporting_zone: str = UTC) -> ir.DateValue:
    """The date `combined` falls on in `reporting_zone`. When the time column alone is invalid, the
    date column's own date (so the time, not the date, is blamed); NULL when the date is invalid
    or disagrees with the time column."""
    ts = combined(date_text, time_text, zone)
    d = date_text.strip()
    own = ibis.ifelse(d.re_search(_FAST_DATE), d.try_cast("date"), _datetime_parts(d)[0])
    time_bad = time_of_day(time_text).micros.isnull()
    from_ts = ts.date() if reporting_zone == UTC else utc_to_local(ts, reporting_zone).date()
    return ibis.ifelse(ts.notnull(), from_ts, ibis.ifelse(time_bad, own, ibis.null("date")))


def time_valid(time_text: ir.StringValue) -> ir.BooleanValue:
    """The time column's text is a valid time on its own (fast for HH:MM:SS)."""
    t = time_text.strip()
    return t.re_search(_FAST_TIME) | time_of_day(t).micros.notnull()
