"""The usage marts as pandas DataFrames, for analysis outside the CLI (`notebooks/data-analysis.ipynb`).

`read_marts()` opens the warehouse read-only, reads the five `marts.usage_*` tables whole and closes
it, so a notebook never holds the warehouse's lock and never writes SQL of its own: the figures are
those `martops usage show` prints. Which warehouse: the argument, else the environment variable
`MARTOPS_USAGE_WAREHOUSE` (how the tests and `make notebook` point the notebook at one), else
martops.yml's `warehouse` in the working directory.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from martops.config import load_config
from martops.engine import connect
from martops.errors import ConfigError
from martops.usage import tables as T

WAREHOUSE_ENV = "MARTOPS_USAGE_WAREHOUSE"


@dataclasses.dataclass
class UsageMarts:
    """The marts of one build. `grain` is `event` (timestamps) or `month` (active months only: then
    `active_days`, `first_seen` and `last_seen` are empty and an interaction is an active month)."""

    customers: pd.DataFrame
    companies: pd.DataFrame
    event_types: pd.DataFrame
    tiers: pd.DataFrame
    retention: pd.DataFrame
    as_of: str
    grain: str

    @property
    def included(self) -> pd.DataFrame:
        """Customers that are not bots or test accounts (what tiers, companies and retention count)."""
        return self.customers[~self.customers.excluded]

    def retention_matrix(self, months: int = 12) -> pd.DataFrame:
        """Cohort (rows, by signup month) x months since signup (columns 0..`months`): the share of the
        cohort active; NaN where the month has not been observed in full yet."""
        r = self.retention[self.retention.months_since_signup <= months]
        m = r.pivot(index="cohort", columns="months_since_signup", values="retention")
        return m.sort_index()

    def concentration(self, shares: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5)) -> pd.DataFrame:
        """Share of all interactions made by the top x% of customers (bots and test accounts aside):
        how heavy-tailed usage is. Columns: top_share, customers, interactions_share."""
        v = np.sort(self.included.interactions.to_numpy())[::-1]
        total = v.sum()
        rows = []
        for s in shares:
            n = max(1, int(round(len(v) * s)))
            rows.append({"top_share": s, "customers": n, "interactions_share": v[:n].sum() / total if total else np.nan})
        return pd.DataFrame(rows)

    def lorenz(self) -> pd.DataFrame:
        """Cumulative share of customers (fewest interactions first) against cumulative share of
        interactions: the Lorenz curve; with `gini()` its summary."""
        v = np.sort(self.included.interactions.to_numpy().astype(float))
        cum = np.concatenate([[0.0], np.cumsum(v)])
        total = cum[-1] if cum[-1] else 1.0
        return pd.DataFrame({"customers_share": np.linspace(0, 1, len(cum)), "interactions_share": cum / total})

    def gini(self) -> float:
        """Gini coefficient of interactions per customer (0: everyone the same, 1: one does it all)."""
        curve = self.lorenz()
        x, y = curve.customers_share.to_numpy(), curve.interactions_share.to_numpy()
        return float(1 - 2 * np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))

    def summary(self) -> dict:
        c, inc = self.customers, self.included
        return {"as_of": self.as_of, "grain": self.grain, "customers": len(c), "excluded": int(c.excluded.sum()),
                "interactions": int(inc.interactions.sum()), "companies": len(self.companies),
                "customers_without_company": int(inc.company.isna().sum()),
                "never_active": int((inc.interactions == 0).sum())}


def warehouse_location(warehouse: str | Path | None = None) -> str:
    if warehouse is not None and str(warehouse).strip():
        return str(warehouse)
    env = os.environ.get(WAREHOUSE_ENV, "").strip()
    return env or load_config().warehouse.path


def read_marts(warehouse: str | Path | None = None) -> UsageMarts:
    """The usage marts of `warehouse` (a DuckDB file or a postgresql:// DSN; see the module docstring).
    ConfigError when the warehouse or its usage marts do not exist."""
    location = warehouse_location(warehouse)
    hint = "build it first: martops usage build --source <data.db>"
    with connect(path=location, read_only=True, build_hint=hint) as wh:
        missing = [t for t in T.MARTS if not wh.exists(t)]
        if missing:
            raise ConfigError(f"{location} has no {', '.join(missing)}; {hint}")
        frames = {t: wh.to_pyarrow(wh.table(t)).to_pandas() for t in T.MARTS}
    customers = frames[T.CUSTOMERS]
    event_grain = customers.as_of.notna().any()
    as_of = str(customers.as_of.dropna().iloc[0])[:10] if event_grain else \
        (str(customers.as_of_month.iloc[0]) if len(customers) else "")
    return UsageMarts(customers=customers.sort_values(["interactions", "customer_id"], ascending=[False, True],
                                                      ignore_index=True),
                      companies=frames[T.COMPANIES].sort_values("interactions", ascending=False, ignore_index=True),
                      event_types=frames[T.EVENT_TYPES], tiers=frames[T.TIERS].sort_values(["entity", "position"]),
                      retention=frames[T.RETENTION].sort_values(["cohort_index", "months_since_signup"]),
                      as_of=as_of, grain="event" if event_grain else "month")
