"""The real SaaS usage sample (../shared/datasets/product-usage: registrations.csv and activity.csv,
`;`-separated, months numbered 1..21, no company) through the usage domain, on each engine. The
expected figures are computed here again with pandas straight from the CSV files, by the rules
`martops.usage.marts` states (an independent second reading, not the build's own numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from martops.config import ProjectConfig
from martops.usage import tables as T
from martops.usage.build import build
from tests.conftest import dataset

MAPPING = """\
sources:
  usage:
    delimiter: ";"
    grain: month
    tables: {people: registrations, events: activity}
    columns:
      people: {created_at: registration_month}
      events: {user_id: id, month: activity_month}
"""
"""The mapping the README's usage section gives for this dataset."""


@pytest.fixture(scope="module")
def expected():
    folder = dataset("product-usage")
    reg = pd.read_csv(folder / "registrations.csv", sep=";")
    act = pd.read_csv(folder / "activity.csv", sep=";")[["id", "activity_month"]].drop_duplicates()
    last, n = int(act.activity_month.max()), 3
    recent = act[act.activity_month > last - n].groupby("id").size().reindex(reg.id, fill_value=0)
    new = (reg.set_index("id").registration_month > last - n)
    ranked = recent[~new & (recent > 0)]
    lo, hi = np.quantile(ranked.to_numpy(dtype=float), [0.25, 0.75])
    tiers = {"new": int(new.sum()), "dormant": int((~new & (recent == 0)).sum()),
             "low": int((ranked <= lo).sum()), "high": int((ranked > hi).sum())}
    tiers["medium"] = len(ranked) - tiers["low"] - tiers["high"]
    j = act.merge(reg[["id", "registration_month"]], on="id")
    j["k"] = j.activity_month - j.registration_month
    active = j.groupby(["registration_month", "k"]).id.nunique()
    size = reg.groupby("registration_month").size()
    retention = {(int(c), int(k)): active.get((c, k), 0) / size[c] for c in size.index for k in range(0, last - int(c) + 1)}
    return {"people": len(reg), "events": len(act), "tiers": tiers, "retention": retention,
            "interactions": act.groupby("id").size()}


def test_real_usage_per_user_tiers_and_retention(wh, expected):
    cfg = ProjectConfig.model_validate(yaml.safe_load(MAPPING))
    _, log = build(wh, dataset("product-usage"), cfg)
    assert log.get("people", "rows read = loaded + quarantined") == expected["people"] == 40_126
    assert wh.count(T.STAGING_EVENTS) == expected["events"] == 79_034
    assert wh.count(T.COMPANIES) == 0  # no company in the source: usage is per user only
    c = wh.table(T.CUSTOMERS)
    got = {r["tier"]: r["n"] for r in wh.to_pyarrow(c.group_by("tier").aggregate(n=c.count())).to_pylist()}
    assert got == expected["tiers"]
    assert got == {"new": 5_594, "dormant": 31_000, "low": 2_398, "medium": 773, "high": 361}
    per_user = wh.to_pyarrow(c.select("customer_id", "interactions")).to_pandas().set_index("customer_id")
    assert per_user.interactions.sort_index().equals(expected["interactions"].sort_index().rename("interactions"))
    assert per_user.interactions.max() == 21  # some users were active in every month of the sample
    r = {(int(row["cohort"][1:]), row["months_since_signup"]): row["retention"]
         for row in wh.to_pyarrow(wh.table(T.RETENTION)).to_pylist()}
    assert r.keys() == expected["retention"].keys()
    for key, value in expected["retention"].items():
        assert r[key] == pytest.approx(value, abs=1e-12), key
    assert (round(r[1, 0], 4), round(r[1, 1], 4), round(r[1, 2], 4)) == (0.7771, 0.4633, 0.3314)
