"""A check declared on a table that does not exist (a typo under `checks:`) is an error naming the
table, the nearest known name and the known ones, for `martops check` and for every step; a table
martops writes but this warehouse does not hold yet is not an error."""

from martops.attribution import tables as T
from martops import domains
from martops.checks.catalog import OPS_TABLES
from martops.engine import connect

from ..cli_runner import run_cli
from .test_declared_and_gating import RANGE, _config, loaded  # noqa: F401 - the fixture


def test_martops_check_names_a_mistyped_table_and_the_known_ones(capsys, loaded, tmp_path):  # noqa: F811
    cfg = _config(tmp_path, "checks:\n  staging.sesions:\n    - unique: [session_id]\n")
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg)
    err = " ".join(res.err.split())
    assert res.code == 1 and "Traceback" not in res.err
    assert "martops.yml checks: there is no table 'staging.sesions' (did you mean staging.sessions?)" in err
    assert "Known tables:" in err and "staging.conversions" in err and "marts.channel_reporting" in err


def test_a_run_refuses_to_start_with_a_mistyped_check_table_and_keeps_the_data(capsys, loaded, tiny_db, tmp_path):  # noqa: F811
    with connect(path=loaded) as w:
        before, runs = w.count(T.SESSIONS), w.count("ops.runs")
    cfg = _config(tmp_path, "checks:\n  marts.channel_reportin:\n    - not_null: [cost]\n")
    res = run_cli(capsys, "attribution", "ingest", "--db", tiny_db, *RANGE, "--warehouse", loaded, "--config", cfg)
    assert res.code == 1
    assert "no table 'marts.channel_reportin' (did you mean marts.channel_reporting?)" in " ".join(res.err.split())
    with connect(path=loaded) as w:
        assert w.count(T.SESSIONS) == before
        assert w.count("ops.runs") == runs  # refused before any step started


def test_a_table_another_domain_writes_is_not_a_typo(capsys, loaded, tmp_path):  # noqa: F811
    cfg = _config(tmp_path, "checks:\n  crm.customers:\n    - unique: [customer_id]\n"
                            "  staging.sessions:\n    - not_null: [channel_name]\n")
    res = run_cli(capsys, "check", "--warehouse", loaded, "--config", cfg)
    assert res.code == 0, res.err
    assert "not_null(channel_name)" in res.out  # the declared check on an existing table ran


def test_known_tables_cover_every_domain():
    known = domains.catalog().tables | OPS_TABLES
    for name in (T.SESSIONS, T.JOURNEYS, T.CHANNEL_REPORTING, "staging.leads_funnel", "marts.campaign_kpis_weekly",
                 "crm.customers", "crm.customer_golden_values", "marts.crm_customer_value", "ops.quarantine"):
        assert name in known
