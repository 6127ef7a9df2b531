"""Statistics of the randomised loyalty-programme test: enrolled (treated) versus control customers.

Customers were assigned to an arm at random, so a difference between the arms' per-customer outcomes
estimates the programme's effect; what these functions add is how sure we may be of it. Every
function takes one value per customer per arm (1-D lists or numpy arrays) and returns a frozen
result, so a report can print it and a test can compare it. Nothing here reads a warehouse.

Bad input raises `ValueError` with one line naming the metric (or covariate) and the arm, for the
CLI to show as is: an empty arm, or a NaN / infinite outcome (a missing outcome is never dropped
silently, since which customers go missing may itself depend on the arm). A test that cannot be
computed (fewer than 2 customers in an arm, no variance at all) still returns the point estimate,
with the interval and p-value None and a `note` saying why, and no numpy/scipy warning.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

TREATED = "treated (enrolled)"
CONTROL = "control"

_BOOTSTRAP_BATCH_VALUES = 1 << 22
"""Resampled values held in memory at once (32 MiB of float64) by `bootstrap_difference`."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One metric compared between the arms.

    `difference` is always treated - control in the metric's own unit (cents, or a share 0..1 for
    proportions), so its sign reads as "the programme raised / lowered it". `ci_low`/`ci_high` bound
    that difference at `confidence`; `p_value` is two-sided against "no difference". Both are None
    when the data cannot support them, and `note` then says why; otherwise `note` carries what a
    reader should know beside the numbers (the bootstrap's method and seed, scipy's precision caveat).
    """

    metric: str
    method: str
    n_treated: int
    n_control: int
    mean_treated: float
    mean_control: float
    difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    confidence: float
    relative_lift: float | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Balance:
    """Whether one pre-assignment covariate looks alike in both arms (a check of the randomisation).

    `levels` maps each category to (count treated, count control); it is empty for a numeric
    covariate. `statistic` is chi-square (categorical) or the standardised mean difference (numeric).
    `note` says why statistic and p-value are None, or warns that they are rough (small counts).
    """

    covariate: str
    levels: dict[str, tuple[int, int]]
    statistic: float | None
    p_value: float | None
    method: str
    note: str = ""


def _stats():
    """scipy.stats, imported on first use: it costs about a second, and every CLI command imports
    this module through the step registry."""
    from scipy import stats

    return stats


def compare_means(treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray, *,
                  metric: str, confidence: float = 0.95) -> Comparison:
    """Welch's unequal-variance t-test and interval for the difference of per-customer means.

    `treated`, `control`: shape (n,), one outcome per customer in the metric's unit (e.g. cents);
    the result's means, difference and interval are in that unit.

    Welch rather than Student because enrolment can change the spread as well as the mean (a few
    heavy buyers in the enrolled arm) and nothing guarantees equal arm sizes; Welch's test keeps its
    level either way and loses next to nothing when the variances are equal. Formula: Welch (1947),
    "The generalization of Student's problem when several different population variances are
    involved", Biometrika 34: t = (m_t - m_c) / sqrt(s_t^2/n_t + s_c^2/n_c), with the
    Welch-Satterthwaite degrees of freedom (s_t^2/n_t + s_c^2/n_c)^2 /
    ((s_t^2/n_t)^2/(n_t-1) + (s_c^2/n_c)^2/(n_c-1)); interval difference +- t_{df,(1+confidence)/2}
    times that standard error. Computed by `scipy.stats.ttest_ind(equal_var=False)`.
    """
    t = _outcomes(treated, metric=metric, arm=TREATED)
    c = _outcomes(control, metric=metric, arm=CONTROL)
    confidence = _confidence(confidence)
    base = _base(t, c, metric=metric, method="welch", confidence=confidence)
    if reason := _why_no_test(t, c):
        return dataclasses.replace(base, note=reason)
    res, caveat = _welch(t, c)
    ci = res.confidence_interval(confidence_level=confidence)
    return dataclasses.replace(base, ci_low=float(ci.low), ci_high=float(ci.high), p_value=float(res.pvalue),
                               note=caveat)


def compare_proportions(successes_t: int, n_t: int, successes_c: int, n_c: int, *,
                        metric: str, confidence: float = 0.95) -> Comparison:
    """Two-proportion z-test and Wald interval for the difference of shares (e.g. repeat-purchase rate).

    Counts of customers: `successes_*` of `n_*` in each arm. Means and difference are shares in 0..1.

    The p-value uses the pooled standard error sqrt(p(1-p)(1/n_t + 1/n_c)), p = all successes / all
    customers, because under the null hypothesis both arms share one rate; the interval uses the
    unpooled (Wald) standard error sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c), because around a real
    difference the arms' rates differ. Both with normal quantiles (`scipy.stats.norm`); see any
    standard text, e.g. Agresti, "Categorical Data Analysis" (3rd ed., 2013), sections 3.1 and 2.2,
    or Agresti & Caffo (2000), The American Statistician 54(4). The Wald interval is the plain
    large-sample one: at tens of customers per arm or shares near 0 or 1 it is too narrow (Agresti &
    Caffo's add-two-successes-and-failures fix is not applied), and it is not clipped to [-1, 1].
    """
    st = _count(successes_t, metric=metric, what=f"successes in the {TREATED} arm")
    nt = _count(n_t, metric=metric, what=f"customers in the {TREATED} arm")
    sc = _count(successes_c, metric=metric, what=f"successes in the {CONTROL} arm")
    nc = _count(n_c, metric=metric, what=f"customers in the {CONTROL} arm")
    for s, n, arm in ((st, nt, TREATED), (sc, nc, CONTROL)):
        if n == 0:
            raise ValueError(f"{metric}: the {arm} arm is empty (0 customers)")
        if s > n:
            raise ValueError(f"{metric}: the {arm} arm has {s} successes out of only {n} customers")
    confidence = _confidence(confidence)
    pt, pc = st / nt, sc / nc
    diff = pt - pc
    base = Comparison(metric=metric, method="two_proportion_z", n_treated=nt, n_control=nc,
                      mean_treated=pt, mean_control=pc, difference=diff, ci_low=None, ci_high=None,
                      p_value=None, confidence=confidence, relative_lift=_lift(diff, pc))
    if nt < 2 or nc < 2:
        return dataclasses.replace(base, note=_few_customers(nt, nc))
    notes: list[str] = []
    p_value = ci_low = ci_high = None
    if st + sc in (0, nt + nc):
        notes.append("every customer in both arms has the same outcome (pooled share "
                     f"{(st + sc) // (nt + nc)}): the pooled standard error is 0, no p-value")
    else:
        pooled = (st + sc) / (nt + nc)
        z = diff / math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
        p_value = float(2 * _stats().norm.sf(abs(z)))
    if st in (0, nt) and sc in (0, nc):
        notes.append("both shares are 0 or 1: the Wald standard error is 0, no interval")
    else:
        se = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
        half = float(_stats().norm.ppf(0.5 + confidence / 2)) * se
        ci_low, ci_high = diff - half, diff + half
    return dataclasses.replace(base, ci_low=ci_low, ci_high=ci_high, p_value=p_value, note="; ".join(notes))


def bootstrap_difference(treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray, *,
                         metric: str, confidence: float = 0.95, resamples: int = 2000,
                         seed: int = 0) -> Comparison:
    """Percentile bootstrap interval for the difference of per-customer means; no p-value.

    `treated`, `control`: shape (n,), one outcome per customer in the metric's unit.

    For outcomes too skewed to trust the t approximation at the sample size in hand (revenue, where
    a few customers carry most of it): each arm is resampled with replacement on its own (the arms
    are independent samples; Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 8.3),
    `resamples` times, and the interval is the (1-confidence)/2 and (1+confidence)/2 percentiles of
    the resampled differences (ch. 13), via `scipy.stats.bootstrap(method="percentile")`.

    Percentile, not BCa: BCa's acceleration needs a jackknife over every customer of each arm, n
    statistics of n values each, which on a programme's 10^5 customers per arm is 10^10 operations;
    the percentile interval costs resamples x n. Resamples are drawn in batches of at most 2^22
    values to bound memory. The same inputs, `resamples` and `seed` give the same interval.
    """
    t = _outcomes(treated, metric=metric, arm=TREATED)
    c = _outcomes(control, metric=metric, arm=CONTROL)
    confidence = _confidence(confidence)
    resamples = _count(resamples, metric=metric, what="resamples")
    if resamples < 1:
        raise ValueError(f"{metric}: resamples must be at least 1, got {resamples}")
    seed = _count(seed, metric=metric, what="seed")
    base = _base(t, c, metric=metric, method="bootstrap", confidence=confidence)
    no_p = "a bootstrap interval only, no p-value"
    if reason := _why_no_test(t, c):
        return dataclasses.replace(base, note=f"{reason}; {no_p}")
    res = _stats().bootstrap((t, c), _difference_of_means, n_resamples=resamples,
                          batch=max(1, min(resamples, _BOOTSTRAP_BATCH_VALUES // (t.size + c.size))),
                          vectorized=True, paired=False, axis=-1, confidence_level=confidence,
                          method="percentile", rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return dataclasses.replace(base, ci_low=float(ci.low), ci_high=float(ci.high),
                               note=f"percentile interval of {resamples} resamples (seed {seed}); {no_p}")


def balance_categorical(treated_values: Iterable[Any], control_values: Iterable[Any], *, covariate: str,
                        unknown: str = "unknown") -> Balance:
    """Pearson's chi-square test of independence of arm x level for one categorical covariate.

    `treated_values`, `control_values`: one label per customer (any hashable; compared as `str`).
    None, NaN (and pandas' NA/NaT) and blank strings count as the level `unknown`, because a
    covariate missing more often in one arm is itself an imbalance worth seeing.

    Randomisation makes the arms' level shares equal in expectation, so a small p-value says the
    assignment (or the data joined to it) went wrong. The 2 x k table's statistic is
    sum (observed - expected)^2 / expected with k-1 degrees of freedom (Pearson 1900; Agresti,
    "Categorical Data Analysis", section 3.2), by `scipy.stats.chi2_contingency(correction=False)`:
    without Yates' continuity correction, so a 2 x 2 table gets the same statistic as any other.
    Levels nobody has are dropped (they carry no information and would make expected counts 0).
    """
    t = _levels(treated_values, unknown=unknown)
    c = _levels(control_values, unknown=unknown)
    for counts, arm in ((t, TREATED), (c, CONTROL)):
        if not counts:
            raise ValueError(f"{covariate}: the {arm} arm is empty")
    names = sorted(set(t) | set(c), key=lambda name: (name == unknown, name))
    levels = {name: (t.get(name, 0), c.get(name, 0)) for name in names}
    method = "chi2_independence"
    if len(levels) < 2:
        return Balance(covariate, levels, None, None, method,
                       note=f"fewer than 2 levels ({', '.join(levels)}): nothing to compare")
    table = np.array([[counts[0] for counts in levels.values()], [counts[1] for counts in levels.values()]])
    res = _stats().chi2_contingency(table, correction=False)
    note = ""
    if (small := int((res.expected_freq < 5).sum())):
        note = (f"{small} of {table.size} expected counts are below 5: the chi-square approximation "
                "is rough (merge rare levels)")
    return Balance(covariate, levels, float(res.statistic), float(res.pvalue), method, note)


def balance_numeric(treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray, *,
                    covariate: str) -> Balance:
    """Standardised mean difference (Cohen's d) and Welch p-value for one numeric covariate.

    `treated`, `control`: shape (n,), the covariate per customer (e.g. spend in cents the year before).

    The SMD, (m_t - m_c) / s_pooled with s_pooled^2 = ((n_t-1)s_t^2 + (n_c-1)s_c^2) / (n_t+n_c-2)
    (Cohen, "Statistical Power Analysis for the Behavioral Sciences", 2nd ed., 1988, section 2.2), is
    the balance measure because it does not grow with the sample size: with 10^5 customers a
    p-value flags differences nobody cares about, while |d| above about 0.1 is the usual sign of a
    real imbalance. The Welch p-value (as in `compare_means`) is reported alongside.
    """
    t = _outcomes(treated, metric=covariate, arm=TREATED)
    c = _outcomes(control, metric=covariate, arm=CONTROL)
    if reason := _why_no_test(t, c):
        return Balance(covariate, {}, None, None, "smd", note=reason)
    nt, nc = t.size, c.size
    pooled = math.sqrt(((nt - 1) * t.var(ddof=1) + (nc - 1) * c.var(ddof=1)) / (nt + nc - 2))
    d = (float(t.mean()) - float(c.mean())) / pooled
    res, caveat = _welch(t, c)
    return Balance(covariate, {}, float(d), float(res.pvalue), "smd", note=caveat)


def _welch(t: np.ndarray, c: np.ndarray) -> tuple[Any, str]:
    """scipy's Welch test, and a caveat ("" if none) in place of the RuntimeWarnings it would print.

    scipy warns of "precision loss" whenever an arm's values are all equal (its deviations from the
    mean are all 0); that variance is exactly 0, so the warning is dropped. Any other warning (values
    nearly but not exactly equal) becomes the caveat, for the report to show next to the numbers.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _stats().ttest_ind(t, c, equal_var=False)
    constant_arm = np.ptp(t) == 0 or np.ptp(c) == 0
    messages = dict.fromkeys(str(w.message) for w in caught
                             if not (constant_arm and str(w.message).startswith("Precision loss")))
    return res, "; ".join(f"scipy: {m}" for m in messages)


def _difference_of_means(treated: np.ndarray, control: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(treated, axis=axis) - np.mean(control, axis=axis)


def _outcomes(values: Sequence[float] | np.ndarray, *, metric: str, arm: str) -> np.ndarray:
    """The arm as float64, shape (n,), n >= 1, every value finite; else one line naming metric and arm."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{metric}: the {arm} arm is not numeric ({e})") from None
    if x.ndim != 1:
        raise ValueError(f"{metric}: the {arm} arm must be one value per customer (1-D), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{metric}: the {arm} arm is empty")
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        kind = "NaN (missing)" if np.isnan(x[first]) else "infinite"
        raise ValueError(f"{metric}: the {arm} arm has {int(bad.sum())} {kind} value(s), the first at "
                         f"position {first}; drop or fill them before comparing")
    return x


def _count(value: Any, *, metric: str, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{metric}: {what} must be a whole number, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{metric}: {what} must be a whole number, got {value!r}") from None
    if n < 0:
        raise ValueError(f"{metric}: {what} must not be negative, got {n}")
    return n


def _confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return confidence


def _base(t: np.ndarray, c: np.ndarray, *, metric: str, method: str, confidence: float) -> Comparison:
    mt, mc = float(t.mean()), float(c.mean())
    return Comparison(metric=metric, method=method, n_treated=int(t.size), n_control=int(c.size),
                      mean_treated=mt, mean_control=mc, difference=mt - mc, ci_low=None, ci_high=None,
                      p_value=None, confidence=confidence, relative_lift=_lift(mt - mc, mc))


def _lift(difference: float, mean_control: float) -> float | None:
    return None if mean_control == 0 else difference / mean_control


def _few_customers(nt: int, nc: int) -> str:
    arms = [f"{arm} has {n}" for arm, n in ((TREATED, nt), (CONTROL, nc)) if n < 2]
    return f"fewer than 2 customers in an arm ({', '.join(arms)}): no variance to estimate, no interval or p-value"


def _why_no_test(t: np.ndarray, c: np.ndarray) -> str:
    """Why a variance-based test cannot run ("" when it can); checked up front so scipy never warns.

    Zero variance means every value in the arm is identical (exact comparison, not var() == 0, which
    rounding can miss)."""
    if t.size < 2 or c.size < 2:
        return _few_customers(t.size, c.size)
    if np.ptp(t) == 0 and np.ptp(c) == 0:
        return ("zero variance in both arms (every customer in an arm has the same value): the standard "
                "error is 0, no interval or p-value")
    return ""


def _levels(values: Iterable[Any], *, unknown: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        name = unknown if _missing(v) else str(v)
        counts[name] = counts.get(name, 0) + 1
    return counts


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return True  # pandas.NA: its comparisons are NA, whose truth value raises
