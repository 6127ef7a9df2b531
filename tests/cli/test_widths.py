"""The main tables at 80 and 120 columns: no line too wide, no squeezed (zero-width) column, every
shown header and every label (the first column) whole, and a note naming the columns left out."""

import duckdb
import pytest

from martops.cli import render
from tests.crm.folders import write_folder

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


@pytest.fixture
def warehouses(capsys, tmp_path, two_models):
    kpis, crm = tmp_path / "kpis.duckdb", tmp_path / "crm-warehouse.duckdb"
    exports = tmp_path / "exports"
    assert run_cli(capsys, "kpis", "generate", "--out", exports, "--campaigns", "4", "--days", "14").code == 0
    assert run_cli(capsys, "kpis", "build", "--source", exports, "-w", kpis).code == 0
    assert run_cli(capsys, "crm", "build", "--source", write_folder(tmp_path / "d"), "-w", crm).code == 0
    assert run_cli(capsys, "check", "-w", two_models).code == 0
    return {"attribution": two_models, "kpis": kpis, "crm": crm}


def _labels(wh, sql):
    with duckdb.connect(str(wh), read_only=True) as con:
        return {str(r[0]) for r in con.execute(sql).fetchall()}


CASES = [
    (["runs", "-n", "50"], "attribution", "SELECT step FROM ops.runs"),
    (["status"], "attribution", "SELECT 'staging.sessions' UNION SELECT 'staging.conversions'"),
    (["quarantine"], "attribution", "SELECT table_name FROM ops.quarantine"),
    (["tables"], "attribution", "SELECT schema_name FROM duckdb_tables() WHERE database_name = current_database()"),
    (["attribution", "show", *RANGE, "-m", "ihc", "-m", "last_touch"], "attribution",
     "SELECT DISTINCT channel_name FROM marts.channel_reporting WHERE date BETWEEN '2023-09-01' AND '2023-09-07'"),
    (["kpis", "show", "--by", "channel_3"], "kpis", "SELECT DISTINCT coalesce(channel_3, '(none)') FROM marts.campaign_kpis_daily "
                                                    "UNION SELECT 'TOTAL'"),
    (["kpis", "show", "--by", "campaign"], "kpis", "SELECT DISTINCT coalesce(campaign_name, '(none)') FROM marts.campaign_kpis_daily"),
    (["crm", "show", "customers"], "crm", "SELECT golden_id FROM marts.crm_customer_value"),
    (["crm", "show", "sales"], "crm", "SELECT name FROM crm.sales_team"),
    (["crm", "cleaning"], "crm", "SELECT DISTINCT file FROM ops.cleaning_log"),
]


@pytest.mark.parametrize("width", [80, 120])
def test_the_main_tables_fit_and_keep_their_labels(capsys, monkeypatch, warehouses, width):
    monkeypatch.setattr(render.console, "width", width)
    for args, domain, label_sql in CASES:
        res = run_cli(capsys, *args, "-w", warehouses[domain])
        assert res.code == 0, (args, res.err)
        lines = res.out.splitlines()
        assert all(len(line.rstrip()) <= width for line in lines), (args, width)
        table = [line for line in lines if line[:1] in "┏┃┡│├└"]
        assert table, args
        for border in ("┳┳", "╇╇", "┃┃", "││", "┴┴"):  # a zero-width column shows as two borders together
            assert not any(border in line for line in table), (args, width, border)
        header = [line for line in table if line.startswith("┃")]
        columns = [" ".join(c.strip() for c in cells if c.strip())
                   for cells in zip(*[line.strip("┃").split("┃") for line in header])]
        assert all(columns) and not any("…" in c for c in columns), (args, columns)
        # a long label folds over lines: its pieces, read in order, give it whole
        firsts = "|".join(line.split("│")[1].strip() for line in table if line.startswith("│"))
        pieces = firsts.replace("|", "")
        expected = _labels(warehouses[domain], label_sql)
        assert expected and all(label in firsts.split("|") or label in pieces for label in expected), (args, width)
        if width == 80 and args[:2] in (["runs", "-n"], ["attribution", "show"], ["kpis", "show"]):
            assert "left out at this width: " in res.out  # what did not fit is named


@pytest.mark.parametrize("width", [80, 120])
def test_steps_keeps_every_table_name_whole(capsys, monkeypatch, width):
    """`martops steps` at 80 and 120 columns: no name broken across lines; what did not fit is named."""
    from martops import domains

    monkeypatch.setattr(render.console, "width", width)
    res = run_cli(capsys, "steps")
    assert res.code == 0, res.err
    assert all(len(line.rstrip()) <= width for line in res.out.splitlines())
    cells = {c.strip() for line in res.out.splitlines() for c in line.split("│")}
    graph = domains.graph()
    assert set(graph.names) <= cells
    writes = {o for n in graph.names for o in graph.step(n).outputs}
    assert writes <= cells  # every output whole on one line (the writes column comes first)
    if width == 80:
        assert "left out at this width: " in res.out
