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


def _let(value: ir.Value, fn) -> ir.Value:
    """`fn(value)` with `value` computed once: Ibis inlines an expression at every use, so a parser
    reusing its parts would compile to SQL growing exponentially with its depth. A one-element
    list mapped by a lambda binds the value once (`list_apply([v], x -> ...)[1]`)."""
    return ibis.array([value]).map(fn)[0]


def _int(text: ir.StringValue) -> ir.IntegerValue:
    return text.nullif("").try_cast("int64")


def _iso_dates(s: ir.StringValue) -> ir.StringValue:
    """`YYYY/M/D` and `D.M.YYYY` at the start of the text rewritten as `YYYY-M-D`."""
    s = s.re_replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})(\D|$)", r"\1-\2-\3\4")
    return s.re_replace(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(\D|$)", r"\3-\2-\1\4")


_CLOCK_GROUPS = ("h", "mi", "sec", "frac", "ampm", "off")


def _groups(text: ir.StringValue, pattern: str, names: tuple[str, ...]) -> ir.StructValue:
    return _let(text, lambda x: ibis.struct({n: x.re_extract(pattern, i) for i, n in enumerate(names, start=1)}))


def _clock(g: ir.StructValue) -> ir.StructValue:
    """(Call with `g` bound by `_let`.) From the regex groups of a time: `micros` since midnight (86,400,000,000 for 24:00; NULL:
    not a valid time), `offset` in minutes east of UTC (NULL: naive) and `present` (a time part)."""
    nums = ibis.struct({
        "hh": _int(g.h), "mm": _int(g.mi), "ss": _int(g.sec).fill_null(0),
        "fr": g.frac.nullif("").rpad(6, "0").left(6).try_cast("int64").fill_null(0),
        "twelve": g.ampm.nullif("").notnull(), "pm": g.ampm.upper() == "P", "o": g.off.nullif("").upper(),
        "present": g.h.nullif("").notnull(),
    })

    def build(n: ir.StructValue) -> ir.StructValue:
        hour = ibis.ifelse(n.twelve, (n.hh % 12) + ibis.ifelse(n.pm, 12, 0), n.hh)
        end_of_day = ~n.twelve & (n.hh == 24) & (n.mm == 0) & (n.ss == 0) & (n.fr == 0)
        ok = ibis.ifelse(n.twelve, n.hh.between(1, 12), (n.hh <= 23) | end_of_day) & (n.mm <= 59) & (n.ss <= 59)
        o_h = _int(n.o.re_extract(r"^[+-](\d{2})", 1))
        o_m = _int(n.o.re_extract(r"^[+-]\d{2}:?(\d{2})$", 1)).fill_null(0)
        utc = n.o.isin(["Z", "UTC"])
        ok = ok & (n.o.isnull() | utc | ((o_h <= 14) & (o_m <= 59)))
        sign = ibis.ifelse(n.o.startswith("-"), -1, 1)
        return ibis.struct({
            "micros": ibis.ifelse(ok.fill_null(False), ((hour * 60 + n.mm) * 60 + n.ss) * 1_000_000 + n.fr,
                                  ibis.null("int64")),
            "offset": ibis.cases((utc, 0), (n.o.notnull(), sign * (o_h * 60 + o_m)), else_=ibis.null("int64")),
            "present": n.present,
        })

    return _let(nums, build)


def _local(day: ir.DateValue, micros: ir.IntegerValue) -> ir.TimestampValue:
    return day.cast("timestamp") + micros.as_interval("us")


def _utc(local: ir.TimestampValue, offset: ir.IntegerValue, zone: str) -> ir.TimestampValue:
    """A wall-clock time with its offset (else read in `zone`) as a naive UTC timestamp."""
    return ibis.ifelse(offset.notnull(), local - offset.as_interval("m"), local_to_utc(local, zone))


def _parts(text: ir.StringValue) -> ir.StructValue:
    """A date or datetime text as {day, micros, offset, present} (see `_clock`); day NULL: invalid."""
    g = _groups(_iso_dates(text.strip()), DATETIME_RE, ("y", "m", "d", *_CLOCK_GROUPS))
    return _let(g, lambda g: ibis.struct({"day": (g.y + "-" + g.m.lpad(2, "0") + "-" + g.d.lpad(2, "0")).try_cast("date"),
                                          "clock": _clock(g)}))


def time_of_day(text: ir.StringValue) -> ir.StructValue:
    """A time column's text parsed alone: {micros, offset, present} (micros NULL: not a valid time)."""
    return _let(_groups(text.strip(), TIME_RE, _CLOCK_GROUPS), _clock)


def date(text: ir.StringValue) -> ir.DateValue:
    """A bare date (no time part) in one of the accepted styles, else NULL."""
    s = text.strip()
    slow = _let(_parts(s), lambda p: ibis.ifelse(p.clock.present, ibis.null("date"), p.day))
    return ibis.ifelse(s.re_search(_FAST_DATE), s.try_cast("date"), slow)


def timestamp(text: ir.StringValue, zone: str = UTC) -> ir.TimestampValue:
    """A date or datetime (a bare date is its midnight) as a naive UTC timestamp, else NULL."""
    def build(p: ir.StructValue) -> ir.TimestampValue:
        micros = ibis.ifelse(p.clock.present, p.clock.micros, 0)
        return _utc(_local(p.day, micros), p.clock.offset, zone)

    return _let(_parts(text), build)


def holds_time(text: ir.StringValue) -> ir.BooleanValue:
    """The text is a valid datetime (it has a time part), not a bare date."""
    s = text.strip()
    slow = _let(_parts(s), lambda p: p.day.notnull() & p.clock.present & p.clock.micros.notnull())
    return ibis.ifelse(s.re_search(_FAST_DATE), False, slow).fill_null(False)


def calendar_date(text: ir.StringValue, zone: str = UTC, reporting_zone: str = UTC) -> ir.DateValue:
    """The date a DATE column's text names. A bare date is itself (a calendar date has no zone); a
    datetime (with an offset, or naive in `zone`) is the date it falls on in `reporting_zone`."""
    s = text.strip()

    def build(p: ir.StructValue) -> ir.DateValue:
        when = _utc(_local(p.day, p.clock.micros), p.clock.offset, zone)
        return ibis.ifelse(p.clock.present, utc_to_local(when, reporting_zone).date(), p.day)

    return ibis.ifelse(s.re_search(_FAST_DATE), s.try_cast("date"), _let(_parts(s), build))


def _combine(date_text: ir.StringValue, time_text: ir.StringValue, zone: str) -> ir.StructValue:
    """{ts, own_day, time_ok} for a date column and a time column, slow path (any style)."""
    both = ibis.struct({"d": _parts(date_text), "t": time_of_day(time_text)})

    def build(b: ir.StructValue) -> ir.StructValue:
        d, t = b.d, b.t
        ts = _utc(_local(d.day, t.micros), t.offset, zone)
        midnight = (d.clock.micros == 0) & d.clock.offset.isnull()
        agrees = _utc(_local(d.day, d.clock.micros), d.clock.offset, zone) == ts
        usable = ~d.clock.present | (d.clock.micros.notnull() & (midnight | agrees)).fill_null(False)
        return ibis.struct({"ts": ibis.ifelse(usable, ts, ibis.null("timestamp")), "own_day": d.day,
                            "time_ok": t.micros.notnull()})

    return _let(both, build)


_FAST_DATETIME = r"^\d{4}-\d{2}-\d{2} (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d$"


def _fast(date_text: ir.StringValue, time_text: ir.StringValue) -> ir.BooleanValue:
    """YYYY-MM-DD and HH:MM:SS (one regex over the text the fast cast reads anyway)."""
    return (date_text + " " + time_text).re_search(_FAST_DATETIME)


def combined(date_text: ir.StringValue, time_text: ir.StringValue, zone: str = UTC) -> ir.TimestampValue:
    """The instant a separate date column and time column name, as a naive UTC timestamp, else NULL.

    Built from the parsed parts, never by casting the concatenated text. A date column holding a
    datetime is read when it is unambiguous: its time is a naive midnight (a spreadsheet's date
    cell), or it names the same instant as the time column; otherwise NULL.
    """
    fast_ts = local_to_utc((date_text + " " + time_text).try_cast("timestamp"), zone)
    return ibis.ifelse(_fast(date_text, time_text), fast_ts, _combine(date_text, time_text, zone).ts)


def combined_date(date_text: ir.StringValue, time_text: ir.StringValue, zone: str = UTC,
                  reporting_zone: str = UTC) -> ir.DateValue:
    """The date `combined` falls on in `reporting_zone`. When the time column alone is invalid, the
    date column's own date (so the time, not the date, is blamed); NULL when the date is invalid
    or disagrees with the time column."""
    def build(c: ir.StructValue) -> ir.DateValue:
        on = c.ts.date() if reporting_zone == UTC else utc_to_local(c.ts, reporting_zone).date()
        return ibis.ifelse(c.ts.notnull(), on, ibis.ifelse(c.time_ok, ibis.null("date"), c.own_day))

    slow = _let(_combine(date_text, time_text, zone), build)
    if zone == UTC and reporting_zone == UTC:  # HH:MM:SS in UTC cannot move the date column's date
        fast = date_text.try_cast("date")
    else:
        fast = utc_to_local(local_to_utc((date_text + " " + time_text).try_cast("timestamp"), zone), reporting_zone).date()
    return ibis.ifelse(_fast(date_text, time_text), fast, slow)


def time_valid(time_text: ir.StringValue) -> ir.BooleanValue:
    """The time column's text is a valid time on its own (fast for HH:MM:SS)."""
    return ibis.ifelse(time_text.re_search(_FAST_TIME), True, time_of_day(time_text).micros.notnull())
