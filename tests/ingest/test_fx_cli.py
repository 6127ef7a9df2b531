"""`martops ingest fx`, `martops run`, `status` and `check` with the FX pipeline, as a user runs them."""

from __future__ import annotations

import duckdb

from tests.cli_runner import run_cli

from .conftest import write_project


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_ingest_fx_prints_a_summary_and_status_and_check_show_the_table(server, tmp_path, capsys):
    cfg, wh = write_project(tmp_path, server), tmp_path / "w.duckdb"
    out = run_cli(capsys, "ingest", "fx", "--since", "2024-03-01", "--until", "2024-03-31", "--symbols", "GBP,USD",
                  "--config", cfg, "--warehouse", wh)
    assert out.code == 0, out.err
    text = " ".join(out.out.split())
    assert "fx.load: 20 business days, 40 rows into staging.fx_rates (0 replaced) for 2024-03-01..2024-03-31" in text
    assert "reconciliation: GBP->USD on 2024-03-28" in text and ": ok" in text
    status = run_cli(capsys, "status", "--config", cfg, "--warehouse", wh)
    assert status.code == 0 and "staging.fx_rates" in status.out and "fresh" in status.out
    check = run_cli(capsys, "check", "--config", cfg, "--warehouse", wh)
    assert check.code == 0 and "no_gap(at most 4 days" in check.out and "reconciled(abs_diff" in check.out


def test_flag_errors_are_one_line_and_create_nothing(server, tmp_path, capsys):
    cfg, wh = write_project(tmp_path, server), tmp_path / "w.duckdb"
    out = run_cli(capsys, "ingest", "fx", "--since", "2024-03-01", "--symbols", "GBP,U$D", "--config", cfg,
                  "--warehouse", wh)
    assert out.code != 0 and _lines(out.err) == [
        "error: --symbols 'GBP,U$D': must be three-letter ISO 4217 codes such as GBP,USD, got 'U$D' "
        "(overrides ingest.fx.symbols)"]
    out = run_cli(capsys, "ingest", "fx", "--since", "2999-01-01", "--config", cfg, "--warehouse", wh)
    assert out.code != 0 and len(_lines(out.err)) == 1 and "is in the future" in out.err
    for url, said in [("http://127.0.0.1:99999/v1", "has a port that is not a number from 1 to 65535"),
                      ("http://127.0.0.1:8080/v1?from=EUR", "must be a base URL without a query or fragment"),
                      ("http://127.0.0.1:0/v1", "needs a host (and a port from 1 to 65535, if any)")]:
        out = run_cli(capsys, "ingest", "fx", "--since", "2024-03-01", "--url", url, "--config", cfg, "--warehouse", wh)
        assert out.code != 0 and len(_lines(out.err)) == 1 and said in out.err and "Traceback" not in out.err, out.err
    assert not wh.exists()


def test_a_4xx_is_one_line_and_a_password_in_the_url_is_never_shown(server, tmp_path, capsys):
    cfg, wh = write_project(tmp_path, server), tmp_path / "w.duckdb"
    secret_url = server.url.replace("http://", "http://user:s3cret@")
    out = run_cli(capsys, "ingest", "fx", "--since", "2024-03-01", "--until", "2024-03-31", "--base", "GBP",
                  "--symbols", "GBP", "--url", secret_url, "--config", cfg, "--warehouse", wh)
    assert out.code != 0
    assert _lines(out.err)[-1] == (f"error: Frankfurter refused GET {server.url}/2024-03-01..2024-03-31?base=GBP&"
                                   "symbols=GBP (HTTP 422): bad currency pair")
    assert "s3cret" not in out.out + out.err
    ok = run_cli(capsys, "ingest", "fx", "--since", "2024-03-01", "--until", "2024-03-31", "--url", secret_url,
                 "--config", cfg, "--warehouse", wh)
    assert ok.code == 0 and "s3cret" not in ok.out + ok.err
    con = duckdb.connect(str(wh), read_only=True)
    stored = str(con.execute("SELECT * FROM ops.runs").fetchall()) + str(con.execute(
        "SELECT DISTINCT _source FROM staging.fx_rates").fetchall()) + str(con.execute(
            "SELECT url FROM ops.fx_reconciliation").fetchall())
    con.close()
    assert "s3cret" not in stored and server.url in stored


def test_a_bare_run_fetches_only_when_the_project_asks(server, tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    off = write_project(tmp_path, server, start="2024-06-17")
    out = run_cli(capsys, "run", "--config", off, "--warehouse", wh)
    assert out.code != 0 and "nothing to run" in out.err and server.log == []
    on = write_project(tmp_path, server, start="2024-06-17", in_project_run=True)
    out = run_cli(capsys, "run", "--config", on, "--warehouse", wh)
    assert out.code == 0, out.err
    assert "fx.load" in out.out and server.paths()[0].startswith("/2024-06-17..")
    out = run_cli(capsys, "run", "fx", "--config", off, "--warehouse", wh)  # named: runs regardless
    assert out.code == 0, out.err


def test_a_first_load_with_since_alone_runs_to_today(server, tmp_path, capsys):
    """The README's first-load example (`--since` without `--until`) on an empty staging.fx_rates: from
    that day to today, not 'pass --since' (found by a new-user trial)."""
    cfg, wh = write_project(tmp_path, server), tmp_path / "w.duckdb"
    out = run_cli(capsys, "ingest", "fx", "--since", "2024-06-17", "--symbols", "GBP,USD", "--config", cfg,
                  "--warehouse", wh)
    assert out.code == 0, out.err
    assert "staging.fx_rates (0 replaced) for 2024-06-17.." in " ".join(out.out.split())
