import datetime as dt

import pytest

from martops.attribution.pipeline import RunOptions
from martops.errors import ConfigError
from martops.steps import REGISTRY, run_step


def test_registry_names_every_attribution_step():
    assert set(REGISTRY) == {f"attribution.{s}" for s in
                             ("ingest", "journeys", "attribute", "report", "export", "write-back")}


def test_steps_run_separately_by_name(wh, tiny_db, tmp_path):
    opts = RunOptions(dt.date(2023, 9, 1), dt.date(2023, 9, 7), model="ihc", db=tiny_db,
                      export=tmp_path / "out.csv")
    results = [run_step(f"attribution.{s}", wh, opts) for s in ("ingest", "journeys", "attribute", "report", "export")]
    assert [r.step for r in results] == ["ingest", "journeys", "attribute", "report", "export"]
    assert all(r.seconds >= 0 for r in results)
    assert "rows in" in str(results[1]) and results[1].rows_out == 9
    assert (tmp_path / "out.csv").read_text().startswith("channel_name,date,cost,ihc,ihc_revenue,CPO,ROAS,unknown_cost_sessions\n")


def test_unknown_step_lists_known_ones(wh):
    with pytest.raises(ConfigError, match="attribution.ingest"):
        run_step("attribution.magic", wh, RunOptions(dt.date(2023, 9, 1), dt.date(2023, 9, 2)))
