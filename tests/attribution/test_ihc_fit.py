"""The local `ihc` model fitted to the IHC API's real answers, held out, and `martops attribution ihc-fit`.

Held-out procedure (the issue's target: at most 0.015 per session on answers not used for
fitting): the two public request/response pairs are pooled (110 conversions, 48 of them with 2+
sessions) and dealt into 5 folds by conversion (ihc_fit.folds_of); each fold is predicted by a fit
on the other four, started from flat parameters so nothing of the held-out fold leaks in through
the defaults. K-fold by conversion because the samples are two batches of one account and period,
and with 5 folds every fit sees 4/5 of the multi-session journeys; the batch split (fit on one
sample, test on the other, both ways) is checked too, as the harder case of a new batch.
"""

from __future__ import annotations

import datetime as dt
import re

import ibis
import numpy as np
import pandas as pd
import pytest

from martops.attribution import ihc_fit as F
from martops.attribution import tables as T
from martops.attribution.compare import api_samples
from martops.attribution.ihc_api import store
from martops.attribution.models import credits_expr
from martops.config import AttributionConfig, IhcPhases, IhcWeights, load_config
from martops.engine import connect

from ..cli_runner import run_cli

FLAT = IhcPhases(**{k: 0.0 for k in IhcPhases.model_fields})
EVEN = IhcWeights(initializer=1, holder=1, closer=1)
TARGET = 0.015


@pytest.fixture(scope="module")
def samples(ihc_dataset) -> list[pd.DataFrame]:
    return api_samples(ihc_dataset / "api_samples.json")


def answered(frames: list[pd.DataFrame]) -> F.Answered:
    return F.Answered.from_sessions(pd.concat(frames, ignore_index=True))


def test_the_api_mixes_its_phases_with_fixed_weights_normalised_per_conversion(samples):
    a = answered(samples).frame
    w = IhcWeights().normalised()
    mix = sum(wk * a[k] for wk, k in zip(w, F.PHASES))
    predicted = mix / mix.groupby(a["conv_id"]).transform("sum")
    assert (predicted - a["ihc"]).abs().max() <= 1e-4  # the API rounds to 4 decimals


def test_the_defaults_are_the_fit_on_the_public_answers(samples):
    f = F.fit(answered(samples), FLAT, EVEN)
    for name, value in IhcPhases().model_dump().items():
        assert getattr(f.phases, name) == pytest.approx(value, abs=2e-3), name
    assert f.weights.normalised() == pytest.approx(IhcWeights().normalised(), abs=1e-3)


def test_held_out_error_on_the_real_answers(samples, record_property):
    a = answered(samples)
    folds = F.cross_validate(a, 5, FLAT, EVEN)
    mean = float(np.mean([f.mae for f in folds]))
    for f in folds:
        print(f"fold {f.fold}: {f.conversions} conversions, {f.sessions} sessions, held-out MAE {f.mae:.4f}")
        record_property(f"ihc_heldout_fold{f.fold}", round(f.mae, 4))
    assert sum(f.conversions for f in folds) == 110 and sum(f.sessions for f in folds) == 200
    assert mean <= TARGET, [f.mae for f in folds]
    # one-session journeys get 1 from any model: over the sessions of 2+-session journeys only it is
    # still within the target (0.0148 when measured)
    assert float(np.mean([f.mae_multi for f in folds])) <= TARGET, [f.mae_multi for f in folds]
    for held in (0, 1):  # a whole batch held out: fit on the other sample
        f = F.fit(answered([samples[1 - held]]), FLAT, EVEN)
        err = F.mae(answered([samples[held]]), f.phases, f.weights)
        print(f"sample {held} held out: MAE {err:.4f}")
        assert err <= TARGET
    old = F.mae(a, IhcPhases(**{**FLAT.model_dump(), "initializer_later_score": -100}), EVEN)
    assert old > 2 * mean  # the flat model (about the previous rule) is at least twice as far


def test_numpy_fit_formulas_are_the_warehouse_model(samples, wh):
    a = answered(samples)
    journeys = pd.concat(samples, ignore_index=True).drop(columns=["initializer", "holder", "closer", "ihc", "timestamp"])
    wh.ensure_table("attribution.sample_journeys", ibis.memtable(journeys).schema())
    wh.insert("attribution.sample_journeys", ibis.memtable(journeys))
    for cfg in (AttributionConfig(), AttributionConfig(ihc_phases=FLAT, ihc_weights=EVEN)):
        ours = wh.to_pyarrow(credits_expr(wh.table("attribution.sample_journeys"), "ihc", cfg)).to_pandas()
        merged = ours.merge(a.frame[["conv_id", "session_id"]].assign(np_ihc=F.credits(a, cfg.ihc_phases, cfg.ihc_weights)),
                            on=["conv_id", "session_id"], validate="one_to_one")
        assert len(merged) == 200
        assert (merged["ihc"] - merged["np_ihc"]).abs().max() <= 1e-9
        assert (merged.groupby("conv_id")["ihc"].sum() - 1).abs().max() <= 1e-9


# -- the command, end to end on a real warehouse ------------------------------------------------

@pytest.fixture(scope="module")
def real_db(ihc_dataset, tmp_path_factory):
    from martops.attribution.ihc_sample import build_sample_db

    db = tmp_path_factory.mktemp("ihcfit") / "real.db"
    build_sample_db(ihc_dataset, db)
    return db


def build_journeys(capsys, db, location) -> None:
    res = run_cli(capsys, "attribution", "run", "--db", db, "--since", "2023-08-29", "--until", "2023-09-07",
                  "--model", "linear", "--warehouse", location)
    assert res.code == 0, res.out + res.err


def store_answers(location, frames: list[pd.DataFrame], **changes) -> None:
    """The answers as the ihc_api runner stores them (attribution.ihc_api.store)."""
    rows = [dict(conv_id=r.conv_id, conv_date=r.conv_date, session_id=changes.get(r.session_id, r.session_id),
                 initializer=r.initializer, holder=r.holder, closer=r.closer, ihc=r.ihc, fingerprint="sample",
                 run_id="sample", answered_at=dt.datetime(2023, 9, 8)) for f in frames for r in f.itertuples()]
    with connect(path=location) as w:
        store.ensure_tables(w)
        store.replace_answers(w, sorted({r["conv_id"] for r in rows}), rows)


def test_ihc_fit_command_on_real_answers(capsys, real_db, samples, warehouse_location, tmp_path, monkeypatch):
    build_journeys(capsys, real_db, warehouse_location)
    store_answers(warehouse_location, samples)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text("attribution:\n  ihc_weights: {initializer: 1, holder: 1, closer: 1}\n")
    res = run_cli(capsys, "attribution", "ihc-fit", "--warehouse", warehouse_location, "--folds", "5")
    assert res.code == 0, res.out + res.err
    assert "110 conversions (48 with 2+ sessions), 200 sessions" in res.out
    held = re.search(r"held out \(mean of 5 folds\): fitted (\d\.\d{4})", res.out)
    in_sample = re.search(r"in-sample error per session: current (\d\.\d{4}), fitted (\d\.\d{4})", res.out)
    assert held and in_sample, res.out
    assert float(held.group(1)) <= TARGET and float(in_sample.group(2)) < float(in_sample.group(1))
    # the printed lines are a valid project file that gives the fitted model
    lines = res.out[res.out.index("  ihc_weights:"):].strip("\n")
    (tmp_path / "martops.yml").write_text("attribution:\n" + lines + "\n")
    cfg = load_config(tmp_path / "martops.yml").attribution
    assert cfg.ihc_phases.model_dump() == pytest.approx(IhcPhases().model_dump(), abs=2e-3)
    assert F.mae(answered(samples), cfg.ihc_phases, cfg.ihc_weights) == pytest.approx(float(in_sample.group(2)),
                                                                                      abs=1e-4)


def test_ihc_fit_without_answers_says_how_to_get_some(capsys, real_db, tmp_path):
    location = str(tmp_path / "wh.duckdb")
    build_journeys(capsys, real_db, location)
    res = run_cli(capsys, "attribution", "ihc-fit", "--warehouse", location)
    assert res.code != 0 and "no IHC API answers" in res.err and "--model ihc_api" in res.err
    assert "Traceback" not in res.err


def test_ihc_fit_with_too_few_conversions_to_hold_out(capsys, real_db, samples, tmp_path):
    location = str(tmp_path / "wh.duckdb")
    build_journeys(capsys, real_db, location)
    few = [s[s["conv_id"].isin(sorted(s.loc[s["n_sessions"] > 1, "conv_id"].unique())[:3])] for s in samples]
    store_answers(location, few)
    res = run_cli(capsys, "attribution", "ihc-fit", "--warehouse", location, "--folds", "5")
    assert res.code != 0 and "6 answered conversion(s) with 2+ sessions: 5 folds would hold out 2" in res.err and "get more answers" in res.err


def test_ihc_fit_with_answers_whose_sessions_are_not_in_the_journeys(capsys, real_db, samples, tmp_path):
    location = str(tmp_path / "wh.duckdb")
    build_journeys(capsys, real_db, location)
    sample = samples[0]
    gone = sample.sort_values(["conv_id", "session_id"]).iloc[0]
    store_answers(location, [sample], **{gone.session_id: "not-a-session"})
    res = run_cli(capsys, "attribution", "ihc-fit", "--warehouse", location)
    assert res.code != 0
    assert f"1 answered session(s) of 1 conversion(s) are not in {T.JOURNEYS}" in res.err
    assert f"conversion {gone.conv_id} session not-a-session" in res.err
