"""`leads.score`: a lead table -> staging.leads -> rules score and, with a saved model, its
calibrated probability, a 0-100 score and reasons -> marts.lead_scores for the as-of date.

Idempotent: the rows of the as-of date in marts.lead_scores, marts.lead_company_scores and
leads.lead_reasons are replaced by this run's (one transaction), so scoring the same leads for the
same date twice gives the same tables. The model reads its columns typed as in training (the saved
mapping); an input lacking one of them is refused naming them. Without any saved model (and no
`--model`), leads get their rules score only, probability NULL, and the run says so.

score = round(100 * probability): monotone in the probability, so it ranks leads as the model does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import numpy as np
import pandas as pd

from martops.checks import catalog
from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError
from martops.leads import drift, explain, features, quality, rules, source, store
from martops.leads import model as M
from martops.leads import tables as T
from martops.leads.features import Feature
from martops.leads.mapping import resolve
from martops.leads.training import mapping_from
from martops.ops.runlog import current_run_id
from martops.sources import headers

SCORES_SCHEMA = {
    "lead_id": "string", "as_of": "date", "company": "string", "fit_points": "float64",
    "engagement_points": "float64", "decay": "float64", "days_since_activity": "float64", "rules_score": "float64",
    "grade": "string", "sales_ready": "boolean", "probability": "float64", "score": "int64",
    "top_reasons": "string", "rules_reasons": "string", "model_version": "string", "scored_at": "timestamp",
    "_run_id": "string",
}
COMPANY_SCHEMA = {"company": "string", "as_of": "date", "contacts": "int64", "company_score": "float64",
                  "grade": "string", "sales_ready": "boolean", "aggregation": "string"}
REASONS_SCHEMA = {"lead_id": "string", "as_of": "date", "kind": "string", "rank": "int64", "field": "string",
                  "value": "string", "contribution": "float64"}
DRIFT_SCHEMA = {"model_version": "string", "as_of": "date", "feature": "string", "field": "string", "psi": "float64",
                "status": "string"}


@dataclasses.dataclass
class ScoreReport:
    as_of: dt.date
    loaded: source.Loaded
    leads: int
    sales_ready: int
    model_version: str | None
    companies: int
    drift: pd.DataFrame
    notes: list[str]


def as_of_date(project: ProjectConfig, given: object) -> dt.date:
    if given is None:
        return project.leads.as_of or dt.date.today()
    day = given if isinstance(given, dt.date) else dt.date.fromisoformat(str(given))
    if day > dt.date.today():
        raise ConfigError(f"leads.score: the as-of date {day.isoformat()} is in the future; scores can only be as of "
                          "a day that has happened")
    return day


def to_score(probability: np.ndarray) -> np.ndarray:
    """The 0-100 score: 100 x probability rounded half to even (numpy's rint), so it never ranks two
    leads against their probabilities."""
    return np.rint(100 * np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)).astype("int64")


def _model(wh: Warehouse, project: ProjectConfig, given: str | None):
    """(fitted model, metadata) or (None, None) when no model is saved and none is named."""
    if given is None and not store.versions(store.folder(project, wh)):
        return None, None
    return store.load(store.locate(project, wh, given))


def _input_mapping(meta: dict, header: list[str], id_col: str | None, where: str):
    m = mapping_from(meta["mapping"])
    have = {headers.key(h) for h in header}
    used = {f["name"] for f in meta["features"]}
    missing = [c.header for c in m.columns if c.name in used and headers.key(c.header) not in have]
    if missing:
        raise ConfigError(f"{where} lacks column(s) model {meta['version']} was trained on: {', '.join(missing)}")
    id_header = id_col or m.id
    if headers.key(id_header) not in have:
        raise ConfigError(f"{where}: no id column {id_header!r} (--id, or the model's {m.id!r}); its header has "
                          f"{', '.join(header[:40])}")
    real = {headers.key(h): h for h in header}
    cols = tuple(dataclasses.replace(c, header=real[headers.key(c.header)]) for c in m.columns
                 if headers.key(c.header) in have)
    last = m.last_activity if m.last_activity is not None and m.last_activity in cols else None
    key = real.get(headers.key(m.key)) if m.key else None
    company = real.get(headers.key(m.company)) if m.company else None
    return dataclasses.replace(m, id=real[headers.key(id_header)], label=None, key=key, company=company,
                               last_activity=last, columns=cols)


def score(wh: Warehouse, project: ProjectConfig, *, file: str | None, table: str | None, id_col: str | None,
          model: str | None, as_of: object = None, results: list | None = None) -> ScoreReport:
    """`results`: the checks' results are added to it (pair with `checks.store.recorded`)."""
    with M.one_thread():
        return _score(wh, project, file=file, table=table, id_col=id_col, model=model, as_of=as_of,
                      results=[] if results is None else results)


def _score(wh: Warehouse, project: ProjectConfig, *, file: str | None, table: str | None, id_col: str | None,
           model: str | None, as_of: object, results: list) -> ScoreReport:
    cfg = project.leads
    day = as_of_date(project, as_of)
    fitted, meta = _model(wh, project, model)
    src = source.open_input(wh, project, file=file, table=table)
    notes: list[str] = []
    if meta is not None:
        m = _input_mapping(meta, src.header, id_col, src.where)
    else:
        notes.append(f"no saved lead model in {store.folder(project, wh)}: rules scores only (probability and score "
                     "NULL); train one with martops leads train")
        m = resolve(cfg, src.header, src.raw(id_col or cfg.id or src.header[0]), wh, id_col=id_col, label_col=None,
                    where=src.where, need_label=False)
    loaded = source.load(wh, project, src, id_col=id_col, label_col=None, training=False, mapping=m)
    staged = wh.to_pyarrow(wh.table(T.STAGING)).to_pandas()
    frame = features.build(staged, m, cfg, day, wh)
    notes += frame.notes
    scored = rules.score(frame, rules.bind(cfg, m, frame), cfg)
    notes += scored.notes
    out = scored.table.copy()
    idx = frame.data.index
    out["probability"], out["score"], out["top_reasons"] = np.nan, pd.NA, None
    reasons_long = _rules_reasons(scored.fired)
    psi = pd.DataFrame(columns=list(DRIFT_SCHEMA))
    version = None
    if meta is not None:
        version = meta["version"]
        feats = [Feature(**f) for f in meta["features"]]
        absent = [f.label for f in feats if f.name not in frame.data.columns]
        if absent:
            raise ConfigError(f"model {version} uses behaviour measure(s) this warehouse cannot give: "
                              f"{', '.join(absent)} (see leads.behaviour and leads.key)")
        X = M.design(frame.data, feats)
        p = M.predict(fitted, meta["kind"], X, feats)
        out["probability"] = p
        out["score"] = to_score(p)
        contrib = explain.contributions(fitted, meta["kind"], X, feats, meta.get("means"), meta["reference"])
        long = explain.reasons(contrib, frame.data, feats)
        out["top_reasons"] = explain.top_text(long, cfg.model.top_reasons).reindex(idx)
        reasons_long = pd.concat([reasons_long, long.assign(kind="model")], ignore_index=True)
        psi = drift.report(meta["profile"], frame.data, feats).assign(model_version=version, as_of=day)
        moved = psi[psi["status"].isin(["moderate shift", "major shift"])]
        if len(frame.data) < drift.MIN_LEADS:
            notes.append(f"drift since training not judged: {len(frame.data)} lead(s) scored, PSI needs at least "
                         f"{drift.MIN_LEADS}")
        elif len(moved):
            notes.append("drift since training: " + ", ".join(f"{r.field} PSI {r.psi:.2f} ({r.status})"
                                                             for r in moved.head(5).itertuples()))
    out["rules_reasons"] = _rules_text(scored.fired).reindex(idx)
    companies = None
    if m.company is not None:
        company = staged.set_index("lead_id")["company"].reindex(idx)
        out["company"] = company
        companies = rules.company_scores(out["rules_score"], company, cfg.company, cfg.rules)
    else:
        out["company"] = None
    out = out.reset_index().rename(columns={"index": "lead_id"})
    out["as_of"], out["model_version"] = day, version
    out["scored_at"], out["_run_id"] = pd.Timestamp(dt.datetime.now().replace(microsecond=0)), current_run_id()
    with wh.transaction():
        _write(wh, day, out, companies, reasons_long.assign(as_of=day), psi, version, cfg.company.aggregation)
        catalog.gate(wh, project, [T.STAGING, T.SCORES, T.COMPANY_SCORES], results, quality.TABLE_CHECKS)
    return ScoreReport(day, loaded, len(out), int(out["sales_ready"].sum()), version,
                       0 if companies is None else len(companies), psi, notes)


def _rules_reasons(fired: pd.DataFrame) -> pd.DataFrame:
    if fired.empty:
        return pd.DataFrame(columns=["lead_id", "rank", "field", "value", "contribution", "kind"])
    f = fired.assign(order=-fired["points"].abs()).sort_values(["lead_id", "order", "rule"], kind="stable")
    f["rank"] = f.groupby("lead_id").cumcount() + 1
    return pd.DataFrame({"lead_id": f["lead_id"], "rank": f["rank"], "field": f["rule"], "value": f["role"],
                         "contribution": f["points"].astype(float), "kind": "rules"})


def _rules_text(fired: pd.DataFrame) -> pd.Series:
    if fired.empty:
        return pd.Series(dtype=object)
    f = fired.assign(order=-fired["points"].abs()).sort_values(["lead_id", "order", "rule"], kind="stable")
    text = f["rule"] + " (" + f["points"].map(lambda v: f"{v:+g}") + ")"
    return text.groupby(f["lead_id"]).agg("; ".join)


def _frame(df: pd.DataFrame | None, schema: dict) -> ibis.Table:
    df = pd.DataFrame(columns=list(schema)) if df is None else df
    df = df[list(schema)].copy()
    for c, t in schema.items():
        if t == "int64":
            df[c] = pd.array(df[c], dtype="Int64")
        elif t == "float64":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif t == "string":
            df[c] = df[c].astype(object).where(df[c].notna(), None)
            df[c] = df[c].map(lambda v: None if v is None else str(v))
        elif t == "boolean":
            df[c] = df[c].astype("boolean")
    return ibis.memtable(df, schema=ibis.schema(schema))


def _write(wh: Warehouse, day: dt.date, scores: pd.DataFrame, companies: pd.DataFrame | None,
           reasons: pd.DataFrame, psi: pd.DataFrame, version: str | None, aggregation: str) -> None:
    if companies is not None:
        companies = companies.assign(as_of=day, aggregation=aggregation)
    for table, df, schema in ((T.SCORES, scores, SCORES_SCHEMA), (T.COMPANY_SCORES, companies, COMPANY_SCHEMA),
                              (T.REASONS, reasons, REASONS_SCHEMA)):
        t = _frame(df, schema)
        wh.ensure_table(table, t.schema())
        wh.delete_where(table, "as_of = ?", [day])
        if df is not None and len(df):
            wh.insert(table, t)
    t = _frame(psi, DRIFT_SCHEMA)
    wh.ensure_table(T.DRIFT, t.schema())
    if version is not None:
        wh.delete_where(T.DRIFT, "as_of = ? AND model_version = ?", [day, version])
        if len(psi):
            wh.insert(T.DRIFT, t)
