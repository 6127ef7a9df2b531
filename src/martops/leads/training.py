"""`martops leads train`: a labelled lead table -> leakage audit -> the better of two models by
stratified CV -> calibrated -> metrics against the rules score and a one-feature baseline ->
a saved, versioned model and its reports in the warehouse (leads.model_metrics,
leads.calibration_curve, leads.leakage_audit).

Metrics are out-of-fold (each lead scored by a model that did not see its label). The model is
compared with the same model kind trained with the leaky columns too (or, with `--keep-leaky`,
without them), so the report shows what the leaking columns do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.leads import drift, explain, features, leakage, metrics, rules, source, store
from martops.leads import model as M
from martops.leads import tables as T
from martops.leads.mapping import Column, Mapping


@dataclasses.dataclass
class TrainReport:
    version: str
    path: Path
    kind: str
    calibration: str
    loaded: source.Loaded
    leads: int
    converted: int
    cv_auc: dict[str, float]
    metrics: dict[str, dict[str, float]]
    """scorer -> metric -> value (scorers: model, model_with_leaky | model_without_leaky, rules, baseline)."""
    baseline: str | None
    audit: leakage.Audit
    curve: list[dict]
    top_features: list[tuple[str, float]]
    notes: list[str]
    features: list[features.Feature]


def mapping_meta(m: Mapping) -> dict:
    return {"id": m.id, "label": m.label, "key": m.key, "company": m.company,
            "last_activity": m.last_activity.name if m.last_activity else None,
            "columns": [dataclasses.asdict(c) for c in m.columns], "ignored": list(m.ignored)}


def mapping_from(meta: dict) -> Mapping:
    cols = tuple(Column(**c) for c in meta["columns"])
    last = next((c for c in cols if c.name == meta.get("last_activity")), None)
    return Mapping(meta["id"], meta.get("label"), meta.get("key"), meta.get("company"), last, cols,
                   tuple(meta.get("ignored", ())))


def data_hash(staged: pd.DataFrame) -> str:
    """sha256 of the staged training rows (sorted by lead id, the load's own columns left out): the same
    leads with the same values give the same hash whatever the file's order."""
    cols = sorted(c for c in staged.columns if c not in ("_row", "_run_id", "_etl_loaded_at"))
    d = staged[cols].sort_values("lead_id").astype(str)
    return hashlib.sha256(d.to_csv(index=False).encode()).hexdigest()


def top_features(audit_single: dict[str, np.ndarray], contrib: pd.DataFrame, feats: list[features.Feature],
                 n: int = 10) -> list[tuple[str, float]]:
    """Mean absolute contribution per column over the training leads (log-odds), largest first."""
    labels = {f.name: f.label for f in feats}
    mean = contrib.abs().mean().sort_values(ascending=False)
    return [(labels[k], float(v)) for k, v in mean.head(n).items()]


def train(wh: Warehouse, project: ProjectConfig, *, file: str | None, table: str | None, id_col: str | None,
          label_col: str | None, keep_leaky: bool = False, as_of: dt.date | None = None) -> TrainReport:
    with M.one_thread():
        return _train(wh, project, file=file, table=table, id_col=id_col, label_col=label_col,
                      keep_leaky=keep_leaky, as_of=as_of)


def _train(wh: Warehouse, project: ProjectConfig, *, file: str | None, table: str | None, id_col: str | None,
           label_col: str | None, keep_leaky: bool, as_of: dt.date | None) -> TrainReport:
    cfg, mc = project.leads, project.leads.model
    as_of = as_of or cfg.as_of or dt.date.today()
    src = source.open_input(wh, project, file=file, table=table)
    loaded = source.load(wh, project, src, id_col=id_col, label_col=label_col, training=True)
    m = loaded.mapping
    staged = wh.to_pyarrow(wh.table(T.TRAINING)).to_pandas()
    frame = features.build(staged, m, cfg, as_of, wh)
    y = staged.set_index("lead_id")["label"].reindex(frame.data.index).to_numpy(dtype=int)
    try:
        M.check_labels(y, mc.folds, src.where)
    except ConfigError as exc:  # too few of one outcome: the quarantined rows may be why
        raise ConfigError(f"{exc}{loaded.quarantine_hint()}") from None
    # a feature no lead has a value of (a behaviour measure whose sessions match no lead's key, a column
    # left blank) carries nothing to learn, and scikit-learn's binning fails on it: left out, with a note
    blank = [f for f in frame.features if frame.data[f.name].isna().all()]
    usable = [f for f in frame.features if f not in blank]
    audit = leakage.audit(frame.data, y, usable, cfg.leakage, mc, keep_leaky)
    kept = audit.kept
    if not kept:
        raise ConfigError(f"{src.where}: every column was flagged by the leakage audit "
                          f"({', '.join(f.feature.label for f in audit.flagged)}); nothing is left to learn from "
                          "(--keep-leaky to use them anyway)")
    X = M.design(frame.data, kept)
    choice = M.choose(X, y, kept, mc)
    kind = choice.kind
    method = M.calibration_method(y, mc)
    est = M.calibrated(kind, kept, mc, method)
    p = M.oof(est, M.inputs(kind, X, kept), y, mc)
    results = {"model": metrics.summary(y, p, probability=True)}
    curve = metrics.calibration_curve(y, p)
    flagged = [f.feature for f in audit.flagged]
    if flagged:
        other = usable if not keep_leaky else [f for f in usable if f not in flagged]
        if other:
            Xo = M.design(frame.data, other)
            po = M.oof(M.calibrated(kind, other, mc, method), M.inputs(kind, Xo, other), y, mc)
            results["model_without_leaky" if keep_leaky else "model_with_leaky"] = metrics.summary(y, po, True)
    notes = list(frame.notes)
    if blank:
        notes.append(f"no lead has a value of {', '.join(f.label for f in blank)}: left out of the model")
    bound = rules.bind(cfg, m, frame)
    if bound:
        scored = rules.score(frame, bound, cfg)
        notes += scored.notes
        s = scored.table["rules_score"].to_numpy(dtype=float)
        if np.unique(s).size > 1:
            results["rules"] = metrics.summary(y, s, probability=False)
        else:
            notes.append(f"the rules give every lead the same score ({s[0]:g}); no rules metrics")
    else:
        notes.append("no rules in leads.rules.points; no rules metrics")
    clean = [f for f in usable if f not in flagged]
    baseline = None
    if clean:
        best = max(clean, key=lambda f: leakage_auc(audit, f.name))
        baseline = best.label
        results["baseline"] = metrics.summary(y, audit.single[best.name], probability=False)
    fitted = est.fit(M.inputs(kind, X, kept), y)
    means = explain.input_means(fitted, X, kept) if kind == M.LOGISTIC else None
    ref = explain.reference(X, kept)
    contrib = explain.contributions(fitted, kind, X, kept, means, ref)
    top = top_features(audit.single, contrib, kept)
    meta = {
        "kind": kind, "calibration": method, "trained_at": dt.datetime.now().isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(), "input": loaded.where, "leads": int(len(y)), "converted": int(y.sum()),
        "training_data_sha256": data_hash(staged), "mapping": mapping_meta(m),
        "features": [dataclasses.asdict(f) for f in kept],
        "excluded": [{"field": f.feature.label, "reasons": f.reasons} for f in audit.findings if f.excluded],
        "cv_auc": choice.cv_auc, "metrics": results, "calibration_curve": curve,
        "baseline": baseline, "means": means, "reference": ref, "profile": drift.profile(frame.data, kept),
        "top_features": top, "folds": mc.folds, "seed": mc.seed,
    }
    version, path = store.save(store.folder(project, wh), fitted, meta)
    try:
        _write_reports(wh, version, results, baseline, curve, audit, kind, method, choice.cv_auc)
    except BaseException:
        store.remove(path)  # a model whose reports did not land is not kept
        raise
    return TrainReport(version, path, kind, method, loaded, len(y), int(y.sum()), choice.cv_auc, results,
                       baseline, audit, curve, top, notes, kept)


def leakage_auc(audit: leakage.Audit, name: str) -> float:
    return next(f.single_auc for f in audit.findings if f.feature.name == name)


def _replace(wh: Warehouse, table: str, rows: list[dict], schema: dict, version: str) -> None:
    t = ibis.memtable(pd.DataFrame(rows, columns=list(schema)) if rows else pd.DataFrame(columns=list(schema)),
                      schema=ibis.schema(schema))
    wh.ensure_table(table, t.schema())
    wh.delete_where(table, "model_version = ?", [version])
    if rows:
        wh.insert(table, t)


METRICS_SCHEMA = {"model_version": "string", "scorer": "string", "detail": "string", "metric": "string",
                  "value": "float64"}
CURVE_SCHEMA = {"model_version": "string", "bin": "int64", "lower": "float64", "upper": "float64", "leads": "int64",
                "mean_predicted": "float64", "observed_rate": "float64"}
LEAKAGE_SCHEMA = {"model_version": "string", "field": "string", "declared_post_outcome": "boolean",
                  "single_auc": "float64", "one_class_share": "float64", "flagged": "boolean", "excluded": "boolean",
                  "reasons": "string", "auc_kept_columns": "float64", "auc_with_column": "float64"}


def _write_reports(wh: Warehouse, version: str, results: dict, baseline: str | None, curve: list[dict],
                   audit: leakage.Audit, kind: str, method: str, cv_auc: dict[str, float]) -> None:
    detail = {"model": f"{kind}, calibrated ({method})", "model_with_leaky": f"{kind} with the flagged columns",
              "model_without_leaky": f"{kind} without the flagged columns", "rules": "leads.rules points score",
              "baseline": f"one feature: {baseline}"}
    rows = [{"model_version": version, "scorer": s, "detail": detail[s], "metric": k, "value": v}
            for s, ms in results.items() for k, v in ms.items()]
    rows += [{"model_version": version, "scorer": f"candidate:{k}", "detail": "uncalibrated, chosen by this",
              "metric": "roc_auc", "value": v} for k, v in cv_auc.items()]
    leak = [{"model_version": version, "field": f.feature.label, "declared_post_outcome": f.feature.post_outcome,
             "single_auc": f.single_auc, "one_class_share": f.one_class_share, "flagged": f.flagged,
             "excluded": f.excluded, "reasons": "; ".join(f.reasons) or None,
             "auc_kept_columns": audit.auc_kept if f.flagged else None, "auc_with_column": f.auc_with}
            for f in audit.findings]
    with wh.transaction():
        _replace(wh, T.METRICS, rows, METRICS_SCHEMA, version)
        _replace(wh, T.CALIBRATION, [{"model_version": version, **c} for c in curve], CURVE_SCHEMA, version)
        _replace(wh, T.LEAKAGE, leak, LEAKAGE_SCHEMA, version)
