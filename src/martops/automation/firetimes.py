"""When a schedule fires: croniter's fire times in the schedule's time zone, with cron's rule for
the hour repeated when the clocks go back.

croniter, not APScheduler's CronTrigger, computes every fire time: APScheduler 3 numbers weekdays
from 0 = Monday, so `CronTrigger.from_crontab("0 9 * * 0")` would fire on Mondays where cron fires
on Sundays. `FireTimesTrigger` hands these times to APScheduler.

Times go in as aware datetimes (any zone) and come out aware in UTC: Python compares two datetimes
of the same zone by their wall clock, ignoring `fold`, so in the hour repeated in autumn 01:00 EST
would sort before 01:30 EDT. `local(t)` gives the wall clock for display and dates.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from apscheduler.triggers.base import BaseTrigger
from croniter import croniter

from martops.automation.schedules import Schedule

ONE_STEP = dt.timedelta(microseconds=1)


class FireTimes:
    """The fire times of one cron expression in one IANA time zone.

    Across the spring change a time the clocks skip fires at the change (croniter: 02:30 -> 03:00).
    In the autumn hour that happens twice, a fixed hour (`30 2 * * *`) fires once, the first time,
    as cron does; an `*` hour fires in each real hour. `expr` may carry croniter's sixth (seconds)
    field: martops.yml never does (schedules take five), tests use it to fire within seconds.
    """

    def __init__(self, expr: str, timezone: str = "UTC"):
        self.expr = expr
        self.zone = zoneinfo.ZoneInfo(timezone)
        self._every_hour = expr.split()[1] in ("*", "*/1")

    @classmethod
    def of(cls, schedule: Schedule) -> "FireTimes":
        return cls(schedule.cron, schedule.timezone)

    def _repeat(self, t: dt.datetime) -> bool:
        """`t` is the second pass of a wall-clock time (autumn) that a fixed-hour schedule had already fired at."""
        if self._every_hour:
            return False
        wall = t.astimezone(dt.timezone.utc).astimezone(self.zone)
        return wall.fold == 1 and wall.replace(fold=0).utcoffset() != wall.utcoffset()

    def _walk(self, start: dt.datetime, backwards: bool) -> dt.datetime:
        it = croniter(self.expr, start.astimezone(self.zone))
        while True:
            t = it.get_prev(dt.datetime) if backwards else it.get_next(dt.datetime)
            if not self._repeat(t):
                return t.astimezone(dt.timezone.utc)

    def local(self, t: dt.datetime) -> dt.datetime:
        """`t` on the schedule's wall clock (`2024-10-27 02:30 CET`)."""
        return t.astimezone(self.zone)

    def after(self, moment: dt.datetime) -> dt.datetime:
        """The first fire strictly after `moment`."""
        return self._walk(moment, backwards=False)

    def latest(self, moment: dt.datetime) -> dt.datetime:
        """The last fire at or before `moment`."""
        return self._walk(moment + ONE_STEP, backwards=True)

    def upcoming(self, moment: dt.datetime, count: int) -> list[dt.datetime]:
        """The next `count` fires after `moment`."""
        times: list[dt.datetime] = []
        for _ in range(count):
            moment = self.after(moment)
            times.append(moment)
        return times

    def between(self, start: dt.datetime, end: dt.datetime, limit: int = 10_000) -> list[dt.datetime]:
        """Fires in (start, end], at most `limit` of them (the earliest)."""
        times: list[dt.datetime] = []
        t = self.after(start)
        while t <= end and len(times) < limit:
            times.append(t)
            t = self.after(t)
        return times


class FireTimesTrigger(BaseTrigger):
    """An APScheduler 3 trigger that fires at `FireTimes` (so cron's weekday numbering holds)."""

    def __init__(self, fires: FireTimes):
        self.fires = fires

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        return self.fires.after(previous_fire_time or now)

    def __str__(self) -> str:
        return f"cron[{self.fires.expr} in {self.fires.zone.key}]"
