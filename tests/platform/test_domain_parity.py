"""Every domain gives the same tables on DuckDB as on PostgreSQL and on Spark, from the same inputs:
generated exports with planted dirt and two deliveries (the SCD2 snapshot's history), and the real
datasets where ../shared/datasets holds them.

Campaigns, CRM and loyalty are compared on both (`other` = postgres, marker postgres, or spark,
marker spark); attribution on PostgreSQL in test_postgres_warehouse.py and on Spark here (the same
body, `attribution_parity`); usage on PostgreSQL in tests/usage/test_parity.py. On Spark only, so
far: usage (hand-made, month grain, generated, real), leads train and score, `ingest fx` with the
KPI mart converting at its rates, and the IHC API model (a local server speaking its contract).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from martops.engine import connect
from tests.cli_runner import run_cli_unfixtured
from tests.conftest import DATASETS
from tests.crm.folders import write_folder

from ..parity import VOLATILE, assert_same, relations

ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(params=ENGINES)
def other(request) -> str:
    """The warehouse compared with DuckDB: a fresh PostgreSQL database, or a fresh Spark warehouse."""
    return request.getfixturevalue("pg_dsn" if request.param == "postgres" else "spark_location")

# Besides VOLATILE (run ids and load/check/log times): the check's SQL is written in each engine's
# dialect; a freshness check observes the data's age at check time; a snapshot version's
# valid_from/valid_to are the load times of its deliveries.
IGNORE = VOLATILE | {"ops.check_results.query", "ops.check_results.observed", "valid_from", "valid_to"}


def _ok(*args) -> None:
    res = run_cli_unfixtured(*args)
    assert res.code == 0, (args, res.out[-2000:], res.err)


def _build_both(monkeypatch, folder: Path, other: str, *commands: tuple[str, ...]) -> str:
    duck = str(folder / "warehouse.duckdb")
    monkeypatch.chdir(folder)  # the same relative paths in both runs' ops.runs.params
    for location in (duck, other):
        for command in commands:
            _ok(*command, "--warehouse", location)
    return duck


def _same(duck: str, other: str, *must_hold: str, duckdb_only: str | None = None,
          ignore: frozenset[str] = IGNORE) -> None:
    """`duckdb_only`: a schema only the DuckDB warehouse holds, by design (dlt's raw FX answers stay
    in the loader's in-memory DuckDB on the other engines, see martops.ingest.fx_load)."""
    with connect(path=duck, read_only=True) as a, connect(path=other, read_only=True) as b:
        if duckdb_only is None:
            assert_same(a, b, ignore=ignore)
        else:
            ours = {t for t in relations(a) if not t.startswith(f"{duckdb_only}.")}
            assert ours == relations(b) and len(ours) < len(relations(a))
            assert_same(a, b, ignore=ignore, tables=sorted(ours))
        for table in must_hold:  # what was compared is not empty
            assert a.count(table) > 0, table


def redelivery(d1: Path, d2: Path, *, every: int, more: float) -> None:
    """A re-delivery of the exports in `d1` as `d2`: the platform revised the web spend of every
    `every`-th row by `more` (the snapshot closes those versions and adds new ones)."""
    shutil.copytree(d1, d2)
    web = d2 / "web_orders.csv"
    lines = web.read_text().splitlines(keepends=True)
    for i in range(1, len(lines), every):
        cells = lines[i].split(",")
        if len(cells) > 3 and cells[3].replace(".", "", 1).isdigit():
            cells[3] = f"{float(cells[3]) + more:.4f}"
            lines[i] = ",".join(cells)
    web.write_text("".join(lines))


def test_campaigns_generated_two_deliveries(monkeypatch, tmp_path, other):
    _ok("kpis", "generate", "--out", tmp_path / "d1", "--campaigns", "10", "--days", "40", "--seed", "3")
    redelivery(tmp_path / "d1", tmp_path / "d2", every=7, more=1.5)
    duck = _build_both(monkeypatch, tmp_path, other, ("kpis", "build", "--source", "d1"),
                       ("kpis", "build", "--source", "d2"))
    _same(duck, other, "snapshots.campaign_daily", "marts.campaign_kpis_daily", "marts.campaign_kpis_monthly",
          "ops.quarantine")
    with connect(path=other, read_only=True) as b:
        assert b.execute("SELECT count(*) FROM snapshots.campaign_daily WHERE valid_to IS NOT NULL")[0][0] > 0


def test_campaigns_real_exports(monkeypatch, tmp_path, other):
    real = DATASETS / "poslite-campaigns"
    if not real.exists():
        pytest.skip(f"real dataset folder {real} is absent (it lives in ../shared/datasets)")
    duck = _build_both(monkeypatch, tmp_path, other, ("kpis", "build", "--source", str(real)))
    _same(duck, other, "marts.campaign_kpis_daily", "ops.quarantine")


def test_crm_hand_folder_with_duplicates_and_dirt(monkeypatch, tmp_path, other):
    write_folder(tmp_path / "extract", customers=[
        ("c1", "Ann Lee", "ann@example.com", "", "United States"),
        ("c1", "Ann Lee", "ann@example.com", "(276)903-7065", "United States"),
        ("c2", "Bob Stone", "bob@example.org", "917.965.7512", "France"),
        ("c3", "Robert Stone", "BOB@example.org", "917.965.7512", "france"),
        ("c4", "Łukasz 🚀", "", "+48 600 700 800", "Polska"),
    ], transactions=[("t1", "c1", "1", "2024-04-01", "", "r1"), ("t2", "ghost", "1", "2024-04-01", "-3", "r1"),
                     ("t3", "c2", "1", "2024-04-02", "5", "r1")])
    duck = _build_both(monkeypatch, tmp_path, other, ("crm", "build", "--source", "extract"))
    _same(duck, other, "crm.customers", "crm.customer_golden", "crm.customer_golden_values", "ops.cleaning_log")


def test_crm_real_extract(monkeypatch, tmp_path, other):
    real = DATASETS / "crm"
    if not real.exists():
        pytest.skip(f"real dataset folder {real} is absent (it lives in ../shared/datasets)")
    duck = _build_both(monkeypatch, tmp_path, other, ("crm", "build", "--source", str(real)))
    _same(duck, other, "crm.customers", "crm.transactions", "crm.customer_golden")


def test_loyalty_hand_folder_and_real_files(monkeypatch, tmp_path, other):
    from tests.loyalty.test_build import CUSTOMERS, TRANSACTIONS
    from tests.loyalty.folders import write_folder as write_loyalty

    write_loyalty(tmp_path / "hand", CUSTOMERS, TRANSACTIONS)
    commands = [("loyalty", "build", "--source", "hand", "--as-of", "2012-12-31")]
    real = DATASETS / "loyalty"
    if real.exists():  # the real files after the hand folder: the same warehouse refreshed
        commands.append(("loyalty", "build", "--source", str(real)))
    duck = _build_both(monkeypatch, tmp_path, other, *commands)
    # (the real files replace the hand folder's quarantine rows: a delivery is a full extract)
    _same(duck, other, "loyalty.customers", "loyalty.purchases_monthly", "loyalty.behaviour_dropoff",
          "loyalty.programme_test", "loyalty.programme_summary", "ops.check_results")


@pytest.mark.spark
def test_attribution_dirty_challenge_on_spark(monkeypatch, tmp_path, spark_location):
    from .test_postgres_warehouse import MODELS, attribution_parity

    (tmp_path / "project").mkdir()
    attribution_parity(monkeypatch, tmp_path / "project", spark_location, [*MODELS, "markov", "shapley"])


def _on_spark(monkeypatch, folder: Path, *commands: tuple[str, ...]) -> tuple[str, str]:
    """`_build_both` with a DuckDB file and a Spark warehouse of their own in `folder`: several
    builds of one test (one Spark session), each compared on its own. (DuckDB's, Spark's location)"""
    folder.mkdir(parents=True, exist_ok=True)
    spark = f"spark:{folder / 'spark-warehouse'}"
    return _build_both(monkeypatch, folder, spark, *commands), spark


@pytest.mark.spark
def test_usage_hand_made_month_grain_generated_and_real_on_spark(monkeypatch, tmp_path, spark_session):
    from tests.usage.handmade import PROJECT, write_csv_folder, write_db
    from tests.usage.test_real import MAPPING

    hand = tmp_path / "hand"
    hand.mkdir()
    write_db(hand / "data.db")
    (hand / "martops.yml").write_text(PROJECT)
    # a build as of an earlier day, then the rebuild that replaces it
    duck, spark = _on_spark(monkeypatch, hand, ("usage", "build", "--source", "data.db", "--as-of", "2024-03-24"),
                            ("usage", "build", "--source", "data.db"))
    _same(duck, spark, "marts.usage_customers", "marts.usage_companies", "marts.usage_retention", "ops.quarantine")

    monthly = tmp_path / "monthly"
    write_csv_folder(monthly / "csv", {
        "registrations": ["id;registration_month;region", "a;1.0;EMEA", "b;1.0;ROW", "c;2.0;ROW", "d;3;ROW"],
        "activity": ["id;activity_month", "a;1.0", "a;2.0", "a;3.0", "b;1.0", "c;2.0", "c;3.0", "d;3.0", "a;3.0",
                     "e;2.0", "c;2.5"]})
    (monthly / "martops.yml").write_text(MAPPING + "usage: {trend_months: 1}\n")
    duck, spark = _on_spark(monkeypatch, monthly, ("usage", "build", "--source", "csv"))
    _same(duck, spark, "marts.usage_customers", "marts.usage_retention", "ops.quarantine")

    generated = tmp_path / "generated"
    generated.mkdir()
    _ok("usage", "generate", "--out", generated / "data.db", "--users", "300", "--seed", "2")
    duck, spark = _on_spark(monkeypatch, generated, ("usage", "build", "--source", "data.db"))
    _same(duck, spark, "marts.usage_customers", "marts.usage_companies", "marts.usage_retention")

    real = DATASETS / "product-usage"
    if real.is_dir():
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "martops.yml").write_text(MAPPING)
        duck, spark = _on_spark(monkeypatch, tmp_path / "real", ("usage", "build", "--source", str(real)))
        _same(duck, spark, "marts.usage_customers", "marts.usage_retention")


@pytest.mark.spark
def test_leads_train_and_score_on_spark(monkeypatch, tmp_path, spark_session):
    from tests.leads import data

    tmp_path.joinpath("martops.yml").write_text(data.CONFIG)
    data.write(tmp_path / "leads.csv", data.rows(400))
    duck, spark = _on_spark(monkeypatch, tmp_path,
                           ("leads", "train", "--input", "leads.csv", "--as-of", "2024-06-30"),
                           ("leads", "score", "--input", "leads.csv", "--as-of", "2024-06-30"))
    _same(duck, spark, "marts.lead_scores", "leads.model_metrics")
    # each warehouse keeps its own models (Warehouse.files_folder): scoring one never reads the other's
    assert (tmp_path / "warehouse.lead-models" / "v1" / "model.joblib").is_file()
    assert (tmp_path / "spark-warehouse" / "lead-models" / "v1" / "model.joblib").is_file()


@pytest.mark.spark
def test_fx_ingest_and_the_kpis_it_converts_on_spark(monkeypatch, tmp_path, spark_session):
    from tests.campaigns.exports import channel, lead, write_exports
    from tests.ingest.conftest import write_project
    from tests.ingest.server import TestServer

    leads = [lead("2022-01-05", currency="GBP", country="GB", spend="100"),
             lead("2022-01-08", currency="GBP", country="GB", spend="100"),   # a Saturday: Friday's rate
             lead("2021-12-20", currency="GBP", country="GB", spend="100"),   # before the table: configured
             lead("2022-03-10", currency="GBP", country="GB", spend="100"),   # no rate: quarantined
             lead("2022-01-05", spend="50")]
    write_exports(tmp_path / "exports", [channel()], leads)
    with TestServer() as server:
        write_project(tmp_path, server)
        duck, spark = _on_spark(monkeypatch, tmp_path,
                               ("ingest", "fx", "--since", "2022-01-03", "--until", "2022-02-28"),
                               ("ingest", "fx", "--since", "2022-02-01", "--until", "2022-02-28"),  # replaced
                               ("kpis", "build", "--source", "exports"))
    _same(duck, spark, "staging.fx_rates", "ops.fx_reconciliation", "marts.campaign_kpis_daily", "ops.quarantine",
          duckdb_only="raw_fx")


@pytest.mark.spark
def test_ihc_api_with_a_partial_answer_and_its_retry_on_spark(monkeypatch, tmp_path, spark_session):
    from tests.attribution.ihc_api_server import IhcApiServer

    _ok("attribution", "generate", "--out", tmp_path / "challenge.db", "--conversions", "150", "--sessions", "3000",
        "--seed", "5")
    (tmp_path / "martops.yml").write_text("ihc_api:\n  conv_type_id: all_markets\n  max_journeys_per_request: 25\n"
                                          "  max_sessions_per_request: 60\n  backoff_seconds: 0.01\n"
                                          "  requests_per_second: 1000\n")
    monkeypatch.chdir(tmp_path)
    duck, spark = str(tmp_path / "warehouse.duckdb"), f"spark:{tmp_path / 'spark-warehouse'}"
    run = ["attribution", "run", "--db", "challenge.db", "--since", "2023-09-01", "--until", "2023-09-03",
           "--model", "ihc_api", "--export", "out.csv", "--force"]
    with IhcApiServer() as server:
        monkeypatch.setenv("IHC_API_URL", server.url)
        monkeypatch.setenv("IHC_API_KEY", server.key)
        for location, engine in ((duck, "duckdb"), (spark, "spark")):
            server.faults = ["206"]  # the first journey of the first request fails: exit 1, the others stored
            res = run_cli_unfixtured(*run, "--warehouse", location)
            assert res.code == 1 and "could not be attributed" in res.err, (engine, res.out[-2000:], res.err)
            failed = {min(s.journeys) for s in server.answered_requests() if s.fault == "206"}  # as it answers
            assert len(failed) == 1
            server.seen.clear()
            _ok(*run, "--warehouse", location)
            assert {c for s in server.answered_requests() for c in s.journeys} == failed  # it alone is sent again
            (tmp_path / "out.csv").rename(tmp_path / f"out-{engine}.csv")
            server.seen.clear()
    # a request's time and duration; a failed run's message names its run id (compared without it below)
    _same(duck, spark, "attribution.ihc_api_answers", "ops.ihc_api_failures", "ops.ihc_api_requests",
          "marts.channel_reporting", ignore=IGNORE | {"ops.ihc_api_requests.at", "ops.ihc_api_requests.seconds",
                                                      "ops.runs.error"})
    with connect(path=duck, read_only=True) as a, connect(path=spark, read_only=True) as b:
        errors = [sorted((step, re.sub(r"run \w+\)", "run ...)", error)) for step, error in
                         wh.execute("SELECT step, error FROM ops.runs WHERE error IS NOT NULL")) for wh in (a, b)]
    assert errors[0] == errors[1] and [step for step, _ in errors[0]] == ["attribution.attribute"]
    assert (tmp_path / "out-duckdb.csv").read_text() == (tmp_path / "out-spark.csv").read_text()
