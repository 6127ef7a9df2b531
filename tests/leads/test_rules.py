"""The points rules on hand-built leads: every figure below is worked out by hand from the rules
in the test (points, a negative rule, the cap, the floor, the half-life decay, the grades, the
sales-ready threshold, the company aggregations)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martops.config_leads import CompanyConfig, LeadsConfig, RulesConfig
from martops.errors import ConfigError
from martops.leads import rules
from martops.leads.features import ACTIVITY, Feature, Frame
from martops.leads.mapping import Column, Mapping

AS_OF = dt.date(2024, 6, 30)
COLUMNS = (Column("Origin", "origin", "categorical", "fit"), Column("Visits", "visits", "numeric", "engagement"),
           Column("Do Not Email", "do_not_email", "boolean", "fit"))
MAPPING = Mapping("Id", None, None, None, None, COLUMNS)


def frame(rows: list[tuple]) -> Frame:
    """rows: (lead_id, origin, visits, do_not_email 1/0/None, days since activity)."""
    df = pd.DataFrame(rows, columns=["lead_id", "origin", "visits", "do_not_email", ACTIVITY]).set_index("lead_id")
    df["visits"] = df["visits"].astype(float)
    df["do_not_email"] = df["do_not_email"].astype(float)
    df[ACTIVITY] = df[ACTIVITY].astype(float)
    feats = [Feature("origin", "categorical", "fit", "Origin"), Feature("visits", "numeric", "engagement", "Visits"),
             Feature("do_not_email", "numeric", "fit", "Do Not Email")]
    return Frame(df, feats, [])


def config(**rules_kw) -> LeadsConfig:
    points = [
        {"field": "Origin", "equals": "form", "points": 40},
        {"field": "Visits", "at_least": 5, "points": 30},
        {"field": "Visits", "at_least": 20, "points": 50},
        {"field": "Do Not Email", "equals": True, "points": -25},
        {"field": "origin", "missing": True, "points": -5},
    ]
    return LeadsConfig.model_validate({"rules": {"points": points, "cap": 100, "floor": 0, "half_life_days": 10,
                                                 "grades": {"A": 70, "B": 40, "C": 20}, "sales_ready": 60,
                                                 **rules_kw}})


def scored(rows, cfg=None):
    cfg = cfg or config()
    f = frame(rows)
    return rules.score(f, rules.bind(cfg, MAPPING, f), cfg)


def test_points_cap_floor_decay_grades_exactly():
    s = scored([
        ("a", "form", 6, 0, 0),        # fit 40, engagement 30 undecayed: 70 -> A, sales-ready
        ("b", "Form ", 25, 0, 10),     # fit 40 (trimmed, any case), engagement 80 halved once: 40 + 40 = 80 -> A
        ("c", "ads", 25, 1, 20),       # fit -25, engagement 80 x 0.25 = 20: -5 -> floor 0 -> D
        ("d", "form", 40, 0, None),    # no activity date: no decay; 40 + 80 = 120 -> cap 100
        ("e", None, 2, None, 0),       # blank origin -5: -5 -> 0; a blank boolean fires nothing
        ("f", "ads", 5, 0, 30),        # 30 x 0.125 = 3.75 -> D
    ]).table
    assert s.loc["a", "rules_score"] == 70 and s.loc["a", "grade"] == "A" and s.loc["a", "sales_ready"]
    assert s.loc["b", "fit_points"] == 40 and s.loc["b", "engagement_points"] == 80
    assert s.loc["b", "decay"] == 0.5 and s.loc["b", "rules_score"] == 80
    assert s.loc["c", "fit_points"] == -25 and s.loc["c", "decay"] == 0.25 and s.loc["c", "rules_score"] == 0
    assert s.loc["c", "grade"] == "D" and not s.loc["c", "sales_ready"]
    assert s.loc["d", "decay"] == 1 and s.loc["d", "rules_score"] == 100
    assert s.loc["e", "fit_points"] == -5 and s.loc["e", "rules_score"] == 0
    assert s.loc["f", "rules_score"] == pytest.approx(3.75) and s.loc["f", "grade"] == "D"
    assert list(scored([("g", "form", 0, 0, 0), ("h", "x", 20, 0, 0), ("i", "x", 5, 0, 0), ("j", "x", 0, 0, 0)])
                .table["grade"]) == ["B", "A", "C", "D"]  # 40, 80, 30, 0


def test_without_a_floor_negative_scores_stay_and_without_half_life_nothing_decays():
    s = scored([("c", "ads", 25, 1, 20)], config(floor=None, half_life_days=None)).table
    assert s.loc["c", "decay"] == 1 and s.loc["c", "rules_score"] == -25 + 80


def test_fired_rules_are_the_reasons():
    fired = scored([("b", "form", 25, 0, 10)]).fired
    assert sorted(zip(fired["rule"], fired["points"])) == [("Origin = form", 40), ("Visits >= 20", 50),
                                                           ("Visits >= 5", 30)]


def test_a_rule_naming_a_level_no_lead_has_is_noted_with_the_levels_there_are():
    cfg = LeadsConfig.model_validate({"rules": {"points": [
        {"field": "Origin", "equals": "from", "points": 40},             # a typo of 'form'
        {"field": "Origin", "in": ["Form", "webinar"], "points": 10},     # one level seen (any case), one not
        {"field": "Visits", "at_least": 5, "points": 30}]}})
    s = scored([("a", "form", 6, 0, 0), ("b", "form", 1, 0, 0), ("c", "ads", 1, 0, 0)], cfg)
    assert s.notes == ["leads.rules.points.0 (Origin): equals 'from' matches no lead; its levels include 'form', 'ads'",
                       "leads.rules.points.1 (Origin): in 'webinar' matches no lead; its levels include 'form', 'ads'"]
    assert scored([("a", "form", 6, 0, 0)]).notes == []


def test_a_rule_naming_no_column_is_an_error_naming_the_rule():
    cfg = LeadsConfig.model_validate({"rules": {"points": [{"field": "Vists", "at_least": 3, "points": 5}]}})
    f = frame([("a", "form", 1, 0, 0)])
    with pytest.raises(ConfigError, match=r"leads.rules.points.0 \(field 'Vists'\): no such column"):
        rules.bind(cfg, MAPPING, f)
    cfg = LeadsConfig.model_validate({"rules": {"points": [{"field": "Origin", "at_least": 3, "points": 5}]}})
    with pytest.raises(ConfigError, match="at_least/below compare numbers, but Origin is categorical"):
        rules.bind(cfg, MAPPING, f)


@pytest.mark.parametrize("bad, said", [
    ({"points": [{"field": "x", "points": 1}]}, "exactly one condition"),
    ({"points": [{"field": "x", "points": 1, "equals": "a", "in": ["b"]}]}, "exactly one condition"),
    ({"grades": {"A": 10, "B": 20}}, "grades must fall from A to C"),
    ({"floor": 100, "cap": 50}, "floor (100.0) must be below cap"),
    ({"points": [{"field": "x", "points": 1, "at_least": 5, "below": 5}]}, "below (5.0) must be above at_least"),
])
def test_invalid_rules_are_refused_naming_the_problem(bad, said):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=said.replace("(", r"\(").replace(")", r"\)")):
        RulesConfig.model_validate(bad)


def test_company_score_by_each_aggregation():
    scores = pd.Series([90.0, 50.0, 30.0, 10.0, 80.0, 20.0])
    companies = pd.Series(["acme", "acme", "acme", "acme", "solo", None])
    rc = RulesConfig(grades={"A": 70, "B": 40, "C": 20}, sales_ready=60)
    want = {"top_n_mean": (170 / 3, 80), "max": (90, 80), "mean": (45, 80), "sum": (100, 80)}  # sum capped at 100
    for agg, (acme, solo) in want.items():
        out = rules.company_scores(scores, companies, CompanyConfig(key="c", aggregation=agg), rc).set_index("company")
        assert out.loc["acme", "contacts"] == 4 and out.loc["solo", "contacts"] == 1
        assert out.loc["acme", "company_score"] == pytest.approx(acme) and out.loc["solo", "company_score"] == solo
    top = rules.company_scores(scores, companies, CompanyConfig(key="c"), rc).set_index("company")
    assert top.loc["acme", "grade"] == "B" and not top.loc["acme", "sales_ready"]  # 56.7: B, below 60


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.floats(-200, 200, allow_nan=False), min_size=1, max_size=6),
       visits=st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=20),
       days=st.floats(0, 400, allow_nan=False), cap=st.floats(1, 500, allow_nan=False))
def test_the_score_never_leaves_floor_and_cap(points, visits, days, cap):
    cfg = LeadsConfig.model_validate({"rules": {
        "points": [{"field": "Visits", "at_least": float(i * 3), "points": p} for i, p in enumerate(points)],
        "cap": cap, "floor": 0}})
    s = scored([(f"l{i}", "x", v, 0, days) for i, v in enumerate(visits)], cfg).table["rules_score"].to_numpy()
    assert np.all(s <= cap + 1e-9) and np.all(s >= 0)
