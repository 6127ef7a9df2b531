"""Dagster: the martops step graph as software-defined assets, martops' checks as asset checks.

One asset per table a step writes (key `schema/table`; an output outside the warehouse,
`file:attribution.export`, is `file/attribution.export`); a step is one `multi_asset` holding its
outputs, so Dagster runs it as one `martops run <step>` process of the core venv. Dependencies
come from the steps' inputs; inputs no selected step writes (`source:kpis`, a table upstream of
the selection) are external assets. Each output table martops has checks for
(`martops check --list`) gets an asset check `martops_checks` that runs
`martops check --select <table>` after the step: it fails on a failing check, with ERROR
severity (blocking downstream assets) when an error-severity check failed, else WARN.

Runs in Dagster's own virtualenv (`make dagster-env`) and imports only the standard library,
Dagster and `martops_cli`, never martops' core (whose pins conflict with Dagster's).

Range: with a time-window `partitions_def` (e.g. DailyPartitionsDefinition) a run covers its
partitions' window [start, end) as --since start --until end-1day; else the resource's
`since`/`until` (none: martops' default, the data's new range). Steps that take no range
(deliveries, marts) run without one.

Usage (a definitions.py):

    from martops.automation.orchestration.dagster import MartopsResource, martops_definitions
    defs = martops_definitions(MartopsResource(config="/srv/mart/martops.yml"), select=["kpis"])
"""


import datetime as dt
import re
from typing import Any, Iterable, Iterator, Optional, Union

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetKey,
                     AssetsDefinition, AssetSpec, ConfigurableResource, Definitions, Failure, MaterializeResult,
                     PartitionsDefinition, RetryPolicy, multi_asset)

from martops.automation.orchestration.martops_cli import (Project, Step, StepFailed, interval_to_range)

CHECK_NAME = "martops_checks"


class MartopsResource(ConfigurableResource):
    """How the assets call martops: the executable (default: $MARTOPS_BIN, else the checkout's
    .venv/bin/martops), the project file, the warehouse, the working directory, and for runs
    without partitions the range (`since`/`until`, YYYY-MM-DD, inclusive; None: martops' default)."""

    martops_bin: Optional[str] = None
    config: Optional[str] = None
    warehouse: Optional[str] = None
    cwd: Optional[str] = None
    since: Optional[str] = None
    until: Optional[str] = None

    def project(self) -> Project:
        return Project(bin=self.martops_bin, config=self.config, warehouse=self.warehouse, cwd=self.cwd)

    def date_range(self) -> tuple[Optional[dt.date], Optional[dt.date]]:
        out = []
        for name, value in (("since", self.since), ("until", self.until)):
            try:
                out.append(dt.date.fromisoformat(value) if value else None)
            except ValueError:
                raise Failure(f"MartopsResource.{name} {value!r}: expected a date YYYY-MM-DD", allow_retries=False)
        return out[0], out[1]


def asset_key(name: str) -> AssetKey:
    """`staging.sessions` -> staging/sessions; `source:kpis` -> source/kpis; `file:x.y` -> file/x.y."""
    prefix, sep, rest = name.partition(":")
    if sep:
        return AssetKey([prefix, rest])
    return AssetKey(name.split(".", 1))


def _op_name(step: str) -> str:
    return re.sub(r"\W", "_", step)


def _range(context: AssetExecutionContext, resource: MartopsResource,
           step: Step) -> tuple[Optional[dt.date], Optional[dt.date]]:
    if not step.ranged:
        return None, None
    if context.has_partition_key:
        window = context.partition_time_window  # the whole window when a run covers several partitions
        try:
            found = interval_to_range(window.start, window.end)
        except ValueError as exc:
            raise Failure(f"martops step {step.name}: {exc}", allow_retries=False)
        return found if found else (None, None)
    return resource.date_range()


def _check_result(key: AssetKey, table: str, results: list[dict]) -> AssetCheckResult:
    bad = [r for r in results if r.get("status") != "pass"]
    blocking = any(r.get("blocking") for r in bad)
    counts = {s: sum(r.get("status") == s for r in results) for s in ("pass", "warn", "fail", "error")}
    listed = "\n".join(f"{r['status']}: {r['check']} ({r.get('failing_count')} rows) {r.get('message') or ''}".rstrip()
                       for r in bad)
    return AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=not bad,
                            severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
                            metadata={**counts, "table": table, "not passed": listed or "-"},
                            description=f"martops check --select {table}")


def step_asset(step: Step, checked: Iterable[str] = (), partitions_def: Optional[PartitionsDefinition] = None,
               retry_policy: Optional[RetryPolicy] = None) -> AssetsDefinition:
    """The multi_asset for one step: its outputs as assets, `checked` of them with an asset check."""
    deps = [asset_key(i) for i in step.inputs]
    specs = [AssetSpec(asset_key(o), deps=deps, group_name=step.domain, description=step.description,
                       metadata={"martops_step": step.name})
             for o in step.outputs]
    checked_outputs = [o for o in step.outputs if o in set(checked)]
    check_specs = [AssetCheckSpec(CHECK_NAME, asset=asset_key(o), blocking=True,
                                  description=f"martops check --select {o}") for o in checked_outputs]

    @multi_asset(name=_op_name(step.name), specs=specs, check_specs=check_specs, partitions_def=partitions_def,
                 retry_policy=retry_policy, description=step.description, op_tags={"martops/step": step.name})
    def _asset(context: AssetExecutionContext, martops: MartopsResource) -> Iterator[Any]:
        project = martops.project()
        since, until = _range(context, martops, step)
        try:
            project.run_step(step.name, since, until, log=context.log.info)
        except StepFailed as exc:
            context.log.error(str(exc))
            raise Failure(description=str(exc), allow_retries=exc.retryable,
                          metadata={"exit code": exc.returncode, "stderr": exc.stderr[-4000:]}) from None
        span = f"{since}..{until}" if since or until else "martops default"
        for o in step.outputs:
            yield MaterializeResult(asset_key=asset_key(o), metadata={"martops step": step.name, "range": span})
        if checked_outputs:
            results = project.check(checked_outputs, log=context.log.info)
            for o in checked_outputs:
                yield _check_result(asset_key(o), o, [r for r in results if r.get("table") == o])

    return _asset


def martops_assets(resource: Optional[MartopsResource] = None, select: Optional[Iterable[str]] = None, *,
                   checks: bool = True, partitions_def: Optional[PartitionsDefinition] = None,
                   retry_policy: Optional[RetryPolicy] = None) -> list[Union[AssetsDefinition, AssetSpec]]:
    """The selected steps (martops selectors, None: all) as multi_assets, plus external assets for
    the inputs no selected step writes. The graph (and, with `checks`, the checked tables) is read
    from martops once, here. `retry_policy` applies to every step (exit 2, a rejected command
    line, is never retried)."""
    project = (resource or MartopsResource()).project()
    steps = project.steps(select)
    checked = project.checked_tables() if checks else []
    written = {o for s in steps for o in s.outputs}
    external = [AssetSpec(asset_key(i), group_name="external", description="read by martops, written by none of "
                          "the selected steps") for i in dict.fromkeys(i for s in steps for i in s.inputs)
                if i not in written]
    return [*external, *(step_asset(s, checked, partitions_def, retry_policy) for s in steps)]


def martops_definitions(resource: Optional[MartopsResource] = None, select: Optional[Iterable[str]] = None,
                        **kwargs: Any) -> Definitions:
    """`Definitions` with `martops_assets(resource, select, **kwargs)` and the resource as `martops`."""
    resource = resource or MartopsResource()
    return Definitions(assets=martops_assets(resource, select, **kwargs), resources={"martops": resource})
