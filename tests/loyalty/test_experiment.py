"""The loyalty test's statistics against hand arithmetic: Welch's t, df, interval and p-value rebuilt
from the formulas (the t distribution integrated here, not scipy's), the two-proportion z test, the
chi-square of small tables; then invariants any correct comparison keeps, and the degenerate inputs.

Warnings are errors in this module: a degenerate input must come back as a note, not a RuntimeWarning.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from martops.loyalty.experiment import (Balance, Comparison, balance_categorical, balance_numeric,
                                        bootstrap_difference, compare_means, compare_proportions)

pytestmark = pytest.mark.filterwarnings("error")

TREATED = [1, 2, 3, 4]
CONTROL = [2, 4, 6, 8, 10]


# --- an independent Student t distribution: its density integrated by Simpson's rule -------------

def _t_density(x: float, df: float) -> float:
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return c * (1 + x * x / df) ** (-(df + 1) / 2)


def _t_central(x: float, df: float, steps: int = 2000) -> float:
    """P(-x < T < x) = 2 * integral_0^x density, Simpson's rule (error ~1e-13 for these x, df)."""
    h = x / steps
    s = _t_density(0, df) + _t_density(x, df)
    s += sum((4 if i % 2 else 2) * _t_density(i * h, df) for i in range(1, steps))
    return 2 * s * h / 3


def _t_quantile(confidence: float, df: float) -> float:
    """The x with P(-x < T < x) = confidence, by bisection."""
    lo, hi = 0.0, 50.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_central(mid, df) < confidence else (lo, mid)
    return (lo + hi) / 2


def _welch_by_hand(a: list[float], b: list[float], confidence: float = 0.95):
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    diff = statistics.fmean(a) - statistics.fmean(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    half = _t_quantile(confidence, df) * se
    return diff, t, df, 1 - _t_central(abs(t), df), (diff - half, diff + half)


# --- Welch ---------------------------------------------------------------------------------------

def test_welch_matches_the_formulas_by_hand():
    diff, t, df, p, (low, high) = _welch_by_hand(TREATED, CONTROL)
    # the arithmetic itself: means 2.5 and 6, variances 5/3 and 10, SE^2 = 5/12 + 2 = 29/12,
    # df = (29/12)^2 / ((5/12)^2/3 + 2^2/4) = 2523/457
    assert diff == -3.5
    assert t == pytest.approx(-3.5 / math.sqrt(29 / 12), rel=1e-12)
    assert df == pytest.approx(2523 / 457, rel=1e-12)
    r = compare_means(TREATED, CONTROL, metric="revenue_per_customer_cents")
    assert (r.metric, r.method, r.n_treated, r.n_control) == ("revenue_per_customer_cents", "welch", 4, 5)
    assert (r.mean_treated, r.mean_control, r.difference) == (2.5, 6.0, -3.5)
    assert r.p_value == pytest.approx(p, abs=1e-9)
    assert r.ci_low == pytest.approx(low, abs=1e-8) and r.ci_high == pytest.approx(high, abs=1e-8)
    assert r.p_value == pytest.approx(0.0691336, abs=1e-7)  # pinned: the formulas above, to 7 places
    assert (r.ci_low, r.ci_high) == (pytest.approx(-7.385368, abs=1e-6), pytest.approx(0.385368, abs=1e-6))
    assert r.relative_lift == pytest.approx(-3.5 / 6)
    assert r.confidence == 0.95 and r.note == ""


def test_welch_at_another_confidence_and_one_constant_arm():
    treated, control = [7, 7, 7], [1, 5, 2, 9, 4, 4]  # zero variance in one arm only is fine
    diff, _, _, p, (low, high) = _welch_by_hand(treated, control, 0.9)
    r = compare_means(np.array(treated), np.array(control), metric="m", confidence=0.9)
    assert r.difference == pytest.approx(diff)
    assert r.p_value == pytest.approx(p, abs=1e-9)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low, abs=1e-8), pytest.approx(high, abs=1e-8))


def test_lists_and_arrays_give_the_same_comparison():
    a = compare_means(TREATED, CONTROL, metric="m")
    assert compare_means(np.array(TREATED, dtype=np.int64), np.asarray(CONTROL, dtype=np.float32), metric="m") == a
    assert compare_means(tuple(TREATED), CONTROL, metric="m") == a


# --- two proportions -----------------------------------------------------------------------------

def test_two_proportions_by_hand():
    # 30 of 100 enrolled vs 20 of 100 control repurchased
    r = compare_proportions(30, 100, 20, 100, metric="repeat_purchase_rate")
    pooled = 50 / 200
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))  # 0.1 / sqrt(0.00375)
    normal = statistics.NormalDist()
    half = normal.inv_cdf(0.975) * math.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)  # 1.96 * sqrt(0.0037)
    assert (r.method, r.n_treated, r.n_control, r.mean_treated, r.mean_control) == \
        ("two_proportion_z", 100, 100, 0.3, 0.2)
    assert r.difference == pytest.approx(0.1)
    assert z == pytest.approx(1.632993, abs=1e-6)
    assert r.p_value == pytest.approx(2 * (1 - normal.cdf(z)), abs=1e-12)
    assert r.p_value == pytest.approx(0.102470, abs=1e-6)
    assert r.ci_low == pytest.approx(0.1 - half, abs=1e-12) and r.ci_high == pytest.approx(0.1 + half, abs=1e-12)
    assert (r.ci_low, r.ci_high) == (pytest.approx(-0.019220, abs=1e-6), pytest.approx(0.219220, abs=1e-6))
    assert r.relative_lift == pytest.approx(0.5) and r.note == ""


def test_proportions_all_the_same_outcome_have_neither_p_nor_interval():
    r = compare_proportions(0, 10, 0, 12, metric="churn")
    assert (r.difference, r.ci_low, r.ci_high, r.p_value, r.relative_lift) == (0.0, None, None, None, None)
    assert "pooled standard error is 0" in r.note and "Wald standard error is 0" in r.note


def test_proportions_zero_against_one_have_a_p_value_but_no_wald_interval():
    r = compare_proportions(10, 10, 0, 10, metric="churn")
    assert r.difference == 1.0 and r.ci_low is None and r.ci_high is None
    assert r.p_value == pytest.approx(2 * (1 - statistics.NormalDist().cdf(1 / math.sqrt(0.25 * 0.2))), abs=1e-12)
    assert "Wald" in r.note and "pooled" not in r.note


@pytest.mark.parametrize("args, words", [
    ((0, 0, 1, 5), ["churn", "treated", "empty"]),
    ((1, 5, 0, 0), ["churn", "control", "empty"]),
    ((6, 5, 1, 5), ["churn", "treated", "6 successes"]),
    ((-1, 5, 1, 5), ["churn", "negative"]),
    ((1.5, 5, 1, 5), ["churn", "whole number"]),
    ((True, 5, 1, 5), ["churn", "whole number"]),
])
def test_bad_counts_are_one_line_errors(args, words):
    with pytest.raises(ValueError) as e:
        compare_proportions(*args, metric="churn")
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)


def test_proportions_accept_numpy_integers():
    assert compare_proportions(np.int64(30), np.int32(100), 20, 100, metric="m") == \
        compare_proportions(30, 100, 20, 100, metric="m")


# --- bootstrap -----------------------------------------------------------------------------------

def test_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(7)
    t, c = rng.lognormal(3, 1, 200), rng.lognormal(3, 1, 150)
    a = bootstrap_difference(t, c, metric="m", resamples=500, seed=1)
    assert a == bootstrap_difference(t, c, metric="m", resamples=500, seed=1)
    assert a != bootstrap_difference(t, c, metric="m", resamples=500, seed=2)
    assert a.method == "bootstrap" and a.p_value is None and "percentile" in a.note
    assert a.difference == pytest.approx(t.mean() - c.mean())
    assert a.ci_low < a.difference < a.ci_high


def test_bootstrap_interval_agrees_with_welch_on_a_large_sample():
    rng = np.random.default_rng(2024)
    t, c = rng.normal(10_500, 2_000, 3_000), rng.normal(10_000, 2_500, 2_500)
    welch = compare_means(t, c, metric="m")
    boot = bootstrap_difference(t, c, metric="m")
    assert boot.ci_low < welch.difference < boot.ci_high
    width = welch.ci_high - welch.ci_low
    assert abs(boot.ci_low - welch.ci_low) < 0.1 * width and abs(boot.ci_high - welch.ci_high) < 0.1 * width


def test_bootstrap_rejects_a_bad_resample_count():
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_difference(TREATED, CONTROL, metric="m", resamples=0)


# --- degenerate arms -----------------------------------------------------------------------------

@pytest.mark.parametrize("compare", [compare_means, bootstrap_difference])
def test_one_customer_in_an_arm_keeps_the_difference_without_interval(compare):
    r = compare([5], [1, 2, 3], metric="m")
    assert (r.n_treated, r.difference, r.ci_low, r.ci_high, r.p_value) == (1, 3.0, None, None, None)
    assert "fewer than 2 customers" in r.note and "treated" in r.note and "control" not in r.note


@pytest.mark.parametrize("compare", [compare_means, bootstrap_difference])
def test_zero_variance_in_both_arms_keeps_the_difference_without_interval(compare):
    r = compare([3, 3, 3], [5.0, 5.0], metric="m")
    assert (r.difference, r.ci_low, r.ci_high, r.p_value) == (-2.0, None, None, None)
    assert "zero variance in both arms" in r.note


def test_one_customer_in_a_proportion_arm():
    r = compare_proportions(1, 1, 3, 10, metric="m")
    assert r.difference == pytest.approx(0.7) and (r.ci_low, r.p_value) == (None, None)
    assert "fewer than 2 customers" in r.note


def test_nearly_identical_values_get_scipys_caveat_as_a_note_not_a_warning():
    r = compare_means([1e9, 1e9 + 1e-6, 1e9], [1, 2, 3], metric="m")
    assert r.p_value is not None and r.note.startswith("scipy: Precision loss")
    assert balance_numeric([1e9, 1e9 + 1e-6, 1e9], [1, 2, 3], covariate="m").note.startswith("scipy: Precision loss")


def test_a_zero_control_mean_has_no_relative_lift():
    assert compare_means([1, 2], [-1, 1], metric="m").relative_lift is None


@pytest.mark.parametrize("compare", [compare_means, bootstrap_difference])
@pytest.mark.parametrize("treated, control, arm, words", [
    ([], [1, 2], "treated", ["empty"]),
    ([1, 2], np.array([]), "control", ["empty"]),
    ([1.0, float("nan"), 3.0], [1, 2], "treated", ["NaN", "position 1"]),
    ([1, 2], [4, None], "control", ["NaN"]),
    ([1, 2], [np.inf, 2], "control", ["infinite"]),
    ([[1, 2], [3, 4]], [1, 2], "treated", ["1-D"]),
    (["a", "b"], [1, 2], "treated", ["not numeric"]),
])
def test_bad_arms_are_one_line_errors_naming_metric_and_arm(compare, treated, control, arm, words):
    with pytest.raises(ValueError) as e:
        compare(treated, control, metric="revenue_per_customer_cents")
    msg = str(e.value)
    assert "revenue_per_customer_cents" in msg and arm in msg and "\n" not in msg
    assert all(w in msg for w in words), msg


def test_a_bad_confidence_is_an_error():
    with pytest.raises(ValueError, match="confidence"):
        compare_means(TREATED, CONTROL, metric="m", confidence=95)


# --- balance -------------------------------------------------------------------------------------

def test_chi_square_of_a_2x3_table_by_hand():
    treated = ["A"] * 10 + ["B"] * 20 + [None] * 5 + [float("nan")] * 3 + [np.nan, "  "]
    control = ["A"] * 20 + ["B"] * 10 + [""] * 10
    b = balance_categorical(treated, control, covariate="region")
    assert b.levels == {"A": (10, 20), "B": (20, 10), "unknown": (10, 10)}
    assert list(b.levels) == ["A", "B", "unknown"]
    # every row total is 40 of 80, so expected = half of each column total: 15, 15, 10
    chi2 = 2 * (10 - 15) ** 2 / 15 + 2 * (20 - 15) ** 2 / 15 + 0
    assert chi2 == pytest.approx(20 / 3)
    assert b.statistic == pytest.approx(chi2, rel=1e-12)
    assert b.p_value == pytest.approx(math.exp(-chi2 / 2), rel=1e-9)  # chi-square with 2 df: P(X > x) = e^(-x/2)
    assert (b.method, b.note) == ("chi2_independence", "")


def test_chi_square_of_a_2x2_table_by_hand_without_yates():
    b = balance_categorical(["gold"] * 10 + ["silver"] * 20, ["gold"] * 20 + ["silver"] * 10,
                            covariate="tier", unknown="n/a")
    chi2 = 4 * 25 / 15
    assert b.statistic == pytest.approx(chi2, rel=1e-12)
    assert b.p_value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)  # 1 df: P(|Z| > sqrt(x))
    assert "n/a" not in b.levels


def test_small_expected_counts_are_noted():
    b = balance_categorical(["a", "a", "b"], ["a", "b", "b"], covariate="tier")
    assert b.statistic is not None and "below 5" in b.note


def test_one_level_has_no_test():
    b = balance_categorical(["x", "x"], ["x"], covariate="tier")
    assert b == Balance("tier", {"x": (2, 1)}, None, None, "chi2_independence", b.note)
    assert "fewer than 2 levels" in b.note


def test_a_level_only_one_arm_has_is_kept_and_absent_levels_never_appear():
    b = balance_categorical(["a"] * 6 + ["b"] * 6, ["a"] * 6 + ["c"] * 6, covariate="tier")
    assert b.levels == {"a": (6, 6), "b": (6, 0), "c": (0, 6)}


def test_an_empty_arm_in_a_balance_check_is_an_error():
    with pytest.raises(ValueError, match="tier: the control arm is empty"):
        balance_categorical(["a"], [], covariate="tier")
    with pytest.raises(ValueError, match="age.*treated.*empty"):
        balance_numeric([], [1, 2], covariate="age")


def test_numeric_balance_is_cohens_d_by_hand():
    b = balance_numeric(TREATED, CONTROL, covariate="spend_last_year_cents")
    pooled = math.sqrt((3 * 5 / 3 + 4 * 10) / 7)  # ((n_t-1)s_t^2 + (n_c-1)s_c^2) / (n_t+n_c-2) = 45/7
    assert b.statistic == pytest.approx(-3.5 / pooled, rel=1e-12)
    assert b.p_value == pytest.approx(_welch_by_hand(TREATED, CONTROL)[3], abs=1e-9)
    assert (b.method, b.levels, b.note) == ("smd", {}, "")


def test_numeric_balance_degenerate_cases():
    assert balance_numeric([1], [1, 2], covariate="age").statistic is None
    b = balance_numeric([4, 4], [4, 4, 4], covariate="age")
    assert (b.statistic, b.p_value) == (None, None) and "zero variance" in b.note
    with pytest.raises(ValueError, match="age.*control.*NaN"):
        balance_numeric([1, 2], [1, float("nan")], covariate="age")


# --- invariants ----------------------------------------------------------------------------------

cents = st.lists(st.integers(-1_000_000, 1_000_000), min_size=1, max_size=25)
FAST = settings(max_examples=60, deadline=None)


def _mirrored(a: Comparison, b: Comparison) -> None:
    assert b.difference == pytest.approx(-a.difference, abs=1e-9)
    assert (a.ci_low is None) == (b.ci_low is None) and (a.p_value is None) == (b.p_value is None)
    if a.ci_low is not None:
        assert b.ci_low == pytest.approx(-a.ci_high, abs=1e-6) and b.ci_high == pytest.approx(-a.ci_low, abs=1e-6)
    if a.p_value is not None:
        assert b.p_value == pytest.approx(a.p_value, abs=1e-12)


def _sane(r: Comparison) -> None:
    if r.p_value is not None:
        assert 0 <= r.p_value <= 1
    if r.ci_low is not None:
        assert r.ci_low <= r.difference <= r.ci_high


@FAST
@given(cents, cents)
def test_welch_swapping_arms_mirrors_everything(t, c):
    a, b = compare_means(t, c, metric="m"), compare_means(c, t, metric="m")
    _mirrored(a, b)
    _sane(a)


@FAST
@given(cents, cents, st.integers(-1_000_000, 1_000_000))
def test_welch_adding_a_constant_to_both_arms_changes_nothing(t, c, k):
    a = compare_means(t, c, metric="m")
    b = compare_means([x + k for x in t], [x + k for x in c], metric="m")
    assert b.difference == pytest.approx(a.difference, abs=1e-6)
    assert (a.ci_low is None) == (b.ci_low is None) and a.note == b.note
    if a.ci_low is not None:
        assert (b.ci_low, b.ci_high) == (pytest.approx(a.ci_low, abs=1e-6), pytest.approx(a.ci_high, abs=1e-6))
        assert b.p_value == pytest.approx(a.p_value, abs=1e-9)


counts = st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@FAST
@given(counts, counts, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_proportions_swap_and_bounds(a_counts, b_counts, confidence):
    (st_, nt), (sc, nc) = a_counts, b_counts
    if nt == 0 or nc == 0:
        with pytest.raises(ValueError, match="empty"):
            compare_proportions(st_, nt, sc, nc, metric="m", confidence=confidence)
        return
    a = compare_proportions(st_, nt, sc, nc, metric="m", confidence=confidence)
    _mirrored(a, compare_proportions(sc, nc, st_, nt, metric="m", confidence=confidence))
    _sane(a)


@FAST
@given(st.lists(st.sampled_from(["a", "b", "c", None, ""]), min_size=1, max_size=30),
       st.lists(st.sampled_from(["a", "b", "c", None, ""]), min_size=1, max_size=30))
def test_balance_swapping_arms_swaps_counts_and_keeps_the_test(t, c):
    a = balance_categorical(t, c, covariate="x")
    b = balance_categorical(c, t, covariate="x")
    assert b.levels == {k: (v[1], v[0]) for k, v in a.levels.items()}
    assert b.statistic == pytest.approx(a.statistic) and b.p_value == pytest.approx(a.p_value)
    if a.p_value is not None:
        assert 0 <= a.p_value <= 1 and a.statistic >= 0


@FAST
@given(cents, cents)
def test_smd_swapping_arms_negates_it(t, c):
    a, b = balance_numeric(t, c, covariate="x"), balance_numeric(c, t, covariate="x")
    assert (a.statistic is None) == (b.statistic is None)
    if a.statistic is not None:
        assert b.statistic == pytest.approx(-a.statistic, abs=1e-12) and b.p_value == pytest.approx(a.p_value)
