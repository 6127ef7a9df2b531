"""A local server speaking Frankfurter's v1 contract from a deterministic rates table.

For tests and offline demos (no test may leave the machine): the same paths, parameters, answers
and errors as the public API's v1 (github.com/lineofflight/frankfurter, `lib/versions/v1.rb`,
`quote/*.rb`, `roundable.rb`):

- `/v1/latest`, `/v1/YYYY-MM-DD` (the last business day on or before it, within 14 days: `date`
  says which), `/v1/START..END` and `/v1/START..` (business days only), `/v1/currencies`;
- `base` (or `from`, default EUR) and `symbols` (or `to`, comma-separated);
- a rebased quote (base other than EUR) is the EUR rates divided by the base's, rounded as the API
  rounds (no decimals above 5000, 2 above 80, 3 above 20, 4 above 1, 5 above 0.0001, else 6);
- 404 `{"message": "not found"}` when no rate matches; 422 `{"message": ...}` for a bad argument
  (`bad currency pair` when the only symbol is the base, `invalid date`).

Rates: business days (Monday to Friday except the TARGET holidays: 1 January, Good Friday, Easter
Monday, 1 May, 25 and 26 December) from 1999-01-04 to `last_day`; each currency a smooth walk
around a plausible level, quoted to five significant digits as the ECB does. Same day, same rate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import http.server
import json
import math
import re
import threading
import urllib.parse
from typing import Any

FIRST_DAY = dt.date(1999, 1, 4)
LEVELS = {"GBP": 0.85, "USD": 1.10, "CHF": 0.97, "JPY": 140.0, "SEK": 10.8, "PLN": 4.4, "CZK": 25.0, "NOK": 10.9}
"""Units per EUR around which each currency moves."""
NAMES = {"EUR": "Euro", "GBP": "British Pound", "USD": "United States Dollar", "CHF": "Swiss Franc",
         "JPY": "Japanese Yen", "SEK": "Swedish Krona", "PLN": "Polish Złoty", "CZK": "Czech Koruna",
         "NOK": "Norwegian Krone"}


def easter(year: int) -> dt.date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def is_business_day(day: dt.date) -> bool:
    if day.weekday() >= 5 or (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    e = easter(day.year)
    return day not in (e - dt.timedelta(days=2), e + dt.timedelta(days=1))


def _significant(value: float, digits: int = 5) -> float:
    return float(f"{value:.{digits - 1}e}")


def eur_rate(day: dt.date, currency: str) -> float:
    """Units of `currency` per EUR on a business day (deterministic)."""
    n = (day - FIRST_DAY).days
    phase = int(hashlib.sha256(currency.encode()).hexdigest()[:6], 16) % 628 / 100
    noise = int(hashlib.sha256(f"{currency}{day}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5
    return _significant(LEVELS[currency] * (1 + 0.04 * math.sin(n / 180 + phase) + 0.004 * noise))


def quote_round(value: float) -> float:
    """Frankfurter's rounding of a rebased quote (lib/roundable.rb)."""
    if value > 5000:
        return float(round(value))
    for above, decimals in ((80, 2), (20, 3), (1, 4), (0.0001, 5)):
        if value > above:
            return float(f"{value:.{decimals}f}")
    return float(f"{value:.6f}")


class BadRequest(Exception):
    """422 with this message."""


@dataclasses.dataclass
class RatesTable:
    last_day: dt.date = dataclasses.field(default_factory=dt.date.today)
    currencies: tuple[str, ...] = tuple(LEVELS)

    def days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        first, last = max(first, FIRST_DAY), min(last, self.last_day)
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)
                if is_business_day(first + dt.timedelta(days=i))]

    def quote(self, day: dt.date, base: str, symbols: list[str] | None) -> dict[str, float] | None:
        """The rates of one business day as the API answers them; None when the base has none."""
        rates = {c: eur_rate(day, c) for c in self.currencies}
        if symbols is not None:
            rates = {c: r for c, r in rates.items() if c in symbols or c == base}
        if base == "EUR":
            return dict(sorted(rates.items())) or None
        if symbols is None or "EUR" in symbols:
            rates["EUR"] = 1.0
        divisor = rates.pop(base, None)
        if divisor is None or not rates:
            return None
        return {c: quote_round(r / divisor) for c, r in sorted(rates.items())}


def _query(params: dict[str, list[str]]) -> tuple[str, list[str] | None]:
    def one(*names: str) -> str | None:
        return next((params[n][0] for n in names if n in params), None)
    base = (one("from", "base") or "EUR").upper()
    symbols = one("to", "symbols")
    codes = symbols.upper().split(",") if symbols is not None else None
    if codes is not None and [base] == codes:
        raise BadRequest("bad currency pair")
    return base, codes


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest("invalid date") from None


def answer(table: RatesTable, path: str, query: str, prefix: str = "/v1") -> tuple[int, Any]:
    """(HTTP status, JSON body) of one GET, as the v1 API answers it."""
    if not path.startswith(prefix):
        return 404, b""  # no route: Roda's empty 404, not the API's "not found" answer
    route = path[len(prefix):].strip("/")
    params = urllib.parse.parse_qs(query)
    try:
        if route in ("", "v1"):
            return 200, {"version": "v1", "status": "frozen"}
        if route == "currencies":
            return 200, {c: NAMES[c] for c in sorted(("EUR", *table.currencies))}
        base, symbols = _query(params)
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})?", route)
        if m:
            first, last = _date(m.group(1)), _date(m.group(2)) if m.group(2) else dt.date.today()
            result = {d.isoformat(): q for d in table.days(first, last)
                      if (q := table.quote(d, base, symbols)) is not None}
            if not result:
                return 404, {"message": "not found"}
            return 200, {"amount": 1.0, "base": base, "start_date": min(result), "end_date": max(result),
                         "rates": result}
        if route in ("latest", "current") or re.fullmatch(r"\d{4}-\d{2}-\d{2}", route):
            day = dt.date.today() if route in ("latest", "current") else _date(route)
            for d in reversed(table.days(day - dt.timedelta(days=14), day)):
                q = table.quote(d, base, symbols)
                if q is not None:
                    return 200, {"amount": 1.0, "base": base, "date": d.isoformat(), "rates": q}
            return 404, {"message": "not found"}
        return 404, b""
    except BadRequest as exc:
        return 422, {"message": str(exc)}


class Handler(http.server.BaseHTTPRequestHandler):
    """GET only; `server.table` holds the rates, `server.prefix` the version path."""

    server: "FrankfurterServer"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urllib.parse.urlsplit(self.path)
        status, body = self.server.respond(parts.path, parts.query)
        self.send_json(status, body)

    def send_json(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


class FrankfurterServer(http.server.ThreadingHTTPServer):
    """`FrankfurterServer(("127.0.0.1", 0))`: a free port; `url` is the v1 base URL to give martops."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0), table: RatesTable | None = None,
                 prefix: str = "/v1", handler: type[Handler] = Handler):
        super().__init__(address, handler)
        self.table, self.prefix = table or RatesTable(), prefix
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def respond(self, path: str, query: str) -> tuple[int, Any]:
        return answer(self.table, path, query, self.prefix)

    def start(self) -> "FrankfurterServer":
        self._thread = threading.Thread(target=self.serve_forever, name="frankfurter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> "FrankfurterServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m martops.demo.frankfurter [--port 8080] [--last-day YYYY-MM-DD]`: serve until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(description="A local server speaking Frankfurter's v1 contract (offline demos).")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--last-day", type=dt.date.fromisoformat, default=dt.date.today())
    args = parser.parse_args(argv)
    server = FrankfurterServer(("127.0.0.1", args.port), RatesTable(last_day=args.last_day))
    print(f"serving Frankfurter v1 at {server.url} (rates to {args.last_day}); Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
