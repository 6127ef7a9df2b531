"""The one CSV reader: quoted line breaks at any size, physical line numbers, delimiters, BOM and
CRLF, duplicate columns, directories and unreadable files, NUL characters, through each domain's CLI."""

from __future__ import annotations

import csv
import os
import sqlite3

import pytest

from martops.attribution import tables as T
from martops.crm import tables as R
from martops.engine import connect
from martops.ops.quarantine import QUARANTINE
from tests.crm import folders as F

from ..attribution.test_csv_source import HEADERS, write_folder
from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


def _one_line_error(res, *parts):
    assert res.code == 1, res.out
    assert "Traceback" not in res.err
    text = " ".join(res.err.split())
    for p in parts:
        assert p in text, text


def _rows(path, table, order):
    with connect(path=path) as w:
        return w.to_pyarrow(w.table(table).order_by(order)).to_pylist()


def test_a_crm_file_over_4_mb_with_multi_line_notes_loads_and_lines_are_physical(capsys, tmp_path):
    folder = F.write_folder(tmp_path / "d", transactions=None)
    header = F.HEADERS["transactions"] + ["Notes"]
    line, bad_line = 2, None
    with (folder / "transactions.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(12_000):
            note = f"call {i}\nasked about the invoice, \"urgent\"\r\nfollow up {'x' * 300}"
            amount = "abc" if i == 11_000 else "10.5"
            if i == 11_000:
                bad_line = line
            w.writerow([f"t{i}", "c1", "1", "2024-04-01", amount, "r1", note])
            line += 3
    assert (folder / "transactions.csv").stat().st_size > 4 * 1024 * 1024
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh)
    assert res.code == 0, res.err
    q = [r for r in _rows(wh, QUARANTINE, "row_number") if r["table_name"] == "crm_transactions"]
    assert [(r["row_number"], r["raw_value"]) for r in q] == [(bad_line, "abc")]
    assert q[0]["reason"].startswith(f"transactions.csv line {bad_line}, column Amount: amount 'abc'")
    staged = _rows(wh, R.STAGING["transactions"], "_row")
    assert len(staged) == 11_999 and [r["_row"] for r in staged[:3]] == [2, 5, 8]


def test_blank_lines_do_not_shift_line_numbers(capsys, tmp_path):
    folder = write_folder(tmp_path / "export")
    path = folder / "session_sources.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",1,1,0", ",1,7,0")  # a bad flag on s3
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")  # a blank line 3
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh).code == 0
    q = [r for r in _rows(wh, QUARANTINE, "row_number") if r["table_name"] == "session_sources"]
    assert [(r["row_number"], r["raw_value"]) for r in q] == [(5, "7")]  # line 4 of the file, moved to line 5


def test_a_duplicated_header_column_names_the_file_column_and_positions(capsys, tmp_path):
    folder = F.write_folder(tmp_path / "d", headers={"customers": ["Customer_ID", "Name", "Email", "name ", "Phone",
                                                                    "Country"]},
                            customers=[("c1", "Ann", "a@x.org", "Ann", "1", "France")])
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", tmp_path / "wh.duckdb")
    _one_line_error(res, "customers.csv: column 'name' appears twice in the header (columns 2 and 4)")


def _semicolons(folder):
    for name in HEADERS:
        path = folder / f"{name}.csv"
        rows = list(csv.reader(path.open(newline="")))
        with path.open("w", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(
                [[c.replace(".", ",") if c.replace(".", "").isdigit() and "." in c else c for c in r] for r in rows])


def test_a_semicolon_file_names_the_delimiter_and_works_once_declared(capsys, tmp_path):
    folder = write_folder(tmp_path / "export")
    _semicolons(folder)
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh)
    _one_line_error(res, "session_sources.csv: the header is separated by ';', not ','",
                    "declare sources.attribution.delimiter: ';' in martops.yml")
    cfg = tmp_path / "martops.yml"
    cfg.write_text("sources:\n  attribution:\n    delimiter: ';'\n    decimal: ','\n")
    res = run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh, "--config", cfg)
    assert res.code == 0, res.err
    plain = tmp_path / "plain.duckdb"
    assert run_cli(capsys, "attribution", "ingest", "--db", write_folder(tmp_path / "p"), *RANGE,
                   "--warehouse", plain).code == 0
    strip = [T.CONVERSIONS, "conv_id"]
    assert [{k: v for k, v in r.items() if k != "_loaded_at"} for r in _rows(wh, *strip)] == \
        [{k: v for k, v in r.items() if k != "_loaded_at"} for r in _rows(plain, *strip)]


def test_tab_delimited_crm_file_when_declared(tmp_path, wh):
    folder = F.write_folder(tmp_path / "d", transactions=[("t1", "c1", "1", "2024-04-01", "1,234.50", "r1")])
    for path in folder.iterdir():  # a source's delimiter holds for all of its files
        rows = list(csv.reader(path.open(newline="")))
        with path.open("w", newline="") as fh:
            csv.writer(fh, delimiter="\t").writerows(rows)
    F.run_build(wh, folder, F.ProjectConfig.model_validate({"sources": {"crm": {"delimiter": "tab"}}}))
    assert [r["amount"] for r in F.rows(wh, R.STAGING["transactions"])] == [1234.5]


def test_bom_and_crlf_load_like_a_plain_file(capsys, tmp_path):
    folder = write_folder(tmp_path / "export")
    for name in HEADERS:
        path = folder / f"{name}.csv"
        text = path.read_text().replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    wh, plain = tmp_path / "wh.duckdb", tmp_path / "plain.duckdb"
    assert run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh).code == 0
    assert run_cli(capsys, "attribution", "ingest", "--db", write_folder(tmp_path / "p"), *RANGE,
                   "--warehouse", plain).code == 0
    for table, key in ((T.SESSIONS, "session_id"), (T.CONVERSIONS, "conv_id")):
        drop = lambda rows: [{k: v for k, v in r.items() if k != "_loaded_at"} for r in rows]  # noqa: E731
        assert drop(_rows(wh, table, key)) == drop(_rows(plain, table, key))


@pytest.mark.parametrize("domain", ["attribution", "crm", "kpis"])
def test_a_directory_where_a_file_is_expected_is_a_one_line_error(capsys, tmp_path, domain):
    wh = tmp_path / "wh.duckdb"
    if domain == "attribution":
        folder = write_folder(tmp_path / "export")
        (folder / "session_costs.csv").unlink()
        (folder / "session_costs.csv").mkdir()
        res = run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", wh)
        _one_line_error(res, "session_costs.csv is a directory; expected a CSV file")
    elif domain == "crm":
        folder = F.write_folder(tmp_path / "d", transactions=None)
        (folder / "transactions.csv").mkdir()
        res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh)
        _one_line_error(res, "transactions.csv is a directory; expected a CSV file")
    else:
        from tests.campaigns import exports as E

        folder = E.write_exports(tmp_path / "x", [E.channel()], [E.lead("2023-09-01")])
        (folder / "web_orders.csv").mkdir()
        res = run_cli(capsys, "kpis", "build", "--source", folder, "--warehouse", wh)
        _one_line_error(res, "web_orders.csv is a directory; expected a CSV file")


def test_an_unreadable_file_is_a_one_line_error(capsys, tmp_path):
    folder = write_folder(tmp_path / "export")
    path = folder / "conversions.csv"
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 000 does not stop reads (the directory case covers the error path)")
        res = run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", tmp_path / "wh.duckdb")
        _one_line_error(res, "conversions.csv cannot be read: Permission denied")
    finally:
        path.chmod(0o644)


def test_non_utf8_names_the_line(capsys, tmp_path):
    folder = write_folder(tmp_path / "export")
    path = folder / "session_costs.csv"
    lines = ["session_id,cost"] + [f"s{i},1.5" for i in range(2, 3000)] + ["s1,caf\xe9"]
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    res = run_cli(capsys, "attribution", "ingest", "--db", folder, *RANGE, "--warehouse", tmp_path / "wh.duckdb")
    _one_line_error(res, "session_costs.csv: line 3000 is not UTF-8")


def test_a_nul_character_is_the_replacement_character_from_the_csv_reader(tmp_path):
    from martops.sources.csv_files import read_header, read_text_table

    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\nx\x00y,plain\n,\"q\x00\"\n")
    data = read_text_table(path, read_header(path))
    assert data.to_pylist() == [{"_row": 2, "a": "x\ufffdy", "b": "plain"}, {"_row": 3, "a": None, "b": "q\ufffd"}]


def test_a_nul_character_is_the_replacement_character_from_a_sqlite_source(capsys, tmp_path):
    from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db

    sessions = [("s1", "u1", "2023-08-30", "10:00:00", "Paid\x00Search", 1, 0, 0), *TINY_SESSIONS[1:]]
    db = make_challenge_db(tmp_path / "nul.db", sessions, TINY_CONVERSIONS, TINY_COSTS)
    with sqlite3.connect(db) as con:  # the NUL is in the file, not cut off by SQLite
        assert con.execute("SELECT instr(channel_name, char(0)) FROM session_sources WHERE session_id = 's1'"
                           ).fetchone()[0] == 5
    res = run_cli(capsys, "attribution", "ingest", "--db", db, *RANGE, "--warehouse", tmp_path / "w.duckdb")
    assert res.code == 0, res.err
    with connect(path=tmp_path / "w.duckdb", read_only=True) as w:
        assert w.execute(f"SELECT channel_name FROM {T.SESSIONS} WHERE session_id = 's1'")[0][0] == "Paid\ufffdSearch"


@pytest.mark.parametrize("chunk", [1 << 24, 1, 2])
def test_a_quote_never_closed_names_its_line_instead_of_swallowing_the_rows_after_it(tmp_path, monkeypatch, chunk):
    """Was one customer whose last field held a line break and the whole next row, silently."""
    from martops.errors import SourceError
    from martops.sources import csv_files

    monkeypatch.setattr(csv_files, "_CHUNK", chunk)  # a quote or a CRLF split between two reads
    path = tmp_path / "customers.csv"
    path.write_bytes(b'\xef\xbb\xbf"customer_id",signup_date,group,note\r\n1,2012-01-01,enrolled,"never closed\r\n'
                     b'2,2012-01-01,control,x\r\n')
    with pytest.raises(SourceError) as err:
        csv_files.read_header(path)
    assert str(err.value).startswith(f"{path} line 2: a quote opens here and is never closed")
    # a stray quote inside an unquoted field is text, and doubled quotes are one quote: both load
    path.write_bytes(b'id,note\n1,5" screen\n2,"said ""hi""\nthere"\n3,"x"')
    data = csv_files.read_text_table(path, csv_files.read_header(path))
    assert data.to_pylist() == [{"_row": 2, "id": "1", "note": '5" screen'},
                                {"_row": 3, "id": "2", "note": 'said "hi"\nthere'}, {"_row": 5, "id": "3", "note": "x"}]


def test_a_record_with_more_or_fewer_fields_than_the_header_names_its_physical_line(tmp_path):
    """Arrow's parse error quoted the record but named no line; lines before it span two (a quoted
    line break) or none (a blank line), so the line is counted, not the record."""
    from martops.errors import SourceError
    from martops.sources.csv_files import read_header, read_text_table

    path = tmp_path / "customers.csv"
    good = 'customer_id,signup_date,group\n1,2012-01-01,enrolled\n2,"2012-\n01-01",control\n\n3,2012-01-01,control\n'
    for bad, line, said in [("4,2012-01-01,enrolled,extra,more\n", 7, "5 fields where the header has 3 "
                                                                        "(4,2012-01-01,enrolled,extra,more)"),
                            ("4,2012-01-01\n", 7, "2 fields where the header has 3 (4,2012-01-01)")]:
        path.write_text(good + bad + "5,2012-01-01,control\n")
        with pytest.raises(SourceError) as err:
            read_text_table(path, read_header(path))
        assert str(err.value) == f"{path} line {line}: {said}; check the delimiter and quoting of that line"


@pytest.mark.parametrize("kind", ["sqlite", "xlsx", "gzip"])
def test_a_database_or_workbook_given_as_csv_is_named_as_what_it_is(tmp_path, kind):
    """Not 'line 1 is not UTF-8 (b'SQLite format 3\\x00...')': the error says what the file is."""
    from martops.errors import SourceError
    from martops.sources.csv_files import scan

    path = tmp_path / "export.csv"
    if kind == "sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
        said = "is a SQLite database, not a CSV text file"
    elif kind == "xlsx":
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
        said = "is a ZIP archive (an Excel .xlsx workbook is one: save it as CSV UTF-8)"
    else:
        import gzip

        path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
        said = "is gzip-compressed (decompress it first)"
    with pytest.raises(SourceError, match=r"^" + str(path).replace(".", r"\.") + " " + said.replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.")):
        scan(path)
