"""Campaign export countries through `martops kpis build`: read by the normaliser of every domain
(`sources.countries`, the CRM's), with the one `countries.unknown` setting."""

from __future__ import annotations

import pytest

from martops.campaigns import tables as T
from martops.engine import connect
from martops.ops.quarantine import QUARANTINE
from tests.campaigns.exports import channel, rows, web, write_exports
from tests.cli_runner import run_cli

TEXTS = ["ES", "esp", "Spain", " uk ", "EL", "Deutschland", "unknown", "", "XX", "NA", "Atlantis"]
"""One web row per text, dated 2022-01-01 + i."""


def _build(capsys, tmp_path, yml: str):
    webs = [web(f"2022-01-{i + 1:02d}", country=c) for i, c in enumerate(TEXTS)]
    folder = write_exports(tmp_path / "x", [channel()], None, webs)
    (tmp_path / "martops.yml").write_text(yml)
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "kpis", "build", "--source", folder, "--warehouse", wh, "--config", tmp_path / "martops.yml")
    assert res.code == 0, res.err
    with connect(path=wh) as w:
        loaded = {r["date"].day: r["country_code"] for r in rows(w, T.WEB)}
        bad = {r["row_number"]: (r["column_name"], r["raw_value"]) for r in rows(w, QUARANTINE)}
    return loaded, bad


@pytest.mark.parametrize("yml, unknown", [
    ("campaigns:\n  country_aliases: {Deutschland: DE}\n", "ZZ"),
    ("countries: {unknown: QZ}\ncampaigns:\n  country_aliases: {Deutschland: DE}\n", "QZ"),
    # the older key still works, and sets the one setting
    ("campaigns:\n  unknown_country: xq\n  country_aliases: {Deutschland: DE}\n", "XQ"),
])
def test_codes_names_and_the_unknown_code(capsys, tmp_path, yml, unknown):
    loaded, bad = _build(capsys, tmp_path, yml)
    assert loaded == {1: "ES", 2: "ES", 3: "ES", 4: "GB", 5: "GR", 6: "DE", 7: unknown, 8: unknown}
    # two letters no country has, Namibia-or-not-available and a name no rule maps: quarantined, not guessed
    assert bad == {10: ("country_code", "XX"), 11: ("country_code", "NA"), 12: ("country_code", "Atlantis")}


def test_an_unknown_code_that_is_a_country_or_two_disagreeing_keys_are_errors(capsys, tmp_path):
    folder = write_exports(tmp_path / "x", [channel()], None, [web("2022-01-01")])
    for yml, said in [("countries: {unknown: DE}\n", "countries.unknown: must be a user-assigned"),
                      ("crm: {unknown_country: QZ}\ncampaigns: {unknown_country: ZZ}\n",
                       "set countries.unknown alone, got campaigns.unknown_country ZZ and crm.unknown_country QZ")]:
        (tmp_path / "m.yml").write_text(yml)
        res = run_cli(capsys, "kpis", "build", "--source", folder, "--warehouse", tmp_path / "w.duckdb",
                      "--config", tmp_path / "m.yml")
        assert res.code == 1 and said in res.err, res.err
    assert not (tmp_path / "w.duckdb").exists()
