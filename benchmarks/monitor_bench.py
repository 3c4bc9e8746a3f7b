"""Speed of access loading and the insider monitor (issue 6, acceptance 3): a synthetic bank's
access log of ``--events`` events (default 100 million, 60 days, Parquet) loaded with
``access.load`` and scored with ``monitor.run``, end to end, in a process of its own whose peak
memory (Pss of the process tree, sampled every 0.5 s) is measured.

Not timed: writing the synthetic files, and loading the customer register they refer to (its
own benchmark is register_bench.py). Timed: loading the staff directory, portfolios, loan
applications and the access log, then scoring every user-day. Target: ≥ 1,000,000 events/s
end to end, < 6 GB.

usage: python benchmarks/monitor_bench.py [--events 100000000] [--customers 10000000]
       [--days 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, run_measured

from leaktrace import access, customers, monitor, store, synth

ACCESS_FILES = ("staff", "portfolios", "applications", "access_log")


def prepare(folder: Path, events: int, customers_n: int, days: int, seed: int) -> dict:
    """The synthetic files and a workspace with the register loaded (not timed)."""
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
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(folder / "customers.parquet"))
    return {"write": written, "register": time.perf_counter() - started - written}


def measured(folder: Path) -> None:
    """The timed part, in its own process: access loads, then the monitor (JSON on stdout)."""
    times: dict[str, float] = {}
    rows: dict[str, int] = {}
    with store.open_workspace(folder / "ws") as ws:
        for name in ACCESS_FILES:
            clock = time.perf_counter()
            result = access.load(ws, str(folder / f"{name}.parquet"))
            times[name] = time.perf_counter() - clock
            rows[name] = result.loaded
        clock = time.perf_counter()
        found = monitor.run(ws)
        times["monitor"] = time.perf_counter() - clock
        staff_days = ws.db.sql(
            "SELECT count(*) FROM (SELECT DISTINCT staff_id, CAST(time AS DATE) FROM access_events)"
        ).fetchall()[0][0]
    print(
        json.dumps({"times": times, "rows": rows, "alerts": len(found), "staff_days": staff_days})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Keep the files and workspace here.")
    parser.add_argument("--measured", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measured:
        measured(args.measured)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    if folder.exists() and args.keep:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        setup = prepare(folder, args.events, args.customers, args.days, args.seed)
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
    print("| step | seconds | events/s |")
    print("|---|---|---|")
    for name in ACCESS_FILES:
        print(f"| access load {name} ({result['rows'][name]:,} rows) | {times[name]:.1f} | |")
    print(
        f"| monitor (score every user-day) | {times['monitor']:.1f} | "
        f"{events / times['monitor']:,.0f} |"
    )
    total = load + times["monitor"]
    print(f"| load + score | {total:.1f} | {events / total:,.0f} |")
    print(f"| process (start to exit) | {seconds:.1f} | {events / seconds:,.0f} |")
    print()
    print(f"Peak memory of the measured process: {peak:,.0f} MiB.")


if __name__ == "__main__":
    main()
