"""The two funnel exports typed, cleaned and split into loadable and quarantined rows.

What is judged per row (a failing row goes to `ops.quarantine` with every reason):
- `date` must be a date; `campaign_id` digits (a `.000000` float suffix is dropped; a blank id
  is filled from `campaign_name` where the name names exactly one campaign, and counted);
- `country_code` an ISO alpha-2 code, read by the rules of every domain (`sources.countries`: `ESP`,
  `Spain`, `UK` are ES, ES, GB); blank or `unknown` become `countries.unknown`;
- `currency` EUR or one with a rate to EUR for the row's day: the rate of the business day on or
  at most `quality.fx_max_gap_days` days before it in staging.fx_rates (EUR-based rows, filled by
  fx.load), else `campaigns.fx_to_eur` for a day before the table's first rate of that currency.
  A day on or after that first rate with no rate within the limit is quarantined: the table should
  have had it, and any other rate would be a guess;
- measures are numbers >= 0 (counts whole), not a placeholder value and not above
  `outlier_factor` x their column's 99th percentile in the delivery. Such a value is junk, not
  a figure: summing one 100,000,000-impression row would swamp a year of real ones.
A blank measure (or a declared null marker such as NaN, `sources.campaigns.null_values`) is missing,
not junk: exports leave steps they do not track empty. Numbers and dates are read by the shared
parsers (`sources.numbers`, `sources.timestamps`): `€1,234.56` is 1234.56 as in every domain, and a
timestamp in the date column (`2023-09-01T23:30:00-05:00`) becomes its date in
`sources.campaigns.reporting_timezone`, counted in the cleaning log.

What is cleaned on loadable rows (and counted in the cleaning log): names and channels respelled
(`clean.spellings`, the rule of `sources.spelling`), products mapped to canonical names,
foreign-currency spend converted to EUR.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import ibis.expr.types as ir

from martops.campaigns import clean
from martops.campaigns.channels import ID_EXPECTED, SPELLED
from martops.campaigns.tables import FX_RATES
from martops.campaigns.exports import SETTING
from martops.config import CampaignsConfig, CampaignSourceSettings, SourceSettings
from martops.engine import Warehouse
from martops.sources import countries
from martops.sources import numbers as N
from martops.sources.spelling import key as name_key, respell
from martops.sources import timestamps as TS
from martops.sources.typed import ROW, Field, RawSpec, missing

MEASURES: dict[str, dict[str, str]] = {
    "leads_funnel": {
        "total_impressions": "impressions", "total_clicks": "clicks", "total_spend": "spend",
        "total_leads": "leads", "total_fake_leads": "fake_leads", "total_sqls": "sqls",
        "total_meeting_done": "meetings", "total_signed_leads": "signed", "total_pos_lite_deals": "deals",
    },
    "web_orders": {
        "total_spend_eur": "spend_eur", "nb_of_sessions": "sessions", "nb_of_signups": "signups",
        "nb_of_orders": "orders", "nb_of_poslite_items_ordered": "items_ordered",
        "nb_poslite_items_dispatched": "items_dispatched",
    },
}
MONEY = {"total_spend", "total_spend_eur"}
FX_COLUMNS = ibis.schema({"date": "date", "base": "string", "currency": "string", "rate": "float64"})
"""What the mart reads of staging.fx_rates: `rate` units of `currency` per one `base` (fx.load's shape)."""


@dataclasses.dataclass(frozen=True)
class Limit:
    p99: float | None
    ceiling: float | None
    """Values above are junk; None when the column has too few values to judge."""


def marker_cells(raw: ir.Table, file: str, settings: SourceSettings) -> ir.Scalar:
    """How many measure cells hold a declared null marker (NaN, null, ...): read as missing, counted."""
    nulls = tuple(settings.null_values)
    if not nulls:
        return ibis.literal(0, type="int64")
    is_marker = [(missing(raw[c], nulls) & raw[c].strip().nullif("").notnull()).cast("int64") for c in MEASURES[file]]
    return sum(is_marker[1:], is_marker[0]).sum().fill_null(0)




def limits(wh: Warehouse, raw: ir.Table, file: str, cfg: CampaignsConfig,
           settings: SourceSettings | None = None) -> dict[str, Limit]:
    """Each measure's 99th percentile in this delivery (placeholders left out) and its junk ceiling."""
    settings = settings or CampaignSourceSettings()
    aggs = {}
    for c in MEASURES[file]:
        v = N.number(raw[c], settings.decimal)
        v = ibis.ifelse(v.notin(cfg.placeholder_values) & (v >= 0), v, ibis.null("float64"))
        aggs[f"p_{c}"], aggs[f"n_{c}"] = v.quantile(0.99), v.count()
    row = wh.to_pyarrow(raw.aggregate(**aggs)).to_pylist()[0]
    out = {}
    for c in MEASURES[file]:
        p99, n = row[f"p_{c}"], row[f"n_{c}"] or 0
        judged = p99 is not None and n >= cfg.outlier_min_values
        out[c] = Limit(p99, cfg.outlier_factor * max(float(p99), 1.0) if judged else None)
    return out


def _measure(col: str, limit: Limit, cfg: CampaignsConfig, settings: SourceSettings) -> Field:
    money = col in MONEY
    placeholders = [float(v) for v in cfg.placeholder_values]

    def parse(t: ir.Table) -> ir.Value:
        v = N.number(t[col], settings.decimal)
        ok = v.notnull() & (v >= 0) & v.notin(placeholders)
        if not money:
            ok = ok & (v == v.floor())
        if limit.ceiling is not None:
            ok = ok & (v <= limit.ceiling)
        typed = ibis.ifelse(ok, v, ibis.null("float64"))
        return typed if money else typed.cast("int64")

    what = "an amount >= 0" if money else "a whole number >= 0"
    shown = ", ".join(_num(v) for v in placeholders)
    expected = f"a plausible {'amount' if money else 'count'} ({what}; no placeholder such as {shown}"
    if limit.ceiling is not None:
        expected += (f"; at most {cfg.outlier_factor:g}x the column's 99th percentile {_num(limit.p99)}"
                     f" = {_num(limit.ceiling)}")
    expected += ")"
    return Field(col, "float64" if money else "int64", expected, parse=parse,
                 hint=lambda t: N.decimal_hint(t[col], settings.decimal, SETTING))


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.4g}"


def _blank(text: ir.StringValue) -> ir.BooleanValue:
    return text.isnull() | (text.strip() == "")


def country_codes(wh: Warehouse, raw: ir.Table, cfg: CampaignsConfig) -> dict[str, str]:
    """The delivery's distinct country texts that a rule maps -> ISO alpha-2 (`sources.countries`)."""
    texts = wh.to_pyarrow(raw.select("country_code").distinct()).column("country_code").to_pylist()
    return countries.codes(texts, cfg.country_aliases)


def spec(file: str, lims: dict[str, Limit], cfg: CampaignsConfig, currencies: list[str],
         settings: SourceSettings | None = None, codes: dict[str, str] | None = None) -> RawSpec:
    """The typing rules of one funnel file for this delivery (limits and `codes`, from
    `country_codes`, are the delivery's own)."""
    settings = settings or CampaignSourceSettings()
    unknown = cfg.unknown_country
    fields = [
        Field("date", "date", TS.DATETIME_EXPECTED, required=True,
              parse=lambda t: TS.calendar_date(t.date, settings.timezone, settings.reporting_timezone)),
        Field("country_code", expected=f"a country: an ISO 3166 code or name (blank or 'unknown' become {unknown}; "
              "campaigns.country_aliases maps others)",
              required=True, parse=lambda t: clean.country(t.country_code, codes or {}, unknown)),
    ]
    if file == "leads_funnel":
        def leads_id(t: ir.Table) -> ir.Value:
            return ibis.ifelse(_blank(t.campaign_id), t._id_from_name, clean.campaign_id(t.campaign_id))

        def currency(t: ir.Table) -> ir.Value:
            c = t.currency.strip().upper()
            # a day that does not parse has no rate: the date's own reason says why the row failed
            return ibis.ifelse(c.isin(currencies) & (t._fx_rate.notnull() | t._fx_day.isnull()), c,
                               ibis.null("string"))

        fields += [
            Field("campaign_id", expected=ID_EXPECTED + "; when blank, a campaign_name naming one campaign",
                  required=True, parse=leads_id),
            Field("currency", expected=f"a currency with a rate to EUR for the row's day ({', '.join(currencies)})",
                  required=True, parse=currency, hint=lambda t: t._fx_why),
            Field("campaign_name"), Field("product"), Field("channel_3"), Field("channel_4"), Field("channel_5"),
        ]
    else:
        fields.append(Field("campaign_id", expected=ID_EXPECTED, required=True,
                            parse=lambda t: clean.campaign_id(t.campaign_id)))
    fields += [_measure(c, lims[c], cfg, settings) for c in MEASURES[file]]
    return RawSpec(file, tuple(fields), key=(), partition="date", null_values=tuple(settings.null_values))


def with_ids_from_names(raw: ir.Table, names: ir.Table) -> ir.Table:
    """Adds `_id_from_name`: the campaign a name names, where it names exactly one."""
    return raw.left_join(names, name_key(raw.campaign_name) == names._name_key).drop("_name_key")


def name_index(*pairs: ir.Table) -> ir.Table:
    """(`_name_key`, `_id_from_name`) from tables of (campaign_id, campaign_name); ambiguous names dropped."""
    both = ibis.union(*[p.select(id=clean.campaign_id(p.campaign_id), key=name_key(p.campaign_name))
                        for p in pairs], distinct=True)
    both = both.filter(both.id.notnull() & both.key.notnull())
    g = both.group_by("key").aggregate(_ids=both.id.nunique(), _id=both.id.max())
    g = g.filter(g._ids == 1)
    return g.select(_name_key=g.key, _id_from_name=g._id)


def fx_rates(wh: Warehouse) -> ir.Table:
    """The EUR-based rows of staging.fx_rates (none while fx.load has not run, or while the table
    has the old placeholder shape): the mart never creates the table, fx.load owns it."""
    if wh.exists(FX_RATES) and set(FX_COLUMNS) <= set(wh.table(FX_RATES).columns):
        t = wh.table(FX_RATES)
        return t.filter(t.base == "EUR").select(*FX_COLUMNS)
    return ibis.memtable(FX_COLUMNS.to_pyarrow().empty_table())


def currencies(wh: Warehouse, cfg: CampaignsConfig) -> list[str]:
    in_table = [r["currency"] for r in wh.to_pyarrow(fx_rates(wh).select("currency").distinct()).to_pylist()]
    return sorted({"EUR", *[c.upper() for c in cfg.fx_to_eur], *[c.upper() for c in in_table if c]})


def with_fx(raw: ir.Table, rates: ir.Table, cfg: CampaignsConfig, max_gap_days: int,
            settings: SourceSettings | None = None) -> ir.Table:
    """Adds the rate each leads row's spend converts with: `_fx_rate` (EUR per unit), `_fx_rate_date`
    (the business day it is of), `_fx_source`, and `_fx_why` (why a row has none, for its reason).

    The rate is that of the business day on or at most `max_gap_days` days before the row's day in
    `rates` (staging.fx_rates, EUR-based: EUR per unit is 1 / rate). A day before the table's first
    rate of the currency takes `campaigns.fx_to_eur` (the project's stated rate for a period the
    table does not cover); a day from that first rate on without one within the limit gets none
    (the row is quarantined, never converted at a guessed rate)."""
    settings = settings or CampaignSourceSettings()
    t = raw.mutate(_fx_day=TS.calendar_date(raw.date, settings.timezone, settings.reporting_timezone),
                   _fx_cur=raw.currency.strip().upper())
    r = rates.select(_r_cur=rates.currency.upper(), _r_date=rates.date, _r_rate=1.0 / rates.rate)
    cover = rates.group_by(_c_cur=rates.currency.upper()).aggregate(_c_first=rates.date.min(), _c_last=rates.date.max())
    j = t.left_join(r, (t._fx_cur == r._r_cur) & (r._r_date <= t._fx_day)
                    & (r._r_date >= t._fx_day - ibis.interval(days=max_gap_days)))
    j = j.mutate(_n=ibis.row_number().over(group_by=ROW, order_by=ibis.desc("_r_date")))
    j = j.filter(j._n == 0)
    j = j.left_join(cover, j._fx_cur == cover._c_cur)
    tabled = j._c_first.notnull() & (j._fx_day >= j._c_first)
    configured = ibis.cases(*[(j._fx_cur == k.upper(), float(v)) for k, v in cfg.fx_to_eur.items()],
                            else_=ibis.null("float64")) if cfg.fx_to_eur else ibis.null("float64")
    eur, found = j._fx_cur == "EUR", j._r_rate.notnull()
    use_configured = ~eur & ~found & ~tabled & configured.notnull()
    rate = ibis.cases((eur, 1.0), (found, j._r_rate), (use_configured, configured), else_=ibis.null("float64"))
    source = ibis.cases(
        (eur, ibis.null("string")),
        (found, ibis.literal(f"{FX_RATES} as of ") + j._r_date.cast("string")),
        (use_configured, ibis.literal("configured campaigns.fx_to_eur.") + j._fx_cur + " = " + configured.cast("string")),
        else_=ibis.null("string"),
    )
    why = ibis.ifelse(
        ~eur & ~found & tabled,
        ibis.literal(f" (no {FX_RATES} rate of ") + j._fx_cur + " on or at most " + str(max_gap_days)
        + " days before " + j._fx_day.cast("string") + "; the table's rates of it run " + j._c_first.cast("string")
        + ".." + j._c_last.cast("string") + ": load the missing days with `martops ingest fx --since ...`)",
        ibis.null("string"))
    return j.mutate(_fx_rate=rate, _fx_rate_date=ibis.ifelse(found & ~eur, j._r_date, ibis.null("date")),
                    _fx_source=source, _fx_why=why).drop("_r_cur", "_r_date", "_r_rate", "_n", "_c_cur", "_c_first",
                                                          "_c_last", "_fx_cur")


def _with_eur(t: ir.Table) -> ir.Table:
    """`fx_rate` (EUR per unit), the day it is of and where it came from (`fx_source`), so every
    converted figure can be traced; `spend_eur` converted with it (see `with_fx`)."""
    return t.mutate(spend_eur=t.spend * t.fx_rate)


def staged(annotated: ir.Table, file: str, spelling: ir.Table, cfg: CampaignsConfig,
           run_id: str, now: dt.datetime) -> ir.Table:
    """Loadable rows in staging's shape (with `_changed_*` flags for the log, dropped on insert)."""
    g = annotated.filter(annotated._ok)
    names = {c: g[f"t_{c}"] for c in MEASURES[file]}
    base = dict(date=g.t_date, country_code=g.t_country_code, campaign_id=g.t_campaign_id)
    flags = dict(_id_imputed=_blank(g.campaign_id), _id_normalised=~_blank(g.campaign_id) & (g.campaign_id != g.t_campaign_id),
                 _country_defaulted=g.t_country_code == cfg.unknown_country,
                 _date_from_timestamp=TS.holds_time(g.date))
    stamp = dict(_etl_loaded_at=ibis.literal(now, type="timestamp"), _run_id=ibis.literal(run_id))
    if file == "web_orders":
        return g.select(ROW, **base, **{MEASURES[file][c]: v for c, v in names.items()}, **stamp, **flags)
    t = g.select(
        ROW, **base, campaign_name=clean.squash(g.campaign_name),
        product=clean.product(g.product, cfg.products), product_raw=g.product,
        channel_3=clean.squash(g.channel_3), channel_4=clean.squash(g.channel_4), channel_5=clean.squash(g.channel_5),
        currency=g.t_currency, **{MEASURES[file][c]: v for c, v in names.items()},
        fx_rate=g._fx_rate, fx_rate_date=g._fx_rate_date, fx_source=g._fx_source, **stamp, **flags,
        **{f"_raw_{c}": g[c] for c in SPELLED},
    )
    for col in SPELLED:
        t = respell(t, col, spelling)
    t = clean.flag_changed(t, SPELLED)
    return _with_eur(t)


def flag_columns(t: ir.Table) -> list[str]:
    return [c for c in t.columns if c.startswith("_") and c not in (ROW, "_etl_loaded_at", "_run_id")]
