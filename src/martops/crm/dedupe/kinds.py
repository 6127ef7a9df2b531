"""Column kinds: how each kind of column is prepared, compared and blocked on.

A user says `--compare surname=name --compare dob=date`; everything Splink needs follows from the
kind, so nobody has to write a settings dictionary to deduplicate a table. Preparation is SQL run
once on the input (not per pair): it removes the differences that are format, not identity (case,
spaces, punctuation, script, a phone's country prefix and extension), so the comparisons only have
to judge real differences (typos, nicknames, moves). Names, addresses and cities arrive here already
transliterated to ASCII (`fold`), so `[^a-z]` removes punctuation, not letters of another script.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink.internals.comparison_creator import ComparisonCreator

Kind = Literal["name", "email", "phone", "address", "postcode", "city", "date", "id", "category"]
KINDS: tuple[str, ...] = get_args(Kind)
CANON = "__canon"
"""Suffix of a name column's nickname-resolved twin (bob -> robert), used by a comparison level."""


@dataclasses.dataclass(frozen=True)
class Column:
    source: str
    """The column in the input, as the user named it."""
    kind: str
    name: str
    """A safe lower-case identifier used inside the linkage (`First Name` -> `first_name`)."""

    @property
    def canon(self) -> str:
        return self.name + CANON


def _text(col: str) -> str:
    return f'nullif(trim(CAST(input."{col}" AS VARCHAR)), \'\')'


def _letters(expr: str) -> str:
    return f"nullif(regexp_replace(strip_accents(lower({expr})), '[^a-z]', '', 'g'), '')"


LOCATION_KINDS = ("address", "postcode", "city")

_STREET_WORDS = {"street": "st", "road": "rd", "avenue": "ave", "drive": "dr", "lane": "ln",
                 "boulevard": "blvd", "court": "ct", "place": "pl", "square": "sq", "apartment": "apt"}


def _address(expr: str) -> str:
    out = f"regexp_replace(strip_accents(lower({expr})), '[^a-z0-9 ]', ' ', 'g')"
    for word, short in _STREET_WORDS.items():
        out = f"regexp_replace({out}, '\\b{word}\\b', '{short}', 'g')"
    return f"nullif(trim(regexp_replace({out}, '\\s+', ' ', 'g')), '')"


def _phone(expr: str) -> str:
    """The last 10 digits, extension dropped: `+1-276-903-7065 x12`, `001 276 903 7065` and
    `(276) 903-7065` compare equal. A comparison key, not a standardised number (E.164 needs the
    number's region; the CRM pipeline stores that separately)."""
    digits = (f"regexp_replace(regexp_replace(lower({expr}), '\\s*(x|ext\\.?|extension)\\s*[0-9]+\\s*$', ''),"
              " '[^0-9]', '', 'g')")
    return f"CASE WHEN length({digits}) >= 7 THEN right({digits}, 10) END"


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d", "%Y-%m-%d %H:%M:%S")


def _date(expr: str) -> str:
    """ISO text; day-first and month-first slashes are ambiguous, so only unambiguous formats parse."""
    tries = ", ".join(f"try_strptime({expr}, '{f}')" for f in _DATE_FORMATS)
    return f"strftime(coalesce({tries}), '%Y-%m-%d')"


def text_sql(col: Column) -> str:
    """The column's trimmed text (NULL when blank), before preparation."""
    return _text(col.source)


def prepare_sql(col: Column, raw: str | None = None) -> str:
    """The SQL expression that prepares `col` for linkage, named `col.name`; `raw` replaces the
    column's text (`text_sql`), e.g. by its transliteration (`fold`)."""
    raw = raw or _text(col.source)
    expr = {
        "name": _letters(raw),
        "email": f"nullif(regexp_replace(lower({raw}), '\\s', '', 'g'), '')",
        "phone": _phone(raw),
        "address": _address(raw),
        "postcode": f"nullif(upper(regexp_replace({raw}, '[^0-9A-Za-z]', '', 'g')), '')",
        "city": f"nullif(trim(regexp_replace(strip_accents(lower({raw})), '[^a-z0-9]+', ' ', 'g')), '')",
        "date": _date(raw),
        "id": raw,
        "category": f"lower({raw})",
    }[col.kind]
    return f'{expr} AS "{col.name}"'


def _l(col: str) -> str:
    return f'"{col}_l"'


def _r(col: str) -> str:
    return f'"{col}_r"'


def comparison(col: Column) -> ComparisonCreator:
    """One Splink comparison per column; levels go from the strongest evidence to none."""
    c = col.name
    null = cll.NullLevel(c)
    if col.kind == "name":
        levels = [
            null,
            cll.ExactMatchLevel(c).configure(tf_adjustment_column=c),
            cll.CustomLevel(f"{_l(col.canon)} = {_r(col.canon)}", label_for_charts="same name after nicknames"),
            cll.DamerauLevenshteinLevel(c, 1),
            cll.JaroWinklerLevel(c, 0.9),
            cll.JaroWinklerLevel(c, 0.7),
            cll.ElseLevel(),
        ]
    elif col.kind == "email":
        return cl.EmailComparison(c)
    elif col.kind == "phone":
        levels = [null, cll.ExactMatchLevel(c), cll.DamerauLevenshteinLevel(c, 1),
                  cll.CustomLevel(f"right({_l(c)}, 7) = right({_r(c)}, 7)", label_for_charts="same last 7 digits"),
                  cll.ElseLevel()]
    elif col.kind == "address":
        levels = [null, cll.ExactMatchLevel(c), cll.JaroWinklerLevel(c, 0.9), cll.JaroWinklerLevel(c, 0.7),
                  cll.ElseLevel()]
    elif col.kind == "postcode":
        levels = [null, cll.ExactMatchLevel(c), cll.DamerauLevenshteinLevel(c, 1),
                  cll.CustomLevel(f"left({_l(c)}, 3) = left({_r(c)}, 3)", label_for_charts="same first 3 characters"),
                  cll.ElseLevel()]
    elif col.kind == "city":
        levels = [null, cll.ExactMatchLevel(c).configure(tf_adjustment_column=c), cll.JaroWinklerLevel(c, 0.9),
                  cll.ElseLevel()]
    elif col.kind == "date":
        days = f"abs(date_diff('day', CAST({_l(c)} AS DATE), CAST({_r(c)} AS DATE)))"
        swapped = (f"substr({_l(c)}, 1, 4) = substr({_r(c)}, 1, 4) AND substr({_l(c)}, 6, 2) = substr({_r(c)}, 9, 2)"
                   f" AND substr({_l(c)}, 9, 2) = substr({_r(c)}, 6, 2)")
        levels = [null, cll.ExactMatchLevel(c), cll.DamerauLevenshteinLevel(c, 1),
                  cll.CustomLevel(swapped, label_for_charts="day and month swapped"),
                  cll.CustomLevel(f"{days} <= 31", label_for_charts="within a month"),
                  cll.CustomLevel(f"{days} <= 366", label_for_charts="within a year"),
                  cll.ElseLevel()]
    else:  # id, category
        return cl.ExactMatch(c)
    return cl.CustomComparison(levels, output_column_name=c, comparison_description=f"{col.source} ({col.kind})")


def location_comparison(cols: list[Column]) -> ComparisonCreator:
    """Address, postcode, city (and a phone, if compared) as ONE comparison. They are not
    independent evidence: relatives share all three and often a landline, and Splink multiplies
    independent comparisons' Bayes factors, so separate comparisons would count one household four
    times and merge its members. One comparison counts "lives at the same place" once, at its
    strongest level, and keeps "same phone and same address" apart from "same phone elsewhere"."""
    of = {k: next((c.name for c in cols if c.kind == k), None) for k in (*LOCATION_KINDS, "phone")}
    address, postcode, city, phone = of["address"], of["postcode"], of["city"], of["phone"]
    present = [c for c in (phone, address, postcode, city) if c]
    place = address or postcode or city
    levels: list = [cll.And(*[cll.NullLevel(c) for c in present])]
    if phone:
        levels += [cll.And(cll.ExactMatchLevel(phone), cll.ExactMatchLevel(place)).configure(
                       label_for_charts=f"same {phone} and {place}"),
                   cll.ExactMatchLevel(phone).configure(label_for_charts=f"same {phone}, not the same {place}")]
    if address and postcode:
        levels.append(cll.And(cll.ExactMatchLevel(address), cll.ExactMatchLevel(postcode)).configure(
            label_for_charts="same address and postcode"))
    if address:
        levels.append(cll.ExactMatchLevel(address))
    if address and postcode:
        levels.append(cll.And(cll.JaroWinklerLevel(address, 0.9), cll.ExactMatchLevel(postcode)).configure(
            label_for_charts="similar address, same postcode"))
    if postcode:
        levels.append(cll.ExactMatchLevel(postcode))
    if city:
        levels.append(cll.ExactMatchLevel(city))
    if phone:
        levels.append(cll.DamerauLevenshteinLevel(phone, 1).configure(label_for_charts=f"{phone} one digit off"))
    levels.append(cll.ElseLevel())
    sources = ", ".join(c.source for c in cols if c.name in present)
    return cl.CustomComparison(levels, output_column_name="location", comparison_description=f"location ({sources})")


def comparisons(cols: list[Column]) -> list[ComparisonCreator]:
    """One comparison per column, except that the location columns (and a phone, when there is
    a location too) share one: see `location_comparison`. Two columns of one location kind (home
    and work postcode) keep separate comparisons: which pairs with which is not known."""
    joint = [c for c in cols if c.kind in (*LOCATION_KINDS, "phone")]
    kinds = [c.kind for c in joint]
    if len(joint) < 2 or len(set(kinds)) < len(kinds) or set(kinds) == {"phone"}:
        return [comparison(c) for c in cols]
    return [*(comparison(c) for c in cols if c not in joint), location_comparison(joint)]


def blocking_keys(cols: list[Column]) -> list[tuple[str, ...]]:
    """Pairs worth scoring: the same email, phone or id; the same names; a name (nicknames resolved)
    with the same date or postcode; the same date and postcode. Each rule alone misses some true
    pairs (a typo, a missing field, a move); together they miss a pair only if it differs in nearly
    everything. No rule blocks on a city or a category alone: at 1M records that is billions of pairs."""
    of = lambda *kinds: [c for c in cols if c.kind in kinds]  # noqa: E731
    keys: list[tuple[str, ...]] = [(c.name,) for c in of("email", "phone", "id")]
    names = of("name")
    if names:
        keys.append(tuple(c.name for c in names))
    anchors = of("date", "postcode")
    keys += [(n.canon, a.name) for n in names for a in anchors]
    keys += [(a.name, b.name) for i, a in enumerate(anchors) for b in anchors[i + 1:] if a.kind != b.kind]
    if not keys:
        keys = [(c.name,) for c in cols if c.kind in ("address", "city", "category")][:1]
    return list(dict.fromkeys(keys))


def deterministic_keys(cols: list[Column]) -> list[tuple[str, ...]]:
    """Rules that almost never pair different people, to estimate how many pairs match at all."""
    keys: list[tuple[str, ...]] = [(c.name,) for c in cols if c.kind in ("email", "phone", "id")]
    names = [c.name for c in cols if c.kind == "name"]
    dates = [c.name for c in cols if c.kind == "date"]
    if names and dates:
        keys.append((*names, dates[0]))
    return keys or blocking_keys(cols)[:1]
