"""Run Splink on a table: prepare, train (u by random sampling, m by EM), score pairs, cluster.

Splink runs on its own in-process DuckDB connection, fed an Arrow table, so its many intermediate
`__splink__*` tables never land in the warehouse and a failed run leaves nothing behind. The
warehouse engine is DuckDB today; Splink's Spark backend is the route for Spark warehouses.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.clustering import cluster_pairwise_predictions_at_threshold

from martops.crm.dedupe import exact, fold
from martops.crm.dedupe.kinds import Column, blocking_keys, comparisons, deterministic_keys, prepare_sql, text_sql
from martops.crm.dedupe.spec import DedupeSpec
from martops.crm.nicknames import NICKNAMES
from martops import interrupts
from martops.errors import SourceError

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclasses.dataclass
class DedupeResult:
    clusters: pa.Table
    """One row per input record: id, cluster_id, cluster_size, match_probability (the strongest
    link that put the record in its cluster; NULL for a record alone)."""
    pairs: pa.Table
    """Scored pairs at or above `pairs_threshold`: id_l, id_r, match_probability, match_weight,
    blocking_rule (which rule produced the pair), exact_agreement (linked by `exact`'s rule because
    the model could not be trained)."""
    model: dict
    """The trained Splink model (settings with m and u), saved beside the output for audit."""
    stats: dict

    def __str__(self) -> str:
        s = self.stats
        return (f"{s['records']:,} records -> {s['clusters']:,} clusters ({s['records_in_multi']:,} records in "
                f"{s['multi_clusters']:,} clusters of 2+); {s['pairs_kept']:,} pairs scored at >= "
                f"{s['pairs_threshold']}; {s['seconds']:.1f} s")


def _load_input(con: duckdb.DuckDBPyConnection, records: pa.Table, spec: DedupeSpec, label: str) -> int:
    """Only the id and the compared columns are copied in (a CRM table has many more); the id must
    be present and unique, since every record is mapped to exactly one cluster by it."""
    have = records.column_names
    wanted = [spec.id_column, *(c for c, _ in spec.compare)]
    missing = [c for c in wanted if c not in have]
    if missing:
        raise SourceError(f"{label}: column(s) {missing} not found; the table has {have}")
    con.register("input_arrow", records.select(list(dict.fromkeys(wanted))))
    con.execute("CREATE TABLE input AS SELECT * FROM input_arrow")
    con.unregister("input_arrow")
    idc = f'CAST("{spec.id_column}" AS VARCHAR)'
    n, nulls = con.execute(f"SELECT count(*), count(*) FILTER ({idc} IS NULL OR trim({idc}) = '') FROM input").fetchone()
    if nulls:
        raise SourceError(f"{label}: {nulls} row(s) have no {spec.id_column}; every record needs an id "
                          "to be mapped to its cluster")
    dup = con.execute(f"SELECT {idc}, count(*), count(*) OVER () FROM input GROUP BY 1 HAVING count(*) > 1 "
                      "ORDER BY 2 DESC, 1 LIMIT 1").fetchall()
    if dup:
        raise SourceError(f"{label}: {spec.id_column} is not unique ({dup[0][2]} id(s) repeat, e.g. {dup[0][0]!r} "
                          f"x{dup[0][1]}); collapse exact copies first or pick a unique id column")
    return n


def prepare(con: duckdb.DuckDBPyConnection, spec: DedupeSpec, cols: list[Column]) -> None:
    con.execute("CREATE TABLE nicknames (nickname VARCHAR PRIMARY KEY, canonical VARCHAR)")
    con.executemany("INSERT INTO nicknames VALUES (?, ?)", sorted(NICKNAMES.items()))
    folded = [c for c in cols if c.kind in fold.KINDS]
    fold.register(con, [text_sql(c) for c in folded])
    raw = {c.name: f"coalesce(f{i}.f, {text_sql(c)})" for i, c in enumerate(folded)}
    fold_joins = " ".join(f"LEFT JOIN {fold.TABLE} f{i} ON f{i}.v = {text_sql(c)}" for i, c in enumerate(folded))
    selects = ", ".join(prepare_sql(c, raw.get(c.name)) for c in cols)
    con.execute(f'CREATE TABLE prepared_base AS SELECT trim(CAST(input."{spec.id_column}" AS VARCHAR)) AS unique_id, '
                f"{selects} FROM input {fold_joins}")
    names = [c for c in cols if c.kind == "name"]
    canon = "".join(f', coalesce(n{i}.canonical, p."{c.name}") AS "{c.canon}"' for i, c in enumerate(names))
    joins = " ".join(f'LEFT JOIN nicknames n{i} ON n{i}.nickname = p."{c.name}"' for i, c in enumerate(names))
    con.execute(f"CREATE TABLE prepared AS SELECT p.*{canon} FROM prepared_base p {joins}")
    con.execute("DROP TABLE prepared_base")


def _rules(spec: DedupeSpec, cols: list[Column]) -> list[tuple[str, ...]]:
    if spec.blocking is None:
        return blocking_keys(cols)
    by_source = {c.source: c.name for c in cols}
    out = []
    for rule in spec.blocking:
        unknown = [c for c in rule if c not in by_source]
        if unknown:
            raise SourceError(f"--block {','.join(rule)}: {unknown} not among the compared columns "
                              f"{list(by_source)}; block only on columns you compare")
        out.append(tuple(by_source[c] for c in rule))
    return out


_EM_PREFERENCE = {"email": 0, "id": 0, "name+date": 1, "name+postcode": 2, "phone": 3}


def _em_rank(key: tuple[str, ...], cols: list[Column]) -> int:
    """EM learns m from the pairs a rule blocks, taking them as mostly matches. A personal key (a
    name with a date of birth, an email, an id) blocks few pairs of different people; a phone or
    an address is shared by a household, whose members would teach EM that matches may differ in
    first name and birth date. So personal keys train first (an email before a name and date: twins
share a surname and a birth date), and two sessions usually cover every column."""
    kinds = {c.kind for c in cols if c.name in key or c.canon in key}
    if "name" in kinds and "date" in kinds:
        label = "name+date"
    elif "name" in kinds and "postcode" in kinds:
        label = "name+postcode"
    else:
        label = next((k for k in ("email", "id", "phone") if k in kinds), "")
    return _EM_PREFERENCE.get(label, 4)


MIN_EM_PAIRS = 10
"""EM on fewer blocked pairs than this learns nothing (Splink fails on none); the key is skipped."""


def _blocked_pairs(con: duckdb.DuckDBPyConnection, key: tuple[str, ...]) -> int:
    cols = ", ".join(f'"{k}"' for k in key)
    present = " AND ".join(f'"{k}" IS NOT NULL' for k in key)
    return int(con.execute(f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n FROM prepared "
                           f"WHERE {present} GROUP BY {cols})").fetchone()[0])


def _train(linker: Linker, con: duckdb.DuckDBPyConnection, spec: DedupeSpec, cols: list[Column],
           rules: list[tuple[str, ...]], progress: Progress) -> tuple[list[str], list[str]]:
    """u from random pairs, the prior from near-certain rules, m by EM on blocked pairs. Each EM
    session can't learn the columns it blocks on, so sessions are added (most personal key first,
    see `_em_rank`) until every compared column was free in one of them."""
    progress("estimating the prior match probability from deterministic rules")
    settings = linker._settings_obj
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*k) for k in deterministic_keys(cols)], recall=spec.recall)
    except ValueError as exc:  # more deterministic matches than `recall` allows: a tiny table
        log.info("prior from deterministic rules failed (%s); using the one-match fallback", exc)
        settings._probability_two_random_records_match = 0
    prior = settings._probability_two_random_records_match
    if not 0 < prior < 1:
        # no pair agrees on a near-certain key (a clean table), or every pair does (a tiny one): a
        # prior of 0 or 1 is an infinite log-odds to Splink, so assume one match among all pairs
        n = con.execute("SELECT count(*) FROM prepared").fetchone()[0]
        settings._probability_two_random_records_match = 1 / (n * (n - 1) / 2 + 1)
    progress(f"estimating u from {spec.u_max_pairs:,.0f} random pairs")
    linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.seed)
    untrained = {c.name for c in cols}
    sessions = []
    candidates = [*rules, *[(c.name,) for c in cols if c.kind in ("date", "postcode", "email", "phone")]]
    for key in sorted(dict.fromkeys(candidates), key=lambda k: _em_rank(k, cols)):
        blocked = {c.name for c in cols if c.name in key or c.canon in key}
        if not untrained - blocked:
            continue
        n_pairs = _blocked_pairs(con, key)
        if n_pairs < MIN_EM_PAIRS:
            log.info("EM skips %s: only %d blocked pairs", key, n_pairs)
            continue
        progress(f"estimating m by EM on {n_pairs:,} pairs with the same {', '.join(key)}")
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*key), max_pairs=spec.em_max_pairs)
        sessions.append(",".join(key))
        untrained &= blocked
        if not untrained:
            break
    if untrained:
        log.warning("m was not trained for %s (too few blocked pairs, or every EM rule blocks on it); "
                    "Splink's default m values are used", sorted(untrained))
    return sessions, sorted(untrained)


def _alone(con: duckdb.DuckDBPyConnection, spec: DedupeSpec, n: int, started: float) -> DedupeResult:
    """Fewer than two records: nothing to compare, each record is its own cluster."""
    clusters = con.execute(f'SELECT trim(CAST("{spec.id_column}" AS VARCHAR)) AS id, '
                           "trim(CAST(\"" + spec.id_column + "\" AS VARCHAR)) AS cluster_id, 1::BIGINT AS cluster_size, "
                           "NULL::DOUBLE AS match_probability FROM input").fetch_arrow_table()
    pairs = pa.table({"id_l": pa.array([], pa.string()), "id_r": pa.array([], pa.string()),
                      "match_probability": pa.array([], pa.float64()), "match_weight": pa.array([], pa.float64()),
                      "blocking_rule": pa.array([], pa.string()), "exact_agreement": pa.array([], pa.bool_())})
    stats = {"records": n, "clusters": n, "multi_clusters": 0, "records_in_multi": 0, "pairs_kept": 0,
             "exact_agreement_pairs": 0,
             "pairs_threshold": spec.pairs_threshold, "threshold": spec.threshold, "blocking_rules": [],
             "em_sessions": [], "m_untrained": [], "seconds": time.perf_counter() - started}
    return DedupeResult(clusters=clusters, pairs=pairs, model={}, stats=stats)


def dedupe(records: pa.Table, spec: DedupeSpec, *, label: str = "input", threads: int | None = None,
           progress: Progress | None = None) -> DedupeResult:
    """Deduplicate `records` (any person or company table): see `DedupeSpec` for the knobs."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    if not log.isEnabledFor(logging.DEBUG):
        # Splink warns at length about levels a small table never shows; the stats say what matters
        splink_log.setLevel(logging.ERROR)
    cols = spec.columns()
    con = duckdb.connect()
    interrupts.register(con)  # Ctrl-C stops Splink's queries too, not only the warehouse's
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        n = _load_input(con, records, spec, label)
        rules = _rules(spec, cols)
        if n < 2:
            return _alone(con, spec, n, started)
        say(f"preparing {n:,} records")
        prepare(con, spec, cols)
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=comparisons(cols),
            blocking_rules_to_generate_predictions=[block_on(*k) for k in rules],
            retain_intermediate_calculation_columns=False,
            retain_matching_columns=False,
        )
        db = DuckDBAPI(con)
        linker = Linker(db.register("prepared"), settings, log_level=None)
        em_sessions, m_untrained = _train(linker, con, spec, cols, rules, say)
        say("scoring blocked pairs")
        untrained = set(m_untrained) == {c.name for c in cols}
        predict = linker.inference.predict(threshold_match_probability=None if untrained else spec.pairs_threshold)
        pairs_tbl = exact.score(con, predict.physical_name, cols, untrained=untrained,
                                pairs_threshold=spec.pairs_threshold)
        say(f"clustering at match probability >= {spec.threshold}")
        con.execute(f"CREATE TABLE cluster_edges AS SELECT unique_id_l, unique_id_r, link_probability AS "
                    f"match_probability FROM {pairs_tbl} WHERE link_probability >= {float(spec.threshold)!r}")
        clustered = cluster_pairwise_predictions_at_threshold(
            "prepared", "cluster_edges", db, "unique_id", "unique_id_l", "unique_id_r")
        clusters_tbl = clustered.physical_name
        rule_names = {str(i): ",".join(k) for i, k in enumerate(rules)}
        pairs = con.execute(f"""
            SELECT unique_id_l AS id_l, unique_id_r AS id_r, match_probability, match_weight,
                   CAST(match_key AS VARCHAR) AS blocking_rule, exact_agreement
            FROM {pairs_tbl} ORDER BY match_probability DESC, id_l, id_r""").fetch_arrow_table()
        pairs = pairs.set_column(4, "blocking_rule", pa.array(
            [rule_names.get(k, k) for k in pairs.column("blocking_rule").to_pylist()], pa.string()))
        clusters = con.execute(f"""
            WITH c AS (SELECT unique_id, cluster_id FROM {clusters_tbl}),
            links AS (
                SELECT id, max(p) AS p FROM (
                    SELECT unique_id_l AS id, match_probability AS p FROM cluster_edges
                    UNION ALL
                    SELECT unique_id_r, match_probability FROM cluster_edges)
                GROUP BY id)
            SELECT c.unique_id AS id, c.cluster_id, count(*) OVER (PARTITION BY c.cluster_id) AS cluster_size,
                   links.p AS match_probability
            FROM c LEFT JOIN links ON links.id = c.unique_id
            ORDER BY c.cluster_id, c.unique_id""").fetch_arrow_table()
        scored = con.execute(f"SELECT count(*) FROM {pairs_tbl}").fetchone()[0]
        multi = con.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) n FROM {clusters_tbl} "
                            "GROUP BY cluster_id HAVING count(*) > 1)").fetchone()
        stats = {
            "records": n, "clusters": con.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters_tbl}").fetchone()[0],
            "multi_clusters": multi[0], "records_in_multi": int(multi[1]),
            "pairs_kept": scored, "pairs_threshold": spec.pairs_threshold, "threshold": spec.threshold,
            "exact_agreement_pairs": con.execute(f"SELECT count(*) FROM {pairs_tbl} WHERE exact_agreement").fetchone()[0],
            "blocking_rules": [",".join(k) for k in rules], "em_sessions": em_sessions, "m_untrained": m_untrained, "seconds": time.perf_counter() - started,
        }
        model = linker.misc.save_model_to_json()
        return DedupeResult(clusters=clusters, pairs=pairs, model=model, stats=stats)
    finally:
        interrupts.unregister(con)
        con.close()
        splink_log.setLevel(level)
