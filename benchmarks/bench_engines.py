"""make bench: the same builds on DuckDB and on PostgreSQL, side by side: time and peak memory.

Workloads: the attribution pipeline on the 1M-session profile (every step timed), and the real
campaign exports and CRM extract from ../shared/datasets (skipped, saying so, when absent). Each
run happens in a fresh child process, so its peak RSS (ru_maxrss) is the run's own: for
PostgreSQL that is martops' process (the loader DuckDB and the COPY), not the server's. The
server is a real PostgreSQL 15 started for the benchmark (tests/pg_server.py) on a loopback port,
with fsync off as in the tests. Figures are medians over --repeat runs.

"Where the time goes" on PostgreSQL: `copy s` is the time spent in COPY (rows computed by the
loader DuckDB, written as CSV, loaded by the server); the rest of a step is SQL the server runs.

Usage: python benchmarks/bench_engines.py [--repeat 3] [--dir bench-out] [--workloads attribution-1M,campaigns,crm]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
SINCE, UNTIL = dt.date(2023, 8, 29), dt.date(2023, 9, 7)
ATTRIBUTION_STEPS = ["ingest", "journeys", "attribute ihc", "report ihc", "export ihc"]


def child(workload: str, source: str, warehouse: str, out: str) -> None:
    """One build in this (fresh) process; prints {step: seconds, ..., run, rss_gb, copy_*} as JSON."""
    import resource

    from martops.engine import connect
    from martops.engines import postgres

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    if warehouse.endswith(".duckdb"):
        for f in (warehouse, warehouse + ".wal"):
            if os.path.exists(f):
                os.remove(f)
    if workload == "attribution-1M":
        from martops.attribution.pipeline import STEPS as PIPE, RunOptions

        with connect(path=warehouse) as wh:
            for label in ATTRIBUTION_STEPS:
                step, _, model = label.partition(" ")
                opts = RunOptions(SINCE, UNTIL, model=model or "ihc", db=Path(source), export=Path(out))
                t0 = time.perf_counter()
                PIPE[step](wh, opts)
                timings[label] = time.perf_counter() - t0
    if workload != "attribution-1M":
        from martops.cli import main as cli
        from martops.ops import runlog

        group = "kpis" if workload == "campaigns" else "crm"
        sys.argv = ["martops", group, "build", "--source", source, "--warehouse", warehouse]
        try:
            cli()
        except SystemExit as exc:
            if exc.code:
                raise
        with connect(path=warehouse, read_only=True) as wh:
            for r in runlog.recent(wh, limit=50):
                if r["ended_at"] is not None:
                    timings[r["step"]] = (r["ended_at"] - r["started_at"]).total_seconds()
    timings["run"] = time.perf_counter() - t_all
    timings["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    timings["copy s"] = postgres.COPY_STATS["seconds"]
    timings["copy rows"] = postgres.COPY_STATS["rows"]
    print(json.dumps(timings))


def run_workload(name: str, source: Path, location: str, workdir: Path, repeat: int, console: Console,
                 engine: str, fresh) -> dict:
    runs = []
    for i in range(repeat):
        target = fresh() if engine == "postgres" else location
        cmd = [sys.executable, __file__, "--child", name, str(source), target, str(workdir / f"{name}.csv")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        if proc.returncode != 0:
            raise SystemExit(f"{name} on {engine}, run {i + 1} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        console.print(f"[dim]{name} on {engine}: run {i + 1}/{repeat}: {runs[-1]['run']:.1f}s, "
                      f"{runs[-1]['rss_gb']:.2f} GB[/]")
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="bench-out")
    ap.add_argument("--workloads", default="attribution-1M,campaigns,crm")
    ap.add_argument("--child", nargs=4, metavar=("WORKLOAD", "SOURCE", "WAREHOUSE", "CSV"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    console = Console(width=160)
    workdir = Path(args.dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    import importlib.util  # by path: tests/ holds a package named `platform`, so it must not go on sys.path

    spec = importlib.util.spec_from_file_location("pg_server", REPO / "tests" / "pg_server.py")
    pg_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pg_server)
    PASSWORD, PostgresServer = pg_server.PASSWORD, pg_server.PostgresServer

    sources: dict[str, Path] = {}
    for name in args.workloads.split(","):
        if name == "attribution-1M":
            from martops.demo.attribution import generate_challenge_db

            db = workdir / "challenge-1M.db"
            generate_challenge_db(db, conversions=1_000_000 // 225, sessions=1_000_000, seed=7, force=True)
            sources[name] = db
        elif name in ("campaigns", "crm"):
            folder = DATASETS / ("poslite-campaigns" if name == "campaigns" else "crm")
            if folder.exists():
                sources[name] = folder
            else:
                console.print(f"{name}: {folder} not found; skipped")
        else:
            raise SystemExit(f"unknown workload {name!r} (attribution-1M, campaigns, crm)")
    server = PostgresServer().start()
    os.environ["PGPASSWORD"] = PASSWORD
    counter = iter(range(10_000))
    try:
        results: dict[tuple[str, str], dict] = {}
        for name, source in sources.items():
            results[(name, "duckdb")] = run_workload(name, source, str(workdir / f"wh-{name}.duckdb"), workdir,
                                                     args.repeat, console, "duckdb", None)
            results[(name, "postgres")] = run_workload(
                name, source, "", workdir, args.repeat, console, "postgres",
                lambda: server.create_database(f"bench_{next(counter)}"))
    finally:
        server.stop()
    for name in sources:
        d, p = results[(name, "duckdb")], results[(name, "postgres")]
        table = Table(title=f"{name}: DuckDB vs PostgreSQL 15 (same machine), median of {args.repeat} run(s), "
                            f"{os.cpu_count()} cores", title_justify="left")
        for col in ("figure", "duckdb", "postgres", "postgres / duckdb"):
            table.add_column(col, justify="left" if col == "figure" else "right")
        steps = [k for k in d if k not in ("run", "rss_gb", "copy s", "copy rows")]
        for k in steps:
            table.add_row(f"{k} (s)", f"{d[k]:.2f}", f"{p[k]:.2f}", f"{p[k] / d[k]:.1f}x" if d[k] else "-")
        table.add_row("whole run (s)", f"{d['run']:.2f}", f"{p['run']:.2f}", f"{p['run'] / d['run']:.1f}x", style="bold")
        table.add_row("peak RSS of martops (GB)", f"{d['rss_gb']:.2f}", f"{p['rss_gb']:.2f}",
                      f"{p['rss_gb'] / d['rss_gb']:.1f}x", style="bold")
        table.add_row("of which COPY (s, rows)", "-", f"{p['copy s']:.2f} ({p['copy rows']:,.0f} rows)", "")
        console.print(table)


if __name__ == "__main__":
    main()
