"""What `martops loyalty show` prints: a view is a title, rows, and headline sentences, read from
the insight marts (never recomputed here, so the screen, the export and the warehouse agree)."""

from __future__ import annotations

from martops.engine import Warehouse
from martops.errors import ConfigError, StepError
from martops.loyalty import tables as T
from martops.loyalty.behaviour import SEGMENTS
from martops.results import View

VIEWS = {"behaviour": ("dropoff", "frequency", "seasonality"), "programme": ("all", *SEGMENTS, "balance"),
         "segments": SEGMENTS}
"""view -> its cuts (`--by`), the first the default."""


SCREEN = {
    "dropoff": ["loyalty", "purchase_number", "customers", "share_of_previous", "drop_off",
                "median_days_since_previous", "mean_days_since_previous"],
    "frequency": ["loyalty", "purchases", "customers", "share"],
    "seasonality": ["dimension", "level", "loyalty", "purchases", "share_of_purchases", "gross_value_cents"],
    "segments": ["level", "loyalty", "customers", "share_of_arm", "purchases_per_customer",
                 "net_revenue_per_customer_cents", "purchasers"],
    "balance": ["covariate", "level", "n_treated", "n_control", "share_treated", "share_control", "p_value", "method"],
    "tests": ["metric", "method", "mean_treated", "mean_control", "difference", "ci_low", "ci_high", "p_value",
              "n_treated", "n_control"],
}
METRIC_ORDER = ["net_revenue_per_customer", "gross_revenue_per_customer", "purchases_per_customer", "purchaser_share",
                "average_basket", "retention_month_1", "retention_month_3", "retention_month_6", "retention_month_12"]


def _rows(wh: Warehouse, table: str, where=None, order: list[str] | None = None) -> list[dict]:
    if not wh.exists(table):
        raise StepError(f"{table} does not exist yet; run the insights step: martops loyalty build --source FOLDER")
    t = wh.table(table)
    if where is not None:
        t = t.filter(where(t))
    return wh.to_pyarrow(t.order_by(order or list(t.columns[:2]))).to_pylist()


def _money(cents: float | None) -> str:
    if cents is None:
        return "-"
    return f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def _interval(low: float | None, high: float | None) -> str:
    return "no interval (too few customers)" if low is None or high is None else \
        f"95% interval {_money(low)} to {_money(high)}"


def _headlines_programme(wh: Warehouse) -> list[str]:
    s = {r["measure"]: r for r in _rows(wh, T.PROGRAMME_SUMMARY, order=["measure"])}
    out = []
    if "net_revenue_per_customer_difference" in s:
        r = s["net_revenue_per_customer_difference"]
        out.append(f"Net revenue per customer, enrolled - control: {_money(r['value'])} "
                   f"({_interval(r['ci_low'], r['ci_high'])}).")
        r = s["net_effect_after_liability"]
        out.append(f"Net effect of the programme after redemption discounts and the outstanding points' value: "
                   f"{_money(r['value'])} ({_interval(r['ci_low'], r['ci_high'])}).")
    r = s.get("revenue_loss_share")
    if r and r["value"] is not None:
        out.append(f"Revenue loss from redemptions: {r['value']:.2%} of the enrolled arm's gross revenue "
                   f"({_money(s['redemption_discounts']['value'])}); points outstanding "
                   f"{s['points_outstanding']['value']:,.0f} worth {_money(s['points_liability']['value'])}.")
    bal = _rows(wh, T.PROGRAMME_BALANCE, order=["covariate", "level"])
    worst = min((r for r in bal if r["p_value"] is not None), key=lambda r: r["p_value"], default=None)
    if worst is not None:
        out.append(f"Balance at signup: smallest p-value {worst['p_value']:.3f} ({worst['covariate']}, "
                   f"{worst['method']}); a small one would mean the arms differ before the programme acts.")
    return out


def _current(wh: Warehouse) -> None:
    """The insights were built from the customer table as it is now: a failed or skipped insights
    step after a new fill would otherwise show the previous as-of date's figures as current."""
    _rows(wh, T.PROGRAMME_SUMMARY, order=["measure"])  # the error saying to build, when missing
    summary, customers = wh.table(T.PROGRAMME_SUMMARY), wh.table(T.CUSTOMERS)
    built = wh.scalar(summary.as_of.max()) if "as_of" in summary.columns else None
    filled = wh.scalar(customers.as_of.max())
    day = lambda v: None if v is None else str(v)[:10]  # noqa: E731
    if day(built) != day(filled):
        raise StepError(f"the loyalty insights are as of {day(built) or 'an older build'} but loyalty.customers is "
                        f"as of {day(filled)} (the last insights step failed or has not run since the fill); "
                        "run `martops loyalty insights`")


def show(wh: Warehouse, view: str, by: str | None) -> View:
    if view not in VIEWS:
        raise ConfigError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    cuts = VIEWS[view]
    if by is not None and not by.strip():
        raise ConfigError(f"--by is empty; cuts of {view}: {', '.join(cuts)}")
    _current(wh)
    by = by or cuts[0]
    if by not in cuts:
        raise ConfigError(f"--by {by!r} is not a cut of {view}; cuts: {', '.join(cuts)}")
    if view == "behaviour":
        table = {"dropoff": T.DROPOFF, "frequency": T.FREQUENCY, "seasonality": T.SEASONALITY}[by]
        order = {"dropoff": ["purchase_number", "loyalty"], "frequency": ["purchases", "loyalty"],
                 "seasonality": ["dimension", "position", "loyalty"]}[by]
        rows = _rows(wh, table, order=order)
        heads = []
        if by == "dropoff":
            for r in rows:
                if r["purchase_number"] == 2:
                    heads.append(f"{r['loyalty']}: {r['share_of_previous']:.1%} of first-time buyers bought again "
                                 f"(median {r['median_days_since_previous']:.0f} days later).")
        return View(f"Purchase behaviour: {by} ({table})", SCREEN[by], rows, heads)
    if view == "segments":
        rows = _rows(wh, T.SEGMENTS, lambda t: t.dimension == by, ["level", "loyalty"])
        unknown = sum(r["customers"] for r in rows if r["level"] == "unknown")
        total = sum(r["customers"] for r in rows)
        heads = [f"{by} is unknown for {unknown:,} of {total:,} customers ({unknown / total:.1%})."] if total else []
        return View(f"Segments by {by} ({T.SEGMENTS})", SCREEN["segments"], rows, heads)
    if by == "balance":
        rows = _rows(wh, T.PROGRAMME_BALANCE, order=["covariate", "level"])
        return View(f"Balance of the arms at signup ({T.PROGRAMME_BALANCE})", SCREEN["balance"], rows,
                    _headlines_programme(wh)[-1:])
    seg = (lambda t: t.segment == "all") if by == "all" else (lambda t: t.segment == by)
    rows = _rows(wh, T.PROGRAMME_TEST, seg, ["segment", "level", "metric", "method"])
    rank = {m: i for i, m in enumerate(METRIC_ORDER)}
    rows.sort(key=lambda r: (r["level"], rank.get(r["metric"], len(rank)), r["method"] != "welch"))
    cols = SCREEN["tests"] if by == "all" else ["level", *SCREEN["tests"]]
    return View(f"Programme test, enrolled vs control ({'overall' if by == 'all' else 'by ' + by}; {T.PROGRAMME_TEST})",
                cols, rows, _headlines_programme(wh) if by == "all" else [])

