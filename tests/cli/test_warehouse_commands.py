"""`martops tables`, `sql` and `show` on a real warehouse."""

import csv
import io

import duckdb
import pytest

from ..cli_runner import run_cli


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_tables_lists_every_table_with_its_rows_and_columns(capsys, two_models):
    res = run_cli(capsys, "tables", "-w", two_models)
    assert res.code == 0, res.err
    with duckdb.connect(str(two_models), read_only=True) as con:
        expected = con.execute("SELECT schema_name, table_name, column_count FROM duckdb_tables() "
                               "WHERE database_name = current_database()").fetchall()
        counts = {(s, t): con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t, _ in expected}
    rows = {tuple(cell.strip() for cell in line.split("│")[1:-1]) for line in res.out.splitlines() if "│" in line}
    for s, t, ncol in expected:
        assert (s, t, "table", f"{counts[s, t]:,}", str(ncol)) in rows
    assert ("attribution", "non_converting_sessions", "view", "", "11") in rows
    assert f"{len(expected)} table(s), 1 view(s)" in res.out


def test_sql_prints_a_query_as_csv_and_a_table(capsys, two_models):
    query = "SELECT model, round(sum(ihc), 6) AS credit FROM marts.attribution_customer_journey GROUP BY 1 ORDER BY 1"
    res = run_cli(capsys, "sql", query, "--format", "csv", "-w", two_models)
    assert res.code == 0 and res.out == "model,credit\nihc,3.0\nlast_touch,3.0\n"  # three attributed conversions
    res = run_cli(capsys, "sql", "SELECT range AS i FROM range(5)", "--limit", "2", "-w", two_models)
    assert res.code == 0 and "only the first 2 rows" in res.out
    assert [line.split("│")[1].strip() for line in res.out.splitlines() if "│" in line] == ["0", "1"]
    assert any(line.split("┃")[1].strip() == "i" for line in res.out.splitlines() if "┃" in line)


@pytest.mark.parametrize("statement,says", [
    ("CREATE TABLE marts.x (a INT)", "martops sql only reads: the warehouse is opened read-only"),
    ("DELETE FROM ops.runs", "martops sql only reads: the warehouse is opened read-only"),
    ("COPY (SELECT 1) TO 'leak.csv'", "martops sql only reads the warehouse: files and other databases"),
    ("ATTACH 'other.duckdb' AS o", "martops sql only reads the warehouse: files and other databases"),
    ("SELEC 1", "error: sql: Parser Error: syntax error at or near \"SELEC\""),
    ("SELECT * FROM nosuch", "error: sql: Catalog Error: Table with name nosuch does not exist"),
])
def test_sql_refuses_writes_and_errors_are_one_line(capsys, two_models, tmp_path, monkeypatch, statement, says):
    monkeypatch.chdir(tmp_path)
    before = two_models.read_bytes()
    res = run_cli(capsys, "sql", statement, "-w", two_models)
    assert res.code == 1 and len(_lines(res.err)) == 1 and says in res.err, res.err
    assert two_models.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.db", "wh.duckdb"]


def test_show_prints_the_first_rows_and_csv_every_column(capsys, two_models):
    res = run_cli(capsys, "show", "marts.channel_reporting", "--limit", "0", "--format", "csv", "-w", two_models)
    assert res.code == 0
    rows = list(csv.DictReader(io.StringIO(res.out)))
    with duckdb.connect(str(two_models), read_only=True) as con:
        assert len(rows) == con.execute("SELECT count(*) FROM marts.channel_reporting").fetchone()[0]
    assert list(rows[0]) == ["model", "channel_name", "date", "cost", "ihc", "ihc_revenue", "unknown_cost_sessions"]
    res = run_cli(capsys, "show", "runs", "--limit", "2", "-w", two_models)  # a bare name one schema has
    assert res.code == 0 and res.out.startswith("ops.runs: ") and ", the first 2" in res.out


def test_show_an_unknown_table_lists_close_matches(capsys, two_models):
    res = run_cli(capsys, "show", "channel_reportin", "-w", two_models)
    assert res.code == 1 and _lines(res.err) == [
        f"error: no table 'channel_reportin' in the warehouse {two_models}; close matches: marts.channel_reporting"]
    res = run_cli(capsys, "show", "zzz", "-w", two_models)
    assert res.code == 1 and "(see `martops tables`)" in res.err
