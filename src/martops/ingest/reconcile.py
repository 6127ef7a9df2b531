"""The reconciliation: a cross rate computed from two stored EUR rates against the API's own quote.

For a sample day (the last business day a run fetched) and a pair of the loaded currencies (the
first two symbols, e.g. GBP -> USD; with one symbol, that currency -> the base), martops computes

    computed = rate(base -> to) / rate(base -> from)          (e.g. USD per EUR / GBP per EUR)

and asks the API for the same pair directly (`/YYYY-MM-DD?base=from&symbols=to`). Both come from
the same ECB reference rates, so they may differ only by the API's rounding of its quote (its
`Roundable`: no decimals above 5000, 2 above 80, 3 above 20, 4 above 1, 5 above 0.0001, else 6).
The tolerance is therefore

    tolerance = max(reconcile_tolerance * api_rate, half a unit of the quote's last decimal)

(`ingest.fx.reconcile_tolerance`, default 1e-4 relative). A larger difference means the stored
rates are not what the API serves for that day (a misread answer, a mixed-up base or date): the
load fails and rolls back. The row is kept in ops.fx_reconciliation for `martops check`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from martops.errors import SourceError
from martops.ingest import frankfurter as F
from martops.ingest.http import JsonClient


def quote_decimals(value: float) -> int:
    """The decimals Frankfurter quotes a rebased rate with (lib/roundable.rb)."""
    for above, decimals in ((5000, 0), (80, 2), (20, 3), (1, 4), (0.0001, 5)):
        if value > above:
            return decimals
    return 6


def tolerance(api_rate: float, relative: float) -> float:
    return max(relative * api_rate, 0.5 * 10 ** -quote_decimals(api_rate))


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    date: dt.date
    from_currency: str
    to_currency: str
    computed: float
    api_rate: float
    tolerance: float
    via: str
    url: str

    @property
    def abs_diff(self) -> float:
        return abs(self.computed - self.api_rate)

    @property
    def ok(self) -> bool:
        return self.abs_diff <= self.tolerance

    def __str__(self) -> str:
        return (f"{self.from_currency}->{self.to_currency} on {self.date}: {self.computed:.6g} ({self.via}) vs "
                f"API {self.api_rate:.6g}, |diff| {self.abs_diff:.2g} <= {self.tolerance:.2g}: "
                f"{'ok' if self.ok else 'FAILED'}")


def pair(base: str, symbols: list[str]) -> tuple[str, str]:
    codes = [s for s in symbols if s != base]
    return (codes[0], codes[1]) if len(codes) >= 2 else (codes[0], base)


def reconcile(client: JsonClient, url: str, base: str, day: dt.date, stored: dict[str, float],
              symbols: list[str], relative: float) -> Reconciliation:
    """Compare the cross rate of the pair from `stored` (currency -> rate against `base` on `day`)
    with the API's quote for `day`."""
    frm, to = pair(base, symbols)
    if frm not in stored or (to != base and to not in stored):
        raise SourceError(f"FX reconciliation: {day} lacks the {base} rate of {frm if frm not in stored else to}; "
                          "cannot compute the cross rate")
    to_rate = 1.0 if to == base else stored[to]
    computed = to_rate / stored[frm]
    via = f"{base}->{to} / {base}->{frm}" if to != base else f"1 / {base}->{frm}"
    shown, used, rates = F.fetch_day(client, url, day, frm, [to])
    if used != day:
        raise SourceError(f"FX reconciliation: the API quoted {frm}->{to} for {used}, not {day} (GET {shown}); "
                          "the day loaded as a business day is not one for the API")
    if to not in rates:
        raise SourceError(f"FX reconciliation: the API's answer has no {to} rate (GET {shown})")
    return Reconciliation(day, frm, to, computed, rates[to], tolerance(rates[to], relative), via, shown)
