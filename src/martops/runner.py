"""Run a selection of the step graph in order: one run id, ranges filled in, failures contained.

A failed step stops the steps downstream of it (they are reported as skipped, naming it); steps
on other branches go on. Only a MartopsError counts as a step failure: anything else is a bug and
propagates to the CLI boundary (exit 70), as Ctrl-C does (exit 130).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Callable, Sequence

from martops.domain import Domain, Step, StepContext
from martops.errors import ConfigError, MartopsError
from martops.graph import Graph
from martops.ops import runlog
from martops.results import StepResult

SUCCESS, FAILED, SKIPPED = "success", "failed", "skipped"


@dataclasses.dataclass
class Outcome:
    """What happened to one selected step."""

    step: str
    status: str
    """success, failed or skipped."""
    result: StepResult | None = None
    reason: str | None = None
    """The error of a failed step; why a skipped one did not run."""
    seconds: float = 0.0
    error: MartopsError | None = dataclasses.field(default=None, repr=False)
    """The exception of a failed step, for library callers that re-raise it."""


@dataclasses.dataclass
class RunReport:
    run_id: str
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        return all(o.status != FAILED for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def results(self) -> list[StepResult]:
        return [o.result for o in self.outcomes if o.result is not None]

    def raise_first(self) -> None:
        """For library callers: raise the first failed step's error as if the steps ran inline."""
        for o in self.failed:
            if o.error is not None:
                raise o.error

    def __str__(self) -> str:
        lines = [f"run {self.run_id}:"]
        for o in self.outcomes:
            what = str(o.result) if o.result else o.reason or ""
            lines.append(f"  {o.step} {o.status}: {what}")
        return "\n".join(lines)


def check_range(since: dt.date | None, until: dt.date | None) -> None:
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since} is after --until {until}")


def run(domains: Sequence[Domain], graph: Graph, names: Sequence[str], ctx: StepContext, *,
        strict: Sequence[str] = (), on_start: Callable[[Step], None] | None = None,
        on_end: Callable[[Outcome], None] | None = None, run_id: str | None = None) -> RunReport:
    """Run `names` (already in graph order) with `ctx`'s warehouse, project, range and flags.

    A ranged step with no --since/--until gets its domain's new range (`Domain.default_range`);
    with none (nothing new) it is skipped as up to date. A step in `strict` (named by the user on
    its own) that has nothing to do in this project is a failure, not a quiet skip.
    """
    check_range(ctx.since, ctx.until)
    by_domain = {d.name: d for d in domains}
    outcomes: list[Outcome] = []
    broken: dict[str, str] = {}
    ranges: dict[str, tuple[dt.date, dt.date] | None] = {}
    with runlog.invocation(run_id) as rid:
        for name in names:
            step = graph.step(name)
            blocked = [u for u in graph.ancestors(name) if u in broken]
            unwanted = _unwanted(step, ctx) if blocked and name not in strict else None
            if unwanted:  # would not have run anyway: say why, not that its upstream failed
                outcome = Outcome(name, SKIPPED, reason=unwanted)
            elif blocked:
                first = min(blocked, key=graph.names.index)
                broken[name] = first
                outcome = Outcome(name, SKIPPED, reason=f"not run: upstream {broken_root(first, broken)} failed")
            else:
                outcome = _run_one(step, by_domain[step.domain], ctx, ranges, name in strict, on_start)
                if outcome.status == FAILED:
                    broken[name] = name
            outcomes.append(outcome)
            if on_end:
                on_end(outcome)
    return RunReport(rid, outcomes)


def _unwanted(step: Step, base: StepContext) -> str | None:
    if step.skip_reason is None:
        return None
    ctx = dataclasses.replace(base, params={**base.params, **base.domain_params.get(step.domain, {})})
    return step.skip_reason(ctx)


def broken_root(name: str, broken: dict[str, str]) -> str:
    while broken.get(name, name) != name:
        name = broken[name]
    return name


def _run_one(step: Step, domain: Domain, base: StepContext, ranges: dict, strict: bool,
             on_start: Callable[[Step], None] | None) -> Outcome:
    t0 = time.perf_counter()
    try:
        ctx = dataclasses.replace(base, since=None, until=None,
                                  params={**base.params, **base.domain_params.get(step.domain, {})})
        if step.ranged:
            span = _range(domain, dataclasses.replace(base, params=ctx.params), ranges)
            if span is None:
                return Outcome(step.name, SKIPPED, reason="up to date: no new dates in the source "
                               "(give --since/--until to run a range again)")
            ctx.since, ctx.until = span
        reason = step.skip_reason(ctx) if step.skip_reason else None
        if reason:
            if strict:
                raise ConfigError(f"{step.name}: {reason}")
            return Outcome(step.name, SKIPPED, reason=reason)
        if on_start:
            on_start(step)
        result = step.run(ctx)
        _index(step, domain, ctx)
        return Outcome(step.name, SUCCESS, result=result, seconds=time.perf_counter() - t0)
    except MartopsError as exc:
        return Outcome(step.name, FAILED, reason=str(exc), seconds=time.perf_counter() - t0, error=exc)


def _index(step: Step, domain: Domain, ctx: StepContext) -> None:
    """The declared indexes of the tables `step` wrote, where the engine uses indexes (a table a
    step replaces loses its indexes, so they are made again after every run; kept ones cost one
    catalog lookup)."""
    if not ctx.wh.uses_indexes:
        return
    tables = {name for name, kind, _ in ctx.wh.relations() if kind == "table"}  # a view has no index
    for spec in domain.tables:
        if spec.name in step.outputs and spec.name in tables:
            for columns in spec.all_indexes:
                ctx.wh.create_index(spec.name, columns)


def _range(domain: Domain, ctx: StepContext, cache: dict) -> tuple[dt.date, dt.date] | None:
    """--since/--until, a missing end filled from the domain's new range (computed once per run);
    None when neither was given and the source holds nothing after what was already run."""
    if ctx.since is not None and ctx.until is not None:
        return ctx.since, ctx.until
    if domain.name not in cache:
        cache[domain.name] = domain.default_range(ctx) if domain.default_range else None
    default = cache[domain.name]
    if default is None:
        raise ConfigError(f"{domain.name}: give --since and --until (YYYY-MM-DD): there is no source to take "
                          "the new range from, or it holds no dates")
    next_since, last = default
    if ctx.since is None and ctx.until is None and next_since > last:
        return None
    since, until = ctx.since or next_since, ctx.until or last
    check_range(since, until)
    return since, until
