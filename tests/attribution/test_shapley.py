"""Shapley attribution: the exact subset-sum computation against a brute force over every order of
the channels, efficiency and symmetry (hypothesis), the closed form of the conversions game, the
sampled estimate within its standard error, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martops.attribution.shapley import shapley_attribution


def brute_force(journeys, c, u, game):
    """Shapley by definition: the mean over all n! orders of each channel's marginal contribution."""
    channels = sorted({x for j in journeys for x in j})

    def v(s):
        inside = [i for i, j in enumerate(journeys) if set(j) <= s]
        cs, us = sum(c[i] for i in inside), sum(u[i] for i in inside)
        if game == "conversions":
            return cs
        return cs / (cs + us) if cs + us else 0.0

    phi = dict.fromkeys(channels, 0.0)
    orders = list(itertools.permutations(channels))
    for order in orders:
        s: set = set()
        for ch in order:
            before = v(s)
            s = s | {ch}
            phi[ch] += v(s) - before
    return [phi[ch] / len(orders) for ch in channels]


journeys_st = st.lists(st.lists(st.sampled_from("abcde"), min_size=1, max_size=4), min_size=1, max_size=8)


def counts(data, n: int, low: int) -> tuple[list[int], list[int]]:
    """Conversions (at least one overall) and non-converting counts for `n` journeys."""
    c = data.draw(st.lists(st.integers(low, 5), min_size=n, max_size=n))
    u = data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    if sum(c) == 0:
        c[0] = 1
    return c, u


@settings(max_examples=40, deadline=None)
@given(journeys=journeys_st, data=st.data())
def test_exact_equals_brute_force_and_is_efficient(journeys, data):
    c, u = counts(data, len(journeys), 0)
    for game in ("conversion_rate", "conversions"):
        r = shapley_attribution(journeys, c, [2.0 * x for x in c], u, game=game)
        assert r.exact
        np.testing.assert_allclose(r.shapley, brute_force(journeys, c, u, game), rtol=1e-9, atol=1e-12)
        assert r.shapley.sum() == pytest.approx(r.grand_value, rel=1e-9, abs=1e-12)  # efficiency
        assert r.conversions.sum() == pytest.approx(sum(c), rel=1e-9)
        assert r.value.sum() == pytest.approx(2.0 * sum(c), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(journeys=journeys_st, data=st.data())
def test_symmetry_swapping_two_channels_swaps_their_values(journeys, data):
    c, u = counts(data, len(journeys), 1)
    swap = {"a": "b", "b": "a"}
    swapped = [[swap.get(x, x) for x in j] for j in journeys]
    r1 = shapley_attribution(journeys, c, c, u)
    r2 = shapley_attribution(swapped, c, c, u)
    v1, v2 = dict(zip(r1.channels, r1.shapley)), dict(zip(r2.channels, r2.shapley))
    for ch in v1:
        assert v1[ch] == pytest.approx(v2[swap.get(ch, ch)], rel=1e-9, abs=1e-12)


def test_the_conversions_game_splits_each_journey_equally_over_its_distinct_channels():
    r = shapley_attribution([["a", "b", "a"], ["b"], ["a", "b", "c"]], [3, 2, 6], [30, 20, 60], [9, 9, 9],
                            game="conversions")
    assert dict(zip(r.channels, r.shapley)) == pytest.approx({"a": 1.5 + 2, "b": 1.5 + 2 + 2, "c": 2})


def test_hand_worked_conversion_rate_game():
    # a alone: 1 conversion of 2 journeys; b alone: 1 of 4; a and b together: 2 of 2.
    # v({a}) = 1/2, v({b}) = 1/4, v({a,b}) = 4/8 = 1/2; phi_a = (1/2 + (1/2 - 1/4)) / 2 = 3/8,
    # phi_b = (1/4 + (1/2 - 1/2)) / 2 = 1/8; they sum to v({a,b}) = 1/2
    r = shapley_attribution([["a"], ["b"], ["a", "b"]], [1, 1, 2], [10, 10, 20], [1, 3, 0])
    assert list(r.shapley) == pytest.approx([3 / 8, 1 / 8])
    assert list(r.conversions) == pytest.approx([4 * 3 / 4, 4 * 1 / 4])  # shares of v(all) x 4 conversions


def test_the_conversions_game_is_its_closed_form_at_any_size_value_included():
    rng = np.random.default_rng(5)
    names = [f"ch{i:02d}" for i in range(90)]
    journeys = [list(rng.choice(names, size=rng.integers(1, 4), replace=False)) for _ in range(300)]
    c, u = rng.integers(0, 4, 300), rng.integers(0, 6, 300)
    value = rng.uniform(1, 100, 300) * c
    r = shapley_attribution(journeys, c, value, u, game="conversions")
    assert r.exact and not r.std_error.any()
    truth, worth = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    for j, k, val in zip(journeys, c, value):
        for ch in set(j):
            truth[ch] += k / len(set(j))
            worth[ch] += val / len(set(j))
    assert dict(zip(r.channels, r.shapley)) == pytest.approx(truth, abs=1e-9)
    assert dict(zip(r.channels, r.value)) == pytest.approx(worth, abs=1e-9)
    assert r.shapley.sum() == pytest.approx(float(c.sum())) and r.value.sum() == pytest.approx(float(value.sum()))


def test_sampled_conversion_rate_game_is_within_its_standard_error_of_the_exact_value():
    rng = np.random.default_rng(9)
    names = [f"ch{i:02d}" for i in range(12)]
    journeys = [list(rng.choice(names, size=rng.integers(1, 5), replace=False)) for _ in range(400)]
    c, u = rng.integers(0, 3, 400), rng.integers(0, 8, 400)
    exact = shapley_attribution(journeys, c, c * 2.0, u)
    sampled = shapley_attribution(journeys, c, c * 2.0, u, samples=600, seed=3, exact_max=5)
    assert exact.exact and not sampled.exact
    assert (np.abs(sampled.shapley - exact.shapley) <= 5 * sampled.std_error + 1e-12).all()
    assert sampled.shapley.sum() == pytest.approx(exact.grand_value)  # every order sums to v(all)


def test_sampling_takes_hundreds_of_channels():
    """Beyond a 64-bit mask (the old limit): 120 channels, both games; the conversion-rate values
    sum to the overall rate in every order, the conversions game matches its closed form."""
    rng = np.random.default_rng(8)
    names = [f"c{i:03d}" for i in range(120)]
    journeys = [list(rng.choice(names, size=rng.integers(1, 6), replace=False)) for _ in range(2000)]
    c, u = rng.integers(0, 3, 2000), rng.integers(0, 5, 2000)
    rate = shapley_attribution(journeys, c, c * 2.0, u, samples=200, seed=3)
    assert len(rate.channels) == 120 and not rate.exact
    assert rate.shapley.sum() == pytest.approx(c.sum() / (c.sum() + u.sum()), rel=1e-12)
    assert rate.conversions.sum() == pytest.approx(float(c.sum()), rel=1e-12)
    conv = shapley_attribution(journeys, c, c * 2.0, u, game="conversions", samples=200, seed=3)
    truth = dict.fromkeys(names, 0.0)
    for j, k in zip(journeys, c):
        for ch in j:
            truth[ch] += k / len(j)
    for ch, phi, se in zip(conv.channels, conv.shapley, conv.std_error):
        assert abs(phi - truth[ch]) <= 5 * se + 1e-9, ch


@pytest.mark.parametrize("args,says", [
    (([["a"]], [0], [0], [1]), "no conversions"),
    (([[]], [1], [1], [0]), "no channel"),
    (([["a"]], [-1], [0], [0]), ">= 0"),
    (([["a"]], [math.nan], [0], [0]), "finite"),
    (([["a"], ["b"]], [1], [1], [0]), "one entry per journey"),
])
def test_bad_input_is_a_value_error(args, says):
    with pytest.raises(ValueError, match=says):
        shapley_attribution(*args)


def test_an_unknown_game_is_refused():
    with pytest.raises(ValueError, match="unknown game 'ratio'"):
        shapley_attribution([["a"]], [1], [1], [0], game="ratio")
