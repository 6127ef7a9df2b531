"""The usage build on hand-written sources, on each engine: every figure below is worked out by hand
in `handmade.py` (windows, trends, tiers and their cuts, company measures, retention)."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.config import ProjectConfig
from martops.errors import ConfigError
from martops.ops.quarantine import QUARANTINE
from martops.usage import tables as T
from martops.usage.build import build
from tests.usage.handmade import PROJECT, by_key, write_csv_folder, write_db

import yaml


def project(text: str = PROJECT, **sources) -> ProjectConfig:
    data = yaml.safe_load(text) or {}
    if sources:
        data["sources"] = {"usage": sources}
    return ProjectConfig.model_validate(data)


@pytest.fixture()
def built(wh, tmp_path):
    _, log = build(wh, write_db(tmp_path / "data.db"), project())
    return wh, log


def test_load_quarantines_with_reasons_and_drops_copies(built):
    wh, log = built
    assert wh.count(T.STAGING_PEOPLE) == 8 and wh.count(T.STAGING_EVENTS) == 31 - 3 - 2
    q = wh.to_pyarrow(wh.table(QUARANTINE)).to_pylist()
    reasons = sorted(((r["table_name"], r["column_name"], r["raw_value"]) for r in q), key=str)
    assert reasons == [("usage_events", "timestamp", "yesterday"), ("usage_events", "user_id", "99"),
                       ("usage_events", "user_id", None), ("usage_people", "user_id", None)]
    unknown = next(r for r in q if r["raw_value"] == "99")
    assert unknown["reason"].startswith("table events rowid 29, column user_id: user_id '99' is not the id of a person")
    assert log.get("events", "copies of an event dropped (same person, type and time; the first row kept)") == 2
    assert log.get("events", "rows read = loaded + copies dropped + quarantined") == 31
    assert log.get("people", "test accounts by name or email (kept in staging; excluded from the marts)") == 1


def test_customers_trend_and_tiers(built):
    wh, _ = built
    c = by_key(wh, T.CUSTOMERS, "customer_id")
    assert len(c) == 8
    ana = c["1"]
    assert (ana["interactions"], ana["active_days"], ana["active_months"]) == (7, 6, 3)
    assert (ana["recent"], ana["previous"], ana["trend"], ana["trend_change"]) == (3, 1, "up", 2.0)
    assert str(ana["first_seen"]) == "2024-01-05 09:00:00" and str(ana["last_seen"]) == "2024-03-31 09:00:00"
    assert (ana["first_month"], ana["last_month"], ana["cohort"]) == ("2024-01", "2024-03", "2024-01")
    assert (c["2"]["trend"], c["3"]["trend"], c["8"]["trend"]) == ("stopped", "started", "none")
    assert c["2"]["company"] == "acme"  # trimmed; one company with 'Acme' below
    # ranked: 3 (recent 1), 1 (3), 4 (4): quantiles 0.25/0.75 by interpolation = 2.0 and 3.5
    tiers = {k: r["tier"] for k, r in c.items()}
    assert tiers == {"1": "medium", "2": "dormant", "3": "low", "4": "high", "5": "excluded", "6": "new",
                     "7": "excluded", "8": "dormant"}
    assert c["5"]["excluded_reason"] == "email 'test+5@acme.com' matches usage.exclude.email_patterns[0]"
    assert c["7"]["excluded_reason"].startswith("6 events on 2024-03-01 (more than usage.exclude.max_events_per_day 5")
    t = by_key(wh, T.TIERS, "entity", "tier")
    assert {k[1]: r["members"] for k, r in t.items() if k[0] == "customer"} == {
        "new": 1, "dormant": 2, "low": 1, "medium": 1, "high": 1, "excluded": 2}
    assert (t["customer", "low"]["cut_low"], t["customer", "low"]["cut_high"]) == (2.0, 3.5)
    assert sum(r["share"] for k, r in t.items() if k[0] == "customer") == pytest.approx(1.0)


def test_companies_normalised_by_seats(built):
    wh, _ = built
    co = by_key(wh, T.COMPANIES, "company")
    assert set(co) == {"Acme", "Beta"}  # ' acme ' is Acme; Dee (no company) is in neither
    acme, beta = co["Acme"], co["Beta"]
    assert (acme["seats"], acme["excluded_accounts"], acme["active_users"], acme["interactions"]) == (3, 1, 1, 10)
    assert acme["active_share"] == pytest.approx(1 / 3) and acme["interactions_per_seat"] == pytest.approx(10 / 3)
    assert (acme["recent"], acme["previous"], acme["trend"], acme["recent_per_seat"]) == (3, 3, "flat", 1.0)
    assert (beta["seats"], beta["active_users"], beta["active_share"], beta["interactions"]) == (2, 2, 1.0, 4)
    assert (beta["recent_per_seat"], beta["trend"]) == (1.5, "started")
    # per seat 1.0 and 1.5: cuts 1.125 and 1.375
    assert (acme["tier"], beta["tier"]) == ("low", "high")
    et = by_key(wh, T.EVENT_TYPES, "entity", "entity_id", "event_type")
    assert et["customer", "1", "login"]["interactions"] == 4 and et["customer", "1", "view"]["interactions"] == 3
    assert et["company", "Acme", "login"]["interactions"] == 7 and et["company", "Acme", "view"]["share"] == 0.3


def test_retention_by_signup_month(built):
    wh, _ = built
    r = {k: (v["cohort_size"], v["active_users"]) for k, v in by_key(wh, T.RETENTION, "cohort", "months_since_signup").items()}
    assert r == {("2024-01", 0): (3, 2), ("2024-01", 1): (3, 1), ("2024-01", 2): (3, 2),
                 ("2024-02", 0): (2, 2), ("2024-02", 1): (2, 2), ("2024-03", 0): (1, 1)}


def test_as_of_moves_the_windows_and_the_rebuild_is_idempotent(wh, tmp_path):
    db = write_db(tmp_path / "data.db")
    build(wh, db, project(), as_of=dt.date(2024, 3, 24))
    c = by_key(wh, T.CUSTOMERS, "customer_id")
    assert "6" not in c and len(c) == 7  # Eve signed up on 03-25
    # recent window 03-18..24: Ana 1 event, Ben 2 (the only two ranked: cuts 1.25 and 1.75)
    assert (c["1"]["recent"], c["1"]["tier"], c["2"]["recent"], c["2"]["previous"], c["2"]["tier"]) == \
        (1, "low", 2, 0, "high")
    r = by_key(wh, T.RETENTION, "cohort", "months_since_signup")
    assert max(k[1] for k in r if k[0] == "2024-01") == 1  # March is not over on the 24th
    first = wh.to_pyarrow(wh.table(T.CUSTOMERS).order_by("customer_id")).to_pylist()
    build(wh, db, project(), as_of=dt.date(2024, 3, 24))
    assert wh.to_pyarrow(wh.table(T.CUSTOMERS).order_by("customer_id")).to_pylist() == first
    assert wh.count(QUARANTINE) == 4  # replaced, not added


def test_month_grain_csv_folder(wh, tmp_path):
    folder = write_csv_folder(tmp_path / "monthly", {
        "registrations": ["id;registration_month;region", "a;1.0;EMEA", "b;1.0;ROW", "c;2.0;ROW", "d;3;ROW"],
        "activity": ["id;activity_month", "a;1.0", "a;2.0", "a;3.0", "b;1.0", "c;2.0", "c;3.0", "d;3.0", "a;3.0",
                     "e;2.0", "c;2.5"],
    })
    cfg = project("usage: {trend_months: 1}", grain="month", delimiter=";",
                  tables={"people": "registrations", "events": "activity"},
                  columns={"people": {"created_at": "registration_month"}, "events": {"user_id": "id", "month": "activity_month"}})
    _, log = build(wh, folder, cfg)
    assert log.get("events", "copies of an event dropped (same person and month; the first row kept)") == 1
    q = sorted(r["reason"] for r in wh.to_pyarrow(wh.table(QUARANTINE)).to_pylist())
    assert q[0].startswith("activity.csv line 10, column id: user_id 'e' is not the id of a person")
    assert q[1] == "activity.csv line 11, column activity_month: month '2.5' is not a month number (a whole number " \
                   "from 1, e.g. 1 or 1.0)"
    c = by_key(wh, T.CUSTOMERS, "customer_id")
    assert {k: (r["interactions"], r["recent"], r["previous"], r["tier"]) for k, r in c.items()} == {
        "a": (3, 1, 1, "low"), "b": (1, 0, 0, "dormant"), "c": (2, 1, 1, "low"), "d": (1, 1, 0, "new")}
    assert c["a"]["active_days"] is None and c["a"]["first_seen"] is None and c["a"]["first_month"] == "M01"
    assert wh.count(T.COMPANIES) == 0
    r = {k: v["retention"] for k, v in by_key(wh, T.RETENTION, "cohort", "months_since_signup").items()}
    assert r == {("M01", 0): 1.0, ("M01", 1): 0.5, ("M01", 2): 0.5, ("M02", 0): 1.0, ("M02", 1): 1.0, ("M03", 0): 1.0}
    with pytest.raises(ConfigError, match="month_one"):
        build(wh, folder, cfg, as_of=dt.date(2024, 1, 31))
    cal = cfg.model_copy(update={"sources": cfg.sources.model_copy(update={"usage": cfg.sources.usage.model_copy(
        update={"month_one": "2023-11"})})})
    build(wh, folder, cal)
    assert by_key(wh, T.CUSTOMERS, "customer_id")["d"]["cohort"] == "2024-01"


def test_fixed_thresholds_and_no_exclusion(wh, tmp_path):
    text = "usage:\n  trend_weeks: 1\n  customer_thresholds: [0, 3]\n  exclude: {enabled: false}\n"
    build(wh, write_db(tmp_path / "data.db"), project(text))
    c = by_key(wh, T.CUSTOMERS, "customer_id")
    assert {k: r["tier"] for k, r in c.items() if r["tier"] not in ("new", "dormant")} == {
        "1": "medium", "3": "medium", "4": "high", "5": "medium"}
    assert c["7"]["tier"] == "dormant" and not c["7"]["excluded"]  # the bot's day was 03-01


def test_an_event_without_a_type_loads_as_none_and_is_counted(wh, tmp_path):
    from tests.usage.handmade import EVENTS

    _, log = build(wh, write_db(tmp_path / "data.db", events=[*EVENTS, (2, None, "2024-03-22 10:00:00"),
                                                              (2, "  ", "2024-03-23 10:00:00")]), project())
    untyped = "events without a type, counted as (none) (still an interaction; the type breakdowns show them under that name)"
    assert log.get("events", untyped) == 2
    kinds = wh.execute(f"SELECT event_type, count(*) FROM {T.STAGING_EVENTS} WHERE user_id = '2' GROUP BY 1")
    assert dict(kinds) == {"login": 3, "(none)": 2}


@pytest.mark.parametrize(("as_of", "said"), [
    (3, "as of M03; recent window M01..M03 (3 months), previous none (the months start at M01)"),
    (4, "as of M04; recent window M02..M04 (3 months), previous M01..M01 (cut at M01, where the months start)"),
    (8, "as of M08; recent window M06..M08 (3 months), previous M03..M05"),
])
def test_bare_month_windows_never_name_a_month_before_m01(as_of, said):
    from martops.usage.marts import Window

    assert Window("month", False, None, as_of, 3, as_of - 2, as_of - 5, as_of).describe() == said
