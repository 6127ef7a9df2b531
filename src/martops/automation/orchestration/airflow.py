"""Airflow DAG factory: the martops step graph (or a selection of it) as an Airflow 3 DAG.

One task per step (task_id = the step name), dependencies from the graph's `upstream`, each task
a `martops run <step> --since D --until D` process of the core venv. Runs in Airflow's own
virtualenv (`make airflow-env`): it imports only the standard library, Airflow and
`martops_cli`, never martops' core (whose pins conflict with Airflow's).

The data interval [start, end) becomes `--since start --until end-1day`, read in the DAG's time
zone; a run without an interval (a manual trigger) runs martops' default range. A cron string
schedule is made a CronDataIntervalTimetable, so a daily run at midnight processes the day before
(Airflow 3's default trigger timetable gives empty intervals). A failed step fails its task with
martops' one-line error; exit 2 (martops rejected the command line) fails without retrying.

Usage (a file in Airflow's dags folder):

    from martops.automation.orchestration.airflow import martops_dag
    dag = martops_dag("martops_daily", schedule="0 3 * * *", config="/srv/mart/martops.yml",
                      select=["kpis", "crm"], retries=2)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import pendulum
from airflow.sdk import DAG, BaseOperator, CronDataIntervalTimetable, DeltaDataIntervalTimetable
from airflow.sdk.exceptions import AirflowFailException

from martops.automation.orchestration.martops_cli import Project, Step, StepFailed, interval_to_range

DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


class MartopsStepOperator(BaseOperator):
    """Runs one martops step for the run's data interval.

    `step`: the step name; `project`: where and how martops is called; `ranged`: the step takes
    --since/--until (a delivery step loads all it is given and runs without them).
    """

    ui_color = "#e8f0fe"

    def __init__(self, *, step: str, project: Project, ranged: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step, self.project, self.ranged = step, project, ranged

    def execute(self, context: Any) -> None:
        since = until = None
        if not self.ranged:
            self._run(None, None)
            return
        tz = getattr(context.get("dag"), "timezone", None)
        try:
            found = interval_to_range(context.get("data_interval_start"), context.get("data_interval_end"), tz)
        except ValueError as exc:
            raise AirflowFailException(f"martops step {self.step}: {exc}") from None
        if found is None:
            self.log.info("no data interval (a manual run): martops runs its default range")
        else:
            since, until = found
        self._run(since, until)

    def _run(self, since: Optional[dt.date], until: Optional[dt.date]) -> None:
        try:
            self.project.run_step(self.step, since, until, log=self.log.info)
        except StepFailed as exc:
            self.log.error("%s", exc)
            if not exc.retryable:
                raise AirflowFailException(str(exc)) from None
            raise


def load_graph(project: Project, select: Optional[Iterable[str]] = None,
               graph: Union[str, Path, None] = None) -> list[Step]:
    """The selected steps from martops itself, or all steps of `graph` (a saved
    `martops steps [SELECTOR ...] --format json`, selected when saved).

    A saved graph spares the DAG processor a martops process on every parse of the DAG file;
    regenerate it when the project's steps change.
    """
    if graph is None:
        return project.steps(select)
    if select is not None:
        raise ValueError("pass select or graph, not both: save the selection, "
                         "`martops steps SELECTOR... --format json > graph.json`")
    return [Step.from_json(row) for row in json.loads(Path(graph).read_text(encoding="utf-8"))["steps"]]


def _timetable(schedule: Any, tz: Any) -> Any:
    """Cron strings and timedeltas as data-interval timetables; anything else as Airflow reads it."""
    if isinstance(schedule, str) and not schedule.startswith("@once") and schedule != "@continuous":
        return CronDataIntervalTimetable(schedule, timezone=tz)
    if isinstance(schedule, dt.timedelta):
        return DeltaDataIntervalTimetable(schedule)
    return schedule


def martops_dag(dag_id: str = "martops", *, select: Optional[Iterable[str]] = None,
                schedule: Any = "0 0 * * *", start_date: dt.datetime = DEFAULT_START,
                retries: int = 2, retry_delay: dt.timedelta = dt.timedelta(minutes=5),
                martops_bin: Optional[str] = None, config: Union[str, Path, None] = None,
                warehouse: Union[str, Path, None] = None, cwd: Union[str, Path, None] = None,
                graph: Union[str, Path, None] = None, **dag_kwargs: Any) -> DAG:
    """An Airflow DAG running the selected martops steps in dependency order.

    `select`: martops selectors (`kpis`, `attribution.ingest+`, `+marts.channel_reporting`;
    None: every step); martops rejects one that matches nothing. `schedule`: a cron string (as a
    CronDataIntervalTimetable in start_date's time zone), a timedelta, None (manual only) or any
    Airflow schedule. `retries`/`retry_delay`: per task.
    `martops_bin`, `config`, `warehouse`, `cwd`: how martops is called (default bin: $MARTOPS_BIN,
    else the checkout's .venv/bin/martops). `graph`: a saved `martops steps --format json` file.
    Other keyword arguments go to `DAG` (tags, max_active_runs, default_args...).
    """
    project = Project(bin=martops_bin, config=None if config is None else str(config),
                      warehouse=None if warehouse is None else str(warehouse),
                      cwd=None if cwd is None else str(cwd))
    steps = load_graph(project, select, graph)
    tz = pendulum.instance(start_date, tz=start_date.tzinfo or "UTC").timezone  # Airflow serialises pendulum zones only
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("max_active_runs", 1)  # two runs of one warehouse would wait on its lock
    dag_kwargs.setdefault("tags", ["martops"])
    dag_kwargs.setdefault("description", "martops steps: " + ", ".join(s.name for s in steps))
    with DAG(dag_id, schedule=_timetable(schedule, tz), start_date=start_date, **dag_kwargs) as dag:
        tasks = {s.name: MartopsStepOperator(task_id=s.name, step=s.name, project=project, ranged=s.ranged,
                                             retries=retries, retry_delay=retry_delay, doc_md=s.description)
                 for s in steps}
        for s in steps:
            for up in s.upstream:
                if up in tasks:
                    tasks[up] >> tasks[s.name]
    return dag

