"""The real POS Lite exports (../shared/datasets/poslite-campaigns): the figures of the closing note.

Skipped when the dataset folder is absent. The figures were measured on that file set; a change
to the cleaning rules that moves them should be a conscious one.
"""

from __future__ import annotations

import csv
import re

import pytest

from martops.campaigns import tables as T
from martops.ops.quarantine import QUARANTINE
from tests.campaigns.exports import rows, run_build


@pytest.fixture(scope="module")
def real(poslite_dataset, tmp_path_factory):
    from martops.engine import connect

    path = tmp_path_factory.mktemp("real") / "w.duckdb"
    wh = connect(path=path)
    run_id, results, log = run_build(wh, poslite_dataset)
    yield wh, run_id, results, log
    wh.close()


def test_rows_in_out_and_quarantined_per_file(real):
    wh, _, results, log = real
    acct = {e.file: e.example for e in log.entries if e.rule == "rows read = loaded + quarantined"}
    assert acct == {"channels": "120 = 120 + 0", "leads_funnel": "3,736 = 3,731 + 5", "web_orders": "4,961 = 4,914 + 47"}
    q = rows(wh, QUARANTINE)
    assert {r["raw_value"] for r in q if r["column_name"] != "campaign_id" and r["column_name"] != "date"} == \
        {"100000000", "10000", "514", "f"}
    assert wh.count(T.CHANNELS) == 60


def test_long_campaign_ids_survive_exactly(real, poslite_dataset):
    wh, *_ = real
    with open(poslite_dataset / "leads_funnel.csv", newline="") as fh:
        ids = {re.sub(r"\.0+$", "", r["CAMPAIGN_ID"]) for r in csv.DictReader(fh) if r["CAMPAIGN_ID"]}
    long_ids = {i for i in ids if len(i) >= 17}
    assert len(long_ids) >= 15 and any(len(i) == 20 for i in long_ids)
    staged = {r["campaign_id"] for r in rows(wh, T.LEADS)}
    assert long_ids <= staged


def test_reconciliation_orphans_monotonicity_and_spend(real):
    wh, run_id, _, log = real
    assert log.get("leads_funnel", "duplicate rows at the grain reconciled by MAX()") == 3086
    assert log.get("web_orders", "duplicate rows at the grain reconciled by MAX()") == 31
    assert log.get("leads_funnel", "campaign ids missing from channels.csv") == 34
    assert log.get("web_orders", "campaign ids missing from channels.csv") == 0
    assert log.get("leads_funnel", "campaign_id filled from campaign_name") == 10
    assert log.get("leads_funnel", "rows breaking the funnel order leads >= sqls >= meetings >= signed (kept; a warning)") == 2568
    from martops.checks.store import results_of_run

    checks = {r["check_name"]: r for r in results_of_run(wh, run_id) if r["status"] != "pass"}
    assert checks["monotonic_funnel(leads >= sqls >= meetings >= signed) [sales_assisted]"]["failing_count"] == 269
    assert all(r["status"] == "warn" for r in checks.values())
    spend = {r["funnel"]: r["s"] for r in wh.to_pyarrow(
        wh.table(T.DAILY).group_by("funnel").aggregate(s=lambda t: t.spend_eur.sum())).to_pylist()}
    assert spend["sales_assisted"] == pytest.approx(77461.0)
    assert spend["web"] == pytest.approx(1466290.45, abs=0.01)


def test_rebuilding_the_same_delivery_changes_nothing(real, poslite_dataset):
    wh, *_ = real
    before = {t: rows(wh, t, order) for t, order in [
        (T.SNAPSHOT, ["snapshot_key", "valid_from"]), (T.DAILY, ["date", "funnel", "campaign_id", "country_code"])]}
    n_quarantine = wh.count(QUARANTINE)
    _, results, _ = run_build(wh, poslite_dataset)
    assert results[1].details["new"] == 0 and results[1].details["changed"] == 0
    assert rows(wh, T.SNAPSHOT, ["snapshot_key", "valid_from"]) == before[T.SNAPSHOT]
    assert rows(wh, T.DAILY, ["date", "funnel", "campaign_id", "country_code"]) == before[T.DAILY]
    assert wh.count(QUARANTINE) == n_quarantine
