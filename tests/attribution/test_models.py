import math

import pytest
from hypothesis import given, settings, strategies as st

from martops.attribution.models import MODELS, credits_expr, get_model
from martops.config import AttributionConfig, IhcPhases, IhcWeights
from martops.engine import connect
from martops.errors import ConfigError

from .journey_frames import journeys_frame

J3 = {"c": [(48, "Paid Search Brand", 1, 0), (24, "Direct Traffic", 0, 0), (1, "Newsletter & Email", 1, 1)]}


@pytest.fixture(scope="module")
def mem():
    with connect(path=":memory:") as w:
        yield w


def credits(mem, journeys, model, cfg=None):
    out = mem.backend.execute(credits_expr(journeys_frame(journeys), model, cfg or AttributionConfig()))
    out = out.sort_values(["conv_id", "session_id"])
    return {c: list(g.ihc) for c, g in out.groupby("conv_id")}


@pytest.mark.parametrize("model,expected", [
    ("first_touch", [1, 0, 0]),
    ("last_touch", [0, 0, 1]),
    ("linear", [1 / 3, 1 / 3, 1 / 3]),
    ("position_based", [0.4, 0.2, 0.4]),
])
def test_three_session_journey(mem, model, expected):
    assert credits(mem, J3, model)["c"] == pytest.approx(expected, abs=1e-12)


def test_time_decay_halves_per_half_life(mem):
    j = {"c": [(14 * 24, "A", 1, 1), (7 * 24, "B", 1, 1), (0, "C", 1, 1)]}
    w = [0.25, 0.5, 1.0]
    got = credits(mem, j, "time_decay", AttributionConfig(half_life_days=7))["c"]
    assert got == pytest.approx([x / sum(w) for x in w], abs=1e-12)


def test_time_decay_never_underflows_on_ancient_journeys(mem):
    j = {"c": [(24 * 365 * 40, "A", 1, 1), (24 * 365 * 39, "B", 1, 1)]}
    got = credits(mem, j, "time_decay")["c"]
    assert sum(got) == pytest.approx(1) and all(math.isfinite(x) for x in got)


def test_last_non_direct_skips_direct_and_falls_back_to_last(mem):
    j = {
        "a": [(3, "Paid Search Brand", 1, 1), (2, "Direct Traffic", 1, 1)],
        "b": [(3, "Direct Traffic", 1, 1), (2, "Direct Traffic", 1, 1)],
    }
    got = credits(mem, j, "last_non_direct")
    assert got["a"] == [1, 0] and got["b"] == [0, 1]
    custom = credits(mem, j, "last_non_direct", AttributionConfig(direct_channel="Paid Search Brand"))
    assert custom["a"] == [0, 1]


def test_one_and_two_session_journeys(mem):
    j = {"one": [(5, "A", 0, 0)], "two": [(5, "A", 1, 1), (1, "B", 1, 1)]}
    for model in MODELS:
        got = credits(mem, j, model)
        assert got["one"] == pytest.approx([1.0]), model
    assert credits(mem, j, "position_based")["two"] == pytest.approx([0.5, 0.5])


FLAT = dict(initializer_later_score=-100, initializer_per_day=0, holder_end_score=0, holder_closer_score=0,
            holder_closer_per_log_hour=0, closer_recency_exponent=0)
"""Phases without shape: initializer on the first session, holder and closer even over the eligible."""


def ihc_cfg(weights=(1, 1, 1), **phases) -> AttributionConfig:
    return AttributionConfig(ihc_weights=IhcWeights(initializer=weights[0], holder=weights[1], closer=weights[2]),
                             ihc_phases=IhcPhases(**{**FLAT, **phases}))


def test_ihc_mixes_the_phases(mem):
    # initializer -> s1; holder split over s1, s3 (holder-engaged); closer all to s3 (the only closer)
    assert credits(mem, J3, "ihc", ihc_cfg())["c"] == pytest.approx([1 / 3 + 1 / 6, 0, 1 / 6 + 1 / 3], abs=1e-12)


def test_ihc_holder_leans_to_the_middle_and_away_from_early_closers(mem):
    end, closer, per_log_hour = -math.log(4), -1.0, 0.5
    cfg = ihc_cfg((0, 1, 0), holder_end_score=end, holder_closer_score=closer, holder_closer_per_log_hour=per_log_hour)
    # the API's own answer for such a journey (closer engagement on the last only): 1/6, 2/3, 1/6
    assert credits(mem, {"c": [(10, "A", 1, 0), (5, "B", 1, 0), (0, "C", 1, 1)]}, "ihc", cfg)["c"] == \
        pytest.approx([1 / 6, 2 / 3, 1 / 6], abs=1e-12)
    # s1 engages as a closer 5 hours before s2: its score gains closer + per_log_hour * ln(1 + 5)
    w = [math.exp(end + closer + per_log_hour * math.log(6)), 1, math.exp(end)]
    got = credits(mem, {"c": [(10, "A", 1, 1), (5, "B", 1, 0), (0, "C", 1, 1)]}, "ihc", cfg)["c"]
    assert got == pytest.approx([x / sum(w) for x in w], abs=1e-12)


def test_ihc_closer_is_a_power_law_in_hours_before_the_last_session(mem):
    got = credits(mem, {"c": [(4, "A", 0, 1), (1, "B", 0, 0), (0, "C", 0, 1)]}, "ihc",
                  ihc_cfg((0, 0, 1), closer_recency_exponent=0.5))["c"]
    w = [5 ** -0.5, 0, 1]
    assert got == pytest.approx([x / sum(w) for x in w], abs=1e-12)


def test_ihc_initializer_moves_to_a_session_after_a_long_gap(mem):
    cfg = ihc_cfg((1, 0, 0), initializer_later_score=-6, initializer_per_day=1)
    got = credits(mem, {"c": [(48, "A", 1, 1), (0, "B", 1, 1)]}, "ihc", cfg)["c"]
    assert got == pytest.approx([1 / (1 + math.exp(-4)), math.exp(-4) / (1 + math.exp(-4))], abs=1e-12)


def test_ihc_phase_without_eligible_sessions_leaves_the_mix(mem):
    # no holder or closer engagement: only the initializer is left, as the API renormalises its mix
    j = {"c": [(5, "A", 0, 0), (3, "B", 0, 0), (1, "C", 0, 0)]}
    assert credits(mem, j, "ihc", ihc_cfg())["c"] == pytest.approx([1, 0, 0], abs=1e-12)
    # ...and with no initializer weight either, nothing is left: credit is spread evenly
    assert credits(mem, j, "ihc", ihc_cfg((0, 1, 1)))["c"] == pytest.approx([1 / 3] * 3, abs=1e-12)


def test_ihc_never_overflows_on_extreme_settings(mem):
    j = {"c": [(24 * 365 * 40, "A", 1, 1), (24 * 365 * 20, "B", 1, 1), (0, "C", 1, 1)]}
    cfg = ihc_cfg(initializer_later_score=100, initializer_per_day=100, holder_closer_per_log_hour=-100,
                  closer_recency_exponent=-100)
    got = credits(mem, j, "ihc", cfg)["c"]
    assert all(math.isfinite(x) and x >= 0 for x in got) and sum(got) == pytest.approx(1, abs=1e-9)


def test_ihc_weights_are_configurable(mem):
    cfg = AttributionConfig(ihc_weights=IhcWeights(initializer=1, holder=0, closer=0),
                            ihc_phases=IhcPhases(**FLAT))
    assert credits(mem, J3, "ihc", cfg)["c"] == pytest.approx([1, 0, 0])


@pytest.mark.parametrize("bad", [{"closer_recency_exponent": 101}, {"holder_end_score": float("nan")},
                                 {"initializer_per_day": "fast"}, {"holder_typo": 1}])
def test_ihc_phases_are_validated(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        IhcPhases(**bad)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ConfigError, match="choose one of"):
        get_model("magic")


journey_st = st.lists(
    st.tuples(
        st.integers(0, 24 * 60),  # hours before the conversion; duplicates model shared timestamps
        st.sampled_from(["Direct Traffic", "Paid Search Brand", "Newsletter & Email"]),
        st.integers(0, 1), st.integers(0, 1),
    ),
    min_size=1, max_size=40,
).map(lambda s: sorted(s, key=lambda x: -x[0]))


@settings(max_examples=40, deadline=None)
@given(
    journeys=st.dictionaries(st.text("abcdef", min_size=1, max_size=6), journey_st, min_size=1, max_size=8),
    weights=st.tuples(*[st.floats(0, 5) for _ in range(3)]).filter(lambda w: sum(w) > 0.01),
    half_life=st.floats(0.01, 365),
    phases=st.lists(st.floats(-100, 100), min_size=6, max_size=6),
)
def test_every_model_gives_nonnegative_credits_summing_to_one(mem, journeys, weights, half_life, phases):
    cfg = AttributionConfig(
        ihc_weights=IhcWeights(initializer=weights[0], holder=weights[1], closer=weights[2]),
        ihc_phases=IhcPhases(**dict(zip(IhcPhases.model_fields, phases))),
        half_life_days=half_life,
    )
    for model in MODELS:
        for conv, values in credits(mem, journeys, model, cfg).items():
            assert len(values) == len(journeys[conv])
            assert min(values) >= 0, (model, conv, values)
            assert abs(sum(values) - 1) <= 1e-9, (model, conv, values)
