"""Each standardisation rule on its own: emails, names, dates, amounts, booleans, types, phones, countries."""

from __future__ import annotations

import ibis
import pytest

from martops.config import CrmConfig
from martops.crm import phones
from martops.crm import standardize as S
from martops.sources import countries, spelling


def _col(fn, values, dtype="string"):
    t = ibis.memtable({"s": values}, schema={"s": dtype})
    return t.select(v=fn(t.s)).to_pyarrow().column("v").to_pylist()


def test_emails_trimmed_lower_cased_and_syntax_checked():
    values = [" Ann@Example.COM ", "bob@example", "no-at-sign.com", "two@@example.com", "a b@example.com", "", None]
    assert _col(S.email, values) == ["ann@example.com", "bob@example", None, None, None, None, None]
    assert _col(S.email_valid, values) == [True, True, False, False, False, None, None]


def test_names_keep_case_collapse_spaces_and_split_for_linkage():
    values = ["  Mary   Ann  McDonald ", "Dr. Jacob Molina DDS", "Mrs. Elizabeth Huffman PhD", "William Graves III",
              "O'Brien", "sean o'neil"]
    assert _col(S.squash, values)[0] == "Mary Ann McDonald"
    assert _col(S.first_name, values) == ["Mary", "Jacob", "Elizabeth", "William", None, "sean"]
    assert _col(S.surname, values) == ["McDonald", "Molina", "Huffman", "Graves", "O'Brien", "o'neil"]


def test_dates_in_the_accepted_formats_only():
    import datetime as dt

    got = _col(S.date, ["2024-04-01", " 2024/4/1 ", "01.04.2024", "1.4.2024", "04/01/2024", "2024-02-30", "soon", None])
    d = dt.date(2024, 4, 1)
    assert got == [d, d, d, d, None, None, None, None]


def test_amounts_strip_spaces_symbols_and_thousands_commas():
    got = _col(S.amount, ["411 ", "$1,234.50", "€ 12", "1,5", "-3", "abc", "", "0.5", None, "12 USD"])
    assert got == [411.0, 1234.5, 12.0, None, None, None, None, 0.5, None, 12.0]


def test_booleans_and_interaction_types():
    assert _col(S.boolean, ["True", "false", " YES", "n", "1", "0", "maybe", None]) == \
        [True, False, True, False, True, False, None, None]
    aliases = CrmConfig().interaction_types
    assert _col(lambda s: S.interaction_type(s, aliases), ["Phone", " CHAT ", "E-mail", "", None, "SMS"]) == \
        ["phone", "chat", "email", "unknown", "unknown", "sms"]


def test_categoricals_take_the_delivery_s_most_used_spelling():
    t = ibis.memtable({"value": ["Home", "home ", "Home", "HOME", "Beauty", None]})
    m = {r["key"]: r["canonical"] for r in spelling.spellings(t).to_pyarrow().to_pylist()}
    assert m == {"home": "Home", "beauty": "Beauty"}
    assert _col(lambda s: S.respelled(s, m), ["  home", "BEAUTY", "", None]) == ["Home", "Beauty", "unknown", "unknown"]


@pytest.mark.parametrize("text, e164, ext, status", [
    ("(276)903-7065", "+12769037065", None, "valid"),
    ("917.965.7512", "+19179657512", None, "valid"),
    ("+1-975-266-7142", "+19752667142", None, "valid"),
    ("4832368495", "+14832368495", None, "possible"),  # area code 483 is not assigned
    ("001-463-276-0820x6208", "+14632760820", "6208", "valid"),
    ("5878628895", "+15878628895", None, "valid"),
    ("+44 20 7946 0958", "+442079460958", None, "valid"),
    ("12", "+112", None, "invalid"),
    ("call me", None, None, "unparseable"),
])
def test_phones_parsed_by_phonenumbers_to_e164(text, e164, ext, status):
    got = phones.parse(text, "US")
    assert got[:3] == (e164, ext, status)
    assert got[3] == text.startswith("00")


def test_countries_by_alias_code_name_short_form_folded_fuzzy_else_unknown():
    aliases = {"Atlantis": "AQ"}
    assert countries.iso2("atlantis", aliases) == ("AQ", "alias")
    assert countries.iso2("uk", aliases) == ("GB", "code")
    assert countries.iso2("Japan", aliases) == ("JP", "name")
    assert countries.iso2("Czech Republic", aliases) == ("CZ", "official_name")
    assert countries.iso2("korea", aliases) == ("KR", "short_form")
    assert countries.iso2("Reunion", aliases) == ("RE", "folded")
    assert countries.iso2("Slovakia (Slovak Republic)", aliases) == ("SK", "folded")
    assert countries.iso2("Saint Helena", aliases) == ("SH", "fuzzy")
    assert countries.iso2("Netherlands Antilles", aliases) == (None, "unknown")
    assert countries.iso2("Atlantis", {}) == (None, "unknown")
