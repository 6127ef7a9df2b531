"""Files the commands write: an existing file needs --force; CSV exports have no TOTAL row and round
money to cents and other fractions to 6 decimals."""

import csv
import re

import duckdb
import pytest

from tests.crm.folders import write_folder

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
SENTINEL = "an analyst's file\n"


def _refused_then_forced(capsys, tmp_path, flag, target, args):
    """`args` write `target` (named by `flag`): refused while it exists, written with --force."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SENTINEL)
    res = run_cli(capsys, *args)
    assert res.code == 1, res.out + res.err
    assert res.err.strip() == f"error: {flag} {target} already exists; pass --force to overwrite it"
    assert target.read_text() == SENTINEL
    res = run_cli(capsys, *args, "--force")
    assert res.code == 0, res.err
    assert target.read_bytes() != SENTINEL.encode()


def test_attribution_outputs_need_force(capsys, tmp_path, tiny_db, two_models):
    out = tmp_path / "o"
    _refused_then_forced(capsys, tmp_path, "--out", out / "c.db",
                         ["attribution", "generate", "--out", out / "c.db", "--conversions", "3"])
    for args in (["attribution", "export", *RANGE, "--export", out / "e.csv", "-w", two_models],
                 ["attribution", "show", *RANGE, "--export", out / "s.csv", "-w", two_models],
                 ["attribution", "run", "--db", tiny_db, *RANGE, "--export", out / "r.csv", "-w", two_models]):
        target = args[args.index("--export") + 1]
        _refused_then_forced(capsys, tmp_path, "--export", target, args)


def test_attribution_from_journeys_needs_force(capsys, tmp_path):
    from tests.conftest import DATASETS

    dataset = DATASETS / "ihc-challenge"
    if not (dataset / "journeys.json").exists():
        pytest.skip("the shared ihc-challenge dataset is not here")
    target = tmp_path / "real.db"
    _refused_then_forced(capsys, tmp_path, "--out", target,
                         ["attribution", "from-journeys", "--dataset", dataset, "--out", target])


@pytest.fixture
def kpis_wh(capsys, tmp_path):
    exports, wh = tmp_path / "exports", tmp_path / "kpis.duckdb"
    assert run_cli(capsys, "kpis", "generate", "--out", exports, "--campaigns", "4", "--days", "14").code == 0
    assert run_cli(capsys, "kpis", "build", "--source", exports, "-w", wh).code == 0
    return wh


def test_kpis_outputs_need_force(capsys, tmp_path, kpis_wh):
    _refused_then_forced(capsys, tmp_path, "--out", tmp_path / "g" / "leads_funnel.csv",
                         ["kpis", "generate", "--out", tmp_path / "g", "--campaigns", "4", "--days", "14"])
    _refused_then_forced(capsys, tmp_path, "--export", tmp_path / "show.csv",
                         ["kpis", "show", "--export", tmp_path / "show.csv", "-w", kpis_wh])
    _refused_then_forced(capsys, tmp_path, "--out", tmp_path / "daily.csv",
                         ["kpis", "export", "--out", tmp_path / "daily.csv", "-w", kpis_wh])


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if re.fullmatch(r"-?\d+\.\d+", text) else 0


MONEY = {"spend_eur", "lead_spend_eur", "spend_eur_28d", "cac", "cpl", "cac_28d", "cpl_28d"}


def test_kpis_csvs_have_no_total_row_and_round_money_to_cents(capsys, tmp_path, kpis_wh):
    show, daily = tmp_path / "show.csv", tmp_path / "daily.csv"
    res = run_cli(capsys, "kpis", "show", "--by", "channel_3", "--export", show, "-w", kpis_wh)
    assert res.code == 0 and "TOTAL" in res.out  # the terminal keeps its total
    rows = list(csv.DictReader(show.open()))
    assert rows and all(r["channel_3"] != "TOTAL" for r in rows)
    assert run_cli(capsys, "kpis", "export", "--out", daily, "-w", kpis_wh).code == 0
    exported = list(csv.DictReader(daily.open()))
    with duckdb.connect(str(kpis_wh), read_only=True) as con:
        assert len(exported) == con.execute("SELECT count(*) FROM marts.campaign_kpis_daily").fetchone()[0]
        full = con.execute("SELECT max(spend_eur) FROM marts.campaign_kpis_daily").fetchone()[0]
    assert f"{full:.2f}".rstrip("0").rstrip(".") in {r["spend_eur"] for r in exported}
    for r in rows + exported:
        for column, value in r.items():
            assert _decimals(value) <= (2 if column in MONEY else 6), (column, value)
    assert any(_decimals(r["ctr"]) > 2 for r in exported)  # ratios keep 6 decimals, not cents


@pytest.fixture
def crm_wh(capsys, tmp_path):
    wh = tmp_path / "crm-warehouse.duckdb"
    assert run_cli(capsys, "crm", "build", "--source", write_folder(tmp_path / "d"), "-w", wh).code == 0
    return wh


def test_crm_outputs_need_force(capsys, tmp_path, crm_wh):
    _refused_then_forced(capsys, tmp_path, "--export", tmp_path / "c.csv",
                         ["crm", "show", "customers", "--export", tmp_path / "c.csv", "-w", crm_wh])
    _refused_then_forced(capsys, tmp_path, "--out", tmp_path / "e.csv",
                         ["crm", "export", "customers", "--out", tmp_path / "e.csv", "-w", crm_wh])
    people = tmp_path / "people.csv"
    _refused_then_forced(capsys, tmp_path, "--out", people, ["crm", "generate-people", "--out", people,
                                                              "--records", "300"])
    dedupe = ["crm", "dedupe", "--input", people, "--id", "record_id", "--compare", "first_name=name",
              "--compare", "surname=name", "--compare", "dob=date", "--out", tmp_path / "clusters.csv"]
    _refused_then_forced(capsys, tmp_path, "--out", tmp_path / "clusters.csv", dedupe)
    (tmp_path / "clusters.csv").unlink()
    _refused_then_forced(capsys, tmp_path, "--pairs", tmp_path / "clusters_pairs.csv", dedupe)


def test_crm_csv_rounds_money_to_cents(capsys, tmp_path, crm_wh):
    out = tmp_path / "products.csv"
    assert run_cli(capsys, "crm", "export", "products", "--out", out, "-w", crm_wh).code == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and all(_decimals(r["revenue"]) <= 2 for r in rows)
    assert all(_decimals(v) <= 6 for r in rows for v in r.values())


def test_attribution_export_rounds_money_to_cents(capsys, tmp_path, two_models):
    out = tmp_path / "e.csv"
    assert run_cli(capsys, "attribution", "export", *RANGE, "--export", out, "-w", two_models).code == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and not any(r["channel_name"] == "TOTAL" for r in rows)
    for r in rows:
        assert all(_decimals(r[c]) <= 2 for c in ("cost", "ihc_revenue", "CPO"))
        assert all(_decimals(r[c]) <= 6 for c in ("ihc", "ROAS"))
    assert any(_decimals(r["ihc"]) > 2 for r in rows)  # the credit is not cut to cents
