"""The insight marts on a hand folder whose every figure is worked out in the comments, on each
engine: frequency, drop-off and days between purchases, segments, retention eligibility, the
programme test's wiring to the statistics, and the summary (revenue loss, liability)."""

from __future__ import annotations

import datetime as dt

import pytest

from martops.config import ProjectConfig
from martops.loyalty import experiment as X
from martops.loyalty import tables as T
from martops.loyalty.build import build
from tests.loyalty.folders import customer, rows, write_folder

CUSTOMERS = [
    customer(1, "2012-01-10", "enrolled", "LA"), customer(2, "2012-01-15", "enrolled"),
    customer(3, "2012-06-01", "enrolled", "NYC"), customer(4, "2012-01-10", "control", "LA"),
    customer(5, "2012-02-01", "control"), customer(6, "2012-03-01", "control", "NYC"),  # 6 never buys
]
TRANSACTIONS = [
    ("2012-01-10", "1", "10000", "1000"), ("2012-02-05", "1", "40000", "4000"),
    ("2012-03-01", "1", "6000", "-4450"),           # redemption: -5000 + 10 * floor(5500 / 100)
    ("2012-01-20", "2", "500", "50"),
    ("2012-06-01", "3", "0", "0"), ("2012-06-01", "3", "150", "10"),  # two on one day: 0 days apart
    ("2012-01-11", "4", "3000", "0"), ("2012-01-31", "4", "1000", "0"),
    ("2012-03-15", "5", "2500", "0"),
]  # the as-of date is the last day, 2012-06-01


@pytest.fixture()
def built(wh, tmp_path):
    build(wh, write_folder(tmp_path / "d", CUSTOMERS, TRANSACTIONS), ProjectConfig())
    return wh


def test_frequency_and_dropoff(built):
    wh = built
    freq = {(r["loyalty"], r["purchases"]): (r["customers"], r["share"]) for r in rows(wh, T.FREQUENCY, ["loyalty"])}
    assert freq == {("enrolled", 1): (1, pytest.approx(1 / 3)), ("enrolled", 2): (1, pytest.approx(1 / 3)),
                    ("enrolled", 3): (1, pytest.approx(1 / 3)), ("control", 0): (1, pytest.approx(1 / 3)),
                    ("control", 1): (1, pytest.approx(1 / 3)), ("control", 2): (1, pytest.approx(1 / 3))}
    d = {(r["loyalty"], r["purchase_number"]): r for r in rows(wh, T.DROPOFF, ["loyalty", "purchase_number"])}
    assert sorted(d) == [("control", 1), ("control", 2), ("enrolled", 1), ("enrolled", 2), ("enrolled", 3)]
    e1, e2, e3 = d[("enrolled", 1)], d[("enrolled", 2)], d[("enrolled", 3)]
    assert (e1["customers"], e1["previous_customers"], e1["share_of_previous"], e1["median_days_since_previous"]) == \
        (3, 3, 1.0, None)
    # customer 1: 10 Jan -> 5 Feb is 26 days; customer 3: two purchases on 1 June, 0 days
    assert (e2["customers"], e2["share_of_previous"], e2["mean_days_since_previous"],
            e2["median_days_since_previous"]) == (2, pytest.approx(2 / 3), 13.0, 13.0)
    assert (e3["customers"], e3["drop_off"], e3["median_days_since_previous"]) == (1, 0.5, 25.0)  # 2012 is a leap year
    c1, c2 = d[("control", 1)], d[("control", 2)]
    assert (c1["customers"], c1["share_of_previous"]) == (2, pytest.approx(2 / 3))  # customer 6 never bought
    assert (c2["customers"], c2["drop_off"], c2["median_days_since_previous"]) == (1, 0.5, 20.0)


def test_segments_count_unknown(built):
    wh = built
    seg = {(r["dimension"], r["level"], r["loyalty"]): r for r in rows(wh, T.SEGMENTS, ["dimension", "level"])}
    assert seg[("location", "unknown", "enrolled")]["customers"] == 1
    assert seg[("location", "LA", "enrolled")]["net_revenue_per_customer_cents"] == 55500.0
    assert seg[("location", "NYC", "control")]["purchasers"] == 0
    assert seg[("age", "unknown", "control")]["share_of_arm"] == 1.0


def test_programme_test_is_intention_to_treat_with_retention_eligibility(built):
    wh = built
    t = {(r["metric"], r["method"]): r for r in rows(wh, T.PROGRAMME_TEST, ["metric"]) if r["segment"] == "all"}
    net = t[("net_revenue_per_customer", "welch")]
    expected = X.compare_means([55500, 500, 150], [4000, 2500, 0], metric="net_revenue_per_customer")
    assert (net["n_treated"], net["n_control"]) == (3, 3)  # customer 6 (no purchase) is in the control arm
    assert net["mean_treated"] == pytest.approx(56150 / 3) and net["mean_control"] == pytest.approx(6500 / 3)
    assert (net["ci_low"], net["ci_high"], net["p_value"]) == \
        (pytest.approx(expected.ci_low), pytest.approx(expected.ci_high), pytest.approx(expected.p_value))
    basket = t[("average_basket", "welch")]  # purchasers only: (56000/3, 500, 150/2) vs (4000/2, 2500)
    assert (basket["n_treated"], basket["n_control"]) == (3, 2)
    assert basket["mean_treated"] == pytest.approx((56000 / 3 + 500 + 75) / 3)
    r1 = t[("retention_month_1", "two_proportion_z")]
    # enrolled: 1 (signup Jan, bought in Feb) and 2 (Jan, not in Feb) eligible, 3 (June) not: 1/2;
    # control: 4 (Jan: its 31 Jan purchase is month 0), 5 (Feb -> bought 15 Mar), 6 (Mar): 1/3
    assert (r1["n_treated"], r1["mean_treated"], r1["n_control"], r1["mean_control"]) == \
        (2, 0.5, 3, pytest.approx(1 / 3))
    r3 = t[("retention_month_3", "two_proportion_z")]  # control 6's month 3 is June, not over on 1 June
    assert (r3["n_treated"], r3["n_control"], r3["mean_treated"], r3["mean_control"]) == (2, 2, 0.0, 0.0)
    assert ("retention_month_12", "two_proportion_z") not in t  # nobody's month 12 is over


def test_summary_revenue_loss_and_liability(built):
    wh = built
    s = {r["measure"]: r for r in rows(wh, T.PROGRAMME_SUMMARY, ["measure"])}
    assert s["redemption_discounts"]["value"] == 500
    assert s["revenue_loss_share"]["value"] == pytest.approx(500 / 56650)
    assert s["points_outstanding"]["value"] == 1000 + 4000 - 4450 + 50 + 10
    assert s["points_liability"]["value"] == pytest.approx(61.0)
    diff = s["net_revenue_per_customer_difference"]["value"]
    assert diff == pytest.approx(56150 / 3 - 6500 / 3)
    assert s["net_effect_after_liability"]["value"] == pytest.approx(diff * 3 - 61.0)
    bal = {(r["covariate"], r["level"]): r for r in rows(wh, T.PROGRAMME_BALANCE, ["covariate"])}
    assert (bal[("location", "LA")]["n_treated"], bal[("location", "LA")]["n_control"]) == (1, 1)
    assert bal[("signup_date", "days since 1970-01-01")]["method"] == "smd"


def test_an_arm_with_no_customer_is_a_clear_error(wh, tmp_path):
    from martops.errors import StepError, ConfigError

    folder = write_folder(tmp_path / "d", [customer(1, "2012-01-01", "enrolled")], [("2012-01-02", "1", "100", "10")])
    with pytest.raises((StepError, ConfigError), match="no customer is in the 'control' arm"):
        build(wh, folder, ProjectConfig())
    # the load and fill committed; only the insights step failed
    assert wh.exists(T.CUSTOMERS) and not wh.exists(T.PROGRAMME_TEST)


def test_customers_who_signed_up_after_the_as_of_date_are_in_no_arm(wh, tmp_path):
    folder = write_folder(tmp_path / "d", CUSTOMERS, TRANSACTIONS)
    build(wh, folder, ProjectConfig(), as_of=dt.date(2012, 2, 15))
    t = {(r["metric"], r["method"]): r for r in rows(wh, T.PROGRAMME_TEST, ["metric"]) if r["segment"] == "all"}
    net = t[("net_revenue_per_customer", "welch")]
    # by 15 Feb: enrolled 1 and 2 had signed up (3 signs up in June), control 4 and 5 (6 in March)
    assert (net["n_treated"], net["n_control"]) == (2, 2)
    assert net["mean_treated"] == pytest.approx((10000 + 40000 + 500) / 2)
    assert net["mean_control"] == pytest.approx(4000 / 2)
