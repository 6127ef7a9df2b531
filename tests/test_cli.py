"""Every command has help with an example; the version flag works."""

import typer.main

from martops.cli.app import app

from .cli_runner import run_cli


def _commands(group, prefix=()):
    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


def test_every_command_has_help_with_an_example(capsys):
    commands = list(_commands(app))
    assert ("attribution", "run") in commands and len(commands) >= 7
    for cmd in commands:
        res = run_cli(capsys, *cmd, "--help")
        assert res.code == 0, cmd
        assert "Example:" in res.out, f"`martops {' '.join(cmd)} --help` lacks an Example"


def test_version(capsys):
    res = run_cli(capsys, "--version")
    assert res.code == 0 and res.out.startswith("martops ")


# -- the boundary: one line per error, exit codes, the log file ---------------------------------
import pytest  # noqa: E402

from martops.cli import boundary  # noqa: E402
from martops.engine import connect  # noqa: E402

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def empty_wh(tmp_path):
    path = tmp_path / "wh.duckdb"
    connect(path=path).close()
    return path


def _boom(*args, **kwargs):
    raise RuntimeError("boom: the disk said no")


def test_an_unexpected_exception_is_one_line_exit_70_and_the_traceback_is_in_the_log(capsys, tmp_path, monkeypatch, empty_wh):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("martops.ops.status.source_status", _boom)
    res = run_cli(capsys, "status", "--warehouse", empty_wh)
    assert res.code == boundary.EXIT_UNEXPECTED == 70
    lines = _lines(res.err)
    assert len(lines) == 1 and "Traceback" not in res.err
    assert lines[0].startswith("error: unexpected RuntimeError: boom: the disk said no in `martops status`")
    logs = list((tmp_path / ".martops" / "logs").glob("martops-*.log"))
    assert len(logs) == 1 and f"full traceback in {logs[0]}" in lines[0]
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom: the disk said no" in text
    assert f"command: martops status --warehouse {empty_wh}" in text


def test_the_log_goes_beside_the_project_file_and_with_vv_the_traceback_to_the_terminal(capsys, tmp_path, monkeypatch, empty_wh):
    project = tmp_path / "project"
    project.mkdir()
    (project / "martops.yml").write_text("quality:\n  row_count_min: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("martops.ops.status.source_status", _boom)
    res = run_cli(capsys, "status", "--warehouse", empty_wh, "--config", project / "martops.yml")
    assert res.code == 70 and len(list((project / ".martops" / "logs").glob("*.log"))) == 1

    res = run_cli(capsys, "-vv", "status", "--warehouse", empty_wh)
    assert res.code == 70 and "Traceback (most recent call last)" in res.err
    assert _lines(res.err)[-1].startswith("error: unexpected RuntimeError") and "the traceback is above" in res.err
    assert not (tmp_path / ".martops").exists()  # -vv writes no log file


def test_an_unwritable_log_folder_falls_back_to_the_temp_folder(capsys, tmp_path, monkeypatch, empty_wh):
    (tmp_path / ".martops").write_text("a file where the log folder would go")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr("martops.ops.status.source_status", _boom)
    res = run_cli(capsys, "status", "--warehouse", empty_wh)
    assert res.code == 70
    logs = list((tmp_path / "tmp" / "martops-logs").glob("martops-*.log"))
    assert len(logs) == 1 and str(logs[0]) in res.err


def test_a_step_with_no_delivery_names_the_flag_and_the_setting(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_cli(capsys, "attribution", "ingest", *RANGE)
    assert res.code == 1 and _lines(res.err) == [
        "error: attribution.ingest has no delivery: pass --db FILE or set sources.attribution.path in martops.yml"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["attribution", "ingest", "--qqq"], "error: No such option: --qqq (see `martops attribution ingest --help`)"),
    (["attribution", "ingest", "--db", "x.db", *RANGE, "--lookback-days", "abc"], "error: Invalid value for '--lookback-days'"),
    (["nosuch"], "error: No such command 'nosuch' (see `martops --help`)"),
    (["runs", "--limit", "0"], "error: Invalid value for '--limit'"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, args, message):
    res = run_cli(capsys, *args)
    assert res.code == 2
    assert len(_lines(res.err)) == 1 and _lines(res.err)[0].startswith(message), res.err


def test_a_martops_error_is_one_line_and_exit_1(capsys, tmp_path):
    res = run_cli(capsys, "attribution", "ingest", "--db", tmp_path / "missing.db", *RANGE, "-w", tmp_path / "w.duckdb")
    lines = _lines(res.err)
    assert res.code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "missing.db" in lines[0]


# -- a mistyped --warehouse creates nothing ---------------------------------------------------
@pytest.mark.parametrize("args", [
    ["check"], ["status"], ["quarantine"], ["runs"], ["kpis", "show"], ["kpis", "cleaning"],
    ["kpis", "export", "--out", "x.csv"], ["crm", "cleaning"], ["crm", "show", "customers"],
    ["crm", "export", "customers", "--out", "x.csv"], ["attribution", "journeys", *RANGE],
    ["attribution", "report", *RANGE], ["attribution", "export", *RANGE, "--export", "x.csv"],
    ["attribution", "cleaning"], ["attribution", "show", *RANGE], ["tables"], ["sql", "SELECT 1"],
    ["show", "ops.runs"], ["dashboard"],
])
def test_a_mistyped_warehouse_is_an_error_and_creates_nothing(capsys, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "out" / "warehuose.duckdb"
    res = run_cli(capsys, *args, "--warehouse", typo)
    assert res.code == 1
    lines = _lines(res.err)
    assert len(lines) == 1 and lines[0].startswith(
        f"error: warehouse {typo} does not exist (nothing was created); check --warehouse or warehouse.path "
        "in martops.yml, or build it first")
    domain = args[0] if args[0] in ("kpis", "crm", "attribution") else "check"
    assert {"kpis": "martops kpis build --source", "crm": "martops crm build --source",
            "attribution": "martops attribution run --db", "check": "`martops kpis build`"}[domain] in lines[0]
    assert not typo.exists() and not typo.parent.exists()


@pytest.mark.parametrize("args", [["tables"], ["status"], ["crm", "show", "customers"],
                                  ["attribution", "ingest", "--db", "{db}", *RANGE]])
def test_a_sqlite_file_as_warehouse_is_one_line(capsys, tiny_db, tmp_path, monkeypatch, args):
    """Was: DuckDB's multi-line 'Extension ... not found ... Install it first using "INSTALL sqlite"'."""
    monkeypatch.chdir(tmp_path)
    before = tiny_db.read_bytes()
    res = run_cli(capsys, *[a.format(db=tiny_db) for a in args], "--warehouse", tiny_db)
    assert res.code == 1 and _lines(res.err) == [
        f"error: warehouse {tiny_db} is a SQLite file, not a DuckDB warehouse; point --warehouse (or warehouse.path "
        "in martops.yml) at a DuckDB file such as warehouse.duckdb (a challenge SQLite database is read with --db)"]
    assert tiny_db.read_bytes() == before


def test_a_corrupt_warehouse_is_one_line_exit_1(capsys, empty_wh):
    """Was exit 70: 'checksum ... in block at location 0' contains "lock", so it was taken for the
    write lock of another process and a copy of the corrupt file was opened."""
    data = bytearray(empty_wh.read_bytes())
    data[12:20] = (999).to_bytes(8, "little")  # the storage version, under the header's checksum
    empty_wh.write_bytes(bytes(data))
    for args in (["tables"], ["kpis", "build", "--source", empty_wh.parent]):
        res = run_cli(capsys, *args, "--warehouse", empty_wh)
        lines = _lines(res.err)
        assert res.code == 1 and len(lines) == 1, res.err
        assert lines[0].startswith(f"error: cannot open warehouse {empty_wh}: IO Error: Corrupt database file: "), lines


def test_any_other_duckdb_error_opening_the_warehouse_is_one_line(capsys, empty_wh, monkeypatch):
    import duckdb
    import ibis

    def refuse(*args, **kwargs):
        raise duckdb.SerializationException("Serialization Error: the first line\n\nand advice on two more\nlines")

    monkeypatch.setattr(ibis.duckdb, "connect", refuse)
    res = run_cli(capsys, "tables", "--warehouse", empty_wh)
    assert res.code == 1 and _lines(res.err) == [
        f"error: cannot open warehouse {empty_wh}: Serialization Error: the first line"], res.err


# -- files named by flags --------------------------------------------------------------------
@pytest.fixture
def attributed(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh).code == 0
    return wh


def test_export_to_a_directory_is_one_line_and_leaves_no_temp_file(capsys, attributed, tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    res = run_cli(capsys, "attribution", "export", *RANGE, "--export", target, "-w", attributed)
    assert res.code == 1
    assert _lines(res.err) == [f"error: --export {target} is a directory; give a file name, e.g. "
                               f"{target / 'channel_reporting.csv'}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "tiny.db", "wh.duckdb"]
    assert list(target.iterdir()) == []


def test_the_csv_writer_refuses_a_directory_and_cleans_up_a_failed_write(attributed, tmp_path, monkeypatch):
    from martops.errors import OutputError
    from martops.attribution.csv_export import export_channel_reporting

    with connect(path=attributed) as w:
        with pytest.raises(OutputError, match="is a directory"):
            export_channel_reporting(w, "ihc", tmp_path)
        monkeypatch.setattr("os.replace", lambda a, b: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
        with pytest.raises(OutputError, match=r"cannot write .*out.csv: Permission denied"):
            export_channel_reporting(w, "ihc", tmp_path / "out.csv")
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_table_exports_to_a_directory_are_one_line(capsys, tmp_path):
    exports, wh = tmp_path / "exports", tmp_path / "kpis.duckdb"
    assert run_cli(capsys, "kpis", "generate", "--out", exports, "--clean", "--campaigns", "4", "--days", "14").code == 0
    assert run_cli(capsys, "kpis", "build", "--source", exports, "-w", wh).code == 0
    target = tmp_path / "dir.csv"
    target.mkdir()
    for args in (["kpis", "export", "--out", target], ["kpis", "show", "--export", target]):
        res = run_cli(capsys, *args, "-w", wh)
        assert res.code == 1 and _lines(res.err) == [f"error: {target} is a directory; give a file name, e.g. "
                                                     f"{target / 'export.csv'}"]
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_write_back_with_a_missing_ddl_file_is_one_line(capsys, attributed, tiny_db, tmp_path):
    ddl = tmp_path / "challenge_db_create.sql"
    res = run_cli(capsys, "attribution", "write-back", "--db", tiny_db, *RANGE, "--ddl", ddl, "-w", attributed)
    assert res.code == 1
    assert _lines(res.err) == [f"error: --ddl {ddl} does not exist; give the DDL file (e.g. the challenge's "
                               "challenge_db_create.sql), or leave --ddl out to use the built-in one"]
    res = run_cli(capsys, "attribution", "write-back", "--db", tiny_db, *RANGE, "--ddl", tmp_path, "-w", attributed)
    assert res.code == 1 and _lines(res.err) == [f"error: --ddl {tmp_path} is a directory; give the DDL file itself"]


def test_run_checks_the_ddl_before_anything_is_ingested(capsys, tiny_db, tmp_path):
    wh = tmp_path / "fresh.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "--write-back",
                  "--ddl", tmp_path / "nope.sql")
    assert res.code == 1 and "--ddl" in res.err and not wh.exists()


# -- position_based with weights that passed validation ----------------------------------------
def test_position_weights_with_nothing_at_the_ends_split_a_two_session_journey_evenly(capsys, tiny_db, tmp_path):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("attribution:\n  position_weights: [0, 1, 0]\n")
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "--model", "position_based",
                  "--config", cfg)
    assert res.code == 0, res.err
    with connect(path=wh) as w:
        rows = w.to_pyarrow(w.table("marts.attribution_customer_journey")).to_pylist()
    credit = {(r["conv_id"], r["session_id"]): r["ihc"] for r in rows}
    assert credit[("c3", "s5")] == credit[("c3", "s6")] == 0.5  # two sessions, no middle
    assert (credit[("c1", "s1")], credit[("c1", "s2")], credit[("c1", "s3")]) == (0.0, 1.0, 0.0)
    assert [credit[("c2", s)] for s in ("s1", "s2", "s3", "s4")] == [0.0, 0.5, 0.5, 0.0]


# -- attribution export: the range given, and nothing is not a file ----------------------------
def test_attribution_export_holds_the_range_and_an_empty_one_is_an_error(capsys, tiny_db, tmp_path):
    import csv

    wh, out = tmp_path / "wh.duckdb", tmp_path / "e.csv"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "-m", "last_touch").code == 0
    res = run_cli(capsys, "attribution", "export", "--since", "2023-09-02", "--until", "2023-09-03",
                  "-m", "last_touch", "--export", out, "-w", wh)
    assert res.code == 0, res.err
    rows = list(csv.DictReader(out.open()))
    # sessions on Sep 2: s3 (Newsletter & Email), s9 (Paid Search Brand); Sep 3: s4, s5, s6
    assert [(r["date"], r["channel_name"]) for r in rows] == [
        ("2023-09-02", "Newsletter & Email"), ("2023-09-02", "Paid Search Brand"),
        ("2023-09-03", "FB & IG Ads"), ("2023-09-03", "Organic Traffic"), ("2023-09-03", "Performance Max")]
    out.unlink()
    res = run_cli(capsys, "attribution", "export", "--since", "2024-09-01", "--until", "2024-09-07",
                  "-m", "last_touch", "--export", out, "-w", wh)
    assert res.code == 1 and _lines(res.err) == [
        "error: no rows of model 'last_touch' in channel_reporting dated 2024-09-01..2024-09-07; its rows are "
        "dated 2023-08-30..2023-09-05"]
    res = run_cli(capsys, "attribution", "export", *RANGE, "-m", "ihc", "--export", out, "-w", wh)
    assert res.code == 1 and _lines(res.err) == [
        "error: channel_reporting has no rows of model 'ihc'; models run: last_touch (run `martops attribution "
        "attribute` and `report` with --model ihc first)"]
    assert not out.exists()


@pytest.mark.parametrize("args", [["tables"], ["attribution", "ingest", "--db", "{db}", *RANGE]])
def test_a_file_that_is_no_duckdb_database_as_warehouse_is_one_line_and_left_unchanged(capsys, tiny_db, tmp_path,
                                                                                        monkeypatch, args):
    """Was: a build said success and stored nothing in a CSV given as --warehouse; reading it later
    said 'Cannot launch in-memory database in read-only mode!'."""
    monkeypatch.chdir(tmp_path)
    for name, content, kind in [("seg2.csv", b"customer_id,segment\n1,a\n", "it starts like a CSV file"),
                                ("seg2.parquet", b"PAR1\x15\x04" + bytes(40), "it is a Parquet file"),
                                ("empty.duckdb", b"", "it is empty")]:
        target = tmp_path / name
        target.write_bytes(content)
        res = run_cli(capsys, *[a.format(db=tiny_db) for a in args], "--warehouse", name)
        assert res.code == 1 and _lines(res.err) == [
            f"error: warehouse {name} is not a DuckDB database ({kind}); give the warehouse file, e.g. "
            "warehouse.duckdb (nothing was written to it)"], res.err
        assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir() if p != tiny_db) == ["empty.duckdb", "seg2.csv", "seg2.parquet"]


def test_a_new_warehouse_named_like_an_export_is_refused_and_nothing_is_made(capsys, tiny_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["out/seg2.csv", "seg2.parquet", "seg2.JSON", "seg2.xlsx", "seg2.txt"]:
        res = run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", name)
        stem = name.rsplit(".", 1)[0]
        assert res.code == 1 and _lines(res.err) == [
            f"error: warehouse {name}: a warehouse is a DuckDB file: name it *.duckdb, e.g. {stem}.duckdb "
            "(nothing was created)"], res.err
    assert [p for p in tmp_path.iterdir() if p != tiny_db] == []


def test_an_export_to_a_folder_or_an_unwritable_place_names_the_target_not_the_hidden_file(tmp_path, monkeypatch):
    """`--export adir` was told it had 'no suffix'; a failed write named `.x.csv.partial`."""
    from martops.errors import OutputError
    from martops.export_files import write_rows

    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "somefile.txt").write_text("kept\n")
    for target, said in [("adir", "adir is a directory; give a file name, e.g. adir/export.csv"),
                         ("somefile.txt/x.csv", "cannot write somefile.txt/x.csv: somefile.txt is a file, not a folder"),
                         ("/proc/x.csv", "cannot write /proc/x.csv: No such file or directory"),
                         ("/proc/x.parquet", "cannot write /proc/x.parquet: No such file or directory")]:
        with pytest.raises(OutputError) as err:
            write_rows([{"a": 1}], ["a"], target)
        assert str(err.value) == said and ".partial" not in str(err.value)
    assert (tmp_path / "somefile.txt").read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "somefile.txt"] and not any((tmp_path / "adir").iterdir())
