"""The shared parsers (`sources.numbers`, `sources.timestamps`): every example of issue 13 with its
right value, run in DuckDB through Ibis as the domains run them."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from martops.sources import numbers as N
from martops.sources import timestamps as T

CON = ibis.duckdb.connect()


def values(build, texts, **kw):
    t = ibis.memtable({"s": texts}, schema={"s": "string"})
    return [r["v"] for r in CON.to_pyarrow(t.select(v=build(t.s, **kw))).to_pylist()]


def value(build, text, **kw):
    return values(build, [text], **kw)[0]


@pytest.mark.parametrize("text,expected", [
    ("1,234.56", 1234.56), ("€87.17", 87.17), ("$ 1 234.50", 1234.5), ("$1,234.56", 1234.56), ("1,234", 1234.0),
    ("12 USD", 12.0), ("-€5", -5.0), ("€-5", -5.0), (" 7 ", 7.0), ("1e3", 1000.0), (".5", 0.5), ("1\u00a0234", 1234.0),
    ("0", 0.0), ("+3", 3.0),
    # not numbers under the default decimal point
    ("1234,50", None), ("1.234,56", None), ("12,5", None), ("1,23", None), ("1,2345", None),
    ("inf", None), ("-inf", None), ("Infinity", None), ("1e309", None), ("NaN", None), ("nan", None),
    ("0x1", None), ("abc", None), ("", None), (None, None), ("$$5", None), ("--5", None), ("1 2", None),
])
def test_numbers_with_the_default_decimal_point(text, expected):
    assert value(N.number, text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1234,50", 1234.5), ("1.234,56", 1234.56), ("€ 1.234,56", 1234.56), ("1 234,5", 1234.5), ("1,234", 1.234),
    ("1.234", 1234.0), ("1,234.56", None), ("1.5", None), ("inf", None),
])
def test_numbers_with_a_declared_decimal_comma(text, expected):
    assert value(N.number, text, decimal=",") == expected


def test_a_decimal_comma_under_the_default_suggests_the_setting_and_vice_versa():
    hints = values(lambda s: N.decimal_hint(s, ".", "sources.crm"), ["1234,50", "1.234,56", "1,234", "abc", None])
    assert hints[0] == hints[1] == " (it looks like a decimal comma; declare sources.crm.decimal: ',' in martops.yml)"
    assert hints[2:] == [None, None, None]
    assert value(lambda s: N.decimal_hint(s, ",", "sources.crm"), "1,234.56") == \
        " (it looks like a decimal point; declare sources.crm.decimal: '.' in martops.yml)"


@pytest.mark.parametrize("text,expected", [
    ("0", 0), ("1", 1), (" 1 ", 1), ("1.0", 1), ("0.000", 0),
    ("0.5", None), ("1.4", None), ("0x1", None), ("-0.4", None), ("2", None), ("-0", None), ("yes", None), ("", None),
])
def test_flags_are_exactly_0_or_1(text, expected):
    assert value(N.flag, text) == expected


D = dt.datetime


@pytest.mark.parametrize("text,expected", [
    ("2023-09-01T10:15:00Z", D(2023, 9, 1, 10, 15)),
    ("2023-09-01 11:45:00+02:00", D(2023, 9, 1, 9, 45)),
    ("2023-09-01 11:45:00+0200", D(2023, 9, 1, 9, 45)),
    ("2023-09-01T06:00:00-05:00", D(2023, 9, 1, 11, 0)),
    ("2023-09-01 10:00:00.250", D(2023, 9, 1, 10, 0, 0, 250000)),
    ("2023-09-01T08:03:10.123456789Z", D(2023, 9, 1, 8, 3, 10, 123456)),
    ("2023-09-01 9:10:00 PM", D(2023, 9, 1, 21, 10)),
    ("2023-09-01 12:00 AM", D(2023, 9, 1, 0, 0)),
    ("2023-09-01 12:30 pm", D(2023, 9, 1, 12, 30)),
    ("2023-09-01 24:00:00", D(2023, 9, 2, 0, 0)),
    ("2023-09-01", D(2023, 9, 1)),
    ("01.09.2023 10:00", D(2023, 9, 1, 10, 0)),
    ("2023/9/1 10:00:00", D(2023, 9, 1, 10, 0)),
    ("2023-09-01 24:00:01", None), ("2023-09-01 13:00 PM", None), ("2023-09-01 0:10 AM", None),
    ("2023-09-01 25:61:00", None), ("2023-09-01 10:00:60", None), ("2023-02-30 10:00:00", None),
    ("2023-09-01 10:00:00+15:00", None), ("09/01/2023 10:00", None), ("yesterday", None), ("", None),
])
def test_timestamps_in_utc(text, expected):
    assert value(T.timestamp, text) == expected


def test_naive_times_are_read_in_the_source_time_zone():
    got = values(T.timestamp, ["2023-09-01 10:00:00", "2023-09-01 10:00:00Z", "2023-01-15 10:00:00"], zone="Europe/Paris")
    assert got == [D(2023, 9, 1, 8, 0), D(2023, 9, 1, 10, 0), D(2023, 1, 15, 9, 0)]  # summer +2, offset kept, winter +1


@pytest.mark.parametrize("text,zone,reporting,expected", [
    ("2023-09-01T23:30:00-05:00", "UTC", "UTC", dt.date(2023, 9, 2)),
    ("2023-09-01T23:30:00-05:00", "UTC", "America/Chicago", dt.date(2023, 9, 1)),
    ("2023-09-01 00:00:00", "UTC", "UTC", dt.date(2023, 9, 1)),
    ("2023-09-01 23:30:00", "Europe/Paris", "Europe/Paris", dt.date(2023, 9, 1)),
    ("2023-09-01", "UTC", "Asia/Tokyo", dt.date(2023, 9, 1)),  # a bare date has no zone
    ("1.9.2023", "UTC", "UTC", dt.date(2023, 9, 1)),
    ("03/04/2024", "UTC", "UTC", None),
])
def test_a_date_column_holding_a_timestamp_is_its_date_in_the_reporting_zone(text, zone, reporting, expected):
    assert value(T.calendar_date, text, zone=zone, reporting_zone=reporting) == expected


def test_bare_dates_only():
    assert values(T.date, ["2023-09-01", "2023/9/1", "1.9.2023", "2023-02-30", "2023-09-01 00:00:00", "03/04/2024"]) \
        == [dt.date(2023, 9, 1)] * 3 + [None] * 3


@pytest.mark.parametrize("date_text,time_text,ts,day", [
    ("2023-09-01", "10:15:00Z", D(2023, 9, 1, 10, 15), dt.date(2023, 9, 1)),
    ("2023-09-01", "11:45:00+02:00", D(2023, 9, 1, 9, 45), dt.date(2023, 9, 1)),
    ("2023-09-01", "9:10:00 PM", D(2023, 9, 1, 21, 10), dt.date(2023, 9, 1)),
    ("2023-09-01", "24:00:00", D(2023, 9, 2), dt.date(2023, 9, 2)),          # date and timestamp agree
    ("2023-09-01 00:00:00", "10:00:00", D(2023, 9, 1, 10), dt.date(2023, 9, 1)),  # a spreadsheet's date cell
    ("2023-09-06T08:03:10Z", "08:03:10", D(2023, 9, 6, 8, 3, 10), dt.date(2023, 9, 6)),  # the same instant
    ("2023-09-06T08:03:10Z", "09:00:00", None, None),                        # two different instants
    ("2023-09-01", "25:61:00", None, dt.date(2023, 9, 1)),                   # the time is to blame, not the date
    ("2023-09-01", "", None, dt.date(2023, 9, 1)),
    ("2023-13-01", "10:00:00", None, None),
    ("2023-09-01", "00:30:00+02:00", D(2023, 8, 31, 22, 30), dt.date(2023, 8, 31)),
])
def test_separate_date_and_time_columns(date_text, time_text, ts, day):
    t = ibis.memtable({"d": [date_text], "t": [time_text]}, schema={"d": "string", "t": "string"})
    got = CON.to_pyarrow(t.select(ts=T.combined(t.d, t.t), day=T.combined_date(t.d, t.t))).to_pylist()[0]
    assert got == {"ts": ts, "day": day}


def test_a_source_time_zone_moves_the_date_with_the_timestamp():
    t = ibis.memtable({"d": ["2023-09-01"], "t": ["00:30:00"]})
    got = CON.to_pyarrow(t.select(ts=T.combined(t.d, t.t, "Europe/Paris"),
                                  day=T.combined_date(t.d, t.t, "Europe/Paris"),
                                  local=T.combined_date(t.d, t.t, "Europe/Paris", "Europe/Paris"))).to_pylist()[0]
    assert got == {"ts": D(2023, 8, 31, 22, 30), "day": dt.date(2023, 8, 31), "local": dt.date(2023, 9, 1)}
