import pytest

from martops.config import ProjectConfig, load_config
from martops.errors import ConfigError


def test_defaults_without_a_project_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg == ProjectConfig()
    assert cfg.attribution.direct_channel == "Direct Traffic" and cfg.attribution.half_life_days == 7


def test_values_override(tmp_path):
    p = tmp_path / "martops.yml"
    p.write_text("attribution:\n  half_life_days: 3\n  ihc_weights: {initializer: 2, holder: 1, closer: 1}\n")
    cfg = load_config(p)
    assert cfg.attribution.half_life_days == 3
    assert cfg.attribution.ihc_weights.normalised() == (0.5, 0.25, 0.25)


@pytest.mark.parametrize("text,fragment", [
    ("attribution:\n  half_life_days: -1\n", "attribution.half_life_days"),
    ("attribution:\n  position_weights: [0.5, 0.5, 0.5]\n", "sum to 1"),
    ("attribution:\n  colour: blue\n", "attribution.colour"),
    ("warehouse:\n  engine: oracle\n", "warehouse.engine"),
    ("- a list\n", "top level must be a mapping"),
    ("a: [unclosed\n", "line 2, column 1: expected ',' or ']'"),
    # settings DuckDB or a model would refuse at run time
    ("warehouse:\n  memory_limit: 3 gigs\n", "warehouse.memory_limit: must be a number and a unit"),
    ("warehouse:\n  memory_limit: '80%'\n", "warehouse.memory_limit"),
    ("warehouse:\n  memory_limit: 3KB\n", "warehouse.memory_limit: is below 64MB"),
    ("warehouse:\n  threads: 0\n", "warehouse.threads"),
    ("attribution:\n  position_weights: [.nan, 0.5, 0.5]\n", "attribution.position_weights"),
    ("attribution:\n  lookback_days: 0\n", "attribution.lookback_days"),
    ("attribution:\n  ihc_weights: {initializer: 0, holder: 0, closer: 0}\n",
     "attribution.ihc_weights: at least one phase weight (initializer, holder, closer) must be > 0 "
     "(got {'initializer': 0, 'holder': 0, 'closer': 0})"),
    # YAML 1.1 reads an unquoted yes/no as a boolean
    ("leads:\n  positive_labels: [yes]\n", "leads.positive_labels.0: Input should be a valid string (got True); "
     "YAML reads yes/no/on/off/true/false without quotes as a true/false value: quote it ('yes')"),
])
def test_errors_name_the_key(tmp_path, text, fragment):
    p = tmp_path / "martops.yml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(p)
    assert fragment in str(err.value)


@pytest.mark.parametrize("value", ["512MB", "3GB", "2.5GiB", "3 GB", "1TB"])
def test_memory_limits_duckdb_reads_are_accepted_and_applied(tmp_path, value):
    from martops.config import WarehouseConfig
    from martops.engine import connect

    with connect(WarehouseConfig(memory_limit=value), path=tmp_path / "w.duckdb") as w:
        assert w.execute("SELECT current_setting('memory_limit')")[0][0]


def test_a_memory_limit_that_skipped_validation_is_still_a_config_error_naming_the_key(tmp_path):
    from martops.config import WarehouseConfig
    from martops.engine import connect

    with pytest.raises(ConfigError, match=r"warehouse.memory_limit 'lots': DuckDB refused it"):
        connect(WarehouseConfig.model_construct(memory_limit="lots"), path=tmp_path / "w.duckdb")


# -- flags that override a setting are validated like the file ---------------------------------
def _cli(capsys, *args):
    from .cli_runner import run_cli

    return run_cli(capsys, *args)


RANGE = ["--since", "2023-09-01", "--until", "2023-09-07"]


@pytest.mark.parametrize("value", ["0", "-3"])
@pytest.mark.parametrize("command", ["run", "ingest", "journeys"])
def test_lookback_days_is_validated_like_the_file_and_nothing_happens(capsys, tiny_db, tmp_path, command, value):
    wh = tmp_path / "wh.duckdb"
    assert _cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh).code == 0
    from martops.engine import connect

    with connect(path=wh) as w:
        before = w.to_pyarrow(w.table("attribution.journeys").order_by(["conv_id", "position"])).to_pylist()
        runs = w.count("ops.runs")
    db = [] if command == "journeys" else ["--db", tiny_db]
    res = _cli(capsys, "attribution", command, *db, *RANGE, "-w", wh, "--lookback-days", value)
    assert res.code == 1
    assert res.err.strip() == (f"error: --lookback-days {value}: Input should be greater than 0 "
                               "(overrides attribution.lookback_days of the project file)")
    with connect(path=wh) as w:
        assert w.to_pyarrow(w.table("attribution.journeys").order_by(["conv_id", "position"])).to_pylist() == before
        assert w.count("ops.runs") == runs  # no step started


def test_a_bad_flag_creates_no_warehouse(capsys, tiny_db, tmp_path):
    wh = tmp_path / "new" / "wh.duckdb"
    res = _cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "--lookback-days", "0")
    assert res.code == 1 and not wh.parent.exists()


def test_a_valid_lookback_flag_overrides_the_file(capsys, tiny_db, tmp_path):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("attribution:\n  lookback_days: 30\n")
    wh = tmp_path / "wh.duckdb"
    assert _cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "--config", cfg,
                "--lookback-days", "2").code == 0
    from martops.engine import connect

    with connect(path=wh) as w:
        journeys = w.to_pyarrow(w.table("attribution.journeys")).to_pylist()
        params = w.to_pyarrow(w.table("ops.runs")).column("params").to_pylist()
    assert {j["session_id"] for j in journeys if j["conv_id"] == "c1"} == {"s2", "s3"}  # s1 is 3 days before c1
    assert all('"lookback_days": 2' in p for p in params)


def test_with_overrides_names_the_flag_and_keeps_the_other_settings():
    from martops.config import with_overrides

    cfg = ProjectConfig.model_validate({"attribution": {"half_life_days": 3}})
    assert with_overrides(cfg, "attribution", {"lookback_days": ("--lookback-days", None)}) is cfg
    new = with_overrides(cfg, "attribution", {"lookback_days": ("--lookback-days", 5)})
    assert new.attribution.lookback_days == 5 and new.attribution.half_life_days == 3
    with pytest.raises(ConfigError, match=r"^--lookback-days 'x': Input should be a valid integer"):
        with_overrides(cfg, "attribution", {"lookback_days": ("--lookback-days", "x")})


@pytest.mark.parametrize("flags,fragment", [
    (["--threshold", "0"], "thresholds are probabilities in (0, 1]"),
    (["--threshold", "1.5"], "thresholds are probabilities in (0, 1]"),
    (["--pairs-threshold", "-1"], "thresholds are probabilities in (0, 1]"),
    (["--threshold", "nan"], "thresholds are probabilities in (0, 1]"),
    (["--threshold", "0.6", "--pairs-threshold", "0.9"], "is above the cluster threshold"),
])
def test_dedupe_threshold_flags_are_validated(capsys, tmp_path, flags, fragment):
    people = tmp_path / "people.csv"
    people.write_text("id,name\n1,Ann\n2,Ann\n")
    res = _cli(capsys, "crm", "dedupe", "--input", people, "--id", "id", "--compare", "name=name",
               "--out", tmp_path / "clusters.csv", *flags)
    assert res.code == 1 and fragment in res.err and not (tmp_path / "clusters.csv").exists()


@pytest.mark.parametrize("args,code,fragment", [
    (["attribution", "run", "--db", "x.db", "--since", "2023-09-07", "--until", "2023-09-01"], 1,
     "--since 2023-09-07 is after --until 2023-09-01"),
    (["attribution", "run", "--db", "x.db", "--since", "2023-02-30", "--until", "2023-09-01"], 1,
     "--since '2023-02-30' is not a date"),
    (["attribution", "run", "--db", "x.db", *RANGE, "--model", "markow"], 1, "--model 'markow' is not a model"),
    (["attribution", "generate", "--out", "x.db", "--conversions", "0"], 2, "Invalid value for '--conversions'"),
    (["kpis", "show", "--by", "colour"], 1, "--by 'colour' is not a dimension"),
    (["kpis", "export", "--out", "x.csv", "--grain", "hourly"], 1, "--grain 'hourly' is not one of"),
    (["kpis", "generate", "--out", "x", "--campaigns", "3"], 2, "Invalid value for '--campaigns'"),
    (["crm", "show", "customers", "--limit", "-1"], 2, "Invalid value for '--limit'"),
    (["quarantine", "--limit", "0"], 2, "Invalid value for '--limit'"),
])
def test_every_other_flag_refuses_bad_values_in_one_line(capsys, tmp_path, monkeypatch, args, code, fragment):
    monkeypatch.chdir(tmp_path)
    res = _cli(capsys, *args)
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert res.code == code and len(lines) == 1 and fragment in lines[0], res.err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("text,line", [
    ("sources:\n  attribution:\n    delimiter: '::'\n", "sources.attribution.delimiter: must be one "
     "character other than a quote or a line break (or 'tab'), got '::'"),
    ("attribution:\n  position_weights: [0.5, 0.5, 0.5]\n", "attribution.position_weights: must be "
     "three non-negative numbers that sum to 1, got [0.5, 0.5, 0.5]"),
    ("attribution:\n  half_life_days: -1\n", "attribution.half_life_days: Input should be greater than 0 (got -1)"),
])
def test_an_invalid_value_is_named_once(tmp_path, text, line):
    p = tmp_path / "martops.yml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == f"{p}: invalid project file: {line}"  # one problem, one line


def test_a_project_file_that_is_a_folder_or_not_text_is_one_line(capsys, tmp_path):
    binary = tmp_path / "martops.yml"
    binary.write_bytes(b"attribution:\n  direct_channel: Caf\xe9\n")  # latin-1
    for path, said in [(tmp_path, f"error: project file {tmp_path} is a directory; give the file itself, e.g. "
                                  f"{tmp_path / 'martops.yml'}"),
                       (binary, f"error: project file {binary} is not UTF-8 text (byte 34); is it the right file?")]:
        res = _cli(capsys, "check", "-c", path, "-w", tmp_path / "w.duckdb")
        assert res.code == 1 and res.err.strip().splitlines() == [said]


@pytest.mark.parametrize("text,said", [
    ("warehouse:\n\tpath: wh.duckdb\n",
     "martops.yml line 2, column 1: found character '\\t' that cannot start any token (while scanning for the next "
     "token); indent with spaces: YAML does not allow a tab there"),
    ("warehouse: {path: wh.duckdb\nattribution:\n  half_life_days: 3\n",
     "martops.yml line 2, column 12: expected ',' or '}', but got ':' (while parsing a flow mapping started at "
     "line 1, column 12)"),
    ("attribution:\n  direct_channel: \x01\n",
     "martops.yml is not valid YAML: unacceptable character #x0001: special characters are not allowed in "
     "\"<unicode string>\", position 31"),
])
def test_a_project_file_that_is_not_yaml_is_one_line_naming_line_and_column(capsys, tmp_path, monkeypatch, text, said):
    """Was PyYAML's five lines (context, its place, problem, its place, a caret under the line)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text(text)
    res = _cli(capsys, "check", "-w", tmp_path / "w.duckdb")
    assert res.code == 1 and res.err.strip().splitlines() == [f"error: {said}"], res.err
    assert not (tmp_path / "w.duckdb").exists()


def test_all_zero_ihc_weights_stop_a_run_before_anything_is_written(capsys, tiny_db, tmp_path):
    cfg = tmp_path / "martops.yml"
    cfg.write_text("attribution:\n  ihc_weights: {initializer: 0, holder: 0, closer: 0}\n")
    wh = tmp_path / "wh.duckdb"
    res = _cli(capsys, "attribution", "run", "--db", tiny_db, *RANGE, "-w", wh, "-c", cfg)
    assert res.code == 1 and "attribution.ihc_weights: at least one phase weight" in res.err
    assert not wh.exists()


def test_a_date_that_is_no_date_is_one_line_naming_line_and_column(capsys, tmp_path, monkeypatch):
    """PyYAML builds an unquoted date itself and raised a bare ValueError: a traceback, exit 70."""
    p = tmp_path / "martops.yml"
    p.write_text("loyalty:\n  earn_points: 10\n  as_of: 2013-13-01\n")
    said = "line 3, column 10: 2013-13-01 is not a date (month must be in 1..12); write it as YYYY-MM-DD"
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == f"{p} {said}"
    monkeypatch.chdir(tmp_path)
    res = _cli(capsys, "check", "-w", tmp_path / "w.duckdb")
    assert res.code == 1 and res.err.strip().splitlines() == [f"error: martops.yml {said}"], res.err
    assert not (tmp_path / "w.duckdb").exists()


def test_a_date_written_as_a_number_says_how_to_write_it(tmp_path):
    p = tmp_path / "martops.yml"
    p.write_text("loyalty:\n  as_of: 20130630\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == f"{p}: invalid project file: loyalty.as_of: write a date as YYYY-MM-DD (got 20130630)"
    p.write_text("loyalty:\n  as_of: 2013-06-30\n")
    assert str(load_config(p).loyalty.as_of) == "2013-06-30"
