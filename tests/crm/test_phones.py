"""Phones without a country code are national numbers of the row's own country; the default region
is for rows without a known country only."""

from __future__ import annotations

from martops.config import CrmConfig, ProjectConfig
from martops.crm import tables as T
from tests.crm.folders import by_id, run_build, write_folder


def test_a_phone_is_read_in_the_rows_country_else_the_default_region(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[
        ("fr", "Anne Martin", "", "06 12 34 56 78", "France"),
        ("de", "Jan Schulz", "", "(030) 1234567", "Germany"),
        ("us", "Ann Lee", "", "(276) 903-7065", "USA"),
        ("none", "Bob Roe", "", "(276) 903-7065", ""),          # no country: crm.default_region (US)
        ("zz", "Cy Doe", "", "(276) 903-7065", "Atlantis"),     # no rule maps it: the default region too
        ("fr2", "Eve Roux", "", "(276) 903-7065", "France"),    # same text, another country: not US
        ("intl", "Kai Berg", "", "+49 30 1234567", "France"),   # a country code wins over the row's country
        ("aq", "Pol Ice", "", "555 0100", "Antarctica"),        # no numbering plan: not guessed
    ])
    _, _, log = run_build(wh, folder)
    s = by_id(wh, T.STAGING["customers"], "customer_id")
    got = {k: (r["phone"], r["phone_status"], r["phone_region"]) for k, r in s.items()}
    assert got == {
        "fr": ("+33612345678", "valid", "FR"),
        "de": ("+49301234567", "valid", "DE"),
        "us": ("+12769037065", "valid", "US"),
        "none": ("+12769037065", "valid", "US"),
        "zz": ("+12769037065", "valid", "US"),
        "fr2": (None, "invalid", "FR"),
        "intl": ("+49301234567", "valid", "FR"),
        "aq": (None, "unparseable", "AQ"),
    }
    assert log.get("customers", "phones parsed to E.164 (valid numbers)") == 6
    assert log.get("customers", "phones read in crm.default_region (no known country on the row)") == 2


def test_the_default_region_applies_to_rows_without_a_country(tmp_path, wh):
    folder = write_folder(tmp_path / "d", customers=[("c1", "Anne Martin", "", "06 12 34 56 78", ""),
                                                     ("c2", "Jan Schulz", "", "06 12 34 56 78", "Germany")])
    run_build(wh, folder, ProjectConfig(crm=CrmConfig(default_region="FR")))
    s = by_id(wh, T.STAGING["customers"], "customer_id")
    assert (s["c1"]["phone"], s["c1"]["phone_region"]) == ("+33612345678", "FR")
    assert (s["c2"]["phone"], s["c2"]["phone_status"], s["c2"]["phone_region"]) == ("+49612345678", "valid", "DE")
