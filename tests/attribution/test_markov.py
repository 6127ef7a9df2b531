"""Exact Markov attribution: an independent dense solve, a hand-worked example, invariants, the
real PathData.csv, the path-file reader's errors and `martops attribution paths`."""

from __future__ import annotations
import csv

import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from martops.attribution.markov import Paths, markov_attribution
from martops.attribution.path_file import read_path_file
from martops.errors import SourceError, StepError
from tests.cli_runner import run_cli
from tests.conftest import dataset

HEADER = "path;total_conversions;total_conversion_value;total_null"


def dense_reference(paths: list[list[str]], conv: list[float], nulls: list[float], order: int):
    """P(conversion) and every removal effect by plain loops and np.linalg.solve (independent of
    the module: states are tuples of the last `order` channels, shorter at a path's start)."""
    counts: dict = {}
    def add(a, b, w):
        counts.setdefault(a, {}).setdefault(b, 0.0)
        counts[a][b] += w
    for path, c, u in zip(paths, conv, nulls):
        w = c + u
        if w == 0:
            continue
        prev = "start"
        for j in range(len(path)):
            state = tuple(path[max(0, j - order + 1): j + 1])
            add(prev, state, w)
            prev = state
        add(prev, "conv", c)
        add(prev, "null", u)
    states = sorted(s for s in counts if s != "start")
    idx = {s: i for i, s in enumerate(states)}

    def p_conv(removed):
        n = len(states)
        q, r, p0 = np.zeros((n, n)), np.zeros(n), np.zeros(n)
        for src, row in counts.items():
            total = sum(row.values())
            for dst, w in row.items():
                if isinstance(dst, tuple) and dst[-1] == removed:
                    continue  # goes to null
                if dst == "conv":
                    r[idx[src]] += w / total
                elif isinstance(dst, tuple):
                    if src == "start":
                        p0[idx[dst]] += w / total
                    else:
                        q[idx[src], idx[dst]] += w / total
        return float(p0 @ np.linalg.solve(np.eye(n) - q, r))

    p = p_conv(None)
    channels = sorted({c for s in states for c in s})
    return p, {x: 1 - p_conv(x) / p for x in channels}


def random_paths(rng: random.Random, n_channels: int, n_paths: int):
    names = [f"c{i}" for i in range(n_channels)]
    paths = [[rng.choice(names) for _ in range(rng.randint(1, 5))] for _ in range(n_paths)]
    conv = [float(rng.choice([0, 0, 1, 2, 3])) for _ in paths]
    nulls = [float(rng.choice([0, 1, 2, 5])) for _ in paths]
    conv[0] = max(conv[0], 1.0)
    value = [c * rng.uniform(1, 10) for c in conv]
    return paths, conv, value, nulls


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("schur_max", [0, 64])
def test_matches_an_independent_dense_solve(seed, order, schur_max):
    rng = random.Random(seed * 31 + order)
    paths, conv, value, nulls = random_paths(rng, rng.randint(1, 5), rng.randint(3, 30))
    result = markov_attribution(Paths(paths, conv, value, nulls), order, schur_max=schur_max)
    p, re = dense_reference(paths, conv, nulls, order)
    assert result.p_conversion == pytest.approx(p, abs=1e-9)
    for x, effect in zip(result.channels, result.removal_effect):
        assert effect == pytest.approx(max(0.0, re[x]), abs=1e-9), x


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("order", [1, 2, 3])
def test_iterative_solver_equals_the_direct_solve(seed, order):
    """The iterative path (forced) against the sparse LU and the dense reference, to 1e-9."""
    rng = random.Random(seed * 17 + order)
    paths, conv, value, nulls = random_paths(rng, rng.randint(2, 8), rng.randint(5, 60))
    given = Paths(paths, conv, value, nulls)
    direct = markov_attribution(given, order, solver="direct")
    iterative = markov_attribution(given, order, solver="iterative")
    assert iterative.channels == direct.channels
    assert iterative.p_conversion == pytest.approx(direct.p_conversion, rel=1e-12)
    np.testing.assert_allclose(iterative.removal_effect, direct.removal_effect, rtol=0, atol=1e-9)
    np.testing.assert_allclose(iterative.conversions, direct.conversions, rtol=0, atol=1e-9 * sum(conv))
    p, re = dense_reference(paths, conv, nulls, order)
    for x, effect in zip(iterative.channels, iterative.removal_effect):
        assert effect == pytest.approx(max(0.0, re[x]), abs=1e-9), x
    again = markov_attribution(given, order, solver="iterative")
    assert (again.conversions == iterative.conversions).all()


def test_auto_switches_to_the_iterative_solver_by_state_count(path_data):
    """PathData at order 3 (966 states) with the switch forced low: the same attribution."""
    direct = markov_attribution(path_data, 3)
    switched = markov_attribution(path_data, 3, direct_max_states=100)
    np.testing.assert_allclose(switched.conversions, direct.conversions, rtol=0, atol=1e-9 * 19785.0)


def test_iterative_solver_drops_dead_states_and_a_channel_that_only_leads_to_null():
    # 'z' states never reach a conversion: dropped before the iteration, z gets 0
    r = markov_attribution(Paths([["a", "b"], ["z", "z"], ["b", "z"], ["a"]], [2, 0, 0, 1], [4, 0, 0, 1],
                                 [1, 3, 2, 0]), 2, solver="iterative")
    got = dict(zip(r.channels, r.conversions))
    assert got["z"] == 0.0 and got["a"] + got["b"] == pytest.approx(3.0, rel=1e-12)


def test_a_chain_that_almost_never_ends_is_a_one_line_error_not_a_hang():
    # one path of 200,000 visits of 'a': at order 1 the state a loops with probability 1 - 5e-6
    with pytest.raises(StepError, match="did not converge.*direct solver"):
        markov_attribution(Paths([["a"] * 200_000], [1], [1], [0]), 1, solver="iterative")
    assert markov_attribution(Paths([["a"] * 200_000], [1], [1], [0]), 1).conversions[0] == 1.0


def test_unknown_solver_is_an_error():
    with pytest.raises(ValueError, match="solver must be one of"):
        markov_attribution(Paths([["a"]], [1], [1], [0]), 1, solver="lu")


def test_hand_worked_example():
    # Order 1, channels a, b; rows (path, conversions, value, nulls):
    #   a > b: 1, 10, 1   (weight 2)      a: 0, 0, 1 (weight 1)      b: 1, 5, 0 (weight 1)
    # start -> a 3, start -> b 1: p0 = (3/4, 1/4)
    # a -> b 2, a -> null 1: Q(a,b) = 2/3;  b -> conv 2, b -> null 1: r(b) = 2/3
    # P(conv from b) = 2/3, from a = 2/3 * 2/3 = 4/9; P = 3/4 * 4/9 + 1/4 * 2/3 = 1/2
    # without a: only start -> b survives: P_a = 1/4 * 2/3 = 1/6, RE_a = 1 - (1/6)/(1/2) = 2/3
    # without b: nothing converts: RE_b = 1.   sum RE = 5/3
    # conversions (total 2): a = (2/3)/(5/3) * 2 = 0.8, b = 1.2; value (total 15): a = 6, b = 9
    r = markov_attribution(Paths([["a", "b"], ["a"], ["b"]], [1, 0, 1], [10, 0, 5], [1, 1, 0]), 1)
    assert r.channels == ["a", "b"]
    assert r.p_conversion == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_allclose(r.removal_effect, [2 / 3, 1.0], atol=1e-15)
    np.testing.assert_allclose(r.conversions, [0.8, 1.2], atol=1e-12)
    np.testing.assert_allclose(r.value, [6.0, 9.0], atol=1e-12)
    assert [row["channel"] for row in r.rows()] == ["b", "a"]


def test_invariants_sum_row_order_and_split_rows():
    paths, conv, value, nulls = random_paths(random.Random(5), 4, 40)
    for order in (1, 2, 3):
        base = markov_attribution(Paths(paths, conv, value, nulls), order)
        assert base.conversions.sum() == pytest.approx(sum(conv), rel=1e-12)
        assert base.value.sum() == pytest.approx(sum(value), rel=1e-12)
        perm = list(range(len(paths)))
        random.Random(order).shuffle(perm)
        shuffled = markov_attribution(Paths([paths[i] for i in perm], [conv[i] for i in perm],
                                            [value[i] for i in perm], [nulls[i] for i in perm]), order)
        # row 0 split into two rows with the same path (halves of integer counts stay exact)
        split = markov_attribution(Paths(paths + [paths[0]], conv[:1] + conv[1:] + [0.0],
                                         [value[0] / 2] + value[1:] + [value[0] / 2],
                                         [0.0] + nulls[1:] + [nulls[0]]), order)
        for other in (shuffled, split):
            assert other.channels == base.channels
            np.testing.assert_allclose(other.removal_effect, base.removal_effect, rtol=0, atol=1e-12)
            np.testing.assert_allclose(other.conversions, base.conversions, rtol=1e-12)
            np.testing.assert_allclose(other.value, base.value, rtol=1e-12)


def test_a_channel_that_never_leads_to_a_conversion_gets_nothing():
    r = markov_attribution(Paths([["a"], ["a", "z"], ["b", "a", "z"], ["z"]], [3, 0, 0, 0], [9, 0, 0, 0],
                                 [1, 2, 1, 4]), 2)
    got = dict(zip(r.channels, r.removal_effect))
    assert got["z"] == 0.0 and got["a"] == 1.0
    assert dict(zip(r.channels, r.conversions))["z"] == 0.0


def test_single_channel_long_paths_and_unicode_names():
    r = markov_attribution(Paths([["Paid Search"] * 9, ["Paid Search"]], [2, 1], [4, 2], [3, 0]), 4)
    assert r.channels == ["Paid Search"] and r.removal_effect[0] == 1.0 and r.conversions[0] == 3.0
    names = ["Café Ads", "日本語 display", "e-mail > no"[:6]]
    r = markov_attribution(Paths([names, names[:1]], [1, 1], [1, 1], [0, 2]), 3)
    assert set(r.channels) == set(names) and r.conversions.sum() == pytest.approx(2.0)


def test_no_conversion_is_an_error():
    with pytest.raises(SourceError, match="no conversion"):
        markov_attribution(Paths([["a"]], [0], [0], [5]), 1)
    with pytest.raises(ValueError, match="empty"):
        Paths([[]], [1], [1], [0])


# -- the real sample -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def path_data():
    return read_path_file(dataset("markov-paths") / "PathData.csv")


@pytest.mark.parametrize("order", [1, 2, 3])
def test_real_path_data_sums_and_is_stable(path_data, order):
    a, b = markov_attribution(path_data, order), markov_attribution(path_data, order)
    assert np.isfinite(a.removal_effect).all() and (a.removal_effect > 0).all()
    assert a.conversions.sum() == pytest.approx(19785.0, rel=1e-12)
    assert a.value.sum() == pytest.approx(path_data.value.sum(), rel=1e-12)
    assert a.p_conversion == pytest.approx(19785.0 / (19785.0 + path_data.nulls.sum()), rel=1e-12)
    assert (a.removal_effect == b.removal_effect).all() and (a.conversions == b.conversions).all()


# -- the reader ----------------------------------------------------------------------------------
def write(tmp_path, text: str, name: str = "paths.csv", raw: bytes | None = None):
    f = tmp_path / name
    f.write_bytes(raw if raw is not None else text.encode())
    return f


def test_reader_sums_identical_paths_and_takes_bom_crlf_quotes(tmp_path):
    text = HEADER + '\r\n"a > b";1;2.5;3\r\nc;0;0;4\r\n"a >  b ";2;1.5;0\r\n"x;y";1;1;0\r\n'
    p = read_path_file(write(tmp_path, "", raw=b"\xef\xbb\xbf" + text.encode()))
    got = {tuple(c): (cv, v, n) for c, cv, v, n in zip(p.channels, p.conversions, p.value, p.nulls)}
    assert got == {("a", "b"): (3.0, 4.0, 3.0), ("c",): (0.0, 0.0, 4.0), ("x;y",): (1.0, 1.0, 0.0)}


@pytest.mark.parametrize("text, expected", [
    (HEADER + "\na;1;1;0\nb;x1;1;0\n", r"line 3, column total_conversions: 'x1' is not a number"),
    (HEADER + "\na;1;1;0\nb;1;1;-2\n", r"line 3, column total_null: -2 is negative"),
    (HEADER + "\na;1;1;0\n;1;1;0\n", r"line 3, column path: empty path"),
    (HEADER + "\na > > b;1;1;0\n", r"line 2, column path: empty channel name"),
    (HEADER + "\na;1;nan;0\n", r"line 2, column total_conversion_value: 'nan' is not a number"),
    ("path;total_conversions;total_null\na;1;0\n", r"line 1: column total_conversion_value is missing"),
    (HEADER + "\na;1;1\n", r"line 2: 3 field\(s\); the header has 4"),
    ("", r"the file is empty"),
    (HEADER + "\n", r"no path rows"),
])
def test_reader_errors_name_file_line_and_column(tmp_path, text, expected):
    f = write(tmp_path, text)
    with pytest.raises(SourceError, match=expected) as info:
        read_path_file(f)
    assert str(info.value).startswith(str(f)) and "\n" not in str(info.value)


# -- the CLI -------------------------------------------------------------------------------------
def test_cli_paths_prints_table_and_exports(tmp_path, capsys):
    f = write(tmp_path, HEADER + "\na > b;1;10;1\na;0;0;1\nb;1;5;0\n")
    out = tmp_path / "m.parquet"
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--model", "markov", "--order", "1",
                  "--export", out)
    assert res.code == 0, res.out + res.err
    assert "P(conversion) = 0.500000" in res.out and "2.00 conversions" in res.out
    lines = [line for line in res.out.splitlines() if "│" in line]
    assert "b" in lines[0] and "1.20" in lines[0] and "60.00%" in lines[0]
    rows = pq.read_table(out).to_pylist()
    assert [r["channel"] for r in rows] == ["b", "a"] and rows[1]["value"] == pytest.approx(6.0)
    again = run_cli(capsys, "attribution", "paths", "--input", f, "--export", out)
    assert again.code != 0 and "--force" in again.out + again.err


@pytest.mark.parametrize("args, expected", [
    (["--model", "dp6"], "choose one of markov, shapley"),
    (["--order", "5"], "less than or equal to 4"),
    (["--order", "0"], "greater than or equal to 1"),
    (["--order", "x"], "--order"),
    (["--model", "shapley", "--game", "revenue"], "choose one of conversion_rate, conversions"),
    (["--model", "shapley", "--order", "2"], "--order does not apply to --model shapley"),
    (["--game", "conversions"], "--game does not apply to --model markov"),
    (["--model", "shapley", "--seed", "-1"], "--seed"),
])
def test_cli_flag_errors(tmp_path, capsys, args, expected):
    f = write(tmp_path, HEADER + "\na;1;1;0\n")
    res = run_cli(capsys, "attribution", "paths", "--input", f, *args)
    assert res.code != 0 and expected in res.out + res.err and "Traceback" not in res.out + res.err


def test_cli_shapley_on_paths_by_hand(tmp_path, capsys):
    # a alone converts 1 of 2, b alone 1 of 1, a+b 2 of 2: the conversion-rate game's exact values
    f = write(tmp_path, HEADER + "\na;1;10;1\nb;1;10;0\na > b;2;20;0\nc;0;0;0\n")
    out = tmp_path / "s.csv"
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--model", "shapley", "--game", "conversion_rate",
                  "--export", out)
    assert res.code == 0, res.out + res.err
    # v({a}) = 1/2, v({b}) = 1, v({a,b}) = 4/5: phi_a = (1/2 + (4/5 - 1)) / 2 = 0.15, phi_b = 0.65
    rows = {r["channel"]: r for r in csv.DictReader(out.open())}
    assert float(rows["a"]["shapley_value"]) == pytest.approx(0.15)
    assert float(rows["b"]["shapley_value"]) == pytest.approx(0.65)
    assert float(rows["a"]["conversions"]) + float(rows["b"]["conversions"]) == pytest.approx(4.0)
    assert "exact" in res.out and "std error" not in res.out
    assert "c" not in rows and "1 channel(s) appear only on rows with 0 conversions and 0 nulls" in res.out
    # the default game: each path's conversions and value split equally over its distinct channels
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--model", "shapley", "--export", out, "--force")
    rows = {r["channel"]: r for r in csv.DictReader(out.open())}
    assert float(rows["a"]["conversions"]) == pytest.approx(2.0) and float(rows["b"]["conversions"]) == pytest.approx(2.0)
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--model", "shapley", "--seed", "3")
    assert res.code == 0 and "note: --seed unused: this result is exact" in res.out


def test_cli_shapley_warns_when_the_rate_game_credits_a_rare_channel_beyond_its_paths(tmp_path, capsys):
    f = write(tmp_path, HEADER + "\na;50;50;150\nrare;1;1;0\na > rare;1;1;0\n")
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--model", "shapley", "--game", "conversion_rate")
    assert res.code == 0 and "credits 1 channel(s) with more conversions than the paths they appear in hold (rare)" in res.out


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    f = write(tmp_path, HEADER + "\na;1;1;0\nb;one;1;0\n")
    res = run_cli(capsys, "attribution", "paths", "--input", f)
    text = (res.out + res.err).strip()
    assert res.code != 0 and "Traceback" not in text and len(text.splitlines()) == 1
    assert "line 3, column total_conversions" in text


def test_cli_real_path_data(capsys):
    f = dataset("markov-paths") / "PathData.csv"
    res = run_cli(capsys, "attribution", "paths", "--input", f, "--order", "2")
    assert res.code == 0 and "19,785.00 conversions" in res.out and "alpha" in res.out


def test_what_a_new_user_fed_the_path_reader(tmp_path):
    """Header names with spaces or capitals are the same columns; latin-1 bytes, a ',' file, a folder,
    a file without conversions are one-line SourceErrors, never a crash."""
    from martops.attribution.path_file import read_path_file
    from martops.errors import SourceError

    good = tmp_path / "spaced.csv"
    good.write_text("Path ; TOTAL_conversions;total_conversion_value;total_null ;\na > b;1;2;3;\nb;1;1;1;\n")
    assert read_path_file(good).conversions.sum() == 2
    cases = {
        "latin1.csv": (b"path;total_conversions;total_conversion_value;total_null\nK\xf6ln > b;1;2;3\n", "not UTF-8"),
        "comma.csv": (b"path,total_conversions,total_conversion_value,total_null\na,1,2,3\n", "separated by ';'"),
        "zero.csv": (b"path;total_conversions;total_conversion_value;total_null\na;0;0;3\n", "sums to 0"),
        "twice.csv": (b"path;path;total_conversions;total_conversion_value;total_null\na;a;1;1;1\n", "appears twice"),
    }
    for name, (data, says) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SourceError, match=says):
            read_path_file(tmp_path / name)
    with pytest.raises(SourceError, match="is a directory"):
        read_path_file(tmp_path)


def test_a_utf16_path_file_is_named_as_such(tmp_path):
    f = tmp_path / "paths16.csv"
    f.write_text(HEADER + "\na;1;1;0\n", encoding="utf-16")
    with pytest.raises(SourceError, match="not UTF-8 text .it looks like UTF-16."):
        read_path_file(f)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_one_iteration_over_all_states_when_the_component_dag_is_too_deep(monkeypatch, order):
    """Above MAX_LEVELS heights the level-by-level solve gives way to one iteration over every state;
    both agree with the direct solve."""
    from martops.attribution import absorption

    rng = random.Random(5 + order)
    paths, conv, value, nulls = random_paths(rng, 6, 40)
    given = Paths(paths, conv, value, nulls)
    direct = markov_attribution(given, order, solver="direct")
    by_levels = markov_attribution(given, order, solver="iterative")
    monkeypatch.setattr(absorption, "MAX_LEVELS", 1)
    flat = markov_attribution(given, order, solver="iterative")
    for got in (by_levels, flat):
        np.testing.assert_allclose(got.removal_effect, direct.removal_effect, rtol=0, atol=1e-9)


def test_levels_put_every_edge_downward_or_inside_a_cycle():
    import scipy.sparse as sp

    from martops.attribution import absorption
    from martops.attribution.markov import build_chain

    rng = random.Random(3)
    paths, conv, value, nulls = random_paths(rng, 5, 60)
    chain = build_chain(Paths(paths, conv, value, nulls).aggregated(), 2)
    q = (sp.identity(chain.r.size, format="csr") - chain.a.tocsr()).tocsr()
    q.eliminate_zeros()
    plan = absorption.levels(q)
    height = np.empty(q.shape[0], np.int64)
    for i, level in enumerate(plan):
        height[level.rows] = i
    assert sorted(np.concatenate([lv.rows for lv in plan]).tolist()) == list(range(q.shape[0]))
    coo = q.tocoo()
    up = height[coo.row] < height[coo.col]
    assert not up.any()
    same = height[coo.row] == height[coo.col]
    for i in np.unique(height[coo.row[same]]):
        assert plan[i].inner is not None  # an edge inside a level only where that level holds a cycle
