"""`martops crm dedupe`: deduplicate any person or company table (registered on the crm group)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.cli.common import CONFIG, FORCE, WAREHOUSE, open_warehouse, refuse_overwrite
from martops.config import load_config
from martops.cli.render import console, console_err
from martops.crm.dedupe import io
from martops.crm.dedupe.kinds import KINDS
from martops.crm.dedupe.linker import dedupe as run_dedupe
from martops.crm.dedupe.spec import DedupeSpec, parse_block, parse_compare
from martops.errors import ConfigError


def dedupe(
    id_column: str = typer.Option(..., "--id", help="The column that identifies a record (unique)."),
    out: Path = typer.Option(..., "--out", "-o", help="Clusters file (.csv/.parquet): each record's id and cluster_id."),
    compare: Optional[list[str]] = typer.Option(
        None, "--compare", help=f"COLUMN=KIND, repeatable; kinds: {', '.join(KINDS)}. Default: crm.dedupe.compare "
        "of the project file."),
    input_file: Optional[Path] = typer.Option(None, "--input", "-i", help="Records as a .csv or .parquet file."),
    table: Optional[str] = typer.Option(None, "--table", help="Records as a warehouse table (schema.table)."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="Pairwise scores file (default: <out>_pairs.<ext>)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Write the trained Splink model (JSON) here."),
    block: Optional[list[str]] = typer.Option(None, "--block", help="Blocking rule COL[,COL...] (repeatable); default: derived from the kinds."),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="Match probability at which pairs join a cluster (default: crm.dedupe.threshold, 0.99)."),
    pairs_threshold: Optional[float] = typer.Option(
        None, "--pairs-threshold", help="Keep scored pairs at or above this (default: crm.dedupe.pairs_threshold, 0.5)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG, force: bool = FORCE,
) -> None:
    """Deduplicate a person or company table with Splink: blocking, u by random sampling, m by EM,
    clusters at a match threshold. Writes one row per record (id, cluster_id) and the pair scores.
    Settings not given as flags come from crm.dedupe in the project file (compare, threshold,
    pairs_threshold, u_max_pairs).

    Example:

      martops crm dedupe --input people.csv --id person_id --compare first_name=name
        --compare surname=name --compare dob=date --compare postcode=postcode --out clusters.csv
    """
    if (input_file is None) == (table is None):
        raise ConfigError("give exactly one of --input FILE or --table schema.table")
    cfg = load_config(config).crm.dedupe
    spec = DedupeSpec(id_column, tuple(parse_compare(c) for c in compare) if compare else tuple(cfg.compare.items()),
                      threshold=cfg.threshold if threshold is None else threshold,
                      pairs_threshold=cfg.pairs_threshold if pairs_threshold is None else pairs_threshold,
                      u_max_pairs=cfg.u_max_pairs,
                      blocking=tuple(parse_block(b) for b in block) if block else None)
    pairs = pairs or out.with_name(f"{out.stem}_pairs{out.suffix}")
    io.check_output(out, "--out", io.TABLE_SUFFIXES)
    io.check_output(pairs, "--pairs", io.TABLE_SUFFIXES)
    if model:
        io.check_output(model, "--model")
    refuse_overwrite(force, ("--out", out), ("--pairs", pairs), ("--model", model))
    if input_file is not None:
        records, label = io.read_file(input_file), str(input_file)
    else:
        _, wh = open_warehouse(config, warehouse, read_only=True)
        with wh:
            records, label = io.read_table(wh, table), table
    with console_err.status("deduplicating") as status:
        result = run_dedupe(records, spec, label=label, progress=lambda msg: status.update(msg))
    n = io.write_clusters(result, id_column, out)
    k = io.write_pairs(result, id_column, pairs)
    if model:
        io.write_model(result, model)
    console.print(str(result))
    console.print(f"compared: {', '.join(f'{c}={k}' for c, k in spec.compare)}; cluster threshold {spec.threshold}")
    console.print(f"blocking rules: {'; '.join(result.stats['blocking_rules'])}")
    console.print(f"wrote {n:,} records to {out} and {k:,} pairs to {pairs}" + (f", the model to {model}" if model else ""))


def generate_people(
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write."),
    records: int = typer.Option(20_000, "--records", min=10, help="Rows to write (originals plus copies)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same file."),
    force: bool = FORCE,
) -> None:
    """Write synthetic people with known duplicates (typos, nicknames, missing fields, phone and email
    formats, moves, households) for `crm dedupe`; `entity_id` is the truth, `corruptions` what changed.

    Example:

      martops crm generate-people --out people.csv --records 20000
    """
    from martops.demo.crm_people import PeopleSpec, write_csv

    io.check_output(out, "--out", (".csv",))
    refuse_overwrite(force, ("--out", out))
    try:
        path = write_csv(PeopleSpec(n_records=records, seed=seed), out)
    except OSError as exc:
        raise ConfigError(f"--out {out}: could not be written ({exc.strerror or exc})") from None
    console.print(f"wrote {records:,} people to {path} (entity_id is the truth; drop it before deduplicating)")
