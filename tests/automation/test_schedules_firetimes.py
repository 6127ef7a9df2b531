"""Fire times: cron's weekday numbering in the schedule's time zone, across changes of the clocks,
checked against a minute-by-minute reading of the cron fields and against croniter itself."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from apscheduler.triggers.cron import CronTrigger
from croniter import croniter
from hypothesis import given, settings, strategies as st

from martops.automation.firetimes import FireTimes, FireTimesTrigger

from ..cli_runner import run_cli

UTC = dt.timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _local(times, zone="Europe/Berlin"):
    """(weekday and wall clock in `zone`, UTC clock) of each time; FireTimes gives UTC times."""
    tz = zoneinfo.ZoneInfo(zone)
    return [(t.astimezone(tz).strftime("%a %Y-%m-%d %H:%M"), t.astimezone(UTC).strftime("%H:%M")) for t in times]


def test_monday_is_1_and_sunday_is_0_or_7_in_berlin_across_the_october_change():
    start = dt.datetime(2024, 10, 20, tzinfo=UTC)  # clocks go back on Sunday 2024-10-27 03:00 CEST
    assert _local(FireTimes("0 9 * * 1", "Europe/Berlin").upcoming(start, 2)) == [
        ("Mon 2024-10-21 09:00", "07:00"), ("Mon 2024-10-28 09:00", "08:00")]
    for sunday in ("0", "7", "sun"):
        assert _local(FireTimes(f"0 9 * * {sunday}", "Europe/Berlin").upcoming(start, 2)) == [
            ("Sun 2024-10-20 09:00", "07:00"), ("Sun 2024-10-27 09:00", "08:00")]


def test_new_york_spring_change_keeps_9_local_on_mondays():
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)  # US clocks go forward on Sunday 2024-03-10
    fires = FireTimes("0 9 * * 1", "America/New_York").upcoming(start, 3)
    assert _local(fires, "America/New_York") == [("Mon 2024-03-04 09:00", "14:00"), ("Mon 2024-03-11 09:00", "13:00"),
                             ("Mon 2024-03-18 09:00", "13:00")]


def test_apscheduler_gets_cron_weekdays_through_the_trigger_not_from_crontab():
    """Why croniter computes the times: APScheduler 3 reads day-of-week 0 as Monday."""
    now = dt.datetime(2024, 10, 21, 12, tzinfo=BERLIN)  # a Monday
    ours = FireTimesTrigger(FireTimes("0 9 * * 0", "Europe/Berlin")).get_next_fire_time(None, now)
    theirs = CronTrigger.from_crontab("0 9 * * 0", timezone=BERLIN).get_next_fire_time(None, now)
    assert ours.astimezone(BERLIN).strftime("%a %d") == "Sun 27"
    assert theirs.strftime("%a %d") == "Mon 28"  # the trap the trigger avoids


def test_a_fixed_hour_fires_once_in_the_repeated_hour_and_at_the_change_in_spring():
    daily = FireTimes("30 2 * * *", "Europe/Berlin")
    assert _local(daily.upcoming(dt.datetime(2024, 10, 26, tzinfo=UTC), 2)) == [
        ("Sat 2024-10-26 02:30", "00:30"), ("Sun 2024-10-27 02:30", "00:30")]  # not again at 01:30 UTC
    assert _local(daily.upcoming(dt.datetime(2024, 10, 27, 1, tzinfo=UTC), 1)) == [("Mon 2024-10-28 02:30", "01:30")]
    assert _local(daily.upcoming(dt.datetime(2024, 3, 30, 12, tzinfo=UTC), 2)) == [
        ("Sun 2024-03-31 03:00", "01:00"), ("Mon 2024-04-01 02:30", "00:30")]  # 02:30 did not exist
    hourly = FireTimes("0 * * * *", "Europe/Berlin")
    day = hourly.between(dt.datetime(2024, 10, 26, 22, tzinfo=UTC) - dt.timedelta(seconds=1),
                         dt.datetime(2024, 10, 27, 22, 59, tzinfo=UTC))
    assert len(day) == 25  # the local day of 25 hours: each real hour once
    minutes = FireTimes("* * * * *", "America/New_York").between(dt.datetime(2024, 11, 3, 5, 58, tzinfo=UTC),
                                                                 dt.datetime(2024, 11, 3, 6, 2, tzinfo=UTC))
    # 01:59 EDT, then 01:00 EST: later in time although earlier on the wall clock
    assert [(t.astimezone(UTC).strftime("%H:%M"), t > p) for t, p in zip(minutes[1:], minutes)] == [
        ("06:00", True), ("06:01", True), ("06:02", True)]


def test_latest_and_between_bound_fires_as_documented():
    daily = FireTimes("0 6 * * *", "UTC")
    six = dt.datetime(2024, 6, 2, 6, tzinfo=UTC)
    assert daily.latest(six) == six and daily.latest(six - dt.timedelta(seconds=1)) == six - dt.timedelta(days=1)
    assert daily.between(six, six + dt.timedelta(days=2)) == [six + dt.timedelta(days=1), six + dt.timedelta(days=2)]
    assert len(daily.between(six, six + dt.timedelta(days=400), limit=10)) == 10


# -- every fire against a minute-by-minute reading of the fields ------------------------------
NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def _values(field: str, low: int, high: int) -> set[int]:
    """The values a cron field allows: `*`, `a`, `a-b`, `*/n`, `a-b/n`, lists of those."""
    out: set[int] = set()
    for part in field.split(","):
        part, _, step = part.partition("/")
        if part == "*":
            a, b = low, high
        elif "-" in part:
            a, b = (int(NAMES.get(x, x)) for x in part.split("-"))
        else:
            a = b = int(NAMES.get(part, part))
        out |= set(range(a, b + 1, int(step or 1)))
    return out


def _matches(expr: str, wall: dt.datetime) -> bool:
    minute, hour, dom, month, dow = expr.split()
    days = _values(dow, 0, 7)
    weekday = (wall.isoweekday() % 7) in days or (wall.isoweekday() == 7 and 7 in days)
    in_month = wall.day in _values(dom, 1, 31)
    if dom != "*" and dow != "*":
        day_ok = in_month or weekday  # cron: either restricted day field may match
    else:
        day_ok = in_month and weekday
    return (wall.minute in _values(minute, 0, 59) and wall.hour in _values(hour, 0, 23)
            and wall.month in _values(month, 1, 12) and day_ok)


def _brute_force(expr: str, zone: str, start: dt.datetime, minutes: int) -> tuple[list[dt.datetime], set]:
    """Every real minute after `start` whose wall clock matches (a fixed hour not twice in autumn),
    and the instants where the clocks jumped forward (where skipped wall times fire)."""
    tz = zoneinfo.ZoneInfo(zone)
    fixed_hour = expr.split()[1] != "*"
    fires, jumps = [], set()
    for i in range(1, minutes + 1):
        u = start + dt.timedelta(minutes=i)
        wall = u.astimezone(tz)
        before = (u - dt.timedelta(minutes=1)).astimezone(tz)
        if wall.utcoffset() > before.utcoffset():
            jumps.add(u)
        repeated = wall.fold == 1 and wall.replace(fold=0).utcoffset() != wall.utcoffset()
        if _matches(expr, wall) and not (fixed_hour and repeated):
            fires.append(u)
    return fires, jumps


field = st.sampled_from
CRON = st.tuples(
    field(["*", "0", "30", "*/15", "0,30", "5-10", "45"]),
    field(["*", "2", "1-3", "*/6", "9", "0,12", "23"]),
    field(["*", "*", "1", "15", "1-7", "27,31"]),
    field(["*", "*", "*", "3", "10", "3,10", "11"]),
    field(["*", "*", "0", "7", "1", "1-5", "6,0", "sun", "mon-fri"]),
).map(" ".join)
ZONES = field(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
STARTS = st.one_of(
    field([dt.datetime(2024, 3, 30, 12), dt.datetime(2024, 10, 26, 12), dt.datetime(2024, 3, 9, 12),
           dt.datetime(2024, 11, 2, 12), dt.datetime(2024, 4, 6, 6), dt.datetime(2024, 10, 5, 6)]),
    st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2026, 12, 31)),
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))


@settings(max_examples=60, deadline=None)
@given(expr=CRON, zone=ZONES, start=STARTS)
def test_fires_over_two_days_are_exactly_the_minutes_whose_wall_clock_matches(expr, zone, start):
    minutes = 2 * 24 * 60
    expected, jumps = _brute_force(expr, zone, start, minutes)
    got = FireTimes(expr, zone).between(start, start + dt.timedelta(minutes=minutes))
    assert got == sorted(set(got))  # increasing, no fire twice
    extra = [t for t in got if t not in expected]
    assert all(t.astimezone(UTC) in jumps for t in extra), f"{expr} in {zone}: fires matching no field {extra[:3]}"
    assert [t for t in expected if t not in got] == [], f"{expr} in {zone}: matching minutes never fired"


@settings(max_examples=40, deadline=None)
@given(expr=CRON, zone=ZONES, start=STARTS)
def test_away_from_clock_changes_the_fires_are_croniters(expr, zone, start):
    tz = zoneinfo.ZoneInfo(zone)
    it = croniter(expr, start.astimezone(tz))
    theirs = [it.get_next(dt.datetime) for _ in range(5)]
    ours = FireTimes(expr, zone).upcoming(start, 5)
    # croniter fires a fixed-hour time twice in the repeated autumn hour; ours, as cron, once
    repeated = [t for t in theirs if t.fold == 1 and t.replace(fold=0).utcoffset() != t.utcoffset()]
    if not repeated or expr.split()[1] == "*":  # compared in UTC: == across zones is False in a repeated hour
        assert ours == [t.astimezone(UTC) for t in theirs]


def test_schedule_list_prints_the_next_fires_in_local_time_and_utc(tmp_path, capsys):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("sources: {campaigns: {path: exports}}\nschedules:\n"
                   "  - {name: weekly, cron: '0 9 * * 7', timezone: Europe/Berlin, select: [kpis, crm]}\n"
                   "  - {name: hourly, cron: '15 * * * *'}\n")
    out = run_cli(capsys, "schedule", "list", "--config", cfg, "--count", "3", "--after", "2024-10-20T08:00")
    assert out.code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0] == "weekly: cron '0 9 * * 7' in Europe/Berlin; runs kpis crm; range new; missed fires: skip"
    assert lines[1:4] == ["  2024-10-27 09:00 CET    2024-10-27 08:00 UTC",
                          "  2024-11-03 09:00 CET    2024-11-03 08:00 UTC",
                          "  2024-11-10 09:00 CET    2024-11-10 08:00 UTC"]
    it = croniter("0 9 * * 0", dt.datetime(2024, 10, 20, 8, tzinfo=UTC).astimezone(BERLIN))
    assert [line.split()[3] for line in lines[1:4]] == [it.get_next(dt.datetime).astimezone(UTC).strftime("%Y-%m-%d")
                                                        for _ in range(3)]
    assert lines[5].startswith("hourly: cron '15 * * * *' in UTC; runs the whole project")
    assert lines[6].strip() == "2024-10-20 08:15 UTC    2024-10-20 08:15 UTC"
