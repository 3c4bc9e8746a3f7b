"""Speed of `leaktrace access load` (issue 6, the load half of acceptance 3): a synthetic
bank's access log as Parquet, loaded into a workspace, against DuckDB's bare copy of the same
file into a table (the floor for any load into the store).

1. Data (cached in benchmarks/out): `leaktrace.synth` writes the staff directory, portfolios,
   loan applications and an access log of about --events events over --days days (Parquet,
   zstd), as `leaktrace synth --format parquet` does.
2. Load: `leaktrace access load` of staff, applications and portfolios, then of the access log,
   each in its own process (staff first, so every event's user is checked against the
   directory): wall and CPU seconds, events/s and peak memory (Pss of the process tree).
3. Load again: the same access log a second time (every event a duplicate, nothing written).
4. Peer: DuckDB reads the Parquet file and writes the same columns into a table of a fresh
   database (no tokens, keys, checks or deduplication).

usage: python benchmarks/access_bench.py [--events 100000000] [--customers 10000000]
       [--days 60] [--register]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, machine, run_measured

from leaktrace import synth

LEAKTRACE = [str(Path(sys.executable).parent / "leaktrace")]


def bank_files(events: int, customers: int, days: int, seed: int) -> Path:
    """Staff, portfolios, applications and access log of a synthetic bank (cached)."""
    folder = OUT / f"access_{events}_{customers}_{days}_{seed}"
    if not (folder / "access_log.parquet").exists():
        world = synth.institution(customers, seed=seed, days=days)
        scale = events / synth.expected_events(world)
        synth.write_tables(world, folder, file_format="parquet")
        synth.write_activity(world, folder, file_format="parquet", scale=scale)
    return folder


def customer_file(customers: int, seed: int) -> Path:
    """The bank's customers (for --register), as Parquet (cached)."""
    path = OUT / f"register_{customers}_{seed}.parquet"
    if not path.exists():
        synth.write_customers(path, customers, seed=seed, format="parquet")
    return path


def children_cpu() -> float:
    """CPU seconds (user and system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load(workspace: Path, path: Path) -> tuple[float, float, float, dict]:
    """`leaktrace access load` in its own process: (wall s, CPU s, peak MiB, its JSON)."""
    cpu = children_cpu()
    seconds, mib, out = run_measured(
        [*LEAKTRACE, "access", "load", str(path), "-w", str(workspace), "-q", "--json"]
    )
    return seconds, children_cpu() - cpu, mib, json.loads(out)


def bare_copy(path: Path) -> tuple[float, int]:
    """DuckDB's own copy of the log's columns into a table of a fresh database file."""
    target = OUT / "access_bare.duckdb"
    target.unlink(missing_ok=True)
    db = duckdb.connect(str(target), config={"preserve_insertion_order": False})
    try:
        started = time.perf_counter()
        db.execute(
            f"""CREATE TABLE events AS SELECT event_id, time, staff_id, action, system,
            customer_id, business_ref, terminal, ip FROM read_parquet('{path}')"""
        )
        db.execute("CHECKPOINT")
        seconds = time.perf_counter() - started
        rows = db.sql("SELECT count(*) FROM events").fetchall()[0][0]
    finally:
        db.close()
        target.unlink(missing_ok=True)
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--register", action="store_true", help="load the customers into the register first"
    )
    args = parser.parse_args()
    print(machine())
    started = time.perf_counter()
    folder = bank_files(args.events, args.customers, args.days, args.seed)
    log = folder / "access_log.parquet"
    events = pq.ParquetFile(log).metadata.num_rows
    print(f"data: {events:,} events over {args.days} days in {folder} "
          f"({time.perf_counter() - started:.0f} s if written now)")  # fmt: skip
    workspace = OUT / "access_ws"
    shutil.rmtree(workspace, ignore_errors=True)
    run_measured([*LEAKTRACE, "init", str(workspace), "--json"])
    if args.register:
        source = customer_file(args.customers, args.seed)
        seconds, mib, _ = run_measured(
            [*LEAKTRACE, "customers", "load", str(source), "-w", str(workspace), "--yes", "-q"]
        )
        print(f"register: {args.customers:,} customers in {seconds:.1f} s, {mib:,.0f} MiB")
    for name in ("staff", "applications", "portfolios"):
        seconds, cpu, mib, result = load(workspace, folder / f"{name}.parquet")
        print(f"{name}: {result['rows']:,} rows → {result['loaded']:,} loaded in {seconds:.1f} s")
    print("| step | rows | loaded | duplicates | rejected | wall s | CPU s | events/s | peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for step in ("load", "load again"):
        seconds, cpu, mib, result = load(workspace, log)
        print(
            f"| {step} | {result['rows']:,} | {result['loaded']:,} | {result['duplicates']:,} "
            f"| {result['rejected']:,} | {seconds:.1f} | {cpu:.1f} | "
            f"{result['rows'] / seconds:,.0f} | {mib:,.0f} MiB |"
        )
    size = sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file()) / 2**30
    print(f"store: {size:.2f} GiB")
    seconds, rows = bare_copy(log)
    print(f"DuckDB bare copy of the same columns: {rows:,} rows in {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
