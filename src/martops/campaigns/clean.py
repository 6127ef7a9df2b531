"""Cleaning expressions for campaign exports: ids, spellings, countries, products (all Ibis).

Spelling variants: exports hand-typed by several people carry stray spaces (`fb prospe cting`,
`search -shopping`, `demand gen`). Two texts that are equal once every space is removed and
case is folded are one value; its canonical spelling is the one used most often across the
delivery (ties: fewer spaces, then alphabetical). Values differing in any other way stay apart.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

ID_PATTERN = r"^(\d+)(\.0+)?$"


def campaign_id(text: ir.StringValue) -> ir.StringValue:
    """Digits only; `123.000000` (a float export) becomes `123`; anything else is NULL (invalid)."""
    return text.strip().re_extract(ID_PATTERN, 1).nullif("")


def squash(text: ir.StringValue) -> ir.StringValue:
    """Trimmed, lower case, runs of spaces collapsed; empty is NULL."""
    return text.strip().lower().re_replace(r"\s+", " ").nullif("")


def space_key(text: ir.StringValue) -> ir.StringValue:
    return text.lower().re_replace(r"\s+", "").nullif("")


def spellings(values: ir.Table) -> ir.Table:
    """From a one-column table of texts (`value`), the map space_key -> canonical spelling."""
    v = values.select(value=squash(values.value)).filter(lambda t: t.value.notnull())
    v = v.mutate(key=space_key(v.value))
    counts = v.group_by(["key", "value"]).aggregate(uses=v.count())
    counts = counts.mutate(spaces=counts.value.length() - counts.value.replace(" ", "").length())
    rank = ibis.row_number().over(group_by="key", order_by=[ibis.desc("uses"), "spaces", "value"])
    ranked = counts.mutate(_rank=rank)
    variants = counts.group_by("key").aggregate(variants=counts.count())
    best = ranked.filter(ranked._rank == 0).select("key", canonical=ranked.value)
    return best.join(variants, "key")


def respell(t: ir.Table, column: str, spelling: ir.Table) -> ir.Table:
    """Replace `column` with its canonical spelling (NULL stays NULL)."""
    s = spelling.select(_k=spelling.key, _canon=spelling.canonical)
    j = t.left_join(s, space_key(t[column]) == s._k)
    return j.mutate(**{column: j._canon}).drop("_k", "_canon")


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
