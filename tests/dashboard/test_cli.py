"""`martops dashboard` refuses what cannot work before Streamlit starts: one line, exit 1 (2 for a
malformed option), nothing listening, no traceback."""

from __future__ import annotations

import socket

import duckdb
import pytest

from martops.dashboard import launch
from tests.cli_runner import run_cli


def _one_line(res, code: int = 1) -> str:
    lines = res.err.strip().splitlines()
    assert res.code == code and len(lines) == 1 and "Traceback" not in res.err, res.err
    return lines[0]


def test_no_warehouse_here_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line(run_cli(capsys, "dashboard"))
    assert line.startswith("error: warehouse warehouse.duckdb does not exist (nothing was created)")
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_an_empty_warehouse_says_what_to_build(capsys, tmp_path):
    wh = tmp_path / "empty.duckdb"
    duckdb.connect(str(wh)).close()
    line = _one_line(run_cli(capsys, "dashboard", "--warehouse", wh))
    assert line == (f"error: {wh}: no domain has built its tables here yet, so the dashboard would show nothing; "
                    "run `martops run` (or a domain's build, e.g. `martops kpis build --source exports/`) first")


def test_a_port_in_use_is_one_line_naming_another(capsys, kpis_only):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line(run_cli(capsys, "dashboard", "--warehouse", kpis_only.warehouse, "--port", port))
    assert line == (f"error: --port {port}: already in use on 127.0.0.1 (another dashboard?); pick another, "
                    f"e.g. --port {port + 1}")


def test_a_host_that_is_not_this_machine_is_one_line(capsys, kpis_only):
    # 192.0.2.1 is TEST-NET-1: a valid address no machine has, so nothing is looked up or sent
    line = _one_line(run_cli(capsys, "dashboard", "--warehouse", kpis_only.warehouse, "--host", "192.0.2.1"))
    assert line == "error: --host '192.0.2.1': not an address of this machine; use 127.0.0.1 or 0.0.0.0"


@pytest.mark.parametrize("args", [["--port", "70000"], ["--port", "0"], ["--port", "web"]])
def test_a_malformed_port_is_a_usage_error(capsys, args):
    line = _one_line(run_cli(capsys, "dashboard", *args), code=2)
    assert "--port" in line and line.endswith("(see `martops dashboard --help`)")


def test_the_port_check_passes_a_free_port_and_the_loopback_names():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launch.check_port("127.0.0.1", port)
    launch.check_port("localhost", port)


def test_help_shows_examples(capsys):
    res = run_cli(capsys, "dashboard", "--help")
    assert res.code == 0 and "Example:" in res.out and "martops dashboard --warehouse" in res.out
