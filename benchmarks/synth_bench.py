"""Speed and memory of the synthetic institution's access logs (`leaktrace.synth`).

1. The institution: branches, staff and portfolios for 10 million customers (customer-to-branch
   assignment drawn as the customer table draws it), seconds and peak memory.
2. The access log and loan applications streamed to Parquet (zstd): events/s and peak RSS.
   By default 10 million events over 6 days, i.e. the daily volume of 100 million events over
   60 days (memory is bounded by one day's events and one batch, so the figure carries over);
   `--events 100000000 --days 60` runs the whole thing.

Each measurement runs in a fresh process so that its peak RSS is its own.

usage: python benchmarks/synth_bench.py [--customers 10000000] [--events 10000000] [--days 6]
                                        [--staff N] [--format parquet|csv]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, machine, peak_rss_mib

from leaktrace import synth


def run_institution(customers: int, staff: int | None, days: int) -> dict:
    """Build the institution alone."""
    started = time.perf_counter()
    world = synth.institution(customers, staff, seed=1, days=days)
    seconds = time.perf_counter() - started
    return {
        "customers": customers,
        "staff": world.staff.num_rows,
        "branches": world.branches.num_rows,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def run_activity(
    customers: int, staff: int | None, days: int, events: int, file_format: str
) -> dict:
    """Build the institution, then write its access log and applications."""
    world = synth.institution(customers, staff, seed=1, days=days)
    before = peak_rss_mib()
    scale = events / synth.expected_events(world)
    folder = Path(tempfile.mkdtemp(prefix="synth_bench_"))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        written = synth.write_activity(world, folder, file_format=file_format, scale=scale)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        size = sum(p.stat().st_size for p in folder.iterdir())
    finally:
        shutil.rmtree(folder)
    rows = written["access_log"]["rows"]
    return {
        "customers": customers,
        "staff": world.staff.num_rows,
        "days": days,
        "events": rows,
        "applications": written["applications"]["rows"],
        "events_per_day": round(rows / days),
        "seconds": round(seconds, 1),
        "events_per_second": round(rows / seconds),
        "cpu_seconds": round(cpu, 1),
        "bytes_per_event": round(size / rows, 1),
        "peak_rss_mib_institution": round(before),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def child(task: str, arguments: dict) -> dict:
    """Run one measurement in a fresh interpreter and return its result."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", task, json.dumps(arguments)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--staff", type=int, default=None)
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        task, arguments = options.child[0], json.loads(options.child[1])
        result = (run_institution if task == "institution" else run_activity)(**arguments)
        print(json.dumps(result))
        return

    print(machine())
    institution = child(
        "institution",
        {"customers": options.customers, "staff": options.staff, "days": options.days},
    )
    print(json.dumps(institution))
    activity = child(
        "activity",
        {
            "customers": options.customers,
            "staff": options.staff,
            "days": options.days,
            "events": options.events,
            "file_format": options.format,
        },
    )
    print(json.dumps(activity))
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "institution": institution, "activity": activity}
    (OUT / "synth_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    per_second = activity["events_per_second"]
    print()
    print("| workload | seconds | events/s | peak RSS |")
    print("|---|---|---|---|")
    print(
        f"| institution: {institution['customers']:,} customers, {institution['staff']:,} "
        f"staff, {institution['branches']} branches | {institution['seconds']} | — | "
        f"{institution['peak_rss_mib']} MiB |"
    )
    print(
        f"| access log to {options.format}: {activity['events']:,} events over "
        f"{activity['days']} days ({activity['events_per_day']:,}/day), "
        f"{activity['applications']:,} applications | {activity['seconds']} | "
        f"{per_second:,} | {activity['peak_rss_mib']} MiB |"
    )
    print(
        f"\n100 million events at this rate: ~{100_000_000 / per_second / 60:.1f} min; "
        f"{activity['bytes_per_event']} bytes/event on disk "
        f"(~{activity['bytes_per_event'] * 100_000_000 / 2**30:.1f} GiB)"
    )


if __name__ == "__main__":
    main()
