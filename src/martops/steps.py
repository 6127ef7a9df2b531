"""The step registry: every pipeline step by a stable dotted name, for orchestrators.

An Airflow/Dagster task or a cron line calls `run_step("attribution.journeys", wh, opts)`
(or the matching CLI command); each step takes a range and returns a `StepResult`.
"""

from __future__ import annotations

from typing import Callable

from martops.attribution import pipeline as attribution
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.results import StepResult

StepFn = Callable[[Warehouse, attribution.RunOptions], StepResult]

REGISTRY: dict[str, StepFn] = {f"attribution.{name}": fn for name, fn in attribution.STEPS.items()}


def run_step(name: str, wh: Warehouse, opts: attribution.RunOptions) -> StepResult:
    try:
        fn = REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown step {name!r}; known steps: {', '.join(sorted(REGISTRY))}") from None
    return fn(wh, opts)
