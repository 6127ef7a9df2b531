"""A warehouse attributed with two models on the tiny challenge database, shared by the CLI tests."""

import pytest

from ..cli_runner import run_cli

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


@pytest.fixture
def two_models(capsys, tiny_db, tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert run_cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "-m", "ihc").code == 0
    for step in ("attribute", "report"):
        assert run_cli(capsys, "attribution", step, *RANGE, "-w", wh, "-m", "last_touch").code == 0
    return wh
