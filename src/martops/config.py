"""The project file (`martops.yml`) as typed, validated models.

Every field has a default, so martops runs with no project file at all; a file only overrides.
Validation errors name the key and what is allowed. Secrets never live here: they come from the
environment (see `secret()`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, Strict, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from martops.automation.schedules import Schedules
from martops.checks.specs import CheckSpec, normalise
from martops.config_leads import LeadsConfig
from martops.config_types import DateSetting
from martops.config_workflows import Webhooks, Workflows, check_references
from martops.delivery.smtp import SmtpSettings
from martops.reports.settings import ReportSettings
from martops.errors import ConfigError
from martops.textfiles import read_text

DEFAULT_PROJECT_FILE = "martops.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseConfig(_Strict):
    engine: Literal["duckdb", "postgres", "spark"] = "duckdb"
    """duckdb: one file, no server (the default). postgres: a PostgreSQL database a team shares
    (`dsn`). spark: Parquet tables under `warehouse_dir`, computed by Apache Spark (`master`;
    `pip install 'martops[spark]'` and Java 17). Sources are read by an in-process DuckDB on all three."""
    path: str = "warehouse.duckdb"
    """The DuckDB file. One file holds every schema (staging, attribution, marts, ops)."""
    dsn: str | None = None
    """engine: postgres: postgresql://user@host:port/database. No password here: libpq reads it from
    PGPASSWORD, a service file or ~/.pgpass."""
    connect_timeout_seconds: int = Field(10, ge=1)
    """PostgreSQL: give up on a server that does not answer after this long."""
    memory_limit: str = "3GB"
    """DuckDB spills to disk past this, which keeps a 10M-session run under 4 GB of RSS. A number
    and a unit as DuckDB reads them: 512MB, 3GB, 2.5GiB, 1TB (at least 64MB)."""
    threads: int | None = Field(None, ge=1)
    """None lets DuckDB use every core."""
    lock_timeout_seconds: float = Field(60.0, ge=0)
    """Another martops process holds the warehouse: wait this long for it, then fail saying so."""
    warehouse_dir: str | None = None
    """engine: spark: the folder holding the tables (one folder per schema, Parquet files, partitioned
    by date where a step replaces a range). Every Spark executor must see it at the same path (local
    disk in local mode; a shared mount on a cluster)."""
    master: str = "local[2]"
    """engine: spark: the Spark master: local[N], spark://host:7077, yarn, ... Ignored when martops
    runs inside a Spark application that already has a session (spark-submit, a Databricks job)."""
    spark_conf: dict[str, str] = Field(default_factory=dict)
    """engine: spark: extra Spark settings (spark.executor.memory: 4g, ...), applied when martops
    starts the session."""

    @model_validator(mode="after")
    def _dsn(self) -> "WarehouseConfig":
        from martops.engines.location import check_dsn

        if self.engine == "spark":
            if not self.warehouse_dir or not self.warehouse_dir.strip():
                raise ValueError("engine: spark needs warehouse_dir: the folder that holds the tables")
        elif self.warehouse_dir is not None or self.spark_conf:
            raise ValueError("warehouse_dir and spark_conf are for engine: spark; set engine: spark, or remove them")
        if self.engine == "postgres":
            if not self.dsn:
                raise ValueError("engine: postgres needs dsn: postgresql://user@host:port/database")
            try:
                check_dsn(self.dsn, "dsn")
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("dsn: ")) from None
        elif self.dsn:
            raise ValueError("dsn is for engine: postgres; set engine: postgres, or remove dsn")
        return self

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        m = _MEMORY.fullmatch(v)
        if m is None:
            raise ValueError("must be a number and a unit DuckDB reads, e.g. 512MB, 3GB, 2.5GiB (units: "
                             "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
        unit = m.group(2).lower()
        factor = 1 if unit.startswith("b") else _MEMORY_UNITS[unit[0] + ("i" if unit.endswith("ib") else "")]
        size = float(m.group(1)) * factor
        if size < 64e6:
            raise ValueError("is below 64MB, too little for DuckDB to run a step")
        return v


_MEMORY = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(b|bytes?|[kmgt]i?b|[kmgt]|kilobytes?|megabytes?|gigabytes?|"
                     r"terabytes?)\s*", re.IGNORECASE)
_MEMORY_UNITS = {"b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


class IhcWeights(_Strict):
    """Share of each IHC phase in a conversion's credit; normalised to sum to 1. The defaults are
    the IHC API's own mix, read off its two public answers (exact within their 4-decimal rounding);
    `martops attribution ihc-fit` reads an account's own."""

    initializer: float = Field(0.345, ge=0)
    holder: float = Field(0.38, ge=0)
    closer: float = Field(0.275, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> "IhcWeights":
        """All zero would divide by zero in every journey: refused when the file loads, not
        after ingest and journeys have run."""
        if self.initializer + self.holder + self.closer <= 0:
            raise ValueError("at least one phase weight (initializer, holder, closer) must be > 0")
        return self

    def normalised(self) -> tuple[float, float, float]:
        total = self.initializer + self.holder + self.closer
        if total <= 0:
            raise ConfigError("attribution.ihc_weights: at least one phase weight must be > 0")
        return self.initializer / total, self.holder / total, self.closer / total


class MarkovSettings(_Strict):
    """`--model markov` (see martops.attribution.markov)."""

    order: Annotated[int, Strict()] = Field(1, ge=1, le=4)
    """States are the last `order` channels visited (1..4); higher orders need more data per state."""


class ShapleySettings(_Strict):
    """`--model shapley` (see martops.attribution.shapley)."""

    game: Literal["conversions", "conversion_rate"] = "conversions"
    """conversions: v(S) = conversions of the journeys whose channels are all in S (each conversion
    split equally over its distinct channels); conversion_rate: v(S) = their conversion rate (uses
    non-converting journeys, but a rare channel can be credited beyond its own journeys' conversions)."""
    samples: int = Field(2000, ge=2)
    """Random channel orders sampled above 20 channels (exact at 20 or fewer)."""
    seed: int = Field(0, ge=0)
    """Seed of the sampled orders: the same data and seed give the same credits."""


class IhcPhases(_Strict):
    """How the local `ihc` model spreads each phase over a journey's sessions.

    Each phase gives session i the share exp(s_i) / sum_j exp(s_j) over the sessions eligible for
    it (a softmax of a score), with these scores (hours and days between session timestamps):

        initializer  s_i = 0 for the first session, else
                     initializer_later_score + initializer_per_day * days since the previous session
        holder       s_i = holder_end_score * [first or last]
                           + [closer_engagement and not last] * (holder_closer_score
                             + holder_closer_per_log_hour * ln(1 + hours to the next session))
                     (eligible: holder_engagement = 1, journeys of 2+ sessions)
        closer       s_i = -closer_recency_exponent * ln(1 + hours before the last session)
                     (eligible: closer_engagement = 1)

    The defaults are least-squares fits to the phase columns of the IHC API's two public answers
    (`martops attribution ihc-fit` fits an account's own answers). Scores are bounded to +-100 so
    no setting overflows.
    """

    initializer_later_score: float = Field(-6.1873, ge=-100, le=100)
    """Below 0: the initializer stays on the first session unless a later one follows a long gap."""
    initializer_per_day: float = Field(0.832, ge=-100, le=100)
    """Added per day of gap before a later session: after ~7 days of silence the journey restarts."""
    holder_end_score: float = Field(-1.2667, ge=-100, le=100)
    """Below 0: the first and the last session hold less than those between them."""
    holder_closer_score: float = Field(-1.3705, ge=-100, le=100)
    """A closer-engaged session that is not the last holds less (it is acting as a closer)..."""
    holder_closer_per_log_hour: float = Field(0.1869, ge=-100, le=100)
    """...the less so the longer the wait until the next session."""
    closer_recency_exponent: float = Field(0.3227, ge=-100, le=100)
    """Closer weight (1 + hours before the converting session)^-exponent: a power-law recency."""


class AttributionConfig(_Strict):
    direct_channel: str = "Direct Traffic"
    """Channel that `last_non_direct` skips over."""
    half_life_days: float = Field(7.0, gt=0)
    """`time_decay`: a session this many days before the conversion gets half the weight."""
    position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4)
    """`position_based`: first, middle (shared), last."""
    ihc_weights: IhcWeights = IhcWeights()
    markov: MarkovSettings = MarkovSettings()
    shapley: ShapleySettings = ShapleySettings()
    """`ihc`: the mix of the three phases (see IhcWeights)."""
    ihc_phases: IhcPhases = IhcPhases()
    """`ihc`: how each phase spreads over a journey's sessions (see IhcPhases)."""
    lookback_days: int | None = Field(None, gt=0)
    """Only sessions at most this many days before a conversion join its journey (None: all)."""
    duplicate_conversions: Literal["earliest", "latest", "reject"] = "earliest"
    """One conv_id delivered twice with different times only (a page reload): keep the earliest or
    the latest row (the other is quarantined, naming the kept row), or quarantine both. Copies that
    also differ in user or revenue are a real conflict and are always all quarantined."""
    model: str = "ihc"
    """The model `martops run` attributes with when no --model is given (see `martops attribution
    attribute --help` for the list)."""
    export: str | None = None
    """CSV file the `attribution.export` step writes channel_reporting to (None: the step is skipped
    in a whole-project run)."""
    write_back: bool = False
    """Whether `martops run` writes the journeys back into the challenge database (`attribution.write-back`)."""
    refunds: Literal["quarantine", "keep"] = "quarantine"
    """A conversion with negative revenue is a refund, not an order: quarantined with that reason
    (so it earns no credit and does not lower CPO), or `keep` to load it as a conversion."""

    @field_validator("position_weights")
    @classmethod
    def _sums_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(w) for w in v) or min(v) < 0 or abs(sum(v) - 1) > 1e-9:
            raise ValueError(f"must be three non-negative numbers that sum to 1, got {list(v)}")
        return v


class RedistributionPhase(_Strict):
    """How the IHC API redistributes one phase's credit (its `redistribution_parameter`)."""

    direction: Literal["earlier_sessions_only", "any_session", "later_sessions_only"]
    receive_threshold: float = Field(0.0, ge=0)
    redistribution_channel_labels: list[str] = []


class IhcApiConfig(_Strict):
    """The IHC attribution API (`--model ihc_api`). The key is never here: env IHC_API_KEY."""

    url: str = "https://api.ihc-attribution.com/v1/compute_ihc"
    """Overridden by the environment variable IHC_API_URL."""
    conv_type_id: str | None = None
    """The account's conversion type; `--conv-type-id` overrides it."""
    max_journeys_per_request: int = Field(100, ge=1)
    max_sessions_per_request: int = Field(200, ge=1)
    """200 fits a free test account (its limit); paid accounts allow 3000, so raise it there."""
    long_journeys: Literal["fail", "keep_recent"] = "fail"
    """A journey longer than max_sessions_per_request: fail naming it, or send its most recent sessions."""
    keep_recent_sessions: int | None = Field(None, ge=1)
    """With keep_recent: how many sessions to keep (default: max_sessions_per_request)."""
    timeout_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    """Attempts per request, first one included, on 429, 5xx, timeouts and dropped connections."""
    backoff_seconds: float = Field(1.0, ge=0)
    """First retry waits about this long, doubling each time (with jitter), up to max_backoff_seconds."""
    max_backoff_seconds: float = Field(60.0, ge=0)
    max_retry_after_seconds: float = Field(300.0, ge=0)
    """A Retry-After longer than this stops the run (answers so far are kept) instead of waiting."""
    requests_per_second: float = Field(2.0, gt=0)
    redistribution_parameter: dict[Literal["initializer", "holder", "closer"], RedistributionPhase] | None = None

    def effective_url(self) -> str:
        return os.environ.get("IHC_API_URL") or self.url


class QualityConfig(_Strict):
    """Row-level quarantine and the built-in checks' thresholds."""

    max_quarantined_fraction: float = Field(0.05, ge=0, le=1)
    """A load quarantining more than this share of a table's rows fails (a format change, not dirt)."""
    fraction_applies_from_rows: int = Field(1000, ge=0)
    """...but only for tables of at least this many rows: 1 bad row in 5 says nothing about the format."""
    freshness_warn_after_hours: float = Field(12, gt=0)
    freshness_error_after_hours: float = Field(24, gt=0)
    row_count_min: int = Field(1, ge=0)
    """A staging table with fewer rows fails its row_count check (an empty load is an error)."""
    row_count_max_drop_pct: float | None = Field(50, gt=0, le=100)
    """A staging table shrinking by more than this since the last check fails it (None: off)."""
    fx_max_gap_days: int = Field(4, ge=1)
    """staging.fx_rates: most consecutive calendar days without a rate between two business days
    (Easter, Good Friday to Easter Monday, is 4); a longer gap fails its check. The campaign mart
    takes a rate at most this many days older than the spend."""
    fx_max_daily_move_pct: float = Field(5.0, gt=0)
    """staging.fx_rates: a rate moving by more than this many percent from one business day to the
    next is a warning: a major currency's daily moves against the euro stay well below it outside
    a crisis, so such a move is worth a look, not proof of an error."""


DEFAULT_UNKNOWN_COUNTRY = "ZZ"
USER_ASSIGNED_COUNTRY_CODES = frozenset(["AA", "ZZ", *(f"Q{c}" for c in "MNOPQRSTUVWXYZ"),
                                         *(f"X{c}" for c in "ABCDEFGHIJLMNOPQRSTUVWXYZ")])
"""ISO 3166-1's user-assigned alpha-2 codes (AA, QM-QZ, XA-XZ, ZZ), XK left out: Kosovo's code."""


def _unknown_country(v: str) -> str:
    code = v.strip().upper()
    if code not in USER_ASSIGNED_COUNTRY_CODES:
        raise ValueError("must be a user-assigned ISO 3166 code no country has (ZZ, AA, QM-QZ, XA-XZ but XK), "
                         f"so an unknown country never counts as a real one; got {v!r}")
    return code


UnknownCountry = Annotated[str, AfterValidator(_unknown_country)]


class CountriesConfig(_Strict):
    """How every domain reads countries (`martops.sources.countries`: ISO codes, names, short forms)."""

    unknown: UnknownCountry = DEFAULT_UNKNOWN_COUNTRY
    """The code of a blank country, and of one no rule maps, in every domain (the CRM keeps such a
    row with this code; a campaign export's unreadable code is quarantined instead). A user-assigned
    ISO 3166 code. `campaigns.unknown_country` and `crm.unknown_country` are older spellings of it."""


class CampaignsConfig(_Strict):
    """The campaign KPI mart (`martops kpis`): cleaning rules for the POS Lite exports."""

    fx_to_eur: dict[str, float] = {"GBP": 1.18}
    """EUR per unit of currency, used when `staging.fx_rates` has no rate for a row's date (a later
    API pipeline fills that table). 1.18 is about the ECB's EUR/GBP average for January-May 2022."""
    placeholder_values: list[float] = [100_000_000.0]
    """Values exports use for 'unknown': never summed, the row is quarantined."""
    outlier_factor: float = Field(20.0, gt=1)
    """A measure above this many times its column's 99th percentile (in the same delivery) is junk."""
    outlier_min_values: int = Field(100, ge=1)
    """...judged only when the column has at least this many values: a percentile of 5 rows is noise."""
    rolling_days: int = Field(28, ge=1)
    """The rolling window of the `_28d` KPIs (the seed's two-week sales cycle plus slack)."""
    unknown_country: UnknownCountry = DEFAULT_UNKNOWN_COUNTRY
    """The older spelling of `countries.unknown`, still read: setting either sets both (they cannot
    differ). Read the value from there."""
    country_aliases: dict[str, str] = {}
    """Country text -> ISO alpha-2, tried first (case-insensitively), for codes or names the shared
    rules (`martops.sources.countries`: ISO codes, `UK`, `EL`, names, short forms) do not map."""
    products: dict[str, list[str]] = {
        "pos lite": ["pos lite", "pos-lite", "poslite", "poslite-cr", "pos"],
        "card reader": ["card reader", "card-reader", "cardreader"],
        "unknown": ["unknown", "n/a", "none"],
    }
    """Canonical product -> the spellings exports use (compared trimmed and lower-cased). Every
    campaign in the exports sells POS Lite, so a bare 'pos' is read as POS Lite."""


def _time_zone(name: str) -> str:
    """An IANA time zone name (`Europe/Paris`, `UTC`), checked against the system's tz database."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone name (IANA, e.g. UTC, Europe/Paris, America/New_York)") from exc
    return name


TimeZone = Annotated[str, AfterValidator(_time_zone)]


class SourceSettings(_Strict):
    """How one domain's source files are written (`sources.<domain>` in martops.yml); see
    `martops.sources.numbers` and `martops.sources.timestamps` for the grammar each setting tunes."""

    path: str | None = None
    """Where this domain's delivery lives, for `martops run` (the challenge SQLite file for
    attribution, the folder of exports for campaigns and crm); relative to the working directory,
    like `warehouse.path`. A command's --db/--source flag wins over it."""
    timezone: TimeZone = "UTC"
    """Time zone of naive times in the source; times with an offset (`Z`, `+02:00`) are converted."""
    reporting_timezone: TimeZone = "UTC"
    """The calendar a timestamp's date is taken in (a DATE column holding a timestamp, session dates)."""
    decimal: Literal[".", ","] = "."
    """Decimal separator of numbers. With '.', ',' groups thousands (1,234.5); with ',', '.' does (1.234,5)."""
    null_values: list[str] = []
    """Texts (compared trimmed, case-insensitively) that mean missing, besides an empty cell."""
    delimiter: str = ","
    """CSV field separator: one character (`;`, `|`, or `tab` / `\\t` for a tab)."""

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str) -> str:
        v = "\t" if v in ("tab", "\\t") else v
        if len(v) != 1 or v in ('"', "\n", "\r"):
            raise ValueError(f"must be one character other than a quote or a line break (or 'tab'), got {v!r}")
        return v


class CampaignSourceSettings(SourceSettings):
    null_values: list[str] = ["nan", "null", "none", "n/a", "-"]
    """The POS Lite exports were written by pandas, which spells a missing measure `NaN`."""


UsageRole = Literal["people", "events"]
USAGE_COLUMNS = {
    "people": ("user_id", "name", "email", "company", "created_at"),
    "events": ("user_id", "event_type", "timestamp", "month"),
}
"""Role -> its canonical columns (the keys of `sources.usage.columns.<role>`; see `martops.usage.source`)."""


class UsageSourceSettings(SourceSettings):
    """The usage source (`martops usage`): a SQLite file or a folder of CSV files holding a people
    table and an events table. Table and column names are mapped here, so any export with that
    content loads without renaming; every canonical column is listed in `martops.usage.source`."""

    grain: Literal["event", "month"] = "event"
    """`event`: one row per event with its timestamp (the seed's data.db). `month`: one row per user and
    month the user was active, months written as numbers 1, 2, ... (the public SaaS sample): an
    aggregate, so the marts keep a month grain (no day, no event count is invented)."""
    tables: dict[UsageRole, str] = {}
    """Role -> the table's name in the SQLite file, or the CSV file's name without `.csv` in a folder
    (default: the role's name, `people` and `events`), e.g. {people: registrations, events: activity}."""
    columns: dict[UsageRole, dict[str, str]] = {}
    """Role -> canonical column -> the source's column, for names that are not the canonical ones
    (matched trimmed and case-insensitively), e.g. {people: {user_id: id, created_at: registration_month}}."""
    month_one: str | None = None
    """grain `month`: the calendar month (YYYY-MM) month number 1 stands for, when it is known; the
    marts then label months by calendar and `--as-of` takes a date. Unset: months stay numbers."""

    @field_validator("month_one")
    @classmethod
    def _year_month(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v.strip()):
            raise ValueError(f"write a calendar month as YYYY-MM, e.g. 2019-01; got {v!r}")
        return v.strip() if v is not None else v

    @model_validator(mode="after")
    def _known_columns(self) -> "UsageSourceSettings":
        for role, mapping in self.columns.items():
            unknown = [c for c in mapping if c not in USAGE_COLUMNS[role]]
            if unknown:
                raise ValueError(f"columns.{role}: {', '.join(map(repr, unknown))} is not a column of the {role} "
                                 f"table; columns: {', '.join(USAGE_COLUMNS[role])}")
            empty = [c for c, v in mapping.items() if not str(v).strip()]
            if empty:
                raise ValueError(f"columns.{role}.{empty[0]} is empty; give the source's column name")
        for role, name in self.tables.items():
            if not name.strip():
                raise ValueError(f"tables.{role} is empty; give the table's name")
        return self


class SourcesConfig(_Strict):
    """Per-domain source settings: `sources: {attribution: {...}, campaigns: {...}, crm: {...}}`."""

    attribution: SourceSettings = SourceSettings()
    campaigns: CampaignSourceSettings = CampaignSourceSettings()
    crm: SourceSettings = SourceSettings()
    loyalty: SourceSettings = SourceSettings()
    usage: UsageSourceSettings = UsageSourceSettings()
    leads: SourceSettings = SourceSettings()
    """`path`: the lead table (a CSV file) `martops run` scores; decimal, delimiter, time zone as for any CSV."""


CrmRole = Literal["customers", "transactions", "products", "interactions", "sales_team", "countries"]


class CrmDedupeConfig(_Strict):
    """How `crm build` deduplicates customers (Splink): the columns compared and the thresholds."""

    compare: dict[str, str] = {"first_name": "name", "surname": "name", "email": "email", "phone": "phone",
                               "country": "category"}
    """Column of the customers (standardised; `phone` is read from the raw text, so numbers the
    numbering plan rejects still link) -> kind (name, email, phone, address, postcode, city, date,
    id, category)."""
    threshold: float = Field(0.99, gt=0, le=1)
    """Match probability at which two customer ids join one golden customer."""
    pairs_threshold: float = Field(0.5, gt=0, le=1)
    """Pairs scored at or above this are kept in `crm.customer_matches` for review."""
    u_max_pairs: float = Field(2e6, ge=1e3)
    """Random pairs sampled to estimate u (how often different people agree by chance)."""


class CrmConfig(_Strict):
    """The CRM foundation (`martops crm`): which files a delivery holds and how values are standardised."""

    default_region: str = "US"
    """Region (ISO alpha-2) a phone number without a `+`/`00` country code is read in (phonenumbers)."""
    phone_accept: Literal["valid", "possible"] = "valid"
    """Which parsed numbers fill `phone`: `valid` (the numbering plan assigns the number's range) or
    `possible` (only the length fits). Either way `phone_status` says what each number is."""
    files: dict[CrmRole, str] = {}
    """Role -> file name in the delivery folder (default `<role>.csv`), e.g. {customers: clients.csv}."""
    columns: dict[CrmRole, dict[str, str]] = {}
    """Role -> canonical column -> the file's header, for headers that are not the canonical names
    (matched trimmed and case-insensitively), e.g. {customers: {customer_id: Kundennummer}}."""
    country_aliases: dict[str, str] = {}
    """Country name -> ISO alpha-2, tried first (case-insensitively), for names no built-in rule maps
    or maps otherwise than this CRM means (`Netherlands Antilles: CW`). Common short forms (`USA`,
    `UK`, `Korea`, `Ivory Coast`, ...) are built in: `martops.sources.countries.SHORT_FORMS`."""
    unknown_country: UnknownCountry = DEFAULT_UNKNOWN_COUNTRY
    """The older spelling of `countries.unknown`, still read: setting either sets both (they cannot
    differ). Read the value from there."""
    interaction_types: dict[str, str] = {
        "e-mail": "email", "e mail": "email", "mail": "email", "telephone": "phone", "phone call": "phone",
        "call": "phone", "live chat": "chat", "web chat": "chat", "webchat": "chat",
    }
    """Interaction type spellings (trimmed, lower-cased) -> the canonical type (`phone`, `chat`, `email`)."""
    dedupe: CrmDedupeConfig = CrmDedupeConfig()

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        import phonenumbers

        if v.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{v!r} is not a region with a numbering plan; use an ISO alpha-2 code such as US, FR, DE")
        return v.upper()


class LoyaltyConfig(_Strict):
    """The loyalty programme's points rule (`martops loyalty`), read off the February Challenge files.

    A purchase earns `earn_points` per whole `earn_per_cents` of its value (10 points per whole
    dollar); a redemption spends `redemption_points` for `redemption_discount_cents` off the basket,
    and the rest of the basket (value minus the discount) earns as a purchase does. The README's
    loyalty section gives the counts behind each default. A transaction whose point_differential
    does not follow the rule is flagged and its customer's point totals stay NULL (never guessed).
    """

    earn_points: int = Field(10, gt=0)
    earn_per_cents: int = Field(100, gt=0)
    redemption_points: int = Field(5000, gt=0)
    redemption_discount_cents: int = Field(500, ge=0)
    as_of: DateSetting = None
    """The date the customer fills are computed as of (`--as-of`); default: the last transaction day."""
    treated_arm: str = "enrolled"
    control_arm: str = "control"
    """The values of `loyalty` naming the programme arm and the control arm of the randomised test."""

    @model_validator(mode="after")
    def _two_arms(self) -> "LoyaltyConfig":
        if self.treated_arm.strip().lower() == self.control_arm.strip().lower():
            raise ValueError(f"treated_arm and control_arm are both {self.treated_arm!r}; the test compares two arms")
        return self


class UsageExclusion(_Strict):
    """Which accounts the usage marts leave out as bots or test accounts (`martops.usage.exclusion`).

    Such an account is kept in `marts.usage_customers` with `excluded_reason` saying why, and is in
    no tier, company measure or retention cohort: a load test firing a thousand events a day would
    otherwise be the "highest usage customer" and inflate its company's usage per seat.
    """

    enabled: bool = True
    email_patterns: list[str] = [r"^(test|qa|bot|demo|noreply|no-reply)([0-9._+-].*)?@",
                                 r"@(example\.(com|org|net)|test\.[a-z]+|mailinator\.com)$"]
    """Regular expressions (case-insensitive, searched) on the email: test mailboxes and the domains
    RFC 2606 reserves for examples. A match excludes the account."""
    name_patterns: list[str] = [r"\b(test|bot|qa)\b"]
    """Regular expressions (case-insensitive, searched) on the name ('Test User', 'QA Bot 3')."""
    max_events_per_day: int | None = Field(500, ge=1)
    """grain `event`: more events than this on one day excludes the account (no person clicks once a
    minute around the clock; a script does). None: no volume rule."""

    @field_validator("email_patterns", "name_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return v


class UsageConfig(_Strict):
    """The usage marts (`martops usage`): windows, trend and tier rules (see `martops.usage.marts`)."""

    trend_weeks: int = Field(4, ge=1)
    """grain `event`: the recent window is the last N weeks up to the as-of date, compared with the N
    weeks before it (the trend); tiers rank customers by their interactions in the recent window."""
    trend_months: int = Field(3, ge=1)
    """grain `month`: the same windows in months (the as-of month and the N-1 before it)."""
    trend_threshold: float = Field(0.2, gt=0)
    """A change of at least this share between the two windows is `up` or `down`, else `flat`."""
    tier_quantiles: tuple[float, float] = (0.25, 0.75)
    """Active customers (and companies) at or below the first quantile of the recent measure are
    `low`, above the second `high`, the rest `medium` (quantiles by linear interpolation)."""
    customer_thresholds: tuple[float, float] | None = None
    """Fixed cuts of the recent interactions instead of quantiles: <= first low, > second high."""
    company_thresholds: tuple[float, float] | None = None
    """Fixed cuts of the recent interactions per seat for companies, likewise."""
    as_of: DateSetting = None
    """The day the marts are as of (`--as-of`); default: the day of the last event (month grain: the
    last month)."""
    exclude: UsageExclusion = UsageExclusion()

    @model_validator(mode="after")
    def _ordered(self) -> "UsageConfig":
        lo, hi = self.tier_quantiles
        if not 0 < lo < hi < 1:
            raise ValueError(f"tier_quantiles must be two shares 0 < low < high < 1, got [{lo}, {hi}]")
        for name in ("customer_thresholds", "company_thresholds"):
            cuts = getattr(self, name)
            if cuts is not None and not 0 <= cuts[0] < cuts[1]:
                raise ValueError(f"{name} must be two cuts 0 <= low < high, got [{cuts[0]}, {cuts[1]}]")
        return self


FRANKFURTER_V1 = "https://api.frankfurter.dev/v1"
"""The public Frankfurter API's v1 base URL (the `servers` entry of its openapi.json)."""


class FxIngestConfig(_Strict):
    """The FX-rate pipeline (`martops ingest fx`, step fx.load): Frankfurter v1 into staging.fx_rates."""

    url: str = FRANKFURTER_V1
    """Base URL of a server speaking Frankfurter's v1 contract (`/latest`, `/YYYY-MM-DD`,
    `/START..END`); `--url` overrides it. A self-hosted instance or a test server goes here."""
    base: str = "EUR"
    """The currency the rates are quoted against (one unit of `base` = `rate` units of `currency`).
    The campaign mart reads EUR-based rows."""
    symbols: list[str] = ["GBP", "USD"]
    """The currencies to load (ISO 4217 codes); `--symbols GBP,USD` overrides them."""
    start: DateSetting = None
    """The first day to load when staging.fx_rates holds nothing yet for a currency (and no
    --since is given); after that each run starts from the last loaded day."""
    lookback_days: int = Field(7, ge=0)
    """Calendar days up to and including the last loaded day that each run fetches again and
    replaces (the ECB corrects a published rate now and then); 0 fetches only later days."""
    in_project_run: bool = False
    """Whether a bare `martops run` (no selector) runs fx.load. Off by default because it
    reaches the network; `martops run fx`, a schedule's `select: [fx]` and `martops ingest fx`
    run it regardless."""
    timeout_seconds: float = Field(30.0, gt=0)
    """Per request: connecting, and waiting for the answer."""
    max_attempts: int = Field(5, ge=1)
    """Attempts per request, the first included, on 5xx, timeouts and dropped connections."""
    backoff_seconds: float = Field(1.0, ge=0)
    """The first retry waits about this long, doubling each time (with jitter), up to max_backoff_seconds."""
    max_backoff_seconds: float = Field(30.0, ge=0)
    max_days_per_request: int = Field(366, ge=1)
    """A longer range is fetched in windows of this many days (one request each)."""
    reconcile_tolerance: float = Field(1e-4, gt=0)
    """Relative tolerance of the reconciliation (a cross rate from two EUR rates against the API's
    own); the API's rounding of its quote (4-6 decimals) is allowed on top, see martops.ingest.reconcile."""

    @field_validator("base", mode="before")
    @classmethod
    def _code(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", v):
                raise ValueError(f"must be a three-letter ISO 4217 code such as EUR, got {v!r}")
        return v

    @field_validator("symbols", mode="before")
    @classmethod
    def _codes(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.split(",")
        if isinstance(v, list):
            v = [s.strip().upper() if isinstance(s, str) else s for s in v]
            bad = [s for s in v if not isinstance(s, str) or not re.fullmatch(r"[A-Z]{3}", s)]
            if bad:
                raise ValueError(f"must be three-letter ISO 4217 codes such as GBP,USD, got {bad[0]!r}")
            if not v:
                raise ValueError("name at least one currency, e.g. [GBP, USD]")
            v = list(dict.fromkeys(v))
        return v


    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        """A base URL the client appends `/START..END?...` to: a query or fragment here would end up
        in the middle of every request, and a bad port would only fail at the first connection."""
        from urllib.parse import urlsplit

        v = v.strip().rstrip("/")
        example = "such as https://api.frankfurter.dev/v1"
        if not re.match(r"https?://[^/\s]+", v):
            raise ValueError(f"must be an http(s) URL {example}")
        parts = urlsplit(v)
        if parts.query or parts.fragment or v.endswith(("?", "#")):
            raise ValueError(f"must be a base URL without a query or fragment ('?...', '#...'), {example}; martops "
                             "adds the dates, base and symbols itself")
        try:
            parts.port
        except ValueError:
            raise ValueError(f"has a port that is not a number from 1 to 65535, {example}") from None
        if parts.port == 0 or not parts.hostname:
            raise ValueError(f"needs a host (and a port from 1 to 65535, if any), {example}")
        return v


class IngestConfig(_Strict):
    """API pipelines (`martops ingest ...`)."""

    fx: FxIngestConfig = FxIngestConfig()


class ProjectConfig(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    attribution: AttributionConfig = AttributionConfig()
    ihc_api: IhcApiConfig = IhcApiConfig()
    quality: QualityConfig = QualityConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    crm: CrmConfig = CrmConfig()
    loyalty: LoyaltyConfig = LoyaltyConfig()
    usage: UsageConfig = UsageConfig()
    ingest: IngestConfig = IngestConfig()
    leads: LeadsConfig = LeadsConfig()
    """Lead scoring: the lead table's mapping, points rules, model (see martops.config_leads)."""
    countries: CountriesConfig = CountriesConfig()
    sources: SourcesConfig = SourcesConfig()
    checks: dict[str, list[Annotated[CheckSpec, BeforeValidator(normalise)]]] = {}
    """Declared checks per warehouse table (`schema.table`), on top of the built-in ones."""
    schedules: Schedules = []
    """When to run which selection (`martops schedule list|cron|serve`); see martops.automation.schedules."""
    smtp: SmtpSettings | None = None
    """The mail server outputs are sent through (`martops report send`, workflow e-mail steps); see
    martops.delivery.smtp."""
    report: ReportSettings = ReportSettings()
    """The weekly report's step output and delivery (see martops.reports.settings)."""
    webhooks: Webhooks = {}
    """HTTP endpoints workflow steps POST JSON to (see martops.config_workflows)."""
    workflows: Workflows = {}
    """Automated sequences per customer: trigger, steps, stop conditions (`martops workflows`)."""

    @model_validator(mode="after")
    def _workflow_references(self) -> "ProjectConfig":
        check_references(self.workflows, self.webhooks, self.smtp is not None)
        return self

    @model_validator(mode="after")
    def _one_unknown_country(self) -> "ProjectConfig":
        """`countries.unknown` is the one setting; `campaigns.unknown_country` and `crm.unknown_country`
        (its older spellings) set it too, and every domain's copy is made equal to it, so no two
        domains can write two codes for an unknown country."""
        given = {"countries.unknown": self.countries.unknown} if "unknown" in self.countries.model_fields_set else {}
        for section in ("campaigns", "crm"):
            model = getattr(self, section)
            if "unknown_country" in model.model_fields_set:
                given[f"{section}.unknown_country"] = model.unknown_country
        if len(set(given.values())) > 1:
            said = " and ".join(f"{k} {v}" for k, v in given.items())
            raise ValueError(f"one code for an unknown country serves every domain; set countries.unknown alone, "
                             f"got {said}")
        code = next(iter(given.values()), self.countries.unknown)
        self.countries = self.countries.model_copy(update={"unknown": code})
        self.campaigns = self.campaigns.model_copy(update={"unknown_country": code})
        self.crm = self.crm.model_copy(update={"unknown_country": code})
        return self


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: where, what, and while doing what (its own message takes five
    lines: context, its place, problem, its place, the line with a caret). Marks count from 0."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:  # e.g. a control character the reader refuses: its message names a position
        return f"{path} is not valid YAML: {' '.join(str(exc).split())}"
    said = f"{path} line {mark.line + 1}, column {mark.column + 1}: {exc.problem or 'invalid YAML'}"
    context, at = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and at is not None and (at.line, at.column) != (mark.line, mark.column):
        said += f" ({context} started at line {at.line + 1}, column {at.column + 1})"
    elif context:
        said += f" ({context})"
    if "'\\t'" in (exc.problem or ""):
        said += "; indent with spaces: YAML does not allow a tab there"
    return said


class _ValueProblem(yaml.YAMLError):
    """A scalar YAML reads but cannot build (`2013-13-01`, an unquoted date that is no date), with
    the node's place: PyYAML's constructors raise a bare ValueError that names no line."""

    def __init__(self, node: yaml.Node, exc: Exception) -> None:
        super().__init__(str(exc))
        self.node, self.cause = node, exc


class _Loader(yaml.SafeLoader):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:  # a YAMLError already says where
            raise _ValueProblem(node, exc) from exc

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """A key written twice in one mapping is an error: PyYAML would keep the last silently,
        dropping a step of a workflow or a schedule's setting without a word."""
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key_node.value!r} is written twice in one mapping (first on line "
                        f"{seen[key_node.value] + 1}); give each key once", key_node.start_mark)
                seen[key_node.value] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def _value_problem(path: Path, exc: _ValueProblem) -> str:
    mark, value = exc.node.start_mark, getattr(exc.node, "value", "")
    where = f"{path} line {mark.line + 1}, column {mark.column + 1}"
    shown = value if isinstance(value, str) and len(value) <= 60 else "the value"
    if exc.node.tag == "tag:yaml.org,2002:timestamp":
        kind, form = ("a date", "YYYY-MM-DD") if len(shown) <= 10 else ("a date and time", "YYYY-MM-DD HH:MM:SS")
        return f"{where}: {shown} is not {kind} ({exc.cause}); write it as {form}"
    return f"{where}: {shown} cannot be read ({exc.cause}); quote it to keep it as text"


_SECRET_KEY = re.compile(r"(?i)pass|pwd|secret|token|dsn|key|credential")
"""Keys whose value a message never echoes (a password typed where it does not belong)."""


def load_config(path: str | Path | None = None) -> ProjectConfig:
    """Read the project file; with no path, `./martops.yml` if it exists, else the defaults."""
    if path is None:
        path = Path(DEFAULT_PROJECT_FILE)
        if not path.exists():
            return ProjectConfig()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"project file {path} does not exist")
    text = read_text(path, "project file", ConfigError, missing="give an existing file",
                     directory=f"give the file itself, e.g. {path / DEFAULT_PROJECT_FILE}")
    try:
        data = yaml.load(text, Loader=_Loader) or {}
    except _ValueProblem as exc:
        raise ConfigError(_value_problem(path, exc)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")  # pydantic's wording for a validator's own message
            secret = any(_SECRET_KEY.search(str(part)) for part in err["loc"]) or "password" in msg.lower() \
                or "dsn" in msg.lower() or "@" in str(err.get("input", ""))
            # a value named is not echoed twice; a DSN (it may hold a password) is never echoed
            said = msg if "got " in msg or secret else f"{msg} (got {err.get('input')!r})"
            if err["type"] == "string_type" and isinstance(err.get("input"), bool):
                said += ("; YAML reads yes/no/on/off/true/false without quotes as a true/false value: "
                         "quote it ('yes') to mean the text")
            problems.append(f"{key}: {said}" if key else said)
        if len(problems) == 1:  # one problem, one line
            raise ConfigError(f"{path}: invalid project file: {problems[0]}") from exc
        raise ConfigError("\n".join([f"{path}: invalid project file ({len(problems)} problems)",
                                     *(f"  {p}" for p in problems)])) from exc


def with_overrides(cfg: ProjectConfig, section: str, flags: dict[str, tuple[str, object]]) -> ProjectConfig:
    """`cfg` with command-line flags set on one section, validated by the same rules as the file.

    `flags` maps a field of the section to (flag, value); a value of None is no override. A value
    the file could not hold either raises ConfigError naming the flag and the setting it overrides,
    e.g. `--lookback-days 0: Input should be greater than 0 (overrides attribution.lookback_days)`.
    """
    updates = {name: value for name, (_, value) in flags.items() if value is not None}
    if not updates:
        return cfg
    model = getattr(cfg, section)
    try:
        new = type(model).model_validate({**model.model_dump(), **updates})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            flag, value = flags.get(name, (f"{section}.{name}", err.get("input")))
            lines.append(f"{flag} {value!r}: {err['msg']} (overrides {section}.{name} of the project file)")
        raise ConfigError("; ".join(lines)) from exc
    return cfg.model_copy(update={section: new})


def secret(name: str) -> str | None:
    """Secrets come from the environment only, so they never land in a file or the repo."""
    value = os.environ.get(name)
    return value or None
