"""marts.crm_sales_attainment: bands at their edges, performers, a missing achieved, region rollups."""

from __future__ import annotations

from martops.crm.marts import sales as R
from tests.crm.marts_tables import put

REPS = [  # id, name, region, target, achieved, achieved_missing
    ("r1", "Ada", "North", 100.0, 49.0, False), ("r2", "Ben", "North", 100.0, 50.0, False),
    ("r3", "Cy", "South", 100.0, 80.0, False), ("r4", "Di", "South", 100.0, 100.0, False),
    ("r5", "Ed", "South", 200.0, 240.0, False), ("r6", "Flo", "North", 100.0, None, True),
    ("r7", "Gus", "East", 0.0, 10.0, False),
]


def test_bands_performers_and_a_missing_achieved(wh):
    put(wh, "crm.sales_team", REPS)
    R.build(wh)
    rows = {r["sales_rep_id"]: r for r in wh.to_pyarrow(wh.table(R.TABLE)).to_pylist()}
    got = {k: (r["attainment"], r["attainment_band"], r["performer"]) for k, r in rows.items()}
    assert got == {"r1": (0.49, "<50%", "under"), "r2": (0.5, "50-80%", "under"), "r3": (0.8, "80-100%", "on track"),
                   "r4": (1.0, "100-120%", "over"), "r5": (1.2, ">=120%", "over"), "r6": (None, "unknown", "unknown"),
                   "r7": (None, "unknown", "unknown")}
    assert rows["r6"]["gap_to_target"] is None and rows["r3"]["gap_to_target"] == 20.0


def test_region_rollup_is_a_ratio_of_sums_over_reps_with_a_figure(wh):
    put(wh, "crm.sales_team", REPS)
    R.build(wh)
    regions = {r["region"]: r for r in wh.to_pyarrow(R.by_region(wh)).to_pylist()}
    north = regions["North"]  # Flo (no figure) is left out of the target: (49 + 50) / 200
    assert (north["reps"], north["reps_known"], north["sales_target"], north["target_with_achieved"]) == (3, 2, 300, 200)
    assert north["attainment"] == 99 / 200
    assert regions["South"]["attainment"] == 420 / 400
    assert list(regions)[0] == "South"
    dist = {r["attainment_band"]: r["reps"] for r in wh.to_pyarrow(R.distribution(wh)).to_pylist()}
    assert list(dist) == ["<50%", "50-80%", "80-100%", "100-120%", ">=120%", "unknown"]
    assert dist == {"<50%": 1, "50-80%": 1, "80-100%": 1, "100-120%": 1, ">=120%": 1, "unknown": 2}
    perf = {r["performer"]: r["reps"] for r in wh.to_pyarrow(R.performers(wh)).to_pylist()}
    assert perf == {"over": 2, "on track": 1, "under": 2, "unknown": 2}
