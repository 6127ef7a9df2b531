"""Attribution from a CSV folder written the way real exports are: offsets, 12-hour clocks, a date
column holding a datetime, non-finite revenue, flags that are not 0/1, headers in another case."""

from __future__ import annotations

import csv
import datetime as dt

from martops.attribution import tables as T
from martops.engine import connect
from martops.ops.quarantine import QUARANTINE

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
SESSIONS = ["SESSION_ID", "User_Id ", "event_date", "event_time", "channel_name",
            "holder_engagement", "closer_engagement", "impression_interaction"]
CONVERSIONS = ["conv_id", "user_id", "conv_date", "conv_time", "revenue"]


def _write(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def export_folder(folder, sessions, conversions, costs=(), *, config: str | None = None):
    folder.mkdir()
    _write(folder / "session_sources.csv", SESSIONS, sessions)
    _write(folder / "conversions.csv", CONVERSIONS, conversions)
    _write(folder / "session_costs.csv", ["session_id", "cost"], costs)
    return folder


SESSION_ROWS = [
    # u1: a session at 08:00 UTC, then one at 10:15Z, after the conversion at 11:45+02:00 (09:45 UTC)
    ("s1", "u1", "2023-09-01", "08:00:00", "Paid Search Brand", "1", "0", "0"),
    ("s2", "u1", "2023-09-01", "10:15:00Z", "Direct Traffic", "0", "1", "0"),
    # u2: a 12-hour clock
    ("s3", "u2", "2023-09-02", "9:10:00 PM", "Referral", "1", "1", "0"),
    # u3: date columns holding datetimes (a spreadsheet's midnight; the same instant as the time)
    ("s4", "u3", "2023-09-01 00:00:00", "10:00:00", "Newsletter", "1", "1", "0"),
    ("s5", "u3", "2023-09-06T08:03:10Z", "08:03:10", "Referral", "1", "1", "0"),
    ("s6", "u3", "2023-09-06T08:03:10Z", "09:00:00", "Referral", "1", "1", "0"),   # disagrees: quarantined
    # u4: 24:00:00 is the next day's midnight, and flags that are not exactly 0 or 1
    ("s7", "u4", "2023-09-03", "24:00:00", "Referral", "1", "0", "0"),
    ("s8", "u4", "2023-09-03", "10:00:00", "Referral", "0.5", "0", "0"),
    ("s9", "u4", "2023-09-03", "10:00:00", "Referral", "1", "0x1", "0"),
]
CONVERSION_ROWS = [
    ("c1", "u1", "2023-09-01", "11:45:00+02:00", "100"),
    ("c2", "u2", "2023-09-02", "10:00:00 PM", "$1,234.56"),
    ("c3", "u3", "2023-09-06", "09:00:00", "50"),
    ("c4", "u4", "2023-09-05", "10:00:00", "inf"),
    ("c5", "u4", "2023-09-05", "11:00:00", "1234,50"),
    ("c6", "u4", "2023-09-05", "12:00:00", "NaN"),
]


def _rows(wh, table, order):
    with connect(path=wh) as w:
        return w.to_pyarrow(w.table(table).order_by(order)).to_pylist()


def test_real_world_values_load_in_utc_and_bad_ones_are_quarantined_while_the_run_completes(capsys, tmp_path):
    folder = export_folder(tmp_path / "export", SESSION_ROWS, CONVERSION_ROWS)
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "run", "--db", folder, *RANGE, "--model", "last_touch", "--warehouse", wh,
                  "--export", tmp_path / "out.csv")
    assert res.code == 0, res.err
    sessions = {r["session_id"]: r for r in _rows(wh, T.SESSIONS, "session_id")}
    assert sessions["s2"]["session_ts"] == dt.datetime(2023, 9, 1, 10, 15)
    assert sessions["s3"]["session_ts"] == dt.datetime(2023, 9, 2, 21, 10)
    assert sessions["s4"]["session_ts"] == dt.datetime(2023, 9, 1, 10, 0)
    assert (sessions["s4"]["event_date"], sessions["s5"]["session_ts"]) == (dt.date(2023, 9, 1), dt.datetime(2023, 9, 6, 8, 3, 10))
    assert (sessions["s7"]["event_date"], sessions["s7"]["session_ts"]) == (dt.date(2023, 9, 4), dt.datetime(2023, 9, 4))
    conversions = {r["conv_id"]: r for r in _rows(wh, T.CONVERSIONS, "conv_id")}
    assert conversions["c1"]["conv_ts"] == dt.datetime(2023, 9, 1, 9, 45)
    assert conversions["c2"]["revenue"] == 1234.56
    assert set(conversions) == {"c1", "c2", "c3"}

    journeys = {}
    for r in _rows(wh, T.JOURNEYS, ["conv_id", "session_id"]):
        journeys.setdefault(r["conv_id"], []).append(r["session_id"])
    assert journeys["c1"] == ["s1"]  # s2 (10:15 UTC) is after the conversion (09:45 UTC)
    credits = {r["conv_id"]: r["session_id"] for r in _rows(wh, T.CUSTOMER_JOURNEY, "conv_id") if r["ihc"] == 1}
    assert credits["c1"] == "s1"

    q = {r["row_number"]: r for r in _rows(wh, QUARANTINE, ["table_name", "row_number"]) if r["table_name"] == "session_sources"}
    assert set(q) == {7, 9, 10}  # physical lines of s6, s8, s9
    assert q[7]["column_name"] == "event_date" and "'2023-09-06T08:03:10Z' is not a date" in q[7]["reason"]
    assert q[9]["reason"] == "holder_engagement '0.5' is not 0 or 1" and q[9]["raw_value"] == "0.5"
    assert q[10]["reason"] == "closer_engagement '0x1' is not 0 or 1"
    cq = {r["row_number"]: r for r in _rows(wh, QUARANTINE, ["table_name", "row_number"]) if r["table_name"] == "conversions"}
    assert cq[5]["reason"] == "revenue 'inf' is not a number"
    assert cq[6]["reason"] == ("revenue '1234,50' is not a number (it looks like a decimal comma; declare "
                               "sources.attribution.decimal: ',' in martops.yml)")
    assert cq[7]["reason"] == "revenue 'NaN' is not a number" and cq[7]["raw_value"] == "NaN"


def test_declared_settings_read_decimal_commas_null_markers_and_a_source_time_zone(capsys, tmp_path):
    folder = export_folder(tmp_path / "export", [("s1", "u1", "2023-09-01", "08:00:00", "Referral", "1", "0", "0")],
                           [("c1", "u1", "2023-09-01", "11:00:00", "1.234,50"), ("c2", "u1", "2023-09-02", "12:00:00", "n/a")])
    (tmp_path / "martops.yml").write_text(
        "sources:\n  attribution: {decimal: ',', null_values: [N/A], timezone: Europe/Paris}\n")
    wh = tmp_path / "wh.duckdb"
    res = run_cli(capsys, "attribution", "ingest", "--config", tmp_path / "martops.yml", "--db", folder, *RANGE,
                  "--warehouse", wh)
    assert res.code == 0, res.err
    conversions = {r["conv_id"]: r for r in _rows(wh, T.CONVERSIONS, "conv_id")}
    assert conversions["c1"]["revenue"] == 1234.5 and conversions["c1"]["conv_ts"] == dt.datetime(2023, 9, 1, 9, 0)
    q = _rows(wh, QUARANTINE, "row_number")
    assert [(r["row_number"], r["reason"]) for r in q] == [(3, "revenue is NULL or empty (required)")]
    assert _rows(wh, T.SESSIONS, "session_id")[0]["session_ts"] == dt.datetime(2023, 9, 1, 6, 0)


def test_a_bad_time_zone_setting_is_an_error_naming_the_key(capsys, tmp_path):
    (tmp_path / "martops.yml").write_text("sources:\n  attribution: {timezone: Mars/Olympus}\n")
    res = run_cli(capsys, "attribution", "ingest", "--config", tmp_path / "martops.yml", "--db", tmp_path, *RANGE)
    assert res.code != 0
    assert "sources.attribution.timezone" in res.err and "Mars/Olympus" in res.err
    assert "Traceback" not in res.err
