"""Hand-built lead files: a small population whose outcome depends on known columns, with one
planted leaky column (the sales team's call result) and a column of noise."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HEADER = ["Lead Id", "Origin", "Visits", "Do Not Email", "Notes", "Call Result", "Email", "Company", "Converted"]
CONFIG = """\
leads:
  id: Lead Id
  label: Converted
  key: Email
  company: {key: Company}
  columns:
    Origin: {type: categorical}
    Visits: {type: numeric, role: engagement}
    Do Not Email: {type: boolean}
    Notes: {type: categorical}
    Call Result: {type: categorical, role: engagement}
  model: {folds: 3}
  rules:
    points:
      - {field: Origin, equals: form, points: 40}
      - {field: Visits, at_least: 5, points: 30}
      - {field: Do Not Email, equals: true, points: -20}
      - {field: sessions_recent, at_least: 2, points: 20}
    grades: {A: 60, B: 40, C: 20}
    sales_ready: 60
"""


def rows(n: int = 600, seed: int = 3, leaky: bool = True) -> list[list[str]]:
    """Conversion odds rise with a form origin and visits, fall with Do Not Email; `Call Result`
    is 'enrolled' for 97% of converted leads and 'no answer' for 97% of the others (a post-outcome
    column); `Notes` is noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        origin = rng.choice(["form", "ads", "chat"], p=[0.3, 0.4, 0.3])
        visits = int(rng.poisson(4))
        dne = rng.random() < 0.15
        logit = -1.2 + 1.6 * (origin == "form") + 0.25 * visits - 1.2 * dne
        y = int(rng.random() < 1 / (1 + np.exp(-logit)))
        call = ("enrolled" if y else "no answer") if rng.random() < 0.97 else ("no answer" if y else "enrolled")
        out.append([f"L{i:04d}", origin, str(visits), "Yes" if dne else "No", rng.choice(["x", "y", "z"]),
                    call if leaky else "", f"p{i}@example.com", f"co{i % 40}", str(y)])
    return out


def write(path: Path, data: list[list[str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(data)
    return path
