"""`martops leads ...` as a user runs it: train, score with an export, show, explain, models, and
every bad input a one-line error with a non-zero exit (never a traceback)."""

from __future__ import annotations

import csv

import pytest

from tests.cli_runner import run_cli
from tests.leads import data


def _ok(capsys, *args):
    res = run_cli(capsys, *args)
    assert res.code == 0, (args, res.out[-3000:], res.err)
    assert "Traceback" not in res.err
    return res


def _fails(capsys, *args, said: str):
    res = run_cli(capsys, *args)
    assert res.code != 0, (args, res.out[-2000:])
    assert "Traceback" not in res.err + res.out
    assert said in res.err, (said, res.err)
    return res


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text(data.CONFIG)
    data.write(tmp_path / "leads.csv", data.rows(400))
    return tmp_path


def test_train_score_show_explain_export(project, capsys):
    trained = _ok(capsys, "leads", "train", "--input", "leads.csv", "--as-of", "2024-06-30")
    assert "Call Result" in trained.out and "saved model v1" in trained.out
    assert "model + leaky columns" in trained.out and "one feature:" in trained.out
    scored = _ok(capsys, "leads", "score", "--input", "leads.csv", "--as-of", "2024-06-30", "--export", "s.csv")
    assert "400 leads scored as of 2024-06-30" in scored.out
    with open(project / "s.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 400 and {"lead_id", "rules_score", "grade", "probability", "score", "top_reasons",
                                 "model_version"} <= set(rows[0])
    assert all(len(r["probability"].partition(".")[2]) <= 6 for r in rows)  # README: fractions to 6 decimals
    assert any(len(r["probability"].partition(".")[2]) == 6 for r in rows)
    _fails(capsys, "leads", "score", "--input", "leads.csv", "--export", "s.csv", said="already exists")
    shown = _ok(capsys, "leads", "show", "sales-ready", "--export", "hot.csv")
    assert "marts.lead_scores as of 2024-06-30" in shown.out
    for view in ("metrics", "leakage", "calibration", "drift", "companies"):
        _ok(capsys, "leads", "show", view)
    explained = _ok(capsys, "leads", "explain", "L0001")
    assert "rules score" in explained.out and "Model reasons" in explained.out
    assert "v1" in _ok(capsys, "leads", "models").out
    _fails(capsys, "leads", "explain", "L9999", said="lead 'L9999' is not in marts.lead_scores (400 leads scored)")
    _fails(capsys, "leads", "show", "scorez", said="unknown view 'scorez'")
    _fails(capsys, "leads", "show", "--as-of", "2020-01-01", said="--as-of 2020-01-01: marts.lead_scores has no rows for "
           "it; it holds 2024-06-30")
    _fails(capsys, "leads", "show", "metrics", "--version", "v7", said="--version v7: leads.model_metrics has no rows for "
           "it; it holds v1")
    _fails(capsys, "leads", "score", "--input", "leads.csv", "--model", "v7", said="--model v7: not a saved lead model")
    # the weekly report's lead-score section shows this scoring run, its figures the mart's
    from martops.engine import connect
    from tests.reports.page import read

    _ok(capsys, "report", "weekly", "--out", "report.html")
    page = read((project / "report.html").read_text("utf-8"))
    assert page.sections == ["leads", "health"]
    with connect(path=project / "warehouse.duckdb", read_only=True) as w:
        ready, = w.execute("SELECT count(*) FROM marts.lead_scores WHERE sales_ready AND as_of = DATE '2024-06-30'")[0]
        grades = dict(w.execute("SELECT grade, count(*) FROM marts.lead_scores GROUP BY 1"))
    assert int(page.metrics["leads.sales_ready"]["value"]) == ready and int(page.metrics["leads.scored"]["value"]) == 400
    assert {r["grade"]: int(r["leads"]) for r in page.cells["leads.grades"]} == grades


def _write(path, header, rows):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_bad_inputs_are_one_line_errors(project, capsys):
    rows = data.rows(200)
    train = ("leads", "train", "--input")
    _fails(capsys, *train, "leads.csv", "--label", "Outcome", said="column 'Outcome' (--label) is not in the input")
    _write(project / "one.csv", data.HEADER, [r[:-1] + ["0"] for r in rows])
    _fails(capsys, *train, "one.csv", said="every label is 0 (not converted) (200 leads)")
    # every converted lead says 'yes' instead of 1: quarantined, and the error says where they went
    _write(project / "yes.csv", data.HEADER, [r[:-1] + ["yes" if r[-1] == "1" else r[-1]] for r in rows])
    _fails(capsys, *train, "yes.csv", said="row(s) were quarantined: see `martops quarantine --table lead_training`")
    _write(project / "words.csv", data.HEADER, [r[:-1] + ["maybe"] for r in rows])
    _fails(capsys, *train, "words.csv", said="none of its 200 rows loaded, e.g. words.csv line 2, column Converted: label 'maybe' is not 1 (converted) or 0 (not)")
    few = [r[:-1] + (["2"] if i == 3 else [r[-1]]) for i, r in enumerate(rows)]
    _write(project / "few.csv", data.HEADER, few)  # one bad label: quarantined, the rest trains
    res = _ok(capsys, *train, "few.csv")
    assert "1 quarantined" in res.out
    q = _ok(capsys, "quarantine", "--table", "lead_training")
    assert "L0003" in q.out and "few.csv line 5, column" in " ".join(q.out.split())
    (project / "binary.csv").write_bytes(b"PK\x03\x04\x00\xff\xfe binary")
    _fails(capsys, *train, "binary.csv", said="binary.csv is a ZIP archive")
    _fails(capsys, *train, "missing.csv", said="--input missing.csv does not exist")
    _fails(capsys, "leads", "train", said="give the leads as --input FILE.csv or --table SCHEMA.TABLE")
    _fails(capsys, "leads", "score", "--table", "staging.nope", said="--table staging.nope is not in the warehouse")
    _fails(capsys, *train, "leads.csv", "--as-of", "2024-13-01", said="--as-of '2024-13-01' is not a date")
    (project / "bad.yml").write_text("leads:\n  rules:\n    grades: {A: 10, B: 20}\n")
    _fails(capsys, *train, "leads.csv", "--config", "bad.yml", said="leads.rules: grades must fall from A to C")


def test_a_feature_no_lead_has_is_left_out_with_a_note_not_a_crash(project, capsys):
    """Found by the dashboard's tests: sessions matching no lead's key gave an all-empty behaviour
    measure, and scikit-learn's binning raised on it (exit 70). A column left blank is the same."""
    rows = [r[:-1] + ["", r[-1]] for r in data.rows(400)]
    data.write(project / "blank.csv", rows, header=data.HEADER[:-1] + ["Score Later", "Converted"])
    (project / "martops.yml").write_text(data.CONFIG.replace(
        "    Call Result: {type: categorical, role: engagement}\n",
        "    Call Result: {type: categorical, role: engagement}\n    Score Later: {type: numeric}\n"))
    res = _ok(capsys, "leads", "train", "--input", "blank.csv", "--as-of", "2024-06-30")
    assert "no lead has a value of Score Later" in " ".join(res.out.split()), res.out
    _ok(capsys, "leads", "score", "--input", "blank.csv", "--as-of", "2024-06-30")


def test_each_duckdb_warehouse_keeps_its_own_model_store(project, capsys):
    """Two warehouses in one folder: scoring the second never picks the model trained on the first."""
    _ok(capsys, "leads", "train", "--input", "leads.csv", "--as-of", "2024-06-30")
    assert (project / "warehouse.lead-models" / "v1" / "model.joblib").is_file()
    other = _ok(capsys, "leads", "score", "--input", "leads.csv", "--as-of", "2024-06-30",
                "--warehouse", "other.duckdb")
    assert "no saved lead model in" in other.out + other.err and "other.lead-models" in other.out + other.err
    assert "v1" in _ok(capsys, "leads", "models").out
    _fails(capsys, "leads", "models", "--warehouse", "other.duckdb", said="other.lead-models")


def test_inference_leaves_identifiers_and_codes_out(tmp_path, monkeypatch, capsys):
    """`unmapped: infer` types `Score` as numeric, but neither `Lead Number` (distinct whole numbers:
    an id) nor `Zip` (a leading 0: a code) becomes a quantity; the report says why and how to map them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text("leads:\n  id: Lead Id\n  label: Converted\n  unmapped: infer\n"
                                          "  model: {folds: 3}\n")
    base = data.rows(200)
    header = ["Lead Id", "Lead Number", "Zip", "Score", "Converted"]
    rows = [[r[0], str(660_000 + 7 * i), f"0{1000 + i % 50}", r[2], r[-1]] for i, r in enumerate(base)]
    data.write(tmp_path / "leads.csv", rows, header)
    out = _ok(capsys, "leads", "train", "--input", "leads.csv", "--as-of", "2024-06-30").out
    assert "inferred (not in leads.columns): Score as numeric" in out
    assert "left out Lead Number: every one of its 200 values is a distinct whole number: an identifier" in out
    assert "left out Zip: 200 value(s) start with a 0: a code (postcode, phone), not a quantity" in out
    import json
    meta = json.loads((tmp_path / "warehouse.lead-models" / "v1" / "metadata.json").read_text())
    assert [c["header"] for c in meta["mapping"]["columns"]] == ["Score"]


def test_explain_names_the_quarantine_reason_and_a_capped_sum(project, capsys):
    rows = data.rows(400)
    rows[5][2] = "lots"  # Visits: not a number -> the row is quarantined, the lead not scored
    data.write(project / "leads.csv", rows)
    _ok(capsys, "leads", "score", "--input", "leads.csv", "--as-of", "2024-06-30")
    res = _fails(capsys, "leads", "explain", rows[5][0], said=f"lead '{rows[5][0]}' was not scored: its row was "
                 "quarantined: ")
    assert "Visits" in res.err and "check the id" not in res.err
    from martops.engine import connect

    with connect(path=project / "warehouse.duckdb", read_only=True) as w:
        lead, raw, score = w.execute("SELECT lead_id, fit_points + engagement_points * decay, rules_score "
                                     "FROM marts.lead_scores ORDER BY 2 DESC LIMIT 1")[0]
        plain = w.execute("SELECT lead_id FROM marts.lead_scores "
                          "WHERE fit_points + engagement_points * decay = rules_score LIMIT 1")[0][0]
    out = _ok(capsys, "leads", "explain", lead).out
    assert ("capped at" in out) == (raw > score)
    assert "capped" not in _ok(capsys, "leads", "explain", plain).out
    assert "rule" in out and "points" in out
