"""Fuzz every source through its CLI command: a small valid delivery damaged at random (cells with
hard text, header changes, delimiters, invalid bytes, truncation) must end in exit 0 or 1, never an
unexpected error or a traceback; on exit 0 every source table's rows read = loaded + quarantined
(checked against the warehouse); on exit 1 the warehouse a previous good run built is unchanged.

Each example runs a real command on real files, so examples are few; `derandomize=True` keeps CI
deterministic (run with `--hypothesis-seed=N` after removing it, or with the `fuzz-explore`
profile: `MARTOPS_FUZZ_PROFILE=fuzz-explore pytest --hypothesis-seed=N ...`, 40 examples, no
shrinking) to look for new findings.
"""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import given, strategies as st

from martops.attribution import tables as T
from martops.campaigns import tables as C
from martops.crm import tables as R
from tests.campaigns import exports as E
from tests.crm import folders as F

from ..attribution.test_csv_source import HEADERS as ATTR_HEADERS
from ..conftest import TINY_CONVERSIONS, TINY_COSTS, TINY_SESSIONS
from . import fuzz_deliveries as Z

RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]
settings.register_profile("fuzz", max_examples=12, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate],  # shrinking reruns the CLI hundreds of times
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz-explore", max_examples=40, deadline=None, derandomize=False, database=None,
                          phases=[Phase.explicit, Phase.generate], report_multiple_bugs=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile(os.environ.get("MARTOPS_FUZZ_PROFILE", "fuzz"))


def _text(rows) -> list[list[str]]:
    return [["" if v is None else str(v) for v in row] for row in rows]


ATTRIBUTION: Z.Delivery = {
    "session_sources.csv": (ATTR_HEADERS["session_sources"], _text(TINY_SESSIONS)),
    "conversions.csv": (ATTR_HEADERS["conversions"], _text(TINY_CONVERSIONS)),
    "session_costs.csv": (ATTR_HEADERS["session_costs"], _text(TINY_COSTS)),
}
CAMPAIGNS: Z.Delivery = {
    "channels.csv": (list(E.channel()), [list(E.channel().values()),
                                         list(E.channel(cid="2", name="google_es_search").values())]),
    "leads_funnel.csv": (list(E.lead("2023-09-01")), [list(E.lead(d).values()) for d in ("2023-09-01", "2023-09-02")]
                         + [list(E.lead("2023-09-01", cid="2", spend="1,234.50").values())]),
    "web_orders.csv": (list(E.web("2023-09-01")), [list(E.web(d).values()) for d in ("2023-09-01", "2023-09-03")]),
}
CRM: Z.Delivery = {f"{role}.csv": (F.HEADERS[role], _text(rows)) for role, rows in (
    ("customers", F.CUSTOMERS), ("products", F.PRODUCTS), ("sales_team", F.REPS),
    ("transactions", F.TRANSACTIONS), ("interactions", F.INTERACTIONS))}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory) -> dict[str, Z.Baseline]:
    """One warehouse per source, built by a good run of the same command on the valid delivery."""
    root = tmp_path_factory.mktemp("fuzz-base")
    made = {}
    for name, delivery, cmd in (("attribution", ATTRIBUTION, ["attribution", "ingest", *RANGE, "--db"]),
                                ("sqlite", None, ["attribution", "ingest", *RANGE, "--db"]),
                                ("campaigns", CAMPAIGNS, ["kpis", "build", "--source"]),
                                ("crm", CRM, ["crm", "build", "--source"])):
        if delivery is None:
            source = _sqlite(root / "good.db", [])
        else:
            source = Z.write(root / name, Z.apply(delivery, [])[0])
        wh = root / f"base-{name}.duckdb"
        res = Z.run(root, *cmd, source, "--warehouse", wh)
        assert res.code == 0, res.err
        made[name] = Z.Baseline.of(wh)
    return made


def _check(res, wh, base: Z.Baseline, what: str, accounting) -> None:
    """The three invariants; `accounting(wh, out)` asserts the per-table equations on exit 0."""
    Z.assert_clean_exit(res, what)
    if res.code == 0:
        accounting(wh, res.out)
        return
    steps = Z.new_steps(wh, base)
    assert not any(status == "success" for _, status in steps), f"{what}: exit 1 after {steps}\n{res.err}"
    after = Z.contents(wh)
    changed = [t for t in set(after) | set(base.tables) if after.get(t) != base.tables.get(t)]
    assert not changed, f"{what}: exit 1 but {changed} changed\n{res.err}"


LAST_RUN = "(SELECT run_id FROM ops.runs ORDER BY started_at DESC LIMIT 1)"


def _quarantined(wh, table_name: str) -> int:
    """This run's quarantine rows of a source table (rows are replaced per source, so a baseline
    built from another folder keeps its own)."""
    return Z.query(wh, f"SELECT count(*) FROM ops.quarantine WHERE table_name = ? AND run_id = {LAST_RUN}",
                   table_name)[0][0]


def _count(wh, table: str, this_run: bool = False) -> int:
    """Rows of a staging table (this run's only, where a delivery replaces just its own dates)."""
    return Z.query(wh, f"SELECT count(*) FROM {table}" + (f" WHERE _run_id = {LAST_RUN}" if this_run else ""))[0][0]


def _attribution_accounting(wh, out: str) -> None:
    acc = Z.attribution_accounting(out)
    assert set(acc) == {"session_sources", "conversions", "session_costs"}, out
    for table, (read, loaded, quarantined) in acc.items():
        assert read == loaded + quarantined, (table, acc)
        assert quarantined == _quarantined(wh, table), (table, acc)
    assert acc["session_sources"][1] == _count(wh, T.SESSIONS)
    assert acc["conversions"][1] == _count(wh, T.CONVERSIONS)


def _logged_accounting(staging: dict[str, tuple[str | None, str]], written: dict[str, int]):
    """Per file: the cleaning log's `R = L + Q` holds, L is this run's rows in the staging table,
    Q this run's quarantine rows of the file, and R the records written where the file's structure was not damaged."""
    def check(wh, out: str) -> None:
        logged = Z.query(wh, "SELECT file, example FROM ops.cleaning_log WHERE rule = 'rows read = loaded + quarantined' "
                             f"AND run_id = {LAST_RUN}")
        got = {f: tuple(map(int, re.findall(r"\d+", ex.replace(",", "")))) for f, ex in logged}
        for file, (table, qname) in staging.items():
            if file not in got:
                continue  # an optional CRM role the damaged delivery no longer names
            read, loaded, quarantined = got[file]
            assert read == loaded + quarantined, (file, got)
            if table is not None:
                assert loaded == _count(wh, table, this_run=True), (file, got, _count(wh, table, this_run=True))
            assert quarantined == _quarantined(wh, qname), (file, got)
            if file in written:
                assert read == written[file], (file, got, written)
        assert "customers" in got or "crm" not in str(staging), got
    return check


def _delivery_example(tmp_path_factory, base: Z.Baseline, delivery: Z.Delivery, edits, cmd, accounting_for):
    work = tmp_path_factory.mktemp("fuzz")
    files, structural = Z.apply(delivery, edits)
    folder = Z.write(work / "delivery", files)
    wh = base.copy_to(work / "wh.duckdb")
    res = Z.run(work, *cmd, folder, "--warehouse", wh)
    header_changed = {n for n, e in edits if e[0] in ("header", "delimiter")}
    written = {n.removesuffix(".csv"): len(delivery[n][1]) for n in delivery if n not in structural | header_changed}
    _check(res, wh, base, f"{cmd} on {edits!r}", accounting_for(written))


@settings(FUZZ)
@given(edits=Z.damage(list(ATTRIBUTION)))
def test_attribution_csv_folder(baselines, tmp_path_factory, edits):
    _delivery_example(tmp_path_factory, baselines["attribution"], ATTRIBUTION, edits,
                      ["attribution", "ingest", *RANGE, "--db"], lambda written: _attribution_accounting)


CAMPAIGN_TABLES = {"channels": (None, "channels"),  # staging.campaign_channels also holds campaigns only the funnels name
                   "leads_funnel": (C.LEADS, "leads_funnel"),
                   "web_orders": (C.WEB, "web_orders")}


@settings(FUZZ)
@given(edits=Z.damage(list(CAMPAIGNS)))
def test_campaign_exports(baselines, tmp_path_factory, edits):
    _delivery_example(tmp_path_factory, baselines["campaigns"], CAMPAIGNS, edits, ["kpis", "build", "--source"],
                      lambda written: _logged_accounting(CAMPAIGN_TABLES, written))


CRM_TABLES = {role: (R.STAGING[role], R.STAGING[role].removeprefix("staging."))
              for role in ("customers", "products", "sales_team", "transactions", "interactions")}


@settings(FUZZ)
@given(edits=Z.damage(list(CRM)))
def test_crm_folder(baselines, tmp_path_factory, edits):
    _delivery_example(tmp_path_factory, baselines["crm"], CRM, edits, ["crm", "build", "--source"],
                      lambda written: _logged_accounting(CRM_TABLES, written))


# -- attribution from a SQLite file: any SQLite value type in any cell, renamed columns, a damaged file

sqlite_value = st.one_of(Z.cell_text, st.integers(-2**63, 2**63 - 1), st.floats(), st.binary(max_size=6), st.none())
sqlite_edit = st.one_of(
    st.tuples(st.just("cell"), st.integers(0, 10**6), st.integers(0, 10**6), sqlite_value),
    st.tuples(st.just("header"), st.sampled_from(["upper", "spaces", "drop", "extra", "rename", "swap"]),
              st.integers(0, 10**6), Z.cell_text),
    st.tuples(st.just("file"), st.floats(0, 1), st.sampled_from([b"", b"\x00" * 16, b"\xff\xfe", b"SQLite format 3\x00"])),
)


def _sqlite(path, edits):
    tables = {name: (list(ATTR_HEADERS[name]), [list(r) for r in rows]) for name, rows in (
        ("session_sources", TINY_SESSIONS), ("conversions", TINY_CONVERSIONS), ("session_costs", TINY_COSTS))}
    for table, edit in edits:
        header, rows = tables[table]
        if edit[0] == "cell":
            row = rows[edit[1] % len(rows)]
            row[edit[2] % len(row)] = edit[3]
        elif edit[0] == "header":
            tables[table] = Z._edit_header(header, rows, *edit[1:])
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    for table, (header, rows) in tables.items():
        names = []
        for h in header:  # SQLite refuses a column named twice (case-insensitively) or holding NUL
            h = h.replace("\x00", "")
            n = h if h.strip() and h.lower() not in {x.lower() for x in names} else f"{h}_{len(names)}"
            names.append(n)
        cols = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
        con.execute(f'CREATE TABLE "{table}" ({cols})')
        con.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(names))})', rows)
    con.commit()
    con.close()
    for _, edit in edits:
        if edit[0] == "file":
            data = path.read_bytes()
            at = int(edit[1] * len(data))
            path.write_bytes(data[:at] + edit[2] + data[at + len(edit[2]):] if edit[2] else data[:at])  # overwrite or cut
    return path


@settings(FUZZ)
@given(edits=st.lists(st.tuples(st.sampled_from(["session_sources", "conversions", "session_costs"]), sqlite_edit),
                      min_size=1, max_size=4))
def test_attribution_sqlite_file(baselines, tmp_path_factory, edits):
    work = tmp_path_factory.mktemp("fuzz")
    base = baselines["sqlite"]
    db = _sqlite(work / "source.db", edits)
    wh = base.copy_to(work / "wh.duckdb")
    res = Z.run(work, "attribution", "ingest", *RANGE, "--db", db, "--warehouse", wh)
    _check(res, wh, base, f"sqlite {edits!r}", _attribution_accounting)


# -- findings of the fuzzer, each with its exact input

@pytest.mark.parametrize("edits", [
    # found: an overwritten page left b'20\xff\xfe-09-02' in a TEXT value, and an integer conv_id
    # made DuckDB's scanner fail with "Cannot create a string of size 18446744073709551615" (exit 70)
    [("conversions", ("cell", 19823, 130, 139)), ("session_costs", ("file", 0.49201916579196403, b"\xff\xfe"))],
])
def test_found_a_sqlite_text_that_is_not_utf8_is_a_one_line_error(tmp_path, edits):
    res = Z.run(tmp_path, "attribution", "ingest", *RANGE, "--db", _sqlite(tmp_path / "s.db", edits),
                "--warehouse", tmp_path / "wh.duckdb")
    Z.assert_clean_exit(res, "ingest")
    assert res.code == 1
    assert "table 'session_sources', rowid 3, column 'event_date': text b'20\\xff\\xfe-09-02' is not UTF-8" in res.err


def test_a_latin1_channel_name_in_a_sqlite_file_names_its_row(tmp_path, tiny_db):
    con = sqlite3.connect(tiny_db)
    con.execute("UPDATE session_sources SET channel_name = CAST(? AS TEXT) WHERE session_id = 's2'", [b"R\xe9f\xe9rence"])
    con.commit()
    con.close()
    res = Z.run(tmp_path, "attribution", "ingest", *RANGE, "--db", tiny_db, "--warehouse", tmp_path / "wh.duckdb")
    Z.assert_clean_exit(res, "ingest")
    assert res.code == 1 and "table 'session_sources', rowid 2, column 'channel_name'" in res.err, res.err
    assert not (tmp_path / ".martops").exists()


def test_found_a_recategorised_campaign_with_a_quarantined_day_still_builds_its_weekly_mart(tmp_path):
    """Found: after a good delivery, one whose channels.csv changes the budget category while the
    week's other web day is quarantined left two weekly rows for one campaign (the old day keeps
    its old category): the mart's unique check failed, exit 1 after load and snapshot committed."""
    edits = [("web_orders.csv", ("cell", 386, 386, "{}")), ("channels.csv", ("cell", 386, 386, "{}"))]
    wh = tmp_path / "wh.duckdb"
    for name, damage in (("good", []), ("bad", edits)):
        res = Z.run(tmp_path, "kpis", "build", "--source", Z.write(tmp_path / name, Z.apply(CAMPAIGNS, damage)[0]),
                    "--warehouse", wh)
        assert res.code == 0, res.err
    web = Z.query(wh, "SELECT period_start, budget_category, days, spend_eur FROM marts.campaign_kpis_weekly "
                      "WHERE funnel = 'web'")
    assert [(str(p), b, d, s) for p, b, d, s in web] == [("2023-08-28", "{}", 2, 201.0)]
