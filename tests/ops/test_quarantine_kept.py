"""A load that fails on its data (every row quarantined, so an error check fails; or more rows
quarantined than allowed) rolls back its staging, but keeps its quarantine rows and says why:
the error lists the most common reasons with counts. Every domain's load gets this."""

import json

from martops.attribution import tables as T
from martops.engine import connect

from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_SESSIONS, make_challenge_db

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
COSTS = [("s1", 2.0), ("s4", 1.5)]  # every cost row names a session: nothing else is quarantined


def _quarantine(wh_path):
    with connect(path=wh_path, create=False) as w:
        return w.to_pyarrow(w.table("ops.quarantine").order_by(["table_name", "row_number"])).to_pylist()


def _one_spacing(text):
    return " ".join(text.split())


def test_every_conversion_with_a_decimal_comma_keeps_its_quarantine_rows_and_says_why(tmp_path, capsys):
    wh = tmp_path / "wh.duckdb"
    good = make_challenge_db(tmp_path / "good.db", TINY_SESSIONS, TINY_CONVERSIONS, COSTS)
    assert run_cli(capsys, "attribution", "ingest", "--db", good, *RANGE, "-w", wh).code == 0
    comma = [(c, u, d, t, "1234,50") for c, u, d, t, _ in TINY_CONVERSIONS]
    bad = make_challenge_db(tmp_path / "comma.db", TINY_SESSIONS, comma, COSTS)

    res = run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "-w", wh)
    err = _one_spacing(res.err)
    assert res.code == 1 and "Traceback" not in res.err
    assert "row_count(>= 1" in err and "staging.conversions" in err  # the check that failed
    assert "5 source row(s) this step quarantined are kept in ops.quarantine" in err
    assert "5 x conversions.revenue: revenue '1234,50'" in err and "(first: row 1)" in err

    # the staging rows are the previous delivery's (the step rolled back) ...
    with connect(path=wh, create=False) as w:
        assert sorted(w.to_pyarrow(w.table(T.CONVERSIONS)).column("revenue").to_pylist()) == [20.0, 30.0, 40.0, 50.0, 100.0]
        runs = w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()
    assert [r["status"] for r in runs] == ["success", "failed"]
    assert "5 x conversions.revenue" in runs[-1]["error"]
    # ... and the quarantine rows that explain the failure are there, with the raw value
    rows = _quarantine(wh)
    assert [(r["table_name"], r["row_number"], r["row_key"], r["raw_value"]) for r in rows] == [
        ("conversions", i, f"c{i}", "1234,50") for i in range(1, 6)]
    assert json.loads(rows[0]["raw_row"])["revenue"] == "1234,50"
    shown = run_cli(capsys, "quarantine", "--table", "conversions", "-w", wh)
    assert shown.code == 0 and shown.out.count("1234,50") >= 5 and "nothing quarantined" not in shown.out

    # re-running keeps one copy; fixing the source and re-running clears them (idempotent)
    assert run_cli(capsys, "attribution", "ingest", "--db", bad, *RANGE, "-w", wh).code == 1
    assert len(_quarantine(wh)) == 5
    bad.unlink()
    fixed = make_challenge_db(bad, TINY_SESSIONS, TINY_CONVERSIONS, COSTS)  # the same file, corrected
    assert run_cli(capsys, "attribution", "ingest", "--db", fixed, *RANGE, "-w", wh).code == 0
    assert _quarantine(wh) == []


def test_too_many_quarantined_rows_keep_them_and_list_the_reasons(tmp_path, capsys):
    wh = tmp_path / "wh.duckdb"
    cfg = tmp_path / "martops.yml"
    cfg.write_text("quality:\n  max_quarantined_fraction: 0.2\n  fraction_applies_from_rows: 1\n")
    conversions = list(TINY_CONVERSIONS)
    conversions[1] = ("c2", "u1", "2023-09-04", "25:61:00", 50.0)
    conversions[3] = ("c4", "u3", "2023-09-03", "18:00:00", "abc")
    db = make_challenge_db(tmp_path / "dirty.db", TINY_SESSIONS, conversions, COSTS)

    res = run_cli(capsys, "attribution", "ingest", "--db", db, *RANGE, "-w", wh, "--config", cfg)
    err = _one_spacing(res.err)
    assert res.code == 1 and "Traceback" not in res.err
    assert "2 of 5 conversions rows (40.0%) could not be loaded, more than quality.max_quarantined_fraction (20.0%)" in err
    assert "2 source row(s) this step quarantined are kept" in err
    assert "1 x conversions.conv_time: conv_time '25:61:00'" in err and "(first: row 2)" in err
    assert "1 x conversions.revenue: revenue 'abc'" in err and "(first: row 4)" in err
    assert {(r["row_key"], r["column_name"]) for r in _quarantine(wh)} == {("c2", "conv_time"), ("c4", "revenue")}
    with connect(path=wh, create=False) as w:
        assert not w.exists(T.CONVERSIONS) or w.count(T.CONVERSIONS) == 0  # nothing loaded


def test_a_crm_delivery_whose_every_customer_is_quarantined_keeps_them(tmp_path, capsys):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "customers.csv").write_text("Customer_ID,Name,Email,Phone,Country\n"
                                          ",Ann Lee,a@example.com,,France\n,Bob Ray,b@example.com,,Germany\n")
    wh = tmp_path / "crm-warehouse.duckdb"
    res = run_cli(capsys, "crm", "build", "--source", folder, "-w", wh)
    err = _one_spacing(res.err)
    assert res.code == 1 and "staging.crm_customers" in err
    assert "2 x crm_customers.customer_id: customers.csv line 2, column Customer_ID:" in err
    assert "(first: row 2)" in err
    assert [(r["table_name"], r["row_number"]) for r in _quarantine(wh)] == [("crm_customers", 2), ("crm_customers", 3)]


def test_a_campaign_delivery_whose_every_row_is_quarantined_keeps_them(tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "channels.csv").write_text(
        "CAMPAIGN_ID,CAMPAIGN_NAME,CAMPAIGN_PERIOD_BUDGET_CATEGORY,CHANNEL_3,CHANNEL_4,CHANNEL_5\n"
        "1.2E+17,fb_a,alwayson,fb,fb prospecting,fb prospecting landing\n"
        "3.4E+17,fb_b,alwayson,fb,fb prospecting,fb prospecting landing\n")
    (folder / "web_orders.csv").write_text(
        "DATE,COUNTRY_CODE,CAMPAIGN_ID,TOTAL_SPEND_EUR,NB_OF_SESSIONS,NB_OF_SIGNUPS,NB_OF_ORDERS,"
        "NB_OF_POSLITE_ITEMS_ORDERED,NB_POSLITE_ITEMS_DISPATCHED\n"
        "2022-01-02,DE,120000000000000001,10.5,4,1,0,0,0\n")
    wh = tmp_path / "kpis.duckdb"
    res = run_cli(capsys, "kpis", "build", "--source", folder, "-w", wh)
    err = _one_spacing(res.err)
    assert res.code == 1 and "staging.campaign_channels" in err
    assert "2 x channels.campaign_id: campaign_id '1.2E+17'" in err
    assert {r["raw_value"] for r in _quarantine(wh)} == {"1.2E+17", "3.4E+17"}


def test_reasons_that_differ_only_by_a_sqlite_rowid_and_value_are_one_line(tmp_path, capsys):
    """Was `1 x ... rowid 401 ...` five times over: the SQLite reader's `rowid N` now groups like `row N`."""
    from tests.usage.handmade import EVENTS, write_db

    events = [*EVENTS, *[(90 + i, "login", "2024-03-02 09:00:00") for i in range(8)]]  # 8 unknown people
    db = write_db(tmp_path / "usage.db", events=events)
    cfg = tmp_path / "martops.yml"
    cfg.write_text("quality:\n  max_quarantined_fraction: 0.1\n  fraction_applies_from_rows: 1\n")
    res = run_cli(capsys, "usage", "build", "--source", db, "--warehouse", tmp_path / "w.duckdb", "--config", cfg)
    err = _one_spacing(res.err)
    assert res.code == 1 and "Traceback" not in res.err
    assert "9 x usage_events.user_id: table events rowid 29, column user_id: user_id '99' is not the id of a person" \
        in err, err
