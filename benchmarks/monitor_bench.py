"""Speed of access loading and the insider monitor (issue 6, acceptance 3): a synthetic bank's
access log of ``--events`` events (default 100 million, 60 days, Parquet) loaded with
``access.load`` and scored with ``monitor.run``, end to end, in a process of its own whose peak
memory (Pss of the process tree, sampled every 0.5 s) is measured.

Not timed: writing the synthetic files, and loading the customer register they refer to (its
own benchmark is register_bench.py); with ``--keep DIR`` both are kept in DIR and reused by
the next run with the same DIR (each run measures on a fresh copy of the register-only
workspace). Timed: loading the staff directory, portfolios, loan
applications and the access log, then scoring every user-day, in a process set as the
``leaktrace`` commands set theirs (``cli.settle_process``: one OpenBLAS thread, the collector's
thresholds). Target: ≥ 1,000,000 events/s end to end, < 6 GB.

usage: python benchmarks/monitor_bench.py [--events 100000000] [--customers 10000000]
       [--days 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, run_measured

from leaktrace import access, customers, monitor, store, synth
from leaktrace.cli import settle_process
from leaktrace.synth.files import INSTITUTION_FILES

ACCESS_FILES = ("staff", "portfolios", "applications", "access_log")


def prepare(folder: Path, events: int, customers_n: int, days: int, seed: int) -> dict:
    """The synthetic files and a workspace with the register loaded (not timed), reused when
    ``folder`` has them from an earlier run."""
    if (folder / "base" / store.CONFIG_NAME).exists() and (folder / "access_log.parquet").exists():
        return {"write": 0.0, "register": 0.0}
    for name in INSTITUTION_FILES:  # this benchmark's own files, from a run cut short
        (folder / f"{name}.parquet").unlink(missing_ok=True)
    started = time.perf_counter()
    synth.write_institution(
        folder,
        customers_n,
        days=days,
        seed=seed,
        file_format="parquet",
        remarks=False,
        events=events,
    )
    written = time.perf_counter() - started
    shutil.rmtree(folder / "base", ignore_errors=True)
    with store.init_workspace(folder / "base") as ws:
        customers.load(ws, str(folder / "customers.parquet"))
    return {"write": written, "register": time.perf_counter() - started - written}


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process and its finished workers so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(folder: Path) -> None:
    """The timed part, in its own process: access loads, then the monitor (JSON on stdout)."""
    settle_process()  # as the commands do (OpenBLAS's threads: set by main, before NumPy)
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    rows: dict[str, int] = {}
    with store.open_workspace(folder / "ws") as ws:
        for name in ACCESS_FILES:
            clock, used = time.perf_counter(), cpu_seconds()
            result = access.load(ws, str(folder / f"{name}.parquet"))
            times[name], cpu[name] = time.perf_counter() - clock, cpu_seconds() - used
            rows[name] = result.loaded
        clock, used = time.perf_counter(), cpu_seconds()
        found = monitor.run(ws)
        times["monitor"], cpu["monitor"] = time.perf_counter() - clock, cpu_seconds() - used
        staff_days = ws.db.sql(
            "SELECT count(*) FROM (SELECT DISTINCT staff_id, CAST(time AS DATE) FROM access_events)"
        ).fetchall()[0][0]
    print(
        json.dumps(
            {
                "times": times,
                "cpu": cpu,
                "rows": rows,
                "alerts": len(found),
                "staff_days": staff_days,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Keep the files and workspace here.")
    parser.add_argument(
        "--prepare", action="store_true", help="Only write the files and the register (--keep)."
    )
    parser.add_argument("--measured", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measured:
        measured(args.measured)
        return
    settle_process()  # the measured process inherits the environment it sets
    folder = args.keep or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        setup = prepare(folder, args.events, args.customers, args.days, args.seed)
        if args.prepare:
            print(f"Prepared in {folder}: {setup}")
            return
        shutil.rmtree(folder / "ws", ignore_errors=True)
        shutil.copytree(folder / "base", folder / "ws")  # a fresh register-only workspace
        seconds, peak, output = run_measured([sys.executable, __file__, "--measured", str(folder)])
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    result = json.loads(output)
    times, events = result["times"], result["rows"]["access_log"]
    load = sum(times[name] for name in ACCESS_FILES)
    print(f"Machine: {machine()}.")
    print(
        f"{events:,} events over {args.days} days, {args.customers:,} customers "
        f"(files written in {setup['write']:.0f} s, register loaded in {setup['register']:.0f} s, "
        "not timed); "
        f"{result['staff_days']:,} staff-days, {result['alerts']} alerts."
    )
    print()
    cpu = result["cpu"]
    print("| step | wall s | CPU s | events/s (wall) |")
    print("|---|---|---|---|")
    for name in ACCESS_FILES:
        print(
            f"| access load {name} ({result['rows'][name]:,} rows) | {times[name]:.1f} | "
            f"{cpu[name]:.1f} | {events / times[name]:,.0f} |"
            if name == "access_log"
            else f"| access load {name} ({result['rows'][name]:,} rows) | {times[name]:.1f} | "
            f"{cpu[name]:.1f} | |"
        )
    print(
        f"| monitor (score every user-day) | {times['monitor']:.1f} | {cpu['monitor']:.1f} | "
        f"{events / times['monitor']:,.0f} |"
    )
    total = load + times["monitor"]
    print(
        f"| **load + score** | {total:.1f} | {sum(cpu.values()):.1f} | **{events / total:,.0f}** |"
    )
    print(f"| process (start to exit) | {seconds:.1f} | | {events / seconds:,.0f} |")
    print()
    print(f"Peak memory of the measured process: {peak:,.0f} MiB.")


if __name__ == "__main__":
    main()
