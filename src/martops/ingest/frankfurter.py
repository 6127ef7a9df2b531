"""Frankfurter's v1 contract (https://frankfurter.dev; source github.com/lineofflight/frankfurter,
`lib/versions/v1.rb`): what martops asks and what it accepts as an answer.

    GET {url}/latest?base=EUR&symbols=GBP,USD            -> {amount, base, date, rates: {GBP: 0.85, ...}}
    GET {url}/YYYY-MM-DD?base=...&symbols=...            -> the same; `date` is the business day used
                                                            (a weekend or holiday gives the one before)
    GET {url}/START..END?base=...&symbols=...            -> {amount, base, start_date, end_date,
                                                            rates: {"YYYY-MM-DD": {GBP: 0.85, ...}, ...}}

Rates are the ECB's reference rates: business days only (weekends and TARGET holidays are absent),
one unit of `base` in units of each currency. A range or day with no rate answers 404
`{"message": "not found"}`; a bad argument (base = the only symbol, a bad date) answers 422 with
its message.

The answer's shape is a contract (a frozen schema): a missing or extra key, a key of another type,
a rate that is not a positive JSON number (a string "0.85" included), a date key that is no date
or lies outside the range asked, a base other than the one asked: each fails the load in one
line naming the field and the URL, before anything is written. dlt's frozen columns are the second
line behind this one (see martops.ingest.fx_load).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any, Iterator

from martops.errors import SourceError
from martops.ingest.http import ApiError, JsonClient, redact

NOT_FOUND = {"message": "not found"}
CODE = re.compile(r"[A-Z]{3}")
RANGE_KEYS = {"amount": "a number", "base": "a currency code", "start_date": "a date", "end_date": "a date",
              "rates": "an object of dates"}
DAY_KEYS = {"amount": "a number", "base": "a currency code", "date": "a date", "rates": "an object of currencies"}


class ContractError(SourceError):
    """An answer whose shape is not Frankfurter's v1 contract."""


@dataclasses.dataclass(frozen=True)
class Rate:
    date: dt.date
    base: str
    currency: str
    rate: float


def _fail(url: str, field: str, problem: str) -> ContractError:
    return ContractError(f"Frankfurter's answer changed shape: field {field} {problem} (GET {redact(url)}); "
                         "nothing was loaded. Check --url, or update martops.ingest.frankfurter to the new contract")


def _date(value: Any, url: str, field: str) -> dt.date:
    if not isinstance(value, str):
        raise _fail(url, field, f"is {type(value).__name__} {value!r}, expected a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(url, field, f"is {value!r}, expected a date YYYY-MM-DD") from None


def _keys(body: Any, expected: dict[str, str], url: str) -> None:
    if not isinstance(body, dict):
        raise _fail(url, "(the body)", f"is a JSON {type(body).__name__}, expected an object with "
                    f"{', '.join(expected)}")
    missing = [k for k in expected if k not in body and k != "amount"]
    if missing:
        raise _fail(url, missing[0], f"is missing (the answer has {', '.join(sorted(body)) or 'no keys'})")
    extra = sorted(set(body) - set(expected))
    if extra:
        raise _fail(url, extra[0], f"is new (expected only {', '.join(expected)})")
    amount = body.get("amount", 1.0)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != 1:
        raise _fail(url, "amount", f"is {amount!r}, expected 1 (martops never asks for another amount)")


def _rates(value: Any, url: str, field: str, base: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise _fail(url, field, f"is {type(value).__name__}, expected an object of currency -> rate")
    out = {}
    for code, rate in value.items():
        where = f"{field}.{code}"
        if not isinstance(code, str) or not CODE.fullmatch(code):
            raise _fail(url, where, "is not a three-letter currency code")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise _fail(url, where, f"is a {type(rate).__name__} ({rate!r}), expected a JSON number")
        if not math.isfinite(rate) or rate <= 0:
            raise _fail(url, where, f"is {rate!r}, expected a positive number")
        out[code] = float(rate)
    return out


def parse_range(body: Any, url: str, base: str, since: dt.date, until: dt.date) -> list[Rate]:
    """The rows of a `/START..END` answer, checked against the contract."""
    _keys(body, RANGE_KEYS, url)
    if body["base"] != base:
        raise _fail(url, "base", f"is {body['base']!r}, expected {base!r} (the base asked for)")
    first, last = _date(body["start_date"], url, "start_date"), _date(body["end_date"], url, "end_date")
    if not isinstance(body["rates"], dict):
        raise _fail(url, "rates", f"is {type(body['rates']).__name__}, expected an object of date -> rates")
    out = []
    for key, rates in body["rates"].items():
        day = _date(key, url, f"rates.{key}")
        if not (since <= day <= until and first <= day <= last):
            raise _fail(url, f"rates.{key}", f"is outside the range asked ({since}..{until}) or answered "
                        f"({first}..{last})")
        out += [Rate(day, base, code, rate) for code, rate in _rates(rates, url, f"rates.{key}", base).items()]
    return out


def parse_day(body: Any, url: str, base: str) -> tuple[dt.date, dict[str, float]]:
    """(the business day used, its rates) of a `/YYYY-MM-DD` or `/latest` answer."""
    _keys(body, DAY_KEYS, url)
    if body["base"] != base:
        raise _fail(url, "base", f"is {body['base']!r}, expected {base!r} (the base asked for)")
    return _date(body["date"], url, "date"), _rates(body["rates"], url, "rates", base)


def windows(since: dt.date, until: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """since..until in consecutive windows of at most `days` days."""
    start = since
    while start <= until:
        end = min(until, start + dt.timedelta(days=days - 1))
        yield start, end
        start = end + dt.timedelta(days=1)


def _not_found(exc: ApiError) -> bool:
    return exc.status == 404 and exc.body == NOT_FOUND


def fetch_range(client: JsonClient, url: str, base: str, symbols: list[str], since: dt.date, until: dt.date,
                window_days: int) -> tuple[list[Rate], list[tuple[dt.date, dt.date]]]:
    """Every rate of since..until (one request per window), and the windows that had none (404
    "not found": only weekends and holidays, or days before the data begins)."""
    rows: list[Rate] = []
    empty = []
    for a, b in windows(since, until, window_days):
        path = f"{url}/{a.isoformat()}..{b.isoformat()}"
        try:
            body = client.get(path, {"base": base, "symbols": ",".join(symbols)})
        except ApiError as exc:
            if not _not_found(exc):
                raise
            empty.append((a, b))
            continue
        rows += parse_range(body, f"{path}?base={base}&symbols={','.join(symbols)}", base, a, b)
    return rows, empty


def fetch_day(client: JsonClient, url: str, day: dt.date, base: str, symbols: list[str]
              ) -> tuple[str, dt.date, dict[str, float]]:
    """(the URL asked, the business day the API used, its rates) for one day."""
    path = f"{url}/{day.isoformat()}"
    body = client.get(path, {"base": base, "symbols": ",".join(symbols)})
    shown = f"{path}?base={base}&symbols={','.join(symbols)}"
    used, rates = parse_day(body, shown, base)
    return redact(shown), used, rates


def unquoted(client: JsonClient, url: str, codes: list[str]) -> tuple[list[str], list[str]] | None:
    """(the `codes` the API does not quote, the codes it does) from its `/currencies` list; None when
    that list cannot be had (then the caller's message stands as it is)."""
    try:
        body = client.get(f"{url}/currencies")
    except SourceError:
        return None
    if not isinstance(body, dict) or not body:
        return None
    known = sorted(str(k).upper() for k in body)
    return [c for c in codes if c not in known], known
