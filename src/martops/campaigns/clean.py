"""Cleaning expressions for campaign exports: ids, spellings, countries, products (all Ibis).

Spelling variants follow the rule of every domain (`sources.spelling`): exports hand-typed by
several people carry stray spaces (`fb prospe cting`, `search -shopping`, `demand gen`); texts
equal once every space is removed and case is folded are one value, spelled as the delivery
spells it most often (ties: fewer spaces, then alphabetical). Here every text is lower-cased
first. Values differing in any other way stay apart.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.sources import spelling

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


def country(text: ir.StringValue, aliases: dict[str, str], unknown: str) -> ir.StringValue:
    """ISO 3166 alpha-2: upper-cased, aliases mapped, blank/'unknown' -> `unknown`; else NULL (invalid)."""
    c = text.strip().upper()
    blank = text.isnull() | (c == "") | c.isin(["UNKNOWN", "N/A", "NONE", "NULL", "-"])
    mapped = c.substitute(aliases) if aliases else c
    valid = mapped.re_search(r"^[A-Z]{2}$")
    return ibis.cases((blank, ibis.literal(unknown)), (valid, mapped), else_=ibis.null("string"))


def product(text: ir.StringValue, products: dict[str, list[str]], unknown: str = "unknown") -> ir.StringValue:
    """Canonical product for a spelling; NULL and blank are `unknown`; unlisted spellings stay (squashed)."""
    s = squash(text)
    lookup = {spelling.strip().lower(): canon for canon, spellings_ in products.items() for spelling in spellings_}
    return ibis.cases((s.isnull(), ibis.literal(unknown)), else_=s.substitute(lookup))
