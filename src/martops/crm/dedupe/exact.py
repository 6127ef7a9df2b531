"""Exact agreement links, for a model that could not be trained.

When EM learned no m for any column (a tiny table, or one where no two records share a key), a
Splink score rests on default m values, u estimated from the very pairs being judged and a prior
of one match among all pairs. In a table of two records, the only random pair is the pair being
judged: chance agreement u is 1 for every column and agreement is worth nothing, whatever the
prior; with a few records it is worth little (two identical records among four scored 0.986). No
prior fixes that, since the evidence, not the prior, is what is missing.

So an untrained model decides one kind of pair by rule instead: the two records agree on a
near-certain key (`kinds.deterministic_keys`: the same email, phone or id, or the same names and
date) AND on every other compared column where both have a value, after preparation. Nothing in
such a pair says they differ, and the key says they are one; it is linked (`exact_agreement`, link
probability 1). Every other pair keeps its Splink score, and a trained model is never overruled.
"""

from __future__ import annotations

import duckdb

from martops.crm.dedupe.kinds import Column, deterministic_keys

SCORED = "scored_pairs"
"""Splink's pairs with `exact_agreement` and `link_probability` (what clustering uses)."""


def _agree(cols: list[Column]) -> str:
    """SQL over `l`/`r` (prepared records): a near-certain key equal, nothing compared differing."""
    none_differ = " AND ".join(f'(l."{c.name}" IS NULL OR r."{c.name}" IS NULL OR l."{c.name}" = r."{c.name}")'
                               for c in cols)
    keys = " OR ".join("(" + " AND ".join(f'l."{k}" = r."{k}"' for k in key) + ")" for key in deterministic_keys(cols))
    return f"({none_differ}) AND ({keys})"


def score(con: duckdb.DuckDBPyConnection, predictions: str, cols: list[Column], *, untrained: bool,
          pairs_threshold: float) -> str:
    """Create `SCORED` from Splink's `predictions` (every blocked pair when `untrained`, else those at
    or above `pairs_threshold`) and return its name: pairs at or above `pairs_threshold` or linked by
    exact agreement (only when `untrained`)."""
    agree = _agree(cols) if untrained else "false"
    con.execute(f"""
        CREATE OR REPLACE TABLE {SCORED} AS
        SELECT * FROM (
            SELECT p.unique_id_l, p.unique_id_r, p.match_probability, p.match_weight, p.match_key,
                   coalesce({agree}, false) AS exact_agreement
            FROM {predictions} p
            JOIN prepared l ON l.unique_id = p.unique_id_l JOIN prepared r ON r.unique_id = p.unique_id_r)
        WHERE match_probability >= {float(pairs_threshold)!r} OR exact_agreement""")
    con.execute(f"ALTER TABLE {SCORED} ADD COLUMN link_probability DOUBLE")
    con.execute(f"UPDATE {SCORED} SET link_probability = CASE WHEN exact_agreement THEN 1.0 "
                "ELSE match_probability END")
    return SCORED
