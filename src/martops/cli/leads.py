"""`martops leads ...`: train (a calibrated model, leakage audit, metrics), score (marts.lead_scores),
show (scores, sales-ready, companies, metrics, leakage, calibration, drift), explain (one lead),
models (the saved versions)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, parse_date, refuse_overwrite, writable_warehouse
from martops.cli.render import console, fitted_table, left_out_note
from martops.config import load_config
from martops.errors import ConfigError
from martops.export_files import write_rows

leads_app = typer.Typer(
    help="Lead scoring: points rules and a calibrated model, with reasons per lead (marts.lead_scores).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

INPUT = typer.Option(None, "--input", "-i", help="The leads as a CSV file (one row per lead).")
TABLE = typer.Option(None, "--table", "-t", help="The leads as a warehouse table (schema.table) instead of a file.")
ID = typer.Option(None, "--id", help="The lead id column (default: leads.id of martops.yml).")
AS_OF = typer.Option(None, "--as-of", help="Date (YYYY-MM-DD) scores and behaviour are as of (default: leads.as_of, "
                     "else today).")
EXPORT = typer.Option(None, "--export", "-o", help="Also write the rows to this .csv or .parquet file.")


def _inputs(input_file: Optional[Path], table: Optional[str]) -> None:
    if (input_file is None) == (table is None):
        raise ConfigError("give the leads as --input FILE.csv or --table SCHEMA.TABLE (one of them)")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()[:10]
    return str(v)


def _print(title: str, columns: list[str], rows: list[dict], limit: int = 0, flex: set[str] | None = None) -> None:
    shown = rows[:limit] if limit else rows
    more = f", first {len(shown):,} of {len(rows):,}" if len(shown) < len(rows) else ""
    numeric = {c for c in columns if any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                                         for r in shown)}
    table, left_out = fitted_table(f"{title}{more}", columns, [[escape(_cell(r.get(c))) for c in columns] for r in shown],
                                   right=numeric, flex=flex or set())
    console.print(table)
    left_out_note(left_out, " (--export writes every column)")


@leads_app.command()
def train(
    input_file: Optional[Path] = INPUT, table: Optional[str] = TABLE, id_col: Optional[str] = ID,
    label: Optional[str] = typer.Option(None, "--label", help="The 0/1 outcome column (default: leads.label)."),
    keep_leaky: bool = typer.Option(False, "--keep-leaky", help="Keep the columns the leakage audit flags "
                                    "(post-outcome: filled after the result is known)."),
    as_of: Optional[str] = AS_OF, warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Train a lead model: leakage audit, logistic vs gradient boosting by stratified CV, calibrated.

    Prints the audit (what each flagged column does to the CV ROC AUC), the metrics of the chosen
    model against the rules score and a one-feature baseline, with and without the leaking
    columns, and the top features; saves the model as the next version (v1, v2, ...) in the model
    store and its reports in leads.model_metrics, leads.calibration_curve, leads.leakage_audit.

    Example:

      martops leads train --input Leads.csv --id "Prospect ID" --label Converted --config leads.yml
    """
    from martops.leads import training
    from martops.ops.runlog import invocation, timed

    _inputs(input_file, table)
    cfg = load_config(config)
    day = parse_date(as_of, "--as-of")
    if input_file is not None and not input_file.exists():
        raise ConfigError(f"--input {input_file} does not exist")
    holder: dict = {}
    with writable_warehouse(cfg, warehouse) as wh, invocation():
        def go() -> dict:
            r = training.train(wh, cfg, file=str(input_file) if input_file else None, table=table, id_col=id_col,
                               label_col=label, keep_leaky=keep_leaky, as_of=day)
            holder["r"] = r
            return {"read": r.loaded.read, "leads": r.leads}
        timed(wh, "leads", "train", {"input": str(input_file or table), "keep_leaky": keep_leaky}, go, "read", "leads")
    _print_training(holder["r"])


def _print_training(r) -> None:
    q = f", {r.loaded.quarantined:,} quarantined (martops quarantine --table lead_training)" if r.loaded.quarantined else ""
    console.print(escape(f"{r.loaded.where}: {r.loaded.read:,} rows, {r.leads:,} leads trained on ({r.converted:,} "
                         f"converted, {r.converted / r.leads:.1%}){q}"), highlight=False)
    inferred = r.loaded.mapping.inferred
    if inferred:
        console.print(escape("inferred (not in leads.columns): " + ", ".join(f"{c.header} as {c.type}" for c in inferred)),
                      highlight=False)
    for header, why in r.loaded.mapping.left_out:
        console.print(escape(f"left out {header}: {why}; to use it, map it in leads.columns (type: categorical "
                             "or numeric) or list it in leads.ignore"), highlight=False)
    audit_rows = [{"field": f.feature.label, "excluded": f.excluded, "single_auc": f.single_auc,
                   "auc_with_column": f.auc_with, "reasons": "; ".join(f.reasons)} for f in r.audit.flagged]
    if audit_rows:
        _print(f"Leakage audit: {len(audit_rows)} flagged column(s); model on kept columns: CV ROC AUC "
               f"{r.audit.auc_kept:.4f}" if r.audit.auc_kept is not None else "Leakage audit",
               ["field", "excluded", "single_auc", "auc_with_column", "reasons"], audit_rows, flex={"reasons"})
    else:
        console.print("Leakage audit: no column flagged", highlight=False)
    names = {"model": f"model ({r.kind}, {r.calibration})", "model_with_leaky": "model + leaky columns",
             "model_without_leaky": "model without leaky columns", "rules": "rules score",
             "baseline": f"one feature: {r.baseline}"}
    rows = [{"scorer": names[s], **m} for s, m in r.metrics.items()]
    _print("Cross-validated metrics (out-of-fold)", ["scorer", "roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"],
           rows)
    console.print(escape("candidates (CV ROC AUC, uncalibrated): " + ", ".join(f"{k} {v:.4f}" for k, v in
                                                                             r.cv_auc.items()) + f"; chosen: {r.kind}"),
                  highlight=False)
    console.print(escape("top features (mean |contribution|, log-odds): " + ", ".join(
        f"{name} {v:.2f}" for name, v in r.top_features[:8])), highlight=False)
    for note in r.notes:
        console.print(escape(f"note: {note}"), highlight=False)
    console.print(escape(f"saved model {r.version} in {r.path}"), highlight=False)


@leads_app.command()
def score(
    input_file: Optional[Path] = INPUT, table: Optional[str] = TABLE, id_col: Optional[str] = ID,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A saved model: its folder, or a version such "
                                        "as v2 (default: the latest in the model store)."),
    as_of: Optional[str] = AS_OF, export: Optional[Path] = EXPORT,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Score leads by the rules and the saved model into marts.lead_scores (replacing that as-of date).

    Bad rows go to ops.quarantine; a drift report (PSI per feature against the training leads)
    goes to leads.drift. Without a saved model the leads get their rules score only.

    Example:

      martops leads score --input Leads.csv --config leads.yml --as-of 2024-06-30 --export scores.csv
    """
    from martops import domains
    from martops.cli.platform import print_report
    from martops.domain import StepContext
    from martops.errors import StepError

    _inputs(input_file, table)
    refuse_overwrite(force, ("--export", export))
    cfg = load_config(config)
    day = parse_date(as_of, "--as-of")
    if input_file is not None and not input_file.exists():
        raise ConfigError(f"--input {input_file} does not exist")
    params = {"source": str(input_file) if input_file else None, "lead_table": table, "id_column": id_col,
              "lead_model": model, "as_of": day}
    with writable_warehouse(cfg, warehouse) as wh:
        ctx = StepContext(wh, cfg, params={k: v for k, v in params.items() if v is not None})
        report = domains.run(ctx, ["leads.score"], strict=["leads.score"])
        print_report(report, "leads score")
        if not report.ok:
            raise StepError(str(report.failed[0].reason))
        r = ctx.state["leads.score"]
        for note in r.notes:
            console.print(escape(f"note: {note}"), highlight=False)
        if export is not None:
            from martops.leads import views

            v = views.show(wh, "scores", r.as_of)
            write_rows(v.rows, list(v.rows[0]) if v.rows else v.columns, export, money=())
            console.print(f"wrote {len(v.rows):,} rows to {export}")
    console.print(escape(f"{r.leads:,} leads scored as of {r.as_of}, {r.sales_ready:,} sales-ready; model "
                         f"{r.model_version or 'none (rules only)'}. See: martops leads show scores"), highlight=False)


@leads_app.command()
def show(
    view: str = typer.Argument("scores", help="scores, sales-ready, companies, metrics, leakage, calibration or drift."),
    as_of: Optional[str] = AS_OF,
    version: Optional[str] = typer.Option(None, "--version", help="metrics/leakage/calibration: the model version "
                                          "(default: the latest trained)."),
    limit: int = typer.Option(30, "--limit", "-n", min=0, help="Rows to print (0: all); --export writes all."),
    export: Optional[Path] = EXPORT,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Show the lead tables: scores, sales-ready leads, companies, model metrics, leakage, calibration, drift.

    Example:

      martops leads show sales-ready --export hot-leads.csv

      martops leads show metrics --version v2
    """
    from martops.leads import views

    refuse_overwrite(force, ("--export", export))
    _, wh = open_warehouse(config, warehouse, domain="leads", read_only=True)
    with wh:
        v = views.show(wh, view, parse_date(as_of, "--as-of"), version)
    if export is not None:
        write_rows(v.rows, list(v.rows[0]) if v.rows else v.columns, export, money=())
    _print(v.title, v.columns, v.rows, limit, flex={"top_reasons", "rules_reasons", "reasons", "detail"})
    for line in v.headlines:
        console.print(escape(line), highlight=False)
    if export is not None:
        console.print(f"wrote {len(v.rows):,} rows to {export}")


@leads_app.command()
def explain(
    lead_id: str = typer.Argument(..., help="The lead's id (as in marts.lead_scores.lead_id)."),
    as_of: Optional[str] = AS_OF,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Why a lead scored what it did: its rules points (fit, engagement, decay) and the model's reasons.

    Model reasons are contributions to the log-odds before calibration: positive ones raise the
    score (see martops.leads.explain for how they are computed for each model).

    Example:

      martops leads explain 7927b2df-8bba-4d29-b9a2-b6e0beafe620
    """
    from martops.leads import views

    _, wh = open_warehouse(config, warehouse, domain="leads", read_only=True)
    with wh:
        row, rules_r, model_r = views.explain(wh, lead_id, parse_date(as_of, "--as-of"))
    p = row["probability"]
    console.print(escape(
        f"lead {row['lead_id']} as of {_cell(row['as_of'])}: rules score {row['rules_score']:g} (grade {row['grade']}"
        f"{', sales-ready' if row['sales_ready'] else ''}) = fit {row['fit_points']:g} + engagement "
        f"{row['engagement_points']:g} x decay {row['decay']:.3f}{_bounded(row)}"), highlight=False)
    if p is not None:
        console.print(escape(f"model {row['model_version']}: probability {p:.3f}, score {row['score']}"), highlight=False)
    if rules_r:
        _print("Rules that fired", ["rule", "role", "points"],
               [{"rule": x["field"], "role": x["value"], "points": x["contribution"]} for x in rules_r])
    if model_r:
        _print("Model reasons (log-odds contribution)", ["rank", "field", "value", "contribution"], model_r)


def _bounded(row: dict) -> str:
    """', capped' or ', floored' when leads.rules.cap or floor changed the sum, else nothing."""
    raw = row["fit_points"] + row["engagement_points"] * row["decay"]
    if raw > row["rules_score"] + 1e-6:
        return f" = {raw:g}, capped at {row['rules_score']:g}"
    if raw < row["rules_score"] - 1e-6:
        return f" = {raw:g}, floored at {row['rules_score']:g}"
    return ""


@leads_app.command()
def models(
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """List the saved lead models: version, kind, calibration, training date, leads, CV metrics.

    Example:

      martops leads models
    """
    from martops.leads import store

    cfg = load_config(config)
    wh = None
    try:
        _, wh = open_warehouse(config, warehouse, domain="leads", read_only=True)
    except Exception:  # noqa: BLE001 - the store can be listed without a warehouse
        wh = None
    folder = store.folder(cfg, wh)
    if wh is not None:
        wh.close()
    rows = []
    for v in store.versions(folder):
        meta = json.loads((folder / f"v{v}" / store.META_FILE).read_text(encoding="utf-8"))
        m = meta.get("metrics", {}).get("model", {})
        rows.append({"version": meta.get("version"), "kind": meta.get("kind"), "calibration": meta.get("calibration"),
                     "trained_at": meta.get("trained_at"), "leads": meta.get("leads"), "roc_auc": m.get("roc_auc"),
                     "brier": m.get("brier"), "ece": m.get("ece"), "input": meta.get("input")})
    if not rows:
        raise ConfigError(f"no saved lead model in {folder}; train one: martops leads train --input FILE --id COLUMN "
                          "--label COLUMN")
    _print(f"Lead models in {folder}", list(rows[0]), rows)
