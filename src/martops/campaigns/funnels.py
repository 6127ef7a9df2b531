"""The two funnel exports typed, cleaned and split into loadable and quarantined rows.

What is judged per row (a failing row goes to `ops.quarantine` with every reason):
- `date` must be a date; `campaign_id` digits (a `.000000` float suffix is dropped; a blank id
  is filled from `campaign_name` where the name names exactly one campaign, and counted);
- `country_code` an ISO alpha-2 code, read by the rules of every domain (`sources.countries`: `ESP`,
  `Spain`, `UK` are ES, ES, GB); blank or `unknown` become `countries.unknown`;
- `currency` EUR or one with a rate to EUR;
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
FX_SCHEMA = ibis.schema({"currency": "string", "rate_date": "date", "eur_per_unit": "float64", "source": "string"})


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
            return ibis.ifelse(c.isin(currencies), c, ibis.null("string"))

        fields += [
            Field("campaign_id", expected=ID_EXPECTED + "; when blank, a campaign_name naming one campaign",
                  required=True, parse=leads_id),
            Field("currency", expected=f"a currency with a rate to EUR ({', '.join(currencies)})", required=True,
                  parse=currency),
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
    wh.ensure_table(FX_RATES, FX_SCHEMA)
    return wh.table(FX_RATES)


def currencies(wh: Warehouse, cfg: CampaignsConfig) -> list[str]:
    in_table = [r["currency"] for r in wh.to_pyarrow(fx_rates(wh).select("currency").distinct()).to_pylist()]
    return sorted({"EUR", *[c.upper() for c in cfg.fx_to_eur], *[c.upper() for c in in_table if c]})


def _with_eur(t: ir.Table, rates: ir.Table, cfg: CampaignsConfig) -> ir.Table:
    """`fx_rate` (EUR per unit) as of the row's date from `staging.fx_rates`, else the configured
    rate; `fx_source` says which, so every converted figure can be traced."""
    r = rates.select(_cur=rates.currency.upper(), _rate_date=rates.rate_date, _rate=rates.eur_per_unit)
    j = t.left_join(r, (t.currency == r._cur) & (r._rate_date <= t.date))
    latest = ibis.row_number().over(group_by=ROW, order_by=ibis.desc("_rate_date"))
    j = j.mutate(_n=latest)
    j = j.filter(j._n == 0)
    configured = ibis.cases(*[(j.currency == k.upper(), float(v)) for k, v in cfg.fx_to_eur.items()],
                            else_=ibis.null("float64")) if cfg.fx_to_eur else ibis.null("float64")
    rate = ibis.cases((j.currency == "EUR", 1.0), (j._rate.notnull(), j._rate), else_=configured)
    source = ibis.cases(
        (j.currency == "EUR", ibis.null("string")),
        (j._rate.notnull(), ibis.literal(f"{FX_RATES} as of ") + j._rate_date.cast("string")),
        else_=ibis.literal("configured campaigns.fx_to_eur.") + j.currency + " = " + configured.cast("string"),
    )
    return j.mutate(fx_rate=rate, fx_source=source, spend_eur=j.spend * rate).drop("_cur", "_rate_date", "_rate", "_n")


def staged(annotated: ir.Table, file: str, spelling: ir.Table, rates: ir.Table, cfg: CampaignsConfig,
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
        currency=g.t_currency, **{MEASURES[file][c]: v for c, v in names.items()}, **stamp, **flags,
        **{f"_raw_{c}": g[c] for c in SPELLED},
    )
    for col in SPELLED:
        t = respell(t, col, spelling)
    t = clean.flag_changed(t, SPELLED)
    return _with_eur(t, rates, cfg)


def flag_columns(t: ir.Table) -> list[str]:
    return [c for c in t.columns if c.startswith("_") and c not in (ROW, "_etl_loaded_at", "_run_id")]
