"""Cleaning expressions for campaign exports: ids, spellings, countries, products (all Ibis).

Countries are read by the normaliser of every domain (`sources.countries`).

Spelling variants follow the rule of every domain (`sources.spelling`): exports hand-typed by
several people carry stray spaces (`fb prospe cting`, `search -shopping`, `demand gen`); texts
equal once every space is removed and case is folded are one value, spelled as the delivery
spells it most often (ties: fewer spaces, then alphabetical). Here every text is lower-cased
first. Values differing in any other way stay apart.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.sources import countries, spelling

ID_PATTERN = r"^(\d+)(\.0+)?$"


def campaign_id(text: ir.StringValue) -> ir.StringValue:
    """Digits only; `123.000000` (a float export) becomes `123`; anything else is NULL (invalid)."""
    return text.strip().re_extract(ID_PATTERN, 1).nullif("")


def squash(text: ir.StringValue) -> ir.StringValue:
    """Lower case, trimmed, runs of spaces collapsed; empty is NULL (`sources.spelling.squash`)."""
    return spelling.squash(text.lower())


def spellings(values: ir.Table) -> ir.Table:
    """The delivery's spelling map (`sources.spelling.spellings`) over lower-cased texts: campaign
    names and channels are lower case by convention, so case is no spelling here."""
    return spelling.spellings(values.mutate(value=values.value.lower()))


def flag_changed(t: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """`_changed_<c>`: the cleaned value differs from the raw text kept as `_raw_<c>` (then dropped)."""
    flags = {f"_changed_{c}": (t[f"_raw_{c}"].notnull() & t[c].isnull())
             | (t[c].notnull() & (t[c] != t[f"_raw_{c}"]).fill_null(True)) for c in columns}
    return t.mutate(**flags).drop(*[f"_raw_{c}" for c in columns])


UNKNOWN_TEXTS = ("unknown", "n/a", "none", "null", "-")
"""Country texts the exports write for 'unknown' (with blank and the unknown code itself)."""


def country(text: ir.StringValue, codes: dict[str, str], unknown: str) -> ir.StringValue:
    """ISO 3166 alpha-2 by the rules of every domain (`sources.countries`; `codes` is its map of the
    delivery's texts, `countries.codes`): `es`, `ESP`, `Spain`, `UK` -> ES, ES, ES, GB. Blank,
    'unknown' and the like become `unknown`; a text no rule maps is NULL (the row is quarantined)."""
    k = countries.key(text)
    blank = k.isnull() | k.isin([*UNKNOWN_TEXTS, unknown.lower()])
    mapped = k.substitute(codes, else_=ibis.null("string")) if codes else ibis.null("string")
    return ibis.cases((blank, ibis.literal(unknown)), else_=mapped)


def product(text: ir.StringValue, products: dict[str, list[str]], unknown: str = "unknown") -> ir.StringValue:
    """Canonical product for a spelling; NULL and blank are `unknown`; unlisted spellings stay (squashed)."""
    s = squash(text)
    lookup = {spelling.strip().lower(): canon for canon, spellings_ in products.items() for spelling in spellings_}
    return ibis.cases((s.isnull(), ibis.literal(unknown)), else_=s.substitute(lookup))
