"""Training and scoring on hand-built leads, on each engine (DuckDB, PostgreSQL): the planted leaky
column is flagged and excluded, the model is saved and versioned, scoring writes marts.lead_scores
idempotently for its as-of date with behaviour joined from warehouse tables, a model refuses an
input without its columns, and PSI reads 0 on the training leads and a shift on shifted ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martops.config import ProjectConfig
from martops.errors import ConfigError
from martops.leads import drift, scoring, store, training
from martops.leads import tables as T
from martops.leads.features import Feature
from tests.leads import data

AS_OF = dt.date(2024, 6, 30)


def project(tmp_path: Path, extra: dict | None = None) -> ProjectConfig:
    import yaml

    cfg = yaml.safe_load(data.CONFIG)
    cfg["leads"]["model"]["store"] = str(tmp_path / "models")
    for k, v in (extra or {}).items():
        cfg["leads"][k] = v
    return ProjectConfig.model_validate(cfg)


def sessions(wh, n: int = 600) -> None:
    """Leads L0000..: every third lead has 3 sessions in June 2024, one of them after the as-of date."""
    rows = [(f"p{i}@example.com", dt.date(2024, 6, d)) for i in range(0, n, 3) for d in (10, 25, 30)]
    rows += [(f"p{i}@example.com", dt.date(2024, 7, 2)) for i in range(0, n, 3)]  # after as_of: not counted
    wh.create_or_replace("staging.sessions", ibis.memtable(pd.DataFrame(rows, columns=["user_id", "event_date"])))


def test_train_flags_the_planted_leak_saves_v1_and_scores_idempotently(wh, tmp_path):
    p = project(tmp_path)
    sessions(wh)
    f = data.write(tmp_path / "leads.csv", data.rows())
    r = training.train(wh, p, file=str(f), table=None, id_col=None, label_col=None, as_of=AS_OF)
    flagged = {x.feature.label: x for x in r.audit.flagged}
    assert set(flagged) == {"Call Result"} and flagged["Call Result"].excluded
    assert flagged["Call Result"].single_auc > 0.95 and flagged["Call Result"].one_class_share > 0.9
    assert "Call Result" not in [x.label for x in r.features]
    assert flagged["Call Result"].auc_with > r.audit.auc_kept + 0.05  # what the leak does to the score
    assert r.metrics["model_with_leaky"]["roc_auc"] > r.metrics["model"]["roc_auc"] + 0.05
    assert 0.6 < r.metrics["model"]["roc_auc"] < 0.95 and r.metrics["model"]["ece"] < 0.15
    assert {"rules", "baseline"} <= set(r.metrics) and r.version == "v1"
    assert "sessions_recent" in [x.name for x in r.features]
    m = wh.table(T.METRICS)
    assert wh.scalar(m.filter(m.model_version == "v1").count()) >= 15
    assert wh.scalar(wh.table(T.LEAKAGE).count()) == len(r.audit.findings)
    meta = store.load(store.locate(p, wh, None))[1]
    assert meta["training_data_sha256"] and meta["features"] and meta["sklearn_version"]

    s = scoring.score(wh, p, file=str(f), table=None, id_col=None, model=None, as_of=AS_OF)
    assert s.model_version == "v1" and s.leads == 600
    t = wh.to_pyarrow(wh.table(T.SCORES)).to_pandas().set_index("lead_id")
    assert len(t) == 600 and t["probability"].between(0, 1).all()
    assert (t["score"] == np.rint(100 * t["probability"])).all()
    assert t.loc["L0000", "top_reasons"] and t.loc["L0000", "company"] == "co0"
    # L0000 has sessions on 10, 25 and 30 June (2 in the last 30 days... all 3: June 1-30), last activity 0 days ago
    st_ = wh.to_pyarrow(wh.table(T.STAGING)).to_pandas().set_index("lead_id")
    assert st_.loc["L0000", "lead_key"] == "p0@example.com"
    assert t.loc["L0000", "days_since_activity"] == 0 and np.isnan(t.loc["L0001", "days_since_activity"])
    reasons = wh.table(T.REASONS)
    fired = wh.to_pyarrow(reasons.filter((reasons.lead_id == "L0000") & (reasons.kind == "rules"))).to_pylist()
    assert "sessions_recent >= 2" in [x["field"] for x in fired]
    companies = wh.to_pyarrow(wh.table(T.COMPANY_SCORES)).to_pandas()
    assert len(companies) == 40 and (companies["contacts"] == 15).all()
    before = wh.to_pyarrow(wh.table(T.SCORES).drop("scored_at", "_run_id").order_by("lead_id")).to_pandas()
    scoring.score(wh, p, file=str(f), table=None, id_col=None, model="v1", as_of=AS_OF)
    after = wh.to_pyarrow(wh.table(T.SCORES).drop("scored_at", "_run_id").order_by("lead_id")).to_pandas()
    pd.testing.assert_frame_equal(before, after)  # same leads, same date: the same table
    scoring.score(wh, p, file=str(f), table=None, id_col=None, model=None, as_of=AS_OF + dt.timedelta(days=20))
    assert wh.count(T.SCORES) == 1200  # another as-of date adds its own rows
    later = wh.to_pyarrow(wh.table(T.SCORES).filter(ibis._.lead_id == "L0000").order_by("as_of")).to_pylist()
    assert later[1]["decay"] < later[0]["decay"] == 1.0  # 20 days later the engagement points have decayed
    d = wh.to_pyarrow(wh.table(T.DRIFT).filter(ibis._.as_of == AS_OF)).to_pandas()
    assert (d["psi"] < 1e-9).all()  # the training leads themselves: no drift


def test_a_model_refuses_an_input_without_its_columns(wh, tmp_path):
    p = project(tmp_path)
    f = data.write(tmp_path / "leads.csv", data.rows(300))
    training.train(wh, p, file=str(f), table=None, id_col=None, label_col=None, as_of=AS_OF)
    header = [h for h in data.HEADER if h != "Visits"]
    g = data.write(tmp_path / "new.csv", [[v for h, v in zip(data.HEADER, r) if h != "Visits"] for r in data.rows(50)],
                   header)
    with pytest.raises(ConfigError, match=r"^new.csv lacks column\(s\) model v1 was trained on: Visits$"):
        scoring.score(wh, p, file=str(g), table=None, id_col=None, model=None, as_of=AS_OF)


def test_leads_from_a_warehouse_table_and_an_optional_usage_join(wh, tmp_path):
    usage = {"sessions": {"table": "staging.sessions", "key": "user_id", "date": "event_date"},
             "usage": {"table": "staging.usage_events", "key": "user", "date": "month_start", "value": "minutes"}}
    p = project(tmp_path, {"behaviour": usage})
    df = pd.DataFrame(data.rows(120), columns=data.HEADER)
    wh.create_or_replace("staging.crm_leads", ibis.memtable(df))
    s = scoring.score(wh, p, file=None, table="staging.crm_leads", id_col=None, model=None, as_of=AS_OF)
    assert s.model_version is None and s.leads == 120  # no model saved yet: rules only
    assert any("staging.usage_events is not in the warehouse" in n for n in s.notes)
    assert any("no saved lead model" in n for n in s.notes)
    ev = pd.DataFrame({"user": ["p1@example.com", "p1@example.com", "p2@example.com"],
                       "month_start": [dt.date(2024, 5, 1), dt.date(2024, 6, 1), dt.date(2024, 8, 1)],
                       "minutes": [30.0, 12.5, 99.0]})
    wh.create_or_replace("staging.usage_events", ibis.memtable(ev))
    from martops.leads import features, source

    src = source.open_input(wh, p, file=None, table="staging.crm_leads")
    loaded = source.load(wh, p, src, id_col=None, label_col=None, training=False)
    fr = features.build(wh.to_pyarrow(wh.table(T.STAGING)).to_pandas(), loaded.mapping, p.leads, AS_OF, wh)
    assert fr.data.loc["L0001", "usage_count"] == 2 and fr.data.loc["L0001", "usage_value"] == 42.5
    assert fr.data.loc["L0001", "usage_days_since_last"] == 29
    assert fr.data.loc["L0002", "usage_count"] == 0  # its only event is after the as-of date
    t = wh.to_pyarrow(wh.table(T.SCORES)).to_pandas()
    assert t["probability"].isna().all() and t["model_version"].isna().all()


def test_psi_thresholds():
    feats = [Feature("x", "numeric", "fit", "x"), Feature("c", "categorical", "fit", "c")]
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", None], 5000)})
    prof = drift.profile(train, feats)
    same = drift.report(prof, train, feats).set_index("feature")
    assert same["psi"].max() < 1e-9 and set(same["status"]) == {"stable"}
    moved = pd.DataFrame({"x": rng.normal(1, 1, 5000), "c": rng.choice(["a", "d"], 5000)})
    shifted = drift.report(prof, moved, feats).set_index("feature")
    assert shifted.loc["x", "psi"] > 0.25 and shifted.loc["x", "status"] == "major shift"
    assert shifted.loc["c", "status"] == "major shift"  # a level never seen and no blanks
    assert drift.status(0.1) == "moderate shift" and drift.status(0.0999) == "stable"
    few = drift.report(prof, moved.head(drift.MIN_LEADS - 1), feats).set_index("feature")
    assert few.loc["x", "psi"] > 0.25 and set(few["status"]) == {drift.FEW}  # computed, not judged


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=50))
def test_the_score_is_monotone_in_the_probability(ps):
    p = np.sort(np.asarray(ps))
    s = scoring.to_score(p)
    assert np.all(np.diff(s) >= 0) and s.min() >= 0 and s.max() <= 100
