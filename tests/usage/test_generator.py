"""The synthetic usage database: the same spec gives the same rows, the planted parts are there (a
heavy tail of companies and activity, churn, bots, test accounts, people with no company, copies),
the build finds the bots and test accounts, and a million events are written in seconds."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from hypothesis import given, settings, strategies as st

from martops.config import ProjectConfig
from martops.demo.usage import UsageDemoSpec, generate, rows
from martops.engine import connect
from martops.usage import tables as T
from martops.usage.build import build


@settings(max_examples=8, deadline=None)
@given(users=st.integers(10, 400), seed=st.integers(0, 2**32 - 1), dirty=st.booleans())
def test_same_spec_same_rows(users, seed, dirty):
    a, b = rows(UsageDemoSpec(users, seed, dirty)), rows(UsageDemoSpec(users, seed, dirty))
    assert a.people == b.people and a.bots == b.bots and a.tests == b.tests
    for column in a.events:
        assert list(a.events[column]) == list(b.events[column])
    ids = [i for i in a.people["id"] if i is not None]
    assert len(set(ids)) == users  # every person has one id (the dirty copy of person 5 repeats one)


def test_realistic_shape():
    d = rows(UsageDemoSpec(users=3000, seed=11))
    sizes = sorted(Counter(c for c in d.people["company"] if c is not None).values(), reverse=True)
    assert sizes[0] >= 20 * np.median(sizes)  # a few large companies, most small
    assert 0.01 < d.people["company"].count(None) / len(d.people["company"]) < 0.06
    per_user = np.array(sorted(Counter(u for u in d.events["user_id"] if u is not None).values(), reverse=True))
    humans = per_user[len(d.bots):]
    assert humans[: len(humans) // 10].sum() > 0.4 * humans.sum()  # the top 10% make over 40% of events
    assert len(d.bots) == 9 and len(d.tests) == 30


def test_build_excludes_the_planted_bots_and_test_accounts(tmp_path):
    generate(tmp_path / "data.db", UsageDemoSpec(users=1500, seed=5))
    d = rows(UsageDemoSpec(users=1500, seed=5))
    with connect(path=str(tmp_path / "w.duckdb")) as wh:
        _, log = build(wh, tmp_path / "data.db", ProjectConfig())
        c = wh.table(T.CUSTOMERS)
        excluded = {int(r["customer_id"]) for r in wh.to_pyarrow(c.filter(c.excluded).select("customer_id")).to_pylist()}
        tiers = wh.to_pyarrow(c.group_by("tier").aggregate(n=c.count())).to_pylist()
        assert wh.count(T.COMPANIES) > 50
    assert excluded == set(d.bots) | set(d.tests)
    assert log.get("events", "copies of an event dropped (same person, type and time; the first row kept)") > 100
    assert {r["tier"] for r in tiers} == {"new", "dormant", "low", "medium", "high", "excluded"}


def test_a_million_events_in_seconds(tmp_path):
    start = time.perf_counter()
    counts = generate(tmp_path / "big.db", UsageDemoSpec(users=25_000, seed=1))
    seconds = time.perf_counter() - start
    assert counts["events"] > 1_000_000
    assert seconds < 20, seconds
