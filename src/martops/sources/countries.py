"""Country names and codes to ISO 3166 alpha-2 with `pycountry`, over the distinct names of a delivery.

One normaliser for every domain: the CRM's country names and the campaign exports' country codes
are read by the same rules (`lookup` for a table of the rules used, `codes` for a small map).
In order, the first rule that answers wins (recorded per name in `country_rule`):
1. `alias`: the domain's `country_aliases` (case-insensitive), so a person's word beats the library's;
2. `code`: an ISO alpha-2 or alpha-3 code in any case (`DE`, `deu`, `USA`), and the codes in common
   use beside ISO's (`UK`, the EU's `EL` for Greece, `XK`). `NA` is refused: it is Namibia's code and
   the usual "not available", and nothing in a row says which (alias it);
3. `name`, `official_name`, `common_name`: pycountry's exact lookups (case-insensitive). An ISO
   name is the standard's own: `Congo` is CG (the Democratic Republic is `DR Congo`, CD);
4. `short_form`: the common names ISO does not list, `SHORT_FORMS` (`U.S.A.`, `DR Congo`, `Ivory
   Coast`, `Burma`, `Holland`, `UK`, `UAE`, `Russia`, `Laos`, `Swaziland`, `Kosovo`, ...);
5. `folded`: rules 3-4 again with case, accents, punctuation, `the`, `&`/`and` and `St.`/`Saint`
   folded on both sides, ISO's inverted names turned round (`Korea, Republic of` is also `Republic
   of Korea`) and a trailing parenthesis tried with and without (`Slovakia (Slovak Republic)`), so
   `Guinea Bissau` = `Guinea-Bissau` and `Cote d'Ivoire` = `Côte d'Ivoire`;
6. `fuzzy`: the name's words are all words of exactly ONE country's names (`Bolivia`, `Micronesia`,
   `Vatican`, `Democratic Republic of Congo`). Two candidates (`Korea`, `Virgin Islands`) or none is
   no answer, words that name no country by themselves (`Islands`, `Republic`) are not enough, and
   subdivisions are never searched: pycountry's own fuzzy search sent `Kosovo` to Serbia and
   `New Mexico` to the US through province names;
7. otherwise no code: the CRM gives it `countries.unknown` (`ZZ`) and counts it with the names in
   the cleaning log; the campaign exports quarantine the row. Names of countries that no longer
   exist (`Netherlands Antilles`, split in 2010; `Yugoslavia`, `Zaire`) land here on purpose: no
   single code is right. Add an alias to map them.

**Kosovo is XK.** ISO 3166 has not assigned Kosovo a code; XK is a user-assigned code, but it is the
one the European Commission, the IMF, SWIFT, Unicode CLDR and libphonenumber (+383) use, so a Kosovar
customer keeps a country of their own (Serbia, RS, would be a political claim and the wrong phone
plan; ZZ would lose what the row says). `Kosovo`, `XK` and `XKX` map to it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import ibis
import ibis.expr.types as ir
import pycountry

from martops.sources.spelling import squash

SCHEMA = ibis.schema({"country_key": "string", "country_iso": "string", "country_rule": "string"})
RULES = ("alias", "code", "name", "official_name", "common_name", "short_form", "folded", "fuzzy")
"""Every rule that can map a name, in the order they are tried."""

KOSOVO = "XK"
REFUSED_CODES = frozenset({"NA"})
"""Codes that are more often something else in a CRM column (`NA`: not available)."""
EXTRA_CODES = {"XK": KOSOVO, "XKX": KOSOVO, "UK": "GB", "EL": "GR"}
"""Codes in common use beside ISO's own: Kosovo (user-assigned), UK (ISO reserves it for GB), EL
(the European Union's code for Greece, in Eurostat and EU exports)."""

SHORT_FORMS = {
    "U.S.A.": "US", "U.S.": "US", "United States": "US", "America": "US",
    "UK": "GB", "U.K.": "GB", "Great Britain": "GB", "Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB",
    "UAE": "AE", "U.A.E.": "AE", "Emirates": "AE",
    "DR Congo": "CD", "DRC": "CD", "D.R. Congo": "CD", "Congo-Kinshasa": "CD", "Congo Kinshasa": "CD",
    "Democratic Republic of Congo": "CD", "Republic of the Congo": "CG", "Congo-Brazzaville": "CG",
    "Congo Brazzaville": "CG",
    "Ivory Coast": "CI", "Burma": "MM", "Holland": "NL", "The Netherlands": "NL",
    "Russia": "RU", "Vietnam": "VN", "Laos": "LA", "Syria": "SY", "Iran": "IR", "Bolivia": "BO",
    "Tanzania": "TZ", "Moldova": "MD", "Palestine": "PS", "Palestinian Territory": "PS",
    "Palestinian Territories": "PS", "Vatican": "VA", "Vatican City": "VA",
    "Korea": "KR", "South Korea": "KR", "Republic of Korea": "KR", "ROK": "KR", "North Korea": "KP",
    "DPRK": "KP", "DPR Korea": "KP", "Korea DPR": "KP", "PRC": "CN", "Mainland China": "CN", "Macedonia": "MK", "Swaziland": "SZ", "Czech Republic": "CZ", "Turkey": "TR",
    "Cape Verde": "CV", "East Timor": "TL", "Brunei": "BN", "Macau": "MO", "Micronesia": "FM",
    "Republic of China": "TW", "Chinese Taipei": "TW", "Libyan Arab Jamahiriya": "LY",
    "Pitcairn Islands": "PN", "Svalbard & Jan Mayen Islands": "SJ", "Svalbard": "SJ",
    "US Virgin Islands": "VI", "U.S. Virgin Islands": "VI", "United States Virgin Islands": "VI",
    "Falklands": "FK", "St Martin": "MF", "Saint Martin (French part)": "MF", "Sint Maarten": "SX",
    "Kosovo": KOSOVO, "Republic of Kosovo": KOSOVO,
}
"""Common names ISO does not list -> alpha-2. `Korea` alone is South Korea, as in everyday use and
in the CRM's own countries.csv (+82); `Macedonia` is North Macedonia (its name until 2019)."""

GENERIC_WORDS = frozenset("""
    and of the republic state states kingdom united democratic people peoples s federal federated
    province plurinational bolivarian islamic island islands union territory territories saint north
    south east west new great central french british american dutch part sar special administrative
    region commonwealth principality grand duchy sultanate arab socialist independent sovereign minor
    outlying city guiana""".split())
"""Words that cannot identify a country by themselves: a fuzzy name needs one other word. (`Guiana`
alone was British, Dutch or French Guiana: Guyana, Suriname or GF.)"""


def _fold(text: str) -> str:
    """Lower case without accents and punctuation, `&` -> and, `st` -> saint, `the` dropped."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[.']", "", text).replace("&", " and ")
    words = [("saint" if w == "st" else w) for w in re.split(r"[^a-z0-9]+", text) if w and w != "the"]
    return " ".join(words)


def _forms(name: str) -> list[str]:
    """A pycountry name as people write it: whole, without its parenthesis, the parenthesis alone,
    and turned round where ISO inverts it (`Korea, Republic of` -> `Republic of Korea`)."""
    out = [name]
    paren = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", name)
    if paren:
        out += [paren.group(1), paren.group(2)]
    for n in list(out):
        head, sep, tail = n.partition(", ")
        if sep:
            out.append(f"{tail} {head}")
    return out


def _names(country) -> list[str]:
    return [v for a in ("name", "official_name", "common_name") if (v := getattr(country, a, None))]


@functools.cache
def _folded_index() -> dict[str, str]:
    """Folded name -> alpha-2, for names only one country has (pycountry's and `SHORT_FORMS`)."""
    index: dict[str, set[str]] = {}
    for c in pycountry.countries:
        for name in _names(c):
            for form in _forms(name):
                index.setdefault(_fold(form), set()).add(c.alpha_2)
    for name, code in SHORT_FORMS.items():
        index.setdefault(_fold(name), set()).add(code)
    return {k: next(iter(v)) for k, v in index.items() if len(v) == 1 and k}


@functools.cache
def _word_sets() -> list[tuple[str, frozenset[str]]]:
    """(alpha-2, the words of one of its folded names), for the fuzzy rule."""
    out = []
    for c in pycountry.countries:
        for name in _names(c):
            out.append((c.alpha_2, frozenset(_fold(name).split())))
    return out


def _code(text: str) -> str | None:
    t = text.strip().upper()
    if t in REFUSED_CODES or not re.fullmatch(r"[A-Z]{2,3}", t):
        return None
    if t in EXTRA_CODES:
        return EXTRA_CODES[t]
    hit = pycountry.countries.get(alpha_2=t) if len(t) == 2 else pycountry.countries.get(alpha_3=t)
    return hit.alpha_2 if hit else None


def _fuzzy(text: str) -> str | None:
    words = set(_fold(text).split())
    if not words - GENERIC_WORDS:
        return None
    found = {code for code, names in _word_sets() if words <= names}
    return next(iter(found)) if len(found) == 1 else None


def iso2(name: str, aliases: dict[str, str]) -> tuple[str | None, str]:
    """(alpha-2, rule) for a trimmed, non-blank name; (None, 'unknown') when no rule maps it."""
    alias = {k.strip().lower(): v.strip().upper() for k, v in aliases.items()}.get(name.strip().lower())
    if alias:
        return alias, "alias"
    code = _code(name)
    if code:
        return code, "code"
    for attr in ("name", "official_name", "common_name"):
        hit = pycountry.countries.get(**{attr: name})
        if hit is not None:
            return hit.alpha_2, attr
    short = {k.lower(): v for k, v in SHORT_FORMS.items()}.get(name.strip().lower())
    if short:
        return short, "short_form"
    index = _folded_index()
    folded = {index[k] for k in map(_fold, _forms(name)) if k in index}
    if len(folded) == 1:
        return folded.pop(), "folded"
    fuzzy = _fuzzy(name)
    if fuzzy:
        return fuzzy, "fuzzy"
    return None, "unknown"


def key(text: ir.StringValue) -> ir.StringValue:
    """The name as `lookup` and `codes` key it: trimmed, whitespace collapsed, lower case; blank is NULL."""
    return squash(text).lower()


def _keys(names: list[str | None]) -> list[str]:
    return sorted({re.sub(r"\s+", " ", n).strip().lower() for n in names if n and n.strip()})


def codes(names: list[str | None], aliases: dict[str, str]) -> dict[str, str]:
    """`key` -> alpha-2 for each distinct name a rule maps; names no rule maps are left out."""
    found = {k: iso2(k, aliases)[0] for k in _keys(names)}
    return {k: code for k, code in found.items() if code}


def lookup(names: list[str | None], aliases: dict[str, str], unknown: str) -> ibis.Table:
    """`country_key` (`key` of a name) -> `country_iso` (`unknown` where no rule maps it), `country_rule`."""
    rows: dict[str, list] = {c: [] for c in SCHEMA.names}
    for k in _keys(names):
        code, rule = iso2(k, aliases)
        rows["country_key"].append(k)
        rows["country_iso"].append(code or unknown)
        rows["country_rule"].append(rule)
    return ibis.memtable(rows, schema=SCHEMA)
