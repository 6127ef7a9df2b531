"""Numbers and 0/1 flags from export text, as Ibis expressions: the typed value, or NULL.

Every domain reads amounts, counts and flags through these builders, so one text is read one
way everywhere. NULL means "not a valid value"; `sources.typed` turns a NULL from a non-empty
cell into a quarantine reason naming the column, the raw text and what was expected.

The number grammar (after trimming), with the source's decimal separator `d` ('.' by default,
',' where a source declares `decimal: ','`):

    number   = [sign] [currency [space]] [sign] digits [space currency]
    sign     = '+' | '-'
    currency = '$' | '€' | '£' | '¥' | 'USD' | 'EUR' | 'GBP' | 'CHF'   (one, before or after)
    digits   = D+ [d D+] [exponent]            plain: 1234.56, 1e3 (exponent with '.' only)
             | d D+                            .5
             | D{1,3} (g D{3})+ [d D+]         grouped: thousands groups of exactly 3 digits
    g        = ',' when d is '.'; '.' when d is ','; or a space (also no-break) in both

So with the default decimal point `1,234` is 1234 and `1,234.56` is 1234.56; `1234,50`,
`1.234,56` and `12,5` are not numbers (their reason suggests `decimal: ','`). With a decimal
comma `1.234,56` is 1234.56 and `1,234.56` is not a number. Values that are not finite (`inf`,
`NaN`, `1e309`, which overflows to infinity) are not numbers either: `NaN` is missing only where
the source declares it a null marker (see `sources.typed.RawSpec.null_values`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CURRENCY = r"(?:[$€£¥]|USD|EUR|GBP|CHF)"
SPACES = "[ \u00a0\u202f]"
"""A thousands space: ASCII, no-break (Excel, French locales) or narrow no-break (ISO 31-0)."""

_POINT = (r"^[+-]?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?"
          rf"|\d{{1,3}}(?:{SPACES}\d{{3}})+(?:\.\d+)?)$")
_COMMA = (r"^[+-]?(?:\d+(?:,\d+)?|,\d+|\d{1,3}(?:\.\d{3})+(?:,\d+)?"
          rf"|\d{{1,3}}(?:{SPACES}\d{{3}})+(?:,\d+)?)$")
GRAMMAR = {".": _POINT, ",": _COMMA}
OTHER = {".": ",", ",": "."}

NUMBER_EXPECTED = "a number"
"""Non-finite texts (inf, NaN, 1e309) are not numbers in this grammar, so the reason stays short."""
FLAG_EXPECTED = "0 or 1"


def _body(text: ir.StringValue) -> ir.StringValue:
    """The text trimmed, with one currency symbol or code (before or after) and its space removed."""
    s = text.strip()
    s = s.re_replace(rf"^([+-]?)\s*{CURRENCY}\s*([+-]?)", r"\1\2")
    return s.re_replace(rf"\s*{CURRENCY}$", "")


def _canonical(body: ir.StringValue, decimal: str) -> ir.StringValue:
    """Digits with '.' as the decimal point and no grouping, for a cast."""
    s = body.re_replace(SPACES, "")
    return s.replace(",", "") if decimal == "." else s.replace(".", "").replace(",", ".")


def number(text: ir.StringValue, decimal: str = ".") -> ir.FloatingValue:
    """The finite float64 the text writes in the grammar above, else NULL (empty text too)."""
    if decimal not in GRAMMAR:
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    body = _body(text)
    v = ibis.ifelse(body.re_search(GRAMMAR[decimal]), _canonical(body, decimal), ibis.null("string"))
    v = v.try_cast("float64")
    slow = ibis.ifelse(v.isinf() | v.isnan(), ibis.null("float64"), v)
    # plain digits (most cells of most files) need neither the symbol nor the grouping rules
    plain = r"^-?\d{1,15}(\.\d+)?$" if decimal == "." else r"^-?\d{1,15}$"
    return ibis.ifelse(text.re_search(plain), text.try_cast("float64"), slow)


def decimal_hint(text: ir.StringValue, decimal: str, setting: str) -> ir.StringValue:
    """For a text that is no number with `decimal` but one with the other separator: a reason
    suffix suggesting the setting (`setting` is e.g. 'sources.attribution'); else NULL."""
    body = _body(text)
    other = OTHER[decimal]
    looks = ~body.re_search(GRAMMAR[decimal]) & body.re_search(GRAMMAR[other])
    name = "decimal comma" if other == "," else "decimal point"
    return ibis.ifelse(looks.fill_null(False),
                       ibis.literal(f" (it looks like a {name}; declare {setting}.decimal: '{other}' in martops.yml)"),
                       ibis.null("string"))


def flag(text: ir.StringValue) -> ir.IntegerValue:
    """0 or 1 (int8) for a text that is exactly 0 or 1 after trimming (`1.0` and `0.000` too,
    as float exports write them), else NULL: `0.5`, `1.4`, `0x1`, `-0.4`, `yes` are not flags."""
    slow = ibis.ifelse(text.strip().re_search(r"^[01](?:\.0+)?$"), text.strip().left(1).cast("int8"), ibis.null("int8"))
    return ibis.cases((text == "1", ibis.literal(1, "int8")), (text == "0", ibis.literal(0, "int8")), else_=slow)
