"""Property tests of the shared parsers: a value written in each supported style parses back to
the same value; any other text is NULL and becomes a quarantine reason, never an exception."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martops.sources import numbers as N
from martops.sources import timestamps as T
from martops.sources.typed import Field, RawSpec, annotate, reasons

CON = ibis.duckdb.connect()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _grouped(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    return sep.join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])


def write_number(v: Decimal, style: str, decimal: str, currency: str, group: str) -> str:
    """`v` (two decimals) written in one supported style."""
    sign = "-" if v < 0 else ""
    whole, frac = f"{abs(v):.2f}".split(".")
    if style == "plain":
        body = f"{whole}{decimal}{frac}"
    else:
        sep = {"thousands": "," if decimal == "." else ".", "spaces": group}[style]
        body = f"{_grouped(whole, sep)}{decimal}{frac}"
    if currency.startswith("pre:"):
        return f"{sign}{currency[4:]}{body}"
    if currency.startswith("post:"):
        return f"{sign}{body}{currency[5:]}"
    return f"{sign}{body}"


amounts = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)
styles = st.tuples(st.sampled_from(["plain", "thousands", "spaces"]), st.sampled_from([".", ","]),
                   st.sampled_from(["", "pre:$", "pre:€", "pre:$ ", "post: EUR", "post:€", "pre:£"]),
                   st.sampled_from([" ", "\u00a0", "\u202f"]))


@FAST
@given(st.lists(st.tuples(amounts, styles), min_size=1, max_size=25))
def test_a_number_written_in_any_supported_style_parses_back(cases):
    rows = {".": [], ",": []}
    for v, (style, decimal, currency, group) in cases:
        rows[decimal].append((write_number(v, style, decimal, currency, group), float(v)))
    for decimal, pairs in rows.items():
        if not pairs:
            continue
        t = ibis.memtable({"s": [p[0] for p in pairs]}, schema={"s": "string"})
        got = [r["v"] for r in CON.to_pyarrow(t.select(v=N.number(t.s, decimal))).to_pylist()]
        assert got == [p[1] for p in pairs], pairs


instants = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31))


@FAST
@given(st.lists(st.tuples(instants, st.integers(-12 * 4, 14 * 4), st.sampled_from(["Z", "+HH:MM", "+HHMM", "none"]),
                          st.sampled_from(["T", " "]), st.booleans(), st.booleans()), min_size=1, max_size=25))
def test_a_timestamp_written_in_any_supported_style_parses_back_to_the_same_instant(cases):
    texts, expected = [], []
    for utc, quarters, offset_style, sep, twelve, fraction in cases:
        minutes = 0 if offset_style in ("Z", "none") else quarters * 15
        local = utc + dt.timedelta(minutes=minutes)
        if not fraction:
            local, utc = local.replace(microsecond=0), utc.replace(microsecond=0)
        clock = local.strftime("%I:%M:%S") + (f".{local.microsecond:06d}" if fraction else "") + local.strftime(" %p") \
            if twelve else local.strftime("%H:%M:%S") + (f".{local.microsecond:06d}" if fraction else "")
        sign, hm = ("-" if minutes < 0 else "+"), divmod(abs(minutes), 60)
        off = {"Z": "Z", "none": "", "+HH:MM": f"{sign}{hm[0]:02d}:{hm[1]:02d}", "+HHMM": f"{sign}{hm[0]:02d}{hm[1]:02d}"}
        texts.append(f"{local:%Y-%m-%d}{sep}{clock}{off[offset_style]}")
        expected.append(utc)
    t = ibis.memtable({"s": texts}, schema={"s": "string"})
    got = [r["v"] for r in CON.to_pyarrow(t.select(v=T.timestamp(t.s))).to_pylist()]
    assert got == expected, list(zip(texts, got, expected))


SPEC = RawSpec("t", (
    Field("n", "float64", N.NUMBER_EXPECTED, parse=lambda t: N.number(t.n),
          hint=lambda t: N.decimal_hint(t.n, ".", "sources.x")),
    Field("f", "int8", N.FLAG_EXPECTED, parse=lambda t: N.flag(t.f)),
    Field("ts", "timestamp", T.DATETIME_EXPECTED, parse=lambda t: T.timestamp(t.ts)),
    Field("d", "date", T.DATE_EXPECTED, parse=lambda t: T.calendar_date(t.d)),
), key=())


@FAST
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=4), st.text(max_size=25), st.text(max_size=12)),
                min_size=1, max_size=30))
def test_any_other_text_is_null_with_a_reason_never_an_exception(cells):
    cols = dict(zip("n f ts d".split(), map(list, zip(*cells))))
    raw = ibis.memtable({"_row": list(range(len(cells))), **cols},
                        schema={"_row": "int64", "n": "string", "f": "string", "ts": "string", "d": "string"})
    ann = annotate(raw, SPEC, check_duplicates=False)
    rows = CON.to_pyarrow(ann).to_pylist()
    bad = {r["_row"]: r for r in CON.to_pyarrow(reasons(ann, SPEC)).to_pylist()}
    for r in rows:
        for col, typed in (("n", "t_n"), ("f", "t_f"), ("ts", "t_ts"), ("d", "t_d")):
            text = r[col]
            if text.strip() == "" or r[typed] is not None:
                continue  # missing, or parsed
            assert not r["_ok"]
            assert f"{col} '{text}' is not " in bad[r["_row"]]["_reason"]
        if r["t_n"] is not None:
            assert abs(r["t_n"]) != float("inf") and r["t_n"] == r["t_n"]
        assert r["t_f"] in (None, 0, 1)
