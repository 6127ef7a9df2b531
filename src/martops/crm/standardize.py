"""Standardising CRM values in Ibis (SQL where the warehouse runs): the raw text always stays next to it.

- **Emails**: trimmed and lower-cased, then checked against the WHATWG HTML5 "valid e-mail address"
  pattern (what a browser's `<input type=email>` accepts; see `EMAIL_PATTERN`). An address failing it
  is kept in `email_raw`, NULL in `email` and counted: the customer is real, the address is not.
- **Names**: trimmed, inner whitespace collapsed, the CASE and SCRIPT KEPT as written (title-casing
  breaks `McDonald`, `DDS`, `van der Berg`; `Иван Петров` stays Cyrillic; the dedupe step compares
  transliterations). Symbols are not names: emoji and other symbols are dropped, and a name made
  only of them is missing (NULL, counted). `first_name` / `surname` for
  linkage are the first and last words once honorifics (`Mr.`, `Dr.`) and suffixes (`MD`, `PhD`,
  `III`) are left out; a one-word name is a surname. Compare them case-insensitively.
- **Dates** and **amounts** are read by the shared parsers of every domain (`sources.timestamps`,
  `sources.numbers`): `YYYY-MM-DD`, `YYYY/MM/DD`, `DD.MM.YYYY` (slashed day- or month-first dates
  are refused); amounts with currency symbols and thousands separators (`$ 1 234.50`); a decimal
  comma only where `sources.crm.decimal` declares it. A negative amount is quarantined.
- **Categoricals**: interaction types trimmed, lower-cased and mapped (`crm.interaction_types`,
  `e-mail` -> `email`); product categories and regions keep the spelling most rows of the delivery
  use among texts equal once case and spaces are folded (`sources.spelling`, the rule of every
  domain). Blank becomes `unknown`.
- **Booleans**: true/false, yes/no, y/n, t/f, 1/0 in any case; blank is NULL; anything else is
  quarantined.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.sources import numbers as N
from martops.sources import spelling
from martops.sources import timestamps as TS
from martops.sources.spelling import squash

EMAIL_PATTERN = (r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                 r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
"""https://html.spec.whatwg.org/multipage/input.html#valid-e-mail-address, verbatim. It allows a
domain without a dot (`a@localhost`), as browsers do; it is a syntax check, not a mailbox check."""
HONORIFICS = r"(?i)^((mr|mrs|ms|miss|mx|dr|prof|sir|dame)\.?\s+)+"
SUFFIXES = r"(?i)(,?\s+(md|dds|dvm|phd|esq|jr|sr|ii|iii|iv|v)\.?)+$"
UNKNOWN = "unknown"
TRUE_TEXTS = ("true", "t", "yes", "y", "1")
FALSE_TEXTS = ("false", "f", "no", "n", "0")


def blank(text: ir.StringValue) -> ir.BooleanValue:
    return text.isnull() | (text.strip() == "")


def email(text: ir.StringValue) -> ir.StringValue:
    """The trimmed, lower-cased address when it passes `EMAIL_PATTERN`, else NULL."""
    e = text.strip().lower().nullif("")
    return ibis.ifelse(e.re_search(EMAIL_PATTERN), e, ibis.null("string"))


def email_valid(text: ir.StringValue) -> ir.BooleanValue:
    """True/False for a given address, NULL where there is none."""
    e = text.strip().lower().nullif("")
    return ibis.ifelse(e.isnull(), ibis.null("boolean"), e.re_search(EMAIL_PATTERN))


NOT_NAME = r"[\p{S}\p{Cf}\p{Co}\x{FE00}-\x{FE0F}]"
"""Characters that are not part of a name in any script: symbols (emoji, pictographs, `™`, `$`),
format characters (the zero-width joiner of emoji sequences) and variation selectors."""


def person_name(text: ir.StringValue) -> ir.StringValue:
    """The name in its own script without symbols (`NOT_NAME`), squashed; NULL when no letter of
    any script is left (a name made of emoji is no name)."""
    n = squash(text.re_replace(NOT_NAME, ""))
    return ibis.ifelse(n.re_search(r"\p{L}"), n, ibis.null("string"))


def name_symbols(text: ir.StringValue) -> ir.BooleanValue:
    """The raw name holds characters `person_name` drops."""
    return text.notnull() & text.re_search(NOT_NAME)


def name_core(name: ir.StringValue) -> ir.StringValue:
    """The name without honorifics and suffixes (what first_name and surname are cut from)."""
    n = person_name(name)
    core = n.re_replace(HONORIFICS, "").re_replace(SUFFIXES, "").strip().nullif("")
    return core.fill_null(n)


def first_name(name: ir.StringValue) -> ir.StringValue:
    core = name_core(name)
    return ibis.ifelse(core.contains(" "), core.re_extract(r"^(\S+)", 1), ibis.null("string"))


def surname(name: ir.StringValue) -> ir.StringValue:
    return name_core(name).re_extract(r"(\S+)$", 1).nullif("")


def date(text: ir.StringValue) -> ir.DateValue:
    """The date a text names in one of the accepted formats, else NULL (`sources.timestamps.date`)."""
    return TS.date(text)


DATE_EXPECTED = TS.DATE_EXPECTED


def amount(text: ir.StringValue, decimal: str = ".") -> ir.FloatingValue:
    """A number >= 0 read by the shared grammar (`sources.numbers.number`), else NULL (empty too)."""
    v = N.number(text, decimal)
    return ibis.ifelse(v >= 0, v, ibis.null("float64"))


AMOUNT_EXPECTED = "an amount >= 0 (digits, optional decimals; $, spaces and thousands commas allowed)"


def amount_cleaned(text: ir.StringValue) -> ir.BooleanValue:
    """The text reads as an amount but was not already a bare number (spaces, symbols or separators)."""
    return text.notnull() & N.number(text).notnull() & ~text.re_search(r"^-?\d+(\.\d+)?$")


def boolean(text: ir.StringValue) -> ir.BooleanValue:
    s = text.strip().lower()
    return ibis.cases((s.isin(TRUE_TEXTS), True), (s.isin(FALSE_TEXTS), False), else_=ibis.null("boolean"))


BOOLEAN_EXPECTED = f"a yes/no value ({'/'.join(TRUE_TEXTS)} or {'/'.join(FALSE_TEXTS)})"


def interaction_type(text: ir.StringValue, aliases: dict[str, str]) -> ir.StringValue:
    s = squash(text).lower()
    mapped = s.substitute({k.strip().lower(): v for k, v in aliases.items()}) if aliases else s
    return mapped.fill_null(UNKNOWN)


def respelled(text: ir.StringValue, key_map: dict[str, str]) -> ir.StringValue:
    """`text` in the delivery's spelling (`sources.spelling.respelled`; `key_map` from its
    `spellings`), blank -> `unknown`."""
    return spelling.respelled(text, key_map).fill_null(UNKNOWN)
