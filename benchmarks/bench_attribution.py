"""make bench: time every attribution step and the whole run on generated data; peak memory.

Profiles (the issue's): 1M and 10M sessions at the real density (~225 sessions per conversion),
and 10M sessions with 1M conversions (dense journeys). Each run of the pipeline happens in a
fresh child process so its peak RSS (ru_maxrss) is the run's own; steps are timed inside it.
Figures are medians over --repeat runs (machines are shared and noisy).

Usage: python benchmarks/bench_attribution.py [--profiles 1M,10M,10M-dense] [--repeat 3] [--dir bench-out]
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

PROFILES = {  # name: (sessions, conversions)
    "1M": (1_000_000, 1_000_000 // 225),
    "10M": (10_000_000, 10_000_000 // 225),
    "10M-dense": (10_000_000, 1_000_000),
}
SINCE, UNTIL = dt.date(2023, 8, 29), dt.date(2023, 9, 7)
TARGET_SECONDS, TARGET_RSS_GB = 30.0, 4.0
STEPS = ["ingest", "journeys", "attribute position_based", "attribute ihc", "report ihc", "export ihc"]


def child(db: str, warehouse: str, out: str) -> None:
    """One full run in this (fresh) process; prints {step: seconds, ..., rss_gb} as JSON."""
    import resource

    from martops.attribution.pipeline import RunOptions, STEPS as PIPE
    from martops.engine import connect

    for f in (warehouse, warehouse + ".wal"):
        if os.path.exists(f):
            os.remove(f)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    with connect(path=warehouse) as wh:
        for label in STEPS:
            step, _, model = label.partition(" ")
            opts = RunOptions(SINCE, UNTIL, model=model or "ihc", db=Path(db), export=Path(out))
            t0 = time.perf_counter()
            result = PIPE[step](wh, opts)
            timings[label] = time.perf_counter() - t0
            timings[f"rows:{label}"] = result.rows_out
    timings["run"] = time.perf_counter() - t_all
    timings["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps(timings))


def run_profile(name: str, workdir: Path, repeat: int, console: Console) -> dict:
    from martops.demo.attribution import generate_challenge_db

    sessions, conversions = PROFILES[name]
    db = workdir / f"challenge-{name}.db"
    t0 = time.perf_counter()
    gen = generate_challenge_db(db, conversions=conversions, sessions=sessions, seed=7, force=True)
    gen_seconds = time.perf_counter() - t0
    console.print(f"[dim]{name}: generated {gen} in {gen_seconds:.1f}s[/]")
    runs = []
    for i in range(repeat):
        cmd = [sys.executable, __file__, "--child", str(db), str(workdir / f"wh-{name}.duckdb"),
               str(workdir / f"channel_reporting-{name}.csv")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{name} run {i + 1} failed:\n{proc.stderr}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        console.print(f"[dim]{name}: run {i + 1}/{repeat}: {runs[-1]['run']:.1f}s, {runs[-1]['rss_gb']:.2f} GB[/]")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["generate"] = gen_seconds
    med["sessions"], med["conversions"] = gen.sessions, gen.conversions
    db.unlink(missing_ok=True)
    return med


def api_mae_rows() -> list[str]:
    samples = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ihc-challenge" / "api_samples.json"
    if not samples.exists():
        return [f"(real API samples not found at {samples}; MAE skipped)"]
    from martops.attribution.compare import mae_against_api
    from martops.engine import connect

    lines = []
    with connect(path=":memory:") as wh:
        for model in ("ihc", "position_based", "linear", "time_decay", "last_touch"):
            maes = [r["mae"] for r in mae_against_api(wh, samples, model)]
            lines.append(f"{model:>15}: MAE per session vs real IHC API = "
                         + ", ".join(f"{m:.4f}" for m in maes) + " (samples 1, 2)")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", default="1M,10M,10M-dense")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="bench-out")
    ap.add_argument("--child", nargs=3, metavar=("DB", "WAREHOUSE", "CSV"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    console = Console(width=160)
    workdir = Path(args.dir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = {p: run_profile(p, workdir, args.repeat, console) for p in args.profiles.split(",")}

    table = Table(title=f"attribution pipeline, median of {args.repeat} run(s), {os.cpu_count()} cores",
                  title_justify="left")
    table.add_column("step")
    for p in results:
        table.add_column(p, justify="right")
    table.add_row("sessions", *[f"{r['sessions']:,}" for r in results.values()])
    table.add_row("conversions", *[f"{r['conversions']:,}" for r in results.values()])
    table.add_row("journey rows", *[f"{r['rows:journeys']:,.0f}" for r in results.values()])
    table.add_row("generate (s)", *[f"{r['generate']:.1f}" for r in results.values()])
    for step in STEPS:
        table.add_row(f"{step} (s)", *[f"{r[step]:.2f}" for r in results.values()])
    table.add_row("whole run (s)", *[f"{r['run']:.2f}" for r in results.values()], style="bold")
    table.add_row("peak RSS (GB)", *[f"{r['rss_gb']:.2f}" for r in results.values()], style="bold")
    table.add_row("target", *[(f"<{TARGET_SECONDS:.0f}s, <{TARGET_RSS_GB:.0f}GB" if p.startswith("10M") else "-")
                              for p in results])
    verdicts = []
    for p, r in results.items():
        ok = r["run"] < TARGET_SECONDS and r["rss_gb"] < TARGET_RSS_GB
        verdicts.append(("met" if ok else "MISSED") if p.startswith("10M") else "-")
    table.add_row("verdict", *verdicts)
    console.print(table)
    for line in api_mae_rows():
        console.print(line)


if __name__ == "__main__":
    main()
