"""`martops run` on a small project of every domain, through the real CLI: order, summary, failures
that stop only their downstream steps, the new range, and the same warehouse when run twice."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from martops.engine import SCHEMAS, connect

from ..campaigns.exports import channel, lead, web, write_exports
from ..cli_runner import run_cli
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS, make_challenge_db
from ..crm.folders import write_folder

STAMPS = ("_etl_loaded_at", "_loaded_at", "_run_id", "loaded_at", "built_at", "as_of")


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A project folder: a challenge db, a campaign delivery, a CRM extract, and martops.yml naming them."""
    make_challenge_db(tmp_path / "challenge.db", TINY_SESSIONS, TINY_CONVERSIONS, TINY_COSTS)
    write_exports(tmp_path / "exports", [channel()],
                  [lead("2024-01-01"), lead("2024-01-02", spend="30"), lead("2024-01-02", spend="30")],
                  [web("2024-01-01"), web("2024-01-03", orders="3")])
    write_folder(tmp_path / "crm")
    (tmp_path / "martops.yml").write_text(
        "warehouse: {path: wh.duckdb}\n"
        "sources:\n  attribution: {path: challenge.db}\n  campaigns: {path: exports}\n  crm: {path: crm}\n"
        "attribution: {export: out/channel_reporting.csv}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot_tables(path: Path) -> dict[str, list]:
    """Every non-ops table's rows, load stamps left out, sorted: what 'the same warehouse' means."""
    out = {}
    with connect(path=path) as w:
        for schema in SCHEMAS:
            if schema == "ops":
                continue
            for name in w.backend.list_tables(database=schema):
                t = w.table(f"{schema}.{name}")
                cols = [c for c in t.columns if c not in STAMPS and not c.startswith("_run")]
                rows = w.to_pyarrow(t.select(*cols)).to_pylist()
                out[f"{schema}.{name}"] = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)
    return out


def test_run_with_no_selector_runs_every_declared_domain_in_order(capsys, project):
    res = run_cli(capsys, "run")
    assert res.code == 0, res.err
    out = res.out
    order = [out.index(s) for s in ("attribution.ingest", "attribution.report", "attribution.export",
                                    "kpis.load", "kpis.mart", "crm.load", "crm.marts")]
    assert order == sorted(order)
    assert "attribution.write-back" in out and "write-back is off" in " ".join(out.split())
    assert "2023-09-02..2023-09-04" in out  # the new range: every conversion date of the source
    with connect(path=project / "wh.duckdb") as w:
        steps = [r["step"] for r in w.to_pyarrow(w.table("ops.runs")).to_pylist()]
        assert len({r for r in w.to_pyarrow(w.table("ops.runs").select("run_id")).column("run_id").to_pylist()}) == 1
    assert steps == ["attribution.ingest", "attribution.journeys", "attribution.attribute", "attribution.report",
                     "attribution.export", "kpis.load", "kpis.snapshot", "kpis.mart", "crm.load", "crm.dedupe",
                     "crm.golden", "crm.marts"]
    rows = list(csv.DictReader((project / "out" / "channel_reporting.csv").open()))
    assert rows and {r["date"] for r in rows} <= {f"2023-09-0{d}" for d in range(1, 6)} | {"2023-08-30"}


def test_second_run_is_up_to_date_for_attribution_and_gives_the_same_warehouse(capsys, project):
    assert run_cli(capsys, "run").code == 0
    first = snapshot_tables(project / "wh.duckdb")
    res = run_cli(capsys, "run")
    assert res.code == 0, res.err
    assert "up to date" in res.out
    assert snapshot_tables(project / "wh.duckdb") == first
    # an explicit range, every domain, twice: the same tables
    args = ("run", "attribution", "kpis", "crm", "--since", "2023-09-01", "--until", "2023-09-05")
    assert run_cli(capsys, *args).code == 0
    once = snapshot_tables(project / "wh.duckdb")
    assert once != first  # 2023-09-05 holds a session the new range did not reach
    res = run_cli(capsys, *args)
    assert res.code == 0, res.err
    again = snapshot_tables(project / "wh.duckdb")
    assert again == once
    assert {"marts.channel_reporting", "marts.campaign_kpis_daily", "crm.customer_golden",
            "snapshots.campaign_daily", "marts.crm_customer_value"} <= set(again)


def test_a_failed_step_stops_its_downstream_and_names_what_was_skipped(capsys, project):
    (project / "exports" / "channels.csv").write_text("nothing,like,the,header\n1,2,3,4\n")
    res = run_cli(capsys, "run")
    assert res.code == 1
    out = " ".join(res.out.split())
    assert "kpis.load │ failed" in out
    assert "not run: upstream kpis.load failed" in out
    err = " ".join(res.err.split())
    assert err.startswith("error: kpis.load failed:") and "not run: kpis.snapshot, kpis.mart" in err
    with connect(path=project / "wh.duckdb") as w:  # the other domains ran
        status = {r["step"]: r["status"] for r in w.to_pyarrow(w.table("ops.runs")).to_pylist()}
    assert status["crm.marts"] == "success" and status["attribution.report"] == "success"
    assert status["kpis.load"] == "failed" and "kpis.snapshot" not in status


def test_selectors_run_exactly_their_steps(capsys, project):
    res = run_cli(capsys, "run", "+kpis.snapshot")
    assert res.code == 0, res.err
    res = run_cli(capsys, "run", "kpis.mart")
    assert res.code == 0, res.err
    with connect(path=project / "wh.duckdb") as w:
        steps = [r["step"] for r in w.to_pyarrow(w.table("ops.runs").order_by("started_at")).to_pylist()]
        assert w.count("marts.campaign_kpis_daily") == 4  # two days of each funnel
    assert steps == ["kpis.load", "kpis.snapshot", "kpis.mart"]


@pytest.mark.parametrize("args, message", [
    (["run", "kpiss"], "did you mean kpis?"),
    (["run", "KPIS"], "did you mean kpis?"),
    (["run", "kpis++"], "selector 'kpis++': a '+' goes once before the name"),
    (["run", "++kpis"], "selector '++kpis': a '+' goes once before the name"),
    (["run", "kpis", "--source", "nowhere"], "kpis.load: --source kpis=nowhere does not exist"),
    (["run", "kpis", "crm", "--source", "exports"], "say which domain it feeds"),
    (["run", "kpis", "--since", "2024-02-01", "--until", "2024-01-01"], "is after --until"),
    (["run", "attribution.export", "--since", "2023-09-01", "--until", "2023-09-02", "--config", "none.yml"],
     "none.yml does not exist"),
])
def test_a_bad_command_line_is_one_line_and_creates_nothing(capsys, project, args, message):
    res = run_cli(capsys, *args)
    assert res.code in (1, 2) and "Traceback" not in res.err
    assert message in " ".join(res.err.split())
    assert not (project / "wh.duckdb").exists()


def test_no_source_declared_and_no_selector_is_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_cli(capsys, "run")
    assert res.code == 1 and "nothing to run: martops.yml declares no source" in " ".join(res.err.split())
    assert list(tmp_path.iterdir()) == []


def test_a_step_named_alone_with_nothing_to_do_is_an_error(capsys, project):
    assert run_cli(capsys, "run", "+attribution.report").code == 0
    res = run_cli(capsys, "run", "attribution.write-back", "--no-write-back", "--since", "2023-09-01",
                  "--until", "2023-09-05")
    assert res.code == 1 and "write-back is off" in res.err


def test_every_step_is_its_own_command_with_runs_flags(capsys, project):
    res = run_cli(capsys, "attribution", "ingest", "--since", "2023-09-01", "--until", "2023-09-05")
    assert res.code == 0, res.err
    res = run_cli(capsys, "attribution", "journeys", "--db", "challenge.db", "--since", "2023-09-01",
                  "--until", "2023-09-05")  # --db is accepted by every step, as by run
    assert res.code == 0, res.err
    res = run_cli(capsys, "kpis", "load", "--source", "exports")
    assert res.code == 0, res.err
    res = run_cli(capsys, "kpis", "snapshot")  # on its own: the last load's delivery
    assert res.code == 0, res.err
    assert "new=" in res.out


def test_steps_lists_the_graph_as_table_json_and_dot(capsys):
    res = run_cli(capsys, "steps", "--format", "json")
    assert res.code == 0
    steps = json.loads(res.out)["steps"]
    by = {s["name"]: s for s in steps}
    assert by["kpis.mart"]["upstream"] == ["kpis.snapshot"] and "marts.campaign_kpis_daily" in by["kpis.mart"]["outputs"]
    assert by["attribution.attribute"]["parameters"]["model"]["default"].startswith("attribution.model")
    assert by["attribution.ingest"]["ranged"] is True and by["crm.load"]["ranged"] is False
    names = [s["name"] for s in steps]
    assert all(names.index(u) < names.index(s["name"]) for s in steps for u in s["upstream"])
    dot = run_cli(capsys, "steps", "kpis", "--format", "dot").out
    assert '"kpis.load" -> "kpis.snapshot";' in dot and "crm" not in dot
    table = run_cli(capsys, "steps").out
    assert "crm.golden" in table and "source:kpis" in table
    bad = run_cli(capsys, "steps", "--format", "yaml")
    assert bad.code == 1 and "choose table, json or dot" in bad.err


def test_steps_takes_plus_on_both_sides_and_rejects_doubled_or_miscased_selectors(capsys):
    def names(*selectors):
        res = run_cli(capsys, "steps", *selectors, "--format", "json")
        assert res.code == 0, res.err
        return [s["name"] for s in json.loads(res.out)["steps"]]

    # fx: the rates the load reads; report.weekly reads the marts
    assert names("+kpis.snapshot+") == ["fx.load", "kpis.load", "kpis.snapshot", "kpis.mart", "report.weekly"]
    assert names("+crm.dedupe+") == ["crm.load", "crm.dedupe", "crm.golden", "crm.marts", "report.weekly"]
    assert set(names("+crm.dedupe+")) == set(names("+crm.dedupe")) | set(names("crm.dedupe+"))
    assert names("+kpis+") == ["fx.load", *names("kpis"), "report.weekly"]  # reads the FX rates, feeds the report only
    for bad, message in (("kpis++", "a '+' goes once before the name (adding everything upstream) and/or once "
                                    "after it (everything downstream): kpis, +kpis, kpis+ or +kpis+"),
                         ("++kpis", "a '+' goes once before the name"), ("+kpis++", "a '+' goes once"),
                         ("KPIS", "did you mean kpis?"), ("+Crm.Golden", "did you mean crm.golden?")):
        res = run_cli(capsys, "steps", bad)
        err = " ".join(res.err.split())
        assert res.code == 1 and res.out == "" and len(res.err.strip().splitlines()) == 1, (bad, res)
        assert f"selector {bad!r}" in err and message in err, (bad, err)


def test_every_declared_grain_holds_in_the_built_tables(capsys, project):
    """The grain each domain declares is true: its columns exist and no two rows share them."""
    from martops import domains

    assert run_cli(capsys, "run").code == 0
    checked = 0
    with connect(path=project / "wh.duckdb") as w:
        for d in domains.DOMAINS:
            for spec in d.tables:
                if not spec.grain or not w.exists(spec.name):
                    continue
                t = w.table(spec.name)
                assert set(spec.grain) <= set(t.columns), (spec.name, spec.grain, t.columns)
                dupes = w.scalar(t.group_by(list(spec.grain)).aggregate(n=t.count()).filter(lambda g: g.n > 1).count())
                assert dupes == 0, (spec.name, spec.grain)
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("args, message", [
    (["kpis", "load", "--model", "linear"], "--model: no selected step takes it (kpis.load); it is read by attribution."),
    (["run", "kpis", "--export", "k.csv"], "--export: no selected step takes it"),
    (["run", "attribution.report", "--export", "r.csv", "--since", "2023-09-01", "--until", "2023-09-02"],
     "--export: no selected step takes it (attribution.report); it is read by attribution.export"),
    (["kpis", "load", "--since", "2024-01-01"], "none of the selected steps (kpis.load) takes a range"),
    (["run", "kpis", "--source", "kpis=exports", "--source", "kpis=other"], "kpis is given a delivery twice"),
    (["run", "attribution", "--db", "challenge.db", "--source", "attribution=challenge.db"], "give one"),
    (["run", "kpis", "--db", "challenge.db"], "--db challenge.db: no selected step is of attribution"),
    (["run", "kpis", "--source", "crm=crm"], "no selected step is of crm"),
])
def test_a_flag_no_selected_step_reads_is_an_error_not_a_no_op(capsys, project, args, message):
    res = run_cli(capsys, *args)
    assert res.code == 1 and message in " ".join(res.err.split()), res.err
    assert not (project / "wh.duckdb").exists()


def test_a_range_never_ingested_fails_and_is_not_recorded_as_done(capsys, project):
    assert run_cli(capsys, "run", "+attribution.report", "--since", "2023-09-02", "--until", "2023-09-03").code == 0
    res = run_cli(capsys, "run", "attribution.attribute", "--since", "2023-09-04", "--until", "2023-09-04",
                  "--model", "linear")
    assert res.code == 1
    assert "attribution.journeys has not run on 2023-09-04..2023-09-04" in " ".join(res.err.split())
    res = run_cli(capsys, "attribution", "journeys", "--since", "2023-09-01", "--until", "2023-09-05")
    assert res.code == 1 and "attribution.ingest has not run on 2023-09-01..2023-09-01" in " ".join(res.err.split())
    with connect(path=project / "wh.duckdb") as w:
        ranges = w.to_pyarrow(w.table("ops.attribution_ranges")).to_pylist()
    assert [(r["model"], str(r["since"]), str(r["until"])) for r in ranges] == [("ihc", "2023-09-02", "2023-09-03")]


def test_a_second_model_gets_its_own_new_range(capsys, project):
    assert run_cli(capsys, "run", "+attribution.report").code == 0
    res = run_cli(capsys, "run", "attribution.attribute+", "--model", "linear", "--no-write-back")
    assert res.code == 0, res.err  # the ranges table holds ihc's range only: linear starts at the source's first date
    with connect(path=project / "wh.duckdb") as w:
        ranges = {r["model"]: (r["since"], r["until"]) for r in w.to_pyarrow(w.table("ops.attribution_ranges")).to_pylist()}
    assert ranges["linear"] == ranges["ihc"]


def test_export_alone_writes_the_range_and_in_a_chain_the_whole_report(capsys, project):
    """The rule the README states: `attribution export --since/--until` writes the rows dated in
    the range; in a chain the export is the model's whole channel_reporting, so range A then B
    exports what A and B together do."""
    def dates() -> set[str]:
        with open(project / "out" / "channel_reporting.csv", newline="") as f:
            return {r["date"] for r in csv.DictReader(f)}

    assert run_cli(capsys, "run", "attribution", "--since", "2023-09-02", "--until", "2023-09-03").code == 0
    assert run_cli(capsys, "run", "attribution", "--since", "2023-09-04", "--until", "2023-09-05").code == 0
    whole = dates()
    assert {"2023-09-02", "2023-09-05"} <= whole and min(whole) < "2023-09-02"  # sessions before the range count
    assert run_cli(capsys, "run", "attribution.export", "--since", "2023-09-04", "--until", "2023-09-05").code == 0
    assert dates() == {d for d in whole if "2023-09-04" <= d <= "2023-09-05"}
