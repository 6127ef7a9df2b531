"""`--model markov` and `--model shapley` in the warehouse: the range's paths (converting and not),
the channel weights, and the conversion-level credits, on both engines, by hand and on generated data."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest

from martops.attribution import markov, path_models, shapley, tables as T
from martops.config import AttributionConfig
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import TINY_SESSIONS

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
SINCE, UNTIL = dt.date(2023, 9, 1), dt.date(2023, 9, 7)

# tests/conftest.py's tiny database, read by hand for Sep 1-7:
#   c1 (u1): s1 s2 s3, revenue 100; c2 (u1): s1 s2 s3 s4, 50; c3 (u2): s5 s6 (same time: by id), 40;
#   c4 has no session, c5's only session s8 is at the conversion's second (not before it): unattributed.
#   Non-converting: u4's s8 then s7 (Direct Traffic > Referral) and u5's s9 (Paid Search Brand).
PSB, DT, NE, FB, PM, OT, REF = ("Paid Search Brand", "Direct Traffic", "Newsletter & Email", "FB & IG Ads",
                                "Performance Max", "Organic Traffic", "Referral")
BY_HAND = {
    (PSB, DT, NE): (1, 100.0, 0),
    (PSB, DT, NE, FB): (1, 50.0, 0),
    (PM, OT): (1, 40.0, 0),
    (DT, REF): (0, 0.0, 1),
    (PSB,): (0, 0.0, 1),
}
JOURNEYS = {"c1": [PSB, DT, NE], "c2": [PSB, DT, NE, FB], "c3": [PM, OT]}


def _run(capsys, tiny_db, location, model, *extra):
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--model", model,
                  "--warehouse", location, *extra)
    assert res.code == 0, res.err + res.out
    return res


def _credits(wh, model) -> dict[tuple[str, str], float]:
    cj = wh.table(T.CUSTOMER_JOURNEY)
    rows = wh.to_pyarrow(cj.filter(cj.model == model)).to_pylist()
    return {(r["conv_id"], r["session_id"]): r["ihc"] for r in rows}


def _weights(wh, model) -> dict[str, dict]:
    w = wh.table(T.PATH_MODEL_CHANNELS)
    return {r["channel_name"]: r for r in wh.to_pyarrow(w.filter(w.model == model)).to_pylist()}


def test_the_range_paths_are_the_journeys_and_the_non_converting_sessions(capsys, tiny_db, warehouse_location):
    _run(capsys, tiny_db, warehouse_location, "linear")
    with connect(path=warehouse_location) as wh:
        paths = path_models.range_paths(wh, SINCE, UNTIL)
    got = {tuple(p): (c, v, u) for p, c, v, u in zip(paths.channels, paths.conversions, paths.value, paths.nulls)}
    assert got == BY_HAND


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_channel_weights_and_conversion_credits_by_hand(capsys, tiny_db, warehouse_location, tmp_path, model):
    export = tmp_path / "out.csv"
    _run(capsys, tiny_db, warehouse_location, model, "--export", export)
    paths = list(BY_HAND)
    c, v, u = (np.array([BY_HAND[p][k] for p in paths], float) for k in range(3))
    if model == "markov":
        ref = markov.markov_attribution(markov.Paths([list(p) for p in paths], c, v, u), 1)
        expected = dict(zip(ref.channels, zip(ref.removal_effect, ref.conversions)))
    else:
        ref = shapley.shapley_attribution(paths, c, v, u, game="conversions")
        assert ref.exact
        expected = dict(zip(ref.channels, zip(ref.shapley, ref.conversions)))
    with connect(path=warehouse_location) as wh:
        weights = _weights(wh, model)
        credits = _credits(wh, model)
    assert set(weights) == set(expected)
    for ch, (w, conv) in expected.items():
        assert weights[ch]["weight"] == pytest.approx(w, abs=1e-12), ch
        assert weights[ch]["conversions"] == pytest.approx(conv, abs=1e-12), ch
    assert sum(r["conversions"] for r in weights.values()) == pytest.approx(3.0)
    assert sum(r["value"] for r in weights.values()) == pytest.approx(190.0)
    # conversion level: markov by each session's removal effect; shapley's conversions game: an equal
    # split over the conversion's distinct channels, each channel's share split over its sessions
    for conv_id, channels in JOURNEYS.items():
        w = np.array([max(weights[ch]["weight"], 0.0) if model == "markov" else 1.0 for ch in channels])
        if model == "shapley":
            w = w / np.array([channels.count(ch) for ch in channels])
        share = w / w.sum() if w.sum() > 0 else np.full(len(channels), 1 / len(channels))
        sessions = sorted((s for (cv, s) in credits if cv == conv_id), key=lambda s: int(s[1:]))
        assert [credits[(conv_id, s)] for s in sessions] == pytest.approx(list(share), abs=1e-12), conv_id
    assert set(credits) == {(cv, s) for cv, s in credits if cv in JOURNEYS}
    if model == "shapley":  # the conversions game's per-journey split is its exact decomposition
        session_channel = {f"s{i}": row[4] for i, row in enumerate(TINY_SESSIONS, start=1)}
        totals = dict.fromkeys(weights, 0.0)
        for (_, session), credit in credits.items():
            totals[session_channel[session]] += credit
        assert totals == pytest.approx({ch: r["conversions"] for ch, r in weights.items()}, abs=1e-12)
    rows = list(csv.DictReader(export.open()))
    assert sum(float(r["ihc"]) for r in rows) == pytest.approx(3.0, abs=1e-5)


def test_a_repeated_channel_earns_twice_in_markov_and_once_in_shapley(capsys, tmp_path):
    from ..conftest import make_challenge_db
    sessions = [("a1", "u1", "2023-09-01", "10:00:00", "Email", 0, 0, 0),
                ("a2", "u1", "2023-09-02", "10:00:00", "Search", 0, 0, 0),
                ("a3", "u1", "2023-09-03", "10:00:00", "Email", 0, 0, 0),
                ("b1", "u2", "2023-09-01", "10:00:00", "Search", 0, 0, 0),
                ("b2", "u2", "2023-09-02", "10:00:00", "Email", 0, 0, 0)]
    conversions = [("c1", "u1", "2023-09-04", "10:00:00", 10.0), ("c2", "u2", "2023-09-04", "10:00:00", 10.0)]
    db = make_challenge_db(tmp_path / "r.db", sessions, conversions, [])
    location = str(tmp_path / "w.duckdb")
    for model in ("markov", "shapley"):
        _run(capsys, db, location, model)
    with connect(path=location) as wh:
        mk, sh = _credits(wh, "markov"), _credits(wh, "shapley")
        re = {ch: r["weight"] for ch, r in _weights(wh, "markov").items()}
        phi = {ch: r["weight"] for ch, r in _weights(wh, "shapley").items()}
    # order 1 is memoryless: without Search, start -> Email -> conversion still happens (Email ends both
    # paths), so RE(Search) = 2/3; without Email nothing converts, RE(Email) = 1
    assert re["Email"] == pytest.approx(1.0) and re["Search"] == pytest.approx(2 / 3)
    assert [mk[("c1", s)] for s in ("a1", "a2", "a3")] == pytest.approx([3 / 8, 1 / 4, 3 / 8])
    assert phi["Email"] == pytest.approx(phi["Search"])  # symmetric players
    assert [sh[("c1", s)] for s in ("a1", "a2", "a3")] == pytest.approx([1 / 4, 1 / 2, 1 / 4])


def test_non_converting_paths_lower_a_channel_that_mostly_fails(capsys, tmp_path):
    from ..conftest import make_challenge_db
    conv_sessions = [(f"s{i}", f"u{i}", "2023-09-01", "10:00:00", ch, 0, 0, 0)
                     for i, ch in enumerate(["Display", "Search", "Search", "Email"])]
    conversions = [(f"c{i}", f"u{i}", "2023-09-02", "10:00:00", 10.0) for i in range(4)]
    failing = [(f"n{i}", f"v{i}", "2023-09-03", "10:00:00", "Display", 0, 0, 0) for i in range(30)]
    weights = {}
    for name, sessions in [("without", conv_sessions), ("with", conv_sessions + failing)]:
        db = make_challenge_db(tmp_path / f"{name}.db", sessions, conversions, [])
        location = str(tmp_path / f"{name}.duckdb")
        settings = tmp_path / "rate.yml"
        settings.write_text("attribution:\n  shapley: {game: conversion_rate}\n")
        _run(capsys, db, location, "shapley", "--config", settings)
        with connect(path=location) as wh:
            weights[name] = {ch: r["conversions"] for ch, r in _weights(wh, "shapley").items()}
    assert weights["with"]["Display"] < weights["without"]["Display"]
    assert sum(weights["with"].values()) == pytest.approx(4.0)


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_generated_data_credits_sum_to_one_and_a_rerun_is_identical(capsys, tmp_path, model):
    db = tmp_path / "gen.db"
    assert run_cli(capsys, "attribution", "generate", "--out", db, "--conversions", "300", "--seed", "4").code == 0
    location = str(tmp_path / "w.duckdb")
    settings = tmp_path / "martops.yml"
    settings.write_text("attribution:\n  markov: {order: 3}\n  shapley: {samples: 300, game: conversion_rate}\n")
    _run(capsys, db, location, model, "--config", settings)
    with connect(path=location) as wh:
        first, weights = _credits(wh, model), _weights(wh, model)
        n_conv = int(wh.scalar(wh.table(T.JOURNEYS).filter(
            wh.table(T.JOURNEYS).conv_date.between(SINCE, UNTIL)).conv_id.nunique()))
    per_conv: dict[str, float] = {}
    for (conv_id, _), credit in first.items():
        assert credit >= 0
        per_conv[conv_id] = per_conv.get(conv_id, 0.0) + credit
    assert len(per_conv) == n_conv
    assert max(abs(s - 1) for s in per_conv.values()) < 1e-9
    assert sum(r["conversions"] for r in weights.values()) == pytest.approx(n_conv)
    # the warehouse counts the chain (or the channel sets) in SQL; the plain Python reading of the
    # same paths gives the same figures
    with connect(path=location) as wh:
        paths = path_models.range_paths(wh, SINCE, UNTIL)
    c, v, u = paths.conversions, paths.value, paths.nulls
    ref = (markov.markov_attribution(paths, 3) if model == "markov" else
           shapley.shapley_attribution(paths.channels, c, v, u, samples=300, game="conversion_rate"))
    ref_w = ref.removal_effect if model == "markov" else ref.shapley
    for ch, w, conv, val in zip(ref.channels, ref_w, ref.conversions, ref.value):
        assert weights[ch]["weight"] == pytest.approx(w, rel=1e-12, abs=1e-15), ch
        assert weights[ch]["conversions"] == pytest.approx(conv, rel=1e-12), ch
        assert weights[ch]["value"] == pytest.approx(val, rel=1e-12), ch
    detail = next(iter(weights.values()))["detail"]
    assert ("order 3" in detail) if model == "markov" else ("300 sampled orders" in detail or "exact" in detail)
    _run(capsys, db, location, model, "--config", settings)
    with connect(path=location) as wh:
        assert _credits(wh, model) == first
        assert _weights(wh, model) == weights


def test_a_range_without_journeys_stores_no_weights(capsys, tiny_db, warehouse_location):
    _run(capsys, tiny_db, warehouse_location, "markov")
    with connect(path=warehouse_location) as wh:
        before = _weights(wh, "markov")
        with wh.transaction():
            n = path_models.store_weights(wh, "markov", dt.date(2023, 10, 1), dt.date(2023, 10, 2), AttributionConfig())
        assert n == 0 and _weights(wh, "markov") == before


def test_a_bad_markov_order_in_the_project_file_is_refused_naming_the_key(capsys, tiny_db, tmp_path):
    settings = tmp_path / "martops.yml"
    settings.write_text("attribution:\n  markov: {order: 5}\n")
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "--model", "markov",
                  "--warehouse", tmp_path / "w.duckdb", "--config", settings)
    assert res.code != 0 and "markov" in res.err and "order" in res.err, res.err


def test_more_channels_than_a_bitmask_holds_are_sampled(capsys, tmp_path):
    from ..conftest import make_challenge_db
    sessions = [(f"s{i}", f"u{i % 40}", f"2023-09-0{1 + i % 3}", f"1{i % 10}:00:00", f"channel {i:02d}", 0, 0, 0)
                for i in range(70)]
    conversions = [(f"c{i}", f"u{i}", "2023-09-05", "10:00:00", 1.0) for i in range(30)]
    db = make_challenge_db(tmp_path / "wide.db", sessions, conversions, [])
    location = str(tmp_path / "w.duckdb")
    settings = tmp_path / "m.yml"
    settings.write_text("attribution:\n  shapley: {game: conversion_rate, samples: 50}\n")
    _run(capsys, db, location, "shapley", "--config", settings)
    with connect(path=location) as wh:
        weights = _weights(wh, "shapley")
        paths = path_models.range_paths(wh, SINCE, UNTIL)
    ref = shapley.shapley_attribution(paths.channels, paths.conversions, paths.value, paths.nulls,
                                      game="conversion_rate", samples=50)
    assert len(weights) == 70 and not ref.exact
    for ch, phi, se in zip(ref.channels, ref.shapley, ref.std_error):
        assert weights[ch]["weight"] == pytest.approx(phi, rel=1e-12, abs=1e-15)
        assert weights[ch]["std_error"] == pytest.approx(se, rel=1e-12, abs=1e-15)
    assert sum(r["conversions"] for r in weights.values()) == pytest.approx(30.0)
