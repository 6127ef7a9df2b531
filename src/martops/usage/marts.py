"""The usage marts from staging, as of a date: customers, companies, event types, tiers, retention.

Rules (the README's usage section states them for readers):

- An *interaction* is one loaded event (grain `event`) or one active user-month (grain `month`: the
  source says only that a user was active in a month, so a month counts once; no day or event count
  is invented). Events after the as-of date (month) are not counted; people who signed up after it
  are in no mart.
- The *recent window* is the last N weeks up to and including the as-of day (`usage.trend_weeks`;
  grain `month`: the last N months, `usage.trend_months`); the *previous window* the N before it.
  `trend_change` = recent / previous - 1 (NULL when previous is 0); `trend` is `up`/`down` at a change of
  at least `usage.trend_threshold`, else `flat`; `started` (nothing before), `stopped` (nothing
  recently), `none` (neither window).
- *Tiers*, in this order of precedence: `excluded` (a bot or test account, `usage.exclude`), `new`
  (signed up in the recent window; without a signup date, first seen in it), `dormant` (no
  interaction in the recent window), else `low` / `medium` / `high` by the recent interactions
  (companies: recent interactions per seat): at or below the first cut low, above the second high.
  The cuts are the `usage.tier_quantiles` of the measure over the customers (companies) being ranked,
  by linear interpolation (numpy's default, PostgreSQL's percentile_cont), or fixed
  `usage.customer_thresholds` / `usage.company_thresholds`.
- A *company* is the trimmed company text, compared case-insensitively (shown as its first spelling
  in sort order). Its *seats* are its people who are not excluded; *active users* those with an
  interaction in the recent window; `interactions_per_seat` = interactions / seats.
- *Retention*: a cohort is the month of signup (without a signup date: the month first seen);
  `retention` at k months = cohort members active in month cohort + k / cohort size. Only months
  observed in full count: at grain `event` the as-of month counts only when the as-of day is its last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np

from martops.config import ProjectConfig, UsageConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.ops.cleaning_log import CleaningLog
from martops.usage import tables as T


@dataclasses.dataclass(frozen=True)
class Window:
    """The as-of point and the two windows, in days (grain event) or month indexes (grain month)."""

    grain: str
    calendar: bool
    """Month indexes are calendar months (labels YYYY-MM)."""
    as_of: dt.date | None
    as_of_month: int
    periods: int
    recent_from: dt.date | int
    previous_from: dt.date | int
    last_full_month: int
    """The last month retention counts (observed in full)."""

    @property
    def unit(self) -> str:
        return "week" if self.grain == "event" else "month"

    def recent(self, t: ir.Table) -> ir.BooleanValue:
        if self.grain == "event":
            return (t.event_date >= self.recent_from) & (t.event_date <= self.as_of)
        return (t.activity_month >= self.recent_from) & (t.activity_month <= self.as_of_month)

    def previous(self, t: ir.Table) -> ir.BooleanValue:
        if self.grain == "event":
            return (t.event_date >= self.previous_from) & (t.event_date < self.recent_from)
        return (t.activity_month >= self.previous_from) & (t.activity_month < self.recent_from)

    def upto(self, t: ir.Table) -> ir.Table:
        return t.filter(t.event_date <= self.as_of) if self.grain == "event" else \
            t.filter(t.activity_month <= self.as_of_month)

    def describe(self) -> str:
        n = self.periods
        if self.grain == "event":
            return (f"as of {self.as_of.isoformat()}; recent window {self.recent_from.isoformat()}..{self.as_of.isoformat()} "
                    f"({n} weeks), previous {self.previous_from.isoformat()}..{(self.recent_from - dt.timedelta(days=1)).isoformat()}")
        first = -10**9 if self.calendar else 1  # bare month numbers start at 1: no `M-1`, no `M00`

        def span(lo: int, hi: int) -> str:
            if hi < first:
                return "none (the months start at M01)"
            cut = " (cut at M01, where the months start)" if lo < first else ""
            return f"{month_label(max(lo, first), self.calendar)}..{month_label(hi, self.calendar)}{cut}"

        return (f"as of {month_label(self.as_of_month, self.calendar)}; recent window "
                f"{span(self.recent_from, self.as_of_month)} ({n} months), previous "
                f"{span(self.previous_from, self.recent_from - 1)}")


def calendar_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_label(index: int, calendar: bool) -> str:
    """`2024-03` for a calendar month index, `M07` for a bare month number."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}" if calendar else f"M{index:02d}"


def label(index: ir.IntegerValue, calendar: bool) -> ir.StringValue:
    """`month_label` in the warehouse."""
    if calendar:
        return (index // 12).cast("string").lpad(4, "0") + "-" + ((index % 12) + 1).cast("string").lpad(2, "0")
    return ibis.literal("M") + index.cast("string").lpad(2, "0")


def window(wh: Warehouse, project: ProjectConfig, as_of: dt.date | None) -> Window:
    """The as-of point: `as_of` (flag, else `usage.as_of`), else the last event's day (month)."""
    cfg, src = project.usage, project.sources.usage
    given = as_of or cfg.as_of
    ev = wh.table(T.STAGING_EVENTS)
    if src.grain == "month":
        calendar = src.month_one is not None
        if given is not None:
            if not calendar:
                raise ConfigError("usage.marts: --as-of is a date but the source's months are bare numbers; set "
                                  "sources.usage.month_one (the calendar month of month 1) or leave --as-of out")
            if (given + dt.timedelta(days=1)).month == given.month:
                raise ConfigError(f"usage.marts: --as-of {given.isoformat()} is inside a month, but the source counts "
                                  "activity per month (grain: month), so the marts can only be as of a month's end; "
                                  "give its last day, e.g. "
                                  f"{(given.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)}")
            as_of_month = calendar_index(given)
            first = wh.scalar(ev.activity_month.min())
            if first is not None and as_of_month < int(first):
                raise ConfigError(f"usage.marts: --as-of {given.isoformat()} is before the first month with activity "
                                  f"({month_label(int(first), True)}); there is nothing to be as of, and the marts were "
                                  "left as they were")
        else:
            last = wh.scalar(ev.activity_month.max())
            if last is None:
                raise ConfigError(f"usage.marts: {T.STAGING_EVENTS} holds no events; load a delivery with events")
            as_of_month = int(last)
        n = cfg.trend_months
        return Window("month", calendar, None, as_of_month, n, as_of_month - n + 1, as_of_month - 2 * n + 1,
                      as_of_month)
    if given is None:
        last = wh.scalar(ev.event_date.max())
        if last is None:
            raise ConfigError(f"usage.marts: {T.STAGING_EVENTS} holds no events, so there is no last day to be as "
                              "of; load a delivery with events (or pass --as-of)")
        given = last.date() if isinstance(last, dt.datetime) else last
    elif given > dt.date.today():
        raise ConfigError(f"usage.marts: the as-of date {given.isoformat()} is in the future; leave --as-of out for "
                          "the last event's day")
    else:
        first = wh.scalar(ev.event_date.min())
        first = first.date() if isinstance(first, dt.datetime) else first
        if first is not None and given < first:
            raise ConfigError(f"usage.marts: --as-of {given.isoformat()} is before the first event ({first.isoformat()}); "
                              "there is nothing to be as of, and the marts were left as they were")
    n = cfg.trend_weeks
    recent_from = given - dt.timedelta(days=7 * n - 1)
    month_end = (given + dt.timedelta(days=1)).month != given.month
    idx = calendar_index(given)
    return Window("event", True, given, idx, n, recent_from, recent_from - dt.timedelta(days=7 * n),
                  idx if month_end else idx - 1)


def _joined(j: ir.Table) -> ir.Table:
    """A left join's columns without the right side's copies of the keys."""
    return j.drop(*[c for c in j.columns if c.endswith("_right")])


def _trend(recent: ir.IntegerValue, previous: ir.IntegerValue, threshold: float) -> tuple[ir.Value, ir.Value]:
    change = ibis.ifelse(previous > 0, recent.cast("float64") / previous.cast("float64") - 1.0, ibis.null("float64"))
    word = ibis.cases(
        ((recent == 0) & (previous == 0), "none"), (previous == 0, "started"), (recent == 0, "stopped"),
        (change >= threshold, "up"), (change <= -threshold, "down"), else_="flat")
    return change, word


def cuts(values: np.ndarray, cfg: UsageConfig, fixed: tuple[float, float] | None) -> tuple[float, float] | None:
    """The two tier cuts: fixed thresholds, else the configured quantiles of `values` (None: nothing
    to rank)."""
    if fixed is not None:
        return float(fixed[0]), float(fixed[1])
    if len(values) == 0:
        return None
    lo, hi = np.quantile(values.astype("float64"), list(cfg.tier_quantiles))
    return float(lo), float(hi)


def _ranked(measure: ir.NumericValue, before: ir.StringValue, c: tuple[float, float] | None) -> ir.StringValue:
    if c is None:
        return before
    lo, hi = c
    return ibis.ifelse(before.notnull(), before,
                       ibis.cases((measure <= lo, "low"), (measure > hi, "high"), else_="medium"))


def customers(wh: Warehouse, project: ProjectConfig, w: Window, log: CleaningLog) -> tuple[ir.Table, dict]:
    """`marts.usage_customers` as an expression, and the tier cuts used."""
    cfg = project.usage
    people, events = wh.table(T.STAGING_PEOPLE), wh.table(T.STAGING_EVENTS)
    ev = w.upto(events)
    if w.grain == "event":
        signed = people.filter(people.signup_date.isnull() | (people.signup_date <= w.as_of))
    else:
        signed = people.filter(people.signup_month.isnull() | (people.signup_month <= w.as_of_month))
    later = int(wh.scalar(people.count())) - int(wh.scalar(signed.count()))
    log.add("marts", "people who signed up after the as-of date (in no mart)", later)
    event_grain = w.grain == "event"
    agg = ev.group_by("user_id").aggregate(
        interactions=ev.count(),
        active_days=ev.event_date.nunique(),
        active_months=ev.activity_month.nunique(),
        first_seen=ev.event_at.min(), last_seen=ev.event_at.max(),
        _first_month=ev.activity_month.min(), _last_month=ev.activity_month.max(),
        _first_day=ev.event_date.min(),
        recent=w.recent(ev).cast("int64").sum(), previous=w.previous(ev).cast("int64").sum(),
    )
    reason = signed.test_reason
    if event_grain and cfg.exclude.enabled and cfg.exclude.max_events_per_day is not None:
        per_day = ev.group_by(["user_id", "event_date"]).aggregate(n=ev.count())
        busy = per_day.filter(per_day.n > cfg.exclude.max_events_per_day)
        busiest = busy.group_by("user_id").aggregate(_busy_n=busy.n.max(), _busy_days=busy.count())
        first = busy.join(busiest, [busy.user_id == busiest.user_id, busy.n == busiest._busy_n])
        first = first.group_by(first.user_id).aggregate(_busy_day=first.event_date.min(), _busy_n=first._busy_n.max(),
                                                        _busy_days=first._busy_days.max())
        signed = _joined(signed.left_join(first, signed.user_id == first.user_id))
        volume = (signed._busy_n.cast("string") + " events on " + signed._busy_day.cast("string")
                  + " (more than usage.exclude.max_events_per_day " + str(cfg.exclude.max_events_per_day) + "; "
                  + signed._busy_days.cast("string") + " such day(s))")
        reason = ibis.coalesce(reason, volume)
    t = _joined(signed.left_join(agg, signed.user_id == agg.user_id))
    counts = {c: t[c].fill_null(0) for c in ("interactions", "active_months", "recent", "previous")}
    t = t.mutate(**counts, active_days=t.active_days.fill_null(0) if event_grain else ibis.null("int64"),
                 excluded_reason=reason)
    change, word = _trend(t.recent, t.previous, cfg.trend_threshold)
    cohort = ibis.coalesce(t.signup_month, t._first_month)
    if event_grain:
        new = ibis.coalesce(t.signup_date, t._first_day) >= w.recent_from
    else:
        new = cohort >= w.recent_from
    before = ibis.cases((t.excluded_reason.notnull(), "excluded"), (new.fill_null(False), "new"),
                        (t.recent == 0, "dormant"), else_=ibis.null("string"))
    t = t.mutate(_before=before, _cohort=cohort, trend_change=change, trend=word)
    t = wh.materialize(t, "_usage_customers_pre")
    ranked = wh.to_pyarrow(t.filter(t._before.isnull()).select("recent"))["recent"].to_numpy()
    c = cuts(ranked, cfg, cfg.customer_thresholds)
    out = t.select(
        customer_id=t.user_id, name=t.name, email=t.email, company=t.company, signup_at=t.created_at,
        signup_month=label(t.signup_month, w.calendar),
        cohort=label(t._cohort, w.calendar), tier=_ranked(t.recent, t._before, c),
        interactions=t.interactions, active_days=t.active_days, active_months=t.active_months,
        first_seen=t.first_seen, last_seen=t.last_seen,
        first_month=label(t._first_month, w.calendar), last_month=label(t._last_month, w.calendar),
        months_since_last_seen=(w.as_of_month - t._last_month).cast("int64"),
        recent=t.recent, previous=t.previous, trend_change=t.trend_change, trend=t.trend,
        excluded=t.excluded_reason.notnull(), excluded_reason=t.excluded_reason,
        as_of=ibis.literal(w.as_of, type="date"), as_of_month=ibis.literal(month_label(w.as_of_month, w.calendar)),
        cohort_index=t._cohort.cast("int64"),
    )
    return out.order_by("customer_id"), {"cuts": c, "ranked": len(ranked)}


def companies(wh: Warehouse, project: ProjectConfig, w: Window, cust: ir.Table) -> tuple[ir.Table, dict]:
    """`marts.usage_companies` from the customers mart (excluded accounts are no seat) and the events."""
    cfg = project.usage
    seated = cust.filter(~cust.excluded & cust.company.notnull())
    seated = seated.mutate(_key=seated.company.lower())
    ev = w.upto(wh.table(T.STAGING_EVENTS))
    j = ev.join(seated.select("customer_id", "_key"), ev.user_id == seated.customer_id)
    days = j.group_by("_key").aggregate(
        active_days=j.event_date.nunique(),
        first_seen=j.event_at.min(), last_seen=j.event_at.max(),
        _first_month=j.activity_month.min(), _last_month=j.activity_month.max())
    g = seated.group_by("_key").aggregate(
        company=seated.company.min(), seats=seated.count(), excluded_accounts=ibis.literal(0, type="int64"),
        active_users=(seated.recent > 0).cast("int64").sum(), interactions=seated.interactions.sum(),
        recent=seated.recent.sum(), previous=seated.previous.sum(),
        _all_new=(seated.tier == "new").cast("int64").sum())
    excluded = cust.filter(cust.excluded & cust.company.notnull())
    excluded = excluded.group_by(_key=excluded.company.lower()).aggregate(_n=excluded.count())
    g = _joined(g.left_join(excluded, "_key"))
    g = g.mutate(excluded_accounts=g._n.fill_null(0).cast("int64")).drop("_n")
    g = _joined(g.left_join(days, "_key"))
    change, word = _trend(g.recent, g.previous, cfg.trend_threshold)
    seats = g.seats.cast("float64")
    before = ibis.cases((g._all_new == g.seats, "new"), (g.recent == 0, "dormant"), else_=ibis.null("string"))
    g = g.mutate(active_share=g.active_users.cast("float64") / seats, interactions_per_seat=g.interactions / seats,
                 recent_per_seat=g.recent / seats, trend_change=change, trend=word, _before=before)
    g = wh.materialize(g, "_usage_companies_pre")
    ranked = wh.to_pyarrow(g.filter(g._before.isnull()).select("recent_per_seat"))["recent_per_seat"].to_numpy()
    c = cuts(ranked, cfg, cfg.company_thresholds)
    out = g.select(
        "company", "seats", "excluded_accounts", "active_users", "active_share", "interactions",
        "interactions_per_seat", "recent", "previous", "recent_per_seat", "trend_change", "trend",
        tier=_ranked(g.recent_per_seat, g._before, c),
        active_days=g.active_days if w.grain == "event" else ibis.null("int64"), first_seen=g.first_seen,
        last_seen=g.last_seen, first_month=label(g._first_month, w.calendar),
        last_month=label(g._last_month, w.calendar),
        as_of=ibis.literal(w.as_of, type="date"), as_of_month=ibis.literal(month_label(w.as_of_month, w.calendar)))
    return out.order_by("company"), {"cuts": c, "ranked": len(ranked)}


def event_types(wh: Warehouse, w: Window, cust: ir.Table, comp: ir.Table) -> ir.Table:
    """Interactions by event type per customer (every customer) and per company (its seats)."""
    ev = w.upto(wh.table(T.STAGING_EVENTS))
    ids = cust.select(_cid=cust.customer_id)  # a join: PostgreSQL has no SEMI JOIN, and customer_id is unique
    ev = ev.join(ids, ev.user_id == ids._cid).drop("_cid")
    per_c = ev.group_by(["user_id", "event_type"]).aggregate(interactions=ev.count())
    per_c = per_c.select(entity=ibis.literal("customer"), entity_id=per_c.user_id, event_type=per_c.event_type,
                         interactions=per_c.interactions)
    seated = cust.filter(~cust.excluded & cust.company.notnull())
    names = comp.select(_key=comp.company.lower(), _company=comp.company)
    seated = seated.mutate(_key=seated.company.lower())
    seated = seated.join(names, "_key").select("customer_id", "_company")
    j = ev.join(seated, ev.user_id == seated.customer_id)
    per_co = j.group_by(["_company", "event_type"]).aggregate(interactions=j.count())
    per_co = per_co.select(entity=ibis.literal("company"), entity_id=per_co._company, event_type=per_co.event_type,
                           interactions=per_co.interactions)
    both = per_c.union(per_co)
    total = both.interactions.sum().over(group_by=["entity", "entity_id"])
    both = both.mutate(share=both.interactions.cast("float64") / total.cast("float64"))
    return both.order_by(["entity", "entity_id", "event_type"])


RULES = {
    "new": "signed up in the recent window ({window})",
    "dormant": "no interaction in the recent window ({window})",
    "low": "{measure} at or below {lo:g} ({how})",
    "medium": "{measure} above {lo:g} and at most {hi:g} ({how})",
    "high": "{measure} above {hi:g} ({how})",
    "excluded": "a bot or test account (usage.exclude)",
}


def tiers(wh: Warehouse, project: ProjectConfig, w: Window, cust: ir.Table, comp: ir.Table,
          cust_cuts: dict, comp_cuts: dict) -> ir.Table:
    """One row per entity and tier: members, share, the measure's range and the rule with its cuts."""
    cfg = project.usage
    rows = []
    span = f"the last {w.periods} {w.unit}s to the as-of {w.unit if w.grain == 'month' else 'day'}"
    for entity, t, measure, info, fixed in (
            ("customer", cust, "recent", cust_cuts, cfg.customer_thresholds),
            ("company", comp, "recent_per_seat", comp_cuts, cfg.company_thresholds)):
        g = t.group_by("tier").aggregate(members=t.count(), measure_min=t[measure].min().cast("float64"),
                                         measure_max=t[measure].max().cast("float64"))
        got = {r["tier"]: r for r in wh.to_pyarrow(g).to_pylist()}
        total = sum(r["members"] for r in got.values())
        if total == 0:
            continue
        c = info["cuts"]
        how = "fixed usage." + f"{entity}_thresholds" if fixed is not None else \
            f"quantiles {cfg.tier_quantiles[0]:g} and {cfg.tier_quantiles[1]:g} of {info['ranked']:,} ranked"
        what = ("interactions in the recent window" if entity == "customer"
                else "recent interactions per seat")
        for tier in T.TIER_ORDER:
            r = got.get(tier)
            if r is None and tier in ("excluded",):
                continue
            rule = RULES[tier].format(window=span, measure=what, lo=c[0] if c else 0, hi=c[1] if c else 0, how=how)
            if entity == "company" and tier == "new":
                rule = "every seat signed up in the recent window"
            if entity == "company" and tier == "excluded":
                continue
            rows.append({"entity": entity, "tier": tier, "members": r["members"] if r else 0,
                         "share": (r["members"] if r else 0) / total,
                         "measure_min": r["measure_min"] if r else None, "measure_max": r["measure_max"] if r else None,
                         "rule": rule, "cut_low": c[0] if c else None, "cut_high": c[1] if c else None,
                         "position": T.TIER_ORDER.index(tier)})
    schema = ibis.schema({"entity": "string", "tier": "string", "members": "int64", "share": "float64",
                          "measure_min": "float64", "measure_max": "float64", "rule": "string",
                          "cut_low": "float64", "cut_high": "float64", "position": "int64"})
    return ibis.memtable(rows or {k: [] for k in schema.names}, schema=schema)


def retention(wh: Warehouse, w: Window, cust: ir.Table, log: CleaningLog) -> ir.Table:
    """Cohort x months since signup, every month observed in full (zeros included)."""
    members = cust.filter(~cust.excluded & cust.cohort_index.notnull()).select("customer_id", "cohort_index")
    ev = w.upto(wh.table(T.STAGING_EVENTS))
    months = ev.select("user_id", "activity_month").distinct()
    j = months.join(members, months.user_id == members.customer_id)
    j = j.mutate(k=(j.activity_month - j.cohort_index).cast("int64"))
    early = int(wh.scalar(j.filter(j.k < 0).user_id.nunique()) or 0)
    log.add("marts", "customers active before the month they signed up (those months are in no cohort's retention)",
            early)
    active = j.filter((j.k >= 0) & (j.activity_month <= w.last_full_month))
    active = active.group_by(["cohort_index", "k"]).aggregate(active_users=active.user_id.nunique())
    sizes = members.group_by("cohort_index").aggregate(cohort_size=members.count())
    got = {(r["cohort_index"], r["k"]): r["active_users"] for r in wh.to_pyarrow(active).to_pylist()}
    rows = []
    for r in sorted(wh.to_pyarrow(sizes).to_pylist(), key=lambda r: r["cohort_index"]):
        c = r["cohort_index"]
        for k in range(0, w.last_full_month - c + 1):
            n = got.get((c, k), 0)
            rows.append({"cohort": month_label(c, w.calendar), "cohort_index": c, "months_since_signup": k,
                         "cohort_size": r["cohort_size"], "active_users": n, "retention": n / r["cohort_size"]})
    schema = ibis.schema({"cohort": "string", "cohort_index": "int64", "months_since_signup": "int64",
                          "cohort_size": "int64", "active_users": "int64", "retention": "float64"})
    return ibis.memtable(rows or {k: [] for k in schema.names}, schema=schema)
