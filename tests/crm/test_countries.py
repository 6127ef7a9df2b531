"""Country names and codes to ISO alpha-2: every name pycountry knows lands on its own code, the
common short forms too, and a name two countries could mean lands on none."""

from __future__ import annotations

import csv

import phonenumbers
import pycountry
import pytest

from martops.crm import tables as T
from martops.engine import connect
from martops.sources import countries
from tests.cli_runner import run_cli
from tests.conftest import dataset
from tests.crm.folders import by_id, run_build, write_folder


def _iso(text: str) -> str | None:
    """As `crm build` asks: the trimmed, whitespace-collapsed, lower-cased name."""
    return countries.iso2(" ".join(text.split()).lower(), {})[0]


def test_every_pycountry_name_and_code_lands_on_its_own_country():
    wrong = []
    for c in pycountry.countries:
        texts = [getattr(c, a, None) for a in ("name", "official_name", "common_name", "alpha_3")]
        texts += [c.alpha_2] if c.alpha_2 != "NA" else []
        for text in filter(None, texts):
            for variant in (text, text.upper(), text.lower()):
                if _iso(variant) != c.alpha_2:
                    wrong.append((variant, c.alpha_2, _iso(variant)))
    assert wrong == []


SHORT = {
    "USA": "US", "U.S.A.": "US", "usa": "US", "United States": "US", "DR Congo": "CD", "Congo": "CG",
    "Democratic Republic of the Congo": "CD", "Democratic Republic of Congo": "CD", "Republic of the Congo": "CG",
    "Ivory Coast": "CI", "Cote d'Ivoire": "CI", "Burma": "MM", "Guinea Bissau": "GW", "Guinea": "GN",
    "Equatorial Guinea": "GQ", "Korea": "KR", "South Korea": "KR", "Republic of Korea": "KR", "North Korea": "KP",
    "Niger": "NE", "Nigeria": "NG", "Dominica": "DM", "Dominican Republic": "DO", "Sudan": "SD",
    "South Sudan": "SS", "British Virgin Islands": "VG", "US Virgin Islands": "VI", "Micronesia": "FM",
    "Macedonia": "MK", "North Macedonia": "MK", "Swaziland": "SZ", "Eswatini": "SZ", "Czechia": "CZ",
    "Czech Republic": "CZ", "Holland": "NL", "The Netherlands": "NL", "UK": "GB", "U.K.": "GB",
    "Great Britain": "GB", "Northern Ireland": "GB", "Ireland": "IE", "UAE": "AE", "Russia": "RU",
    "Vietnam": "VN", "Laos": "LA", "Syria": "SY", "Iran": "IR", "Bolivia": "BO", "Tanzania": "TZ",
    "Moldova": "MD", "Palestine": "PS", "Vatican": "VA", "Vatican City": "VA", "Holy See": "VA",
    "Turkey": "TR", "Türkiye": "TR", "Cape Verde": "CV", "East Timor": "TL", "Brunei": "BN", "Macau": "MO",
    "St. Lucia": "LC", "St Kitts & Nevis": "KN", "The Gambia": "GM", "Réunion": "RE", "Reunion": "RE",
    "Slovakia (Slovak Republic)": "SK", "Republic of China": "TW", "Taiwan": "TW", "Kosovo": "XK", "XK": "XK",
    "Saint Helena": "SH", "Federated States of Micronesia": "FM", "deu": "DE", "de": "DE",
}


@pytest.mark.parametrize("text, code", sorted(SHORT.items()))
def test_short_forms_and_codes(text, code):
    assert _iso(text) == code


@pytest.mark.parametrize("text", [
    "Virgin Islands",        # British (VG) or US (VI)
    "Guiana",                # British, Dutch or French: Guyana, Suriname, GF
    "NA",                    # Namibia's code, and "not available"
    "New Mexico",            # a US state: pycountry's fuzzy search said US through a subdivision
    "Zaire", "Yugoslavia", "Netherlands Antilles",  # no longer exist: no single code is right
    "Islands", "Republic", "Atlantis",
])
def test_a_name_no_single_country_answers_is_unknown(text):
    assert _iso(text) is None


def test_kosovo_is_xk_not_serbia_through_a_province():
    assert countries.iso2("kosovo", {}) == ("XK", "short_form")
    assert countries.iso2("serbia", {}) == ("RS", "name")


def test_an_alias_beats_every_rule():
    assert countries.iso2("congo", {"Congo": "CD"}) == ("CD", "alias")
    assert countries.iso2("netherlands antilles", {"Netherlands Antilles": "CW"}) == ("CW", "alias")


def test_crm_build_maps_each_row_and_counts_the_rule(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[
        ("c1", "A B", "", "", "U.S.A."), ("c2", "C D", "", "", "DR Congo"), ("c3", "E F", "", "", "Ivory Coast"),
        ("c4", "G H", "", "", "Kosovo"), ("c5", "I J", "", "", "Virgin Islands"), ("c6", "K L", "", "", "deu"),
        ("c7", "M N", "", "", "Guinea Bissau"), ("c8", "O P", "", "", "Bolivia")])
    _, _, log = run_build(wh, folder)
    c = by_id(wh, T.CUSTOMERS, "customer_id")
    assert {k: v["country"] for k, v in c.items()} == {"c1": "US", "c2": "CD", "c3": "CI", "c4": "XK", "c5": "ZZ",
                                                        "c6": "DE", "c7": "GW", "c8": "BO"}
    mapped = {e.rule.rsplit(" ", 1)[1]: e.rows for e in log.entries
              if e.file == "customers" and e.rule.startswith("rows whose country was mapped")}
    assert mapped == {"short_form": 4, "code": 1, "folded": 1, "common_name": 1}
    assert log.get("customers", "rows whose country no rule maps -> ZZ (add crm.country_aliases)") == 1


def test_real_countries_file_agrees_with_the_dialling_codes():
    """Each name in the real countries.csv maps to a country whose calling code is the file's own
    (where libphonenumber has a plan), so the mapping is checked by a second, independent source."""
    wrong, unmapped = [], []
    with (dataset("crm") / "countries.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = _iso(row["Country"])
            if code is None:
                unmapped.append(row["Country"])
                continue
            calling = phonenumbers.country_code_for_region(code)
            if calling and not row["Country_Code"].strip().lstrip("+").startswith(str(calling)):
                wrong.append((row["Country"], code, row["Country_Code"]))
    assert wrong == [] and unmapped == ["Netherlands Antilles"]


@pytest.mark.parametrize("yml", ["countries: {unknown: QZ}\n", "crm: {unknown_country: QZ}\n"])
def test_the_one_unknown_country_setting_reaches_the_load_the_log_and_the_marts(capsys, tmp_path, yml):
    """`countries.unknown` (or its older spelling `crm.unknown_country`) is the code of a blank or
    unmapped country in crm.customers, in the cleaning log, and of a customer only a transaction
    names (an orphan) in marts.crm_customer_value: no code is hard-coded."""
    folder = write_folder(tmp_path / "d", customers=[("c1", "A B", "", "", "Atlantis"), ("c2", "C D", "", "", ""),
                                                     ("c3", "E F", "", "", "Japan")],
                          transactions=[("t1", "c1", "1", "2024-04-01", "10", "r1"),
                                        ("t2", "ghost", "1", "2024-04-02", "5", "r1")])
    (tmp_path / "m.yml").write_text(yml)
    wh = tmp_path / "w.duckdb"
    res = run_cli(capsys, "crm", "build", "--source", folder, "--warehouse", wh, "--config", tmp_path / "m.yml")
    assert res.code == 0, res.err
    assert "rows whose country no rule maps -> QZ" in res.out
    with connect(path=wh) as w:
        c = by_id(w, T.CUSTOMERS, "customer_id")
        value = by_id(w, "marts.crm_customer_value", "golden_id")
    assert {k: v["country"] for k, v in c.items()} == {"c1": "QZ", "c2": "QZ", "c3": "JP"}
    assert (value["ghost"]["known"], value["ghost"]["country"]) == (False, "QZ")
