"""Synthetic loyalty folders in the February Challenge's shape, for `make demo` and tests.

Customers sign up over 2012-2013 and are randomised into `enrolled` and `control`; each buys at its
own monthly rate (enrolled customers `lift` times as often, the effect the programme test should
find), baskets are log-normal in cents, and enrolled purchases follow the real files' points rule
(10 points per whole dollar; 5,000 points for $5.00 off, the rest of the basket earning). With
`dirty`, a few rows real exports get wrong are planted: a value with cents as decimals, a refund,
a transaction of an unknown customer and an exact copy, each quarantined with its reason.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np

from martops.config import LoyaltyConfig
from martops.export_files import write_atomically

FILES = ("customers.csv", "transactions.csv")
START, END = dt.date(2012, 1, 1), dt.date(2013, 12, 30)


@dataclasses.dataclass(frozen=True)
class LoyaltyDemoSpec:
    customers: int = 2000
    seed: int = 7
    lift: float = 1.4
    """How many times as often an enrolled customer buys as a control one."""
    dirty: bool = True


def _points(value: int, redeem: bool, cfg: LoyaltyConfig) -> int:
    if redeem:
        return -cfg.redemption_points + cfg.earn_points * ((value - cfg.redemption_discount_cents) // cfg.earn_per_cents)
    return cfg.earn_points * (value // cfg.earn_per_cents)


def rows(spec: LoyaltyDemoSpec, cfg: LoyaltyConfig | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """(customer rows, transaction rows) as text cells, header excluded; the same for the same spec."""
    cfg = cfg or LoyaltyConfig()
    rng = np.random.default_rng(spec.seed)
    span = (END - START).days
    customers, transactions = [], []
    for i in range(1, spec.customers + 1):
        signup = START + dt.timedelta(days=int(rng.integers(0, span)))
        arm = cfg.treated_arm if rng.random() < 0.5 else cfg.control_arm
        pick = lambda options: options[int(rng.integers(0, len(options)))] if rng.random() < 0.5 else ""  # noqa: E731
        customers.append([str(i), signup.isoformat(), arm, pick(["LA", "NYC", "SF"]), pick(["A", "B", "C", "D"]),
                          pick(["young", "youthful", "oldish", "wise"]), "", "", "", "", ""])
        rate = rng.gamma(1.0, 0.4) * (spec.lift if arm == cfg.treated_arm else 1.0) / 30  # purchases a day
        day, balance = signup, 0
        while rate > 0:
            day += dt.timedelta(days=int(rng.exponential(1 / rate)))
            if day > END:
                break
            value = int(round(rng.lognormal(7.7, 0.7)))
            redeem = arm == cfg.treated_arm and balance >= cfg.redemption_points and value >= 500 and rng.random() < 0.5
            points = _points(value, redeem, cfg) if arm == cfg.treated_arm else 0
            balance += points
            transactions.append([day.isoformat(), str(i), str(value), str(points)])
    transactions.sort(key=lambda r: (r[0], int(r[1])))
    if spec.dirty and len(transactions) > 10:
        transactions[3][2] = f"{int(transactions[3][2]) / 100:.2f}"   # dollars where cents belong
        transactions[5][2] = f"-{transactions[5][2]}"                 # a refund
        transactions.append([END.isoformat(), str(spec.customers + 99), "1999", "0"])  # an unknown customer
        transactions.insert(8, list(transactions[7]))                 # an exact copy
    return customers, transactions


def generate(out: str | Path, spec: LoyaltyDemoSpec, *, force: bool = False) -> dict[str, int]:
    """Write customers.csv and transactions.csv into `out`; returns the rows written per file."""
    from martops.loyalty.source import OPTIONAL, REQUIRED

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    customers, transactions = rows(spec)
    headers = {"customers.csv": [*REQUIRED["customers"], *OPTIONAL["customers"]],
               "transactions.csv": list(REQUIRED["transactions"])}
    for name, data in (("customers.csv", customers), ("transactions.csv", transactions)):
        def write(tmp: Path, data=data, name=name) -> None:
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(headers[name])
                w.writerows(data)
        write_atomically(out / name, write)
    return {"customers.csv": len(customers), "transactions.csv": len(transactions)}
