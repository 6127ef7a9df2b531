"""`martops crm show` / `crm export` end to end: build a small folder, then read every mart back."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.cli_runner import run_cli
from tests.crm.folders import write_folder


@pytest.fixture
def built(tmp_path, capsys):
    folder = write_folder(tmp_path / "d", sales_team=[("r1", "Rita Rep", "Ohio", "1000", "500.0"),
                                                      ("r2", "Sam Rep", "Iowa", "1000", "1100"),
                                                      ("r3", "Tom Rep", "Iowa", "1000", "")],
                          interactions=[("i1", "c1", "2024-05-01", "Phone", "True"),
                                        ("i2", "c2", "2024-05-02", "Phone", "False"),
                                        ("i3", "c2", "2024-05-02", "Chat", "")])
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh)
    assert res.code == 0, res.out + res.err
    assert "marts" in res.out and "customers=2" in res.out
    return wh


def test_show_every_mart_with_its_headline(built, capsys, tmp_path):
    cases = {
        ("customers",): ["top 10% of buyers by spend bring 70.2% of revenue", "333.50", "deduplicated through"],
        ("customers", "--by", "segment"): ["Lost", "customers by segment"],
        ("customers", "--by", "tier"): ["Top 10%", "Middle 30%"],
        ("products",): ["prices do not vary (one list price per product): no price-sensitivity estimate",
                        "top 5 by revenue: Sofa Set (1), Laptop (2)"],
        ("products", "--by", "category"): ["Electronics"],
        ("support",): ["overall resolution rate 50.0% (1 resolved of 2 with a known outcome; 1 blank", "phone"],
        ("support", "--by", "month"): ["2024-05"],
        ("sales",): ["reps over: 1 (33.3%), on track: 0", "under: 1 (33.3%), unknown: 1 (33.3%)", "Sam Rep"],
        ("sales", "--by", "region"): ["Iowa", "110.0%"],
        ("sales", "--by", "band"): ["100-120%", "50-80%"],
    }
    for args, texts in cases.items():
        res = run_cli(capsys, "crm", "show", *args, "--warehouse", built)
        assert res.code == 0, (args, res.out, res.err)
        for text in texts:
            assert text in res.out, (args, text, res.out)
    out = tmp_path / "seg.csv"
    res = run_cli(capsys, "crm", "show", "customers", "--by", "tier", "--limit", "1", "--export", out,
                  "--warehouse", built)
    assert res.code == 0 and "first 1 of 2" in res.out and "wrote 2 rows" in res.out
    assert pacsv.read_csv(out).column_names[0] == "tier"


def test_export_whole_marts(built, capsys, tmp_path):
    for mart, n in (("customers", 2), ("products", 2), ("support", 6), ("sales", 3)):
        out = tmp_path / f"{mart}.parquet"
        res = run_cli(capsys, "crm", "export", mart, "--out", out, "--warehouse", built)
        assert res.code == 0 and f"wrote {n} rows" in res.out, (mart, res.out, res.err)
        assert pq.read_table(out).num_rows == n
    csv = tmp_path / "c.csv"
    assert run_cli(capsys, "crm", "export", "customers", "--out", csv, "--warehouse", built).code == 0
    assert "rfm_segment" in pacsv.read_csv(csv).column_names


def test_bad_choices_and_missing_marts_say_what_to_do(built, capsys, tmp_path):
    res = run_cli(capsys, "crm", "show", "sales", "--by", "channel", "--warehouse", built)
    assert res.code == 1 and "choose one of rep, region, band, performer" in res.err
    res = run_cli(capsys, "crm", "show", "leads", "--warehouse", built)
    assert res.code == 1 and "not a CRM mart" in res.err
    res = run_cli(capsys, "crm", "show", "customers", "--warehouse", tmp_path / "empty.duckdb")
    assert res.code == 1 and "build it first: martops crm build" in res.err and "Traceback" not in res.err
