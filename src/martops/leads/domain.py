"""Lead scoring (issue 19) as a domain of the step graph (`leads`): one step, `leads.score`, that
reads a lead table (and the behaviour the warehouse holds) and writes marts.lead_scores.

Training is not a step: a model is trained on purpose (`martops leads train`), checked, and then
every scoring run uses the latest saved version until another is trained.
"""

from __future__ import annotations

from pathlib import Path

from martops.domain import Domain, Parameter, Step, StepContext, TableSpec
from martops.leads import quality
from martops.leads import tables as T
from martops.ops.runlog import current_run_id, timed
from martops.results import StepResult
from martops.leads import report_section

SOURCE = Parameter("source", "The lead table, a CSV file (or --table).", "sources.leads.path")
TABLE = Parameter("lead_table", "A warehouse table (schema.table) of leads instead of a CSV file.")
ID = Parameter("id_column", "The lead id column.", "leads.id, else the model's")
MODEL = Parameter("lead_model", "A saved model: its folder or version (v3).", "the latest in the model store")
AS_OF = Parameter("as_of", "Date (YYYY-MM-DD) the scores are as of (decay, behaviour windows).",
                  "leads.as_of, else today")


def step_score(ctx: StepContext) -> StepResult:
    from martops.checks.store import recorded
    from martops.leads import scoring

    table = ctx.param("lead_table")
    file = None if table else str(ctx.delivery("leads", "leads.score"))
    params = {k: str(v) for k, v in (("source", file), ("lead_table", table), ("lead_model", ctx.param("lead_model")),
                                     ("as_of", ctx.param("as_of"))) if v}

    def go() -> dict:
        with recorded(ctx.wh, current_run_id()) as results:
            r = scoring.score(ctx.wh, ctx.project, file=file, table=table, id_col=ctx.param("id_column"),
                              model=ctx.param("lead_model"), as_of=ctx.param("as_of"), results=results)
        ctx.state["leads.score"] = r
        return {"read": r.loaded.read, "scored": r.leads, "quarantined": r.loaded.quarantined,
                "sales_ready": r.sales_ready, "model": r.model_version or "none (rules only)",
                "as_of": r.as_of.isoformat()}

    return timed(ctx.wh, "leads", "score", params, go, "read", "scored", keep_counts=True)


def _notes(result: StepResult) -> list[str]:
    return [] if result.details.get("model", "").startswith("v") else [
        "leads.score: no saved model; rules scores only (martops leads train)"]


DOMAIN = Domain(
    name="leads",
    title="Lead scoring: points rules and a calibrated model, with reasons per lead",
    steps=(
        Step("leads.score", "Type a lead table into staging.leads (bad rows to ops.quarantine), score it by the "
             "rules and the latest saved model as of a date, with reasons and drift; marts.lead_scores",
             step_score, inputs=("source:leads", "staging.sessions", "crm.transactions"),
             outputs=(T.STAGING, T.SCORES, T.COMPANY_SCORES, T.REASONS, T.DRIFT),
             parameters=(SOURCE, TABLE, ID, MODEL, AS_OF)),
    ),
    tables=(
        TableSpec(T.STAGING, ("lead_id",), "typed leads of the last scoring input"),
        TableSpec(T.TRAINING, ("lead_id",), "typed leads of the last training input, with the label"),
        TableSpec(T.SCORES, ("lead_id", "as_of"), "rules score, grade, sales_ready, probability, score, reasons",
                  indexes=(("as_of", "sales_ready"),)),
        TableSpec(T.COMPANY_SCORES, ("company", "as_of"), "company score from its contacts"),
        TableSpec(T.REASONS, ("lead_id", "as_of", "kind", "rank"), "every reason per lead"),
        TableSpec(T.DRIFT, ("model_version", "as_of", "feature"), "PSI per feature, training vs scoring"),
        TableSpec(T.METRICS, ("model_version", "scorer", "metric"), "CV metrics per model version and scorer"),
        TableSpec(T.CALIBRATION, ("model_version", "bin"), "calibration curve per model version"),
        TableSpec(T.LEAKAGE, ("model_version", "field"), "leakage audit per model version"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="leads.score",
    source_setting="leads",
    source_path=lambda cfg: Path(cfg.sources.leads.path) if cfg.sources.leads.path else None,
    summary_notes=_notes,
    build_hint="score leads first: martops leads score --input leads.csv",
    report=report_section.REPORT,
)
