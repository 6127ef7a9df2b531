"""`crm dedupe` and `crm generate-people` as a user runs them: the project file's crm.dedupe applies,
and an output path that cannot be written is a one-line error before any work."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pytest

from martops.demo.crm_people import PeopleSpec, generate
from tests.cli_runner import run_cli

ARGS = ["--id", "record_id", "--compare", "first_name=name", "--compare", "surname=name", "--compare", "dob=date"]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    path = tmp_path_factory.mktemp("people") / "people.csv"
    pacsv.write_csv(generate(PeopleSpec(n_records=400, seed=11)).drop_columns(["entity_id", "corruptions"]), path)
    return path


def _min_probability(path) -> float:
    return min(pacsv.read_csv(path).column("match_probability").to_pylist())


def test_crm_dedupe_settings_of_the_project_file_apply(tmp_path, people, capsys):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("crm:\n  dedupe:\n    compare: {first_name: name, surname: name, dob: date, email: email}\n"
                   "    threshold: 0.999\n    pairs_threshold: 0.9\n    u_max_pairs: 50000\n", encoding="utf-8")
    res = run_cli(capsys, "crm", "dedupe", "--config", cfg, "--input", people, "--id", "record_id",
                  "--out", tmp_path / "c.csv")
    assert res.code == 0, res.err
    assert "compared: first_name=name, surname=name, dob=date, email=email; cluster threshold 0.999" in res.out
    assert _min_probability(tmp_path / "c_pairs.csv") >= 0.9
    # without the file: the defaults (pairs from 0.5), and a flag beats the file
    res = run_cli(capsys, "crm", "dedupe", "--input", people, *ARGS, "--out", tmp_path / "d.csv")
    assert res.code == 0 and "cluster threshold 0.99\n" in res.out, res.err
    assert _min_probability(tmp_path / "d_pairs.csv") < 0.9
    res = run_cli(capsys, "crm", "dedupe", "--config", cfg, "--input", people, *ARGS, "--threshold", "0.95",
                  "--out", tmp_path / "e.csv")
    assert res.code == 0 and "compared: first_name=name, surname=name, dob=date; cluster threshold 0.95" in res.out
    assert _min_probability(tmp_path / "e_pairs.csv") >= 0.9


def test_a_bad_crm_dedupe_setting_is_an_error_naming_it(tmp_path, people, capsys):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("crm:\n  dedupe:\n    threshold: 1.5\n", encoding="utf-8")
    res = run_cli(capsys, "crm", "dedupe", "--config", cfg, "--input", people, *ARGS, "--out", tmp_path / "c.csv")
    assert res.code == 1 and "threshold" in res.err and "Traceback" not in res.err


@pytest.mark.parametrize("flag, where, message", [
    ("--model", "missing/m.json", "the folder {tmp}/missing does not exist"),
    ("--model", "dir", "{tmp}/dir is a folder"),
    ("--model", "file.txt/m.json", "{tmp}/file.txt is not a writable folder"),
    ("--out", "missing/c.csv", "the folder {tmp}/missing does not exist"),
    ("--out", "c.txt", "write a .csv or .parquet file"),
    ("--pairs", "dir", "{tmp}/dir is a folder"),
])
def test_crm_dedupe_output_that_cannot_be_written_fails_before_any_work(tmp_path, people, capsys, flag, where, message):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("x")
    outputs = {"--out": tmp_path / "c.csv", flag: tmp_path / where}
    res = run_cli(capsys, "crm", "dedupe", "--input", people, *ARGS, *[a for kv in outputs.items() for a in kv])
    assert res.code == 1 and "Traceback" not in res.err
    assert message.format(tmp=tmp_path) in res.err.replace("\n", "")
    assert not (tmp_path / "c.csv").exists() and "records ->" not in res.out  # nothing was deduplicated


@pytest.mark.parametrize("where, message", [
    ("missing/p.csv", "the folder {tmp}/missing does not exist"),
    ("dir", "{tmp}/dir is a folder"),
    ("file.txt/p.csv", "{tmp}/file.txt is not a writable folder"),
    ("p.parquet", "write a .csv file"),
])
def test_generate_people_into_a_path_that_cannot_be_written(tmp_path, capsys, where, message):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("x")
    res = run_cli(capsys, "crm", "generate-people", "--out", tmp_path / where, "--records", "50")
    assert res.code == 1 and "Traceback" not in res.err
    assert message.format(tmp=tmp_path) in res.err.replace("\n", "")
    ok = run_cli(capsys, "crm", "generate-people", "--out", tmp_path / "p.csv", "--records", "50")
    assert ok.code == 0 and pacsv.read_csv(tmp_path / "p.csv").num_rows == 50


def test_an_input_that_is_a_folder_is_named_as_one(tmp_path, capsys):
    res = run_cli(capsys, "crm", "dedupe", "--input", tmp_path, *ARGS, "--out", tmp_path / "c.csv")
    assert res.code == 1 and res.err.strip().splitlines() == [
        f"error: {tmp_path} is a directory; give a .csv or .parquet file of records, not a folder"]
    res = run_cli(capsys, "crm", "dedupe", "--input", tmp_path / "none.csv", *ARGS, "--out", tmp_path / "c.csv")
    assert res.code == 1 and "none.csv: no such file" in res.err
    assert list(tmp_path.iterdir()) == []
