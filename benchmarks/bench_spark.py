"""make bench-spark: the same work on a DuckDB file and on Spark local[2], side by side.

Workloads (issue 22): the attribution pipeline on the generated 10M-session profile (every step
timed, as in bench_attribution.py), and deduplication of 1M generated people (Splink) reading its
records from a warehouse table. There is no speed target on two cores: the point is that the same
code runs unchanged on a cluster, and the table says where the time goes on Spark.

Each run happens in a fresh child process. Peak memory is given for martops' Python process
(ru_maxrss) and, on Spark, for the JVM it starts (VmHWM of the child processes, read from /proc
before the session stops): the JVM is where Spark's memory is. On Spark, "session start" is the
time to open the warehouse (start the JVM and the session); ingest includes the DuckDB loader
reading the SQLite file and writing Parquet that Spark reads. Deduplication on Spark reads the
table through the driver and runs Splink on its in-process DuckDB (Splink's Spark backend is not
wired), so its Spark figure is the read plus the same Splink work.

Figures are medians over --repeat runs (default 1: one 10M run on Spark local[2] takes minutes).

Usage: python benchmarks/bench_spark.py [--attribution 10M] [--people 1M] [--repeat 1] [--dir bench-out]
       (--attribution 10k --people 10k to check it works, 1M and 100k for a quick look; an empty value skips the workload)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
SINCE, UNTIL = dt.date(2023, 8, 29), dt.date(2023, 9, 7)
ATTRIBUTION_STEPS = ["ingest", "journeys", "attribute position_based", "attribute ihc", "report ihc", "export ihc"]
COMPARE = (("first_name", "name"), ("surname", "name"), ("dob", "date"), ("email", "email"), ("phone", "phone"),
           ("address", "address"), ("postcode", "postcode"), ("city", "city"))


def _descendants_peak_gb() -> float:
    """Peak resident memory (VmHWM) summed over this process's living descendants (the JVM)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total_kb, todo = 0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                total_kb += next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        except OSError:
            continue
    return total_kb / 1024**2


def child(workload: str, source: str, warehouse: str, out: str) -> None:
    """One run in this (fresh) process; prints {figure: value} as JSON on its last line."""
    from martops.engine import connect

    fig: dict[str, float] = {}
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    wh = connect(path=warehouse)
    fig["session start"] = time.perf_counter() - t0
    with wh:
        if workload == "attribution":
            from martops.attribution.pipeline import STEPS as PIPE, RunOptions

            for label in ATTRIBUTION_STEPS:
                step, _, model = label.partition(" ")
                opts = RunOptions(SINCE, UNTIL, model=model or "ihc", db=Path(source), export=Path(out))
                t0 = time.perf_counter()
                PIPE[step](wh, opts)
                fig[label] = time.perf_counter() - t0
        else:
            from martops.crm.dedupe import io
            from martops.crm.dedupe.linker import dedupe
            from martops.crm.dedupe.spec import DedupeSpec

            t0 = time.perf_counter()
            wh.create_or_replace("staging.bench_people", wh.loader.read_parquet(source))
            fig["load people"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            records = io.read_table(wh, "staging.bench_people")
            fig["read to driver"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = dedupe(records.drop_columns(["entity_id", "corruptions"]), DedupeSpec("record_id", COMPARE))
            fig["splink dedupe"] = time.perf_counter() - t0
            fig["clusters"] = len(set(result.clusters.column("cluster_id").to_pylist()))
        fig["jvm_gb"] = _descendants_peak_gb()
    fig["run"] = time.perf_counter() - t_all
    fig["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps(fig))


def _runs(workload: str, source: Path, engine: str, workdir: Path, repeat: int, console: Console) -> dict:
    runs = []
    for i in range(repeat):
        if engine == "spark":
            target = workdir / f"wh-{workload}-spark"
            shutil.rmtree(target, ignore_errors=True)
            location = f"spark:{target}?master=local[2]"
        else:
            target = workdir / f"wh-{workload}.duckdb"
            for f in (target, Path(f"{target}.wal")):
                f.unlink(missing_ok=True)
            location = str(target)
        cmd = [sys.executable, __file__, "--child", workload, str(source), location,
               str(workdir / f"{workload}-{engine}.csv")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        if proc.returncode != 0:
            raise SystemExit(f"{workload} on {engine}, run {i + 1} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        console.print(f"[dim]{workload} on {engine}: run {i + 1}/{repeat}: {runs[-1]['run']:.1f}s, "
                      f"python {runs[-1]['rss_gb']:.2f} GB, JVM {runs[-1]['jvm_gb']:.2f} GB[/]")
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _table(title: str, d: dict, s: dict) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("figure", "duckdb", "spark local[2]", "spark / duckdb"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for k in d:
        if k in ("run", "rss_gb", "jvm_gb", "clusters"):
            continue
        table.add_row(f"{k} (s)", f"{d[k]:.2f}", f"{s[k]:.2f}", f"{s[k] / d[k]:.1f}x" if d[k] > 0.005 else "-")
    table.add_row("whole run (s)", f"{d['run']:.2f}", f"{s['run']:.2f}", f"{s['run'] / d['run']:.1f}x", style="bold")
    table.add_row("peak RSS, python (GB)", f"{d['rss_gb']:.2f}", f"{s['rss_gb']:.2f}", "")
    table.add_row("peak RSS, JVM (GB)", "-", f"{s['jvm_gb']:.2f}", "")
    if "clusters" in d:
        same = "same" if d["clusters"] == s["clusters"] else "DIFFERENT"
        table.add_row("clusters", f"{d['clusters']:,.0f}", f"{s['clusters']:,.0f}", same)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attribution", default="10M", help="sessions: 100k, 1M or 10M; empty to skip")
    ap.add_argument("--people", default="1M", help="people to deduplicate: 100k or 1M; empty to skip")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dir", default="bench-out")
    ap.add_argument("--child", nargs=4, metavar=("WORKLOAD", "SOURCE", "WAREHOUSE", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    for flag, value in (("--attribution", args.attribution), ("--people", args.people)):
        if value and value not in SIZES:
            raise SystemExit(f"{flag} {value!r}: give one of {', '.join(SIZES)} (or an empty value to skip)")
    if not (args.attribution or args.people):
        raise SystemExit("nothing to run: --attribution and --people are both empty")
    if args.repeat < 1:
        raise SystemExit(f"--repeat {args.repeat}: give a whole number of runs, 1 or more")
    console = Console(width=160)
    workdir = Path(args.dir).resolve()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(f"--dir {args.dir}: could not be created ({exc.strerror or exc})") from None
    cases: list[tuple[str, str, Path]] = []
    if args.attribution:
        from martops.demo.attribution import generate_challenge_db

        n = SIZES[args.attribution]
        db = workdir / f"challenge-{args.attribution}.db"
        t0 = time.perf_counter()
        generate_challenge_db(db, conversions=n // 225, sessions=n, seed=7, force=True)
        console.print(f"[dim]generated {args.attribution} sessions in {time.perf_counter() - t0:.1f}s[/]")
        cases.append(("attribution", f"attribution, {args.attribution} sessions", db))
    if args.people:
        import pyarrow.parquet as pq

        from martops.demo.crm_people import PeopleSpec, generate

        path = workdir / f"people-{args.people}.parquet"
        t0 = time.perf_counter()
        pq.write_table(generate(PeopleSpec(n_records=SIZES[args.people], seed=1)), path)
        console.print(f"[dim]generated {args.people} people in {time.perf_counter() - t0:.1f}s[/]")
        cases.append(("dedupe", f"deduplication, {args.people} people", path))
    for workload, title, source in cases:
        d = _runs(workload, source, "duckdb", workdir, args.repeat, console)
        s = _runs(workload, source, "spark", workdir, args.repeat, console)
        console.print(_table(f"{title}: DuckDB vs Spark local[2] (same machine), median of {args.repeat} run(s), "
                             f"{os.cpu_count()} cores", d, s))


if __name__ == "__main__":
    main()
