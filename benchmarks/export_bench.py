"""Speed of `leaktrace export` (issue 5): a 1,000,000-row customer CSV released with decoys and
keyed marks, as a ratio to a plain pyarrow CSV read+write of the same file.

1. Setup (not timed): synthetic bank customers as CSV (UTF-8, all 25 columns of the bank kind),
   a workspace, and the register loaded from the same file.
2. leaktrace: `leaktrace export SOURCE --to … -o OUT.csv` in its own process (match to the
   register, marks, masking by policy, ~3% decoys, write, SHA-256, ledger entry), leaktrace
   as the README's quick start installs it (benchmarks/.venv-product, see
   ``_common.ensure_product``: without the development tools' pandas and scipy, which
   pyarrow and numba import at start when they are there): wall time and the peak memory
   (Pss) of its process tree.
3. Peer: a process (same environment) that reads the CSV with pyarrow and writes it back with
   pyarrow — the floor for any tool that rewrites the file.

The target: export throughput ≥ 50% of the peer's (ratio peer time / export time ≥ 0.5), peak
memory under 1.5 GB.

usage: python benchmarks/export_bench.py [--rows 1000000] [--seed 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, ensure_product, machine, run_measured

from leaktrace import customers, store, synth

PEER = """
import sys, pyarrow.csv as c
c.write_csv(c.read_csv(sys.argv[1]), sys.argv[2])
"""


def source_file(rows: int, seed: int) -> Path:
    """The list to release (cached in benchmarks/out)."""
    path = OUT / f"export_{rows}_{seed}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        synth.write_customers(path, rows, seed=seed)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = source_file(args.rows, args.seed)
    python = ensure_product()
    leaktrace = str(python.parent / "leaktrace")
    work = Path(tempfile.mkdtemp(prefix="export_bench_", dir=OUT))
    try:
        with store.init_workspace(work / "ws") as ws:
            customers.load(ws, str(source))
        exports, peers = [], []
        load_before = os.getloadavg()[0]
        for run in range(args.runs):
            out = work / f"release_{run}.csv"
            seconds, peak, stdout = run_measured(
                [leaktrace, "export", str(source), "--to", f"campaign team {run}", "--purpose",
                 "benchmark", "-o", str(out), "--json", "--workspace", str(work / "ws")]
            )  # fmt: skip
            release = json.loads(stdout)
            exports.append((seconds, peak))
            copy = work / f"peer_{run}.csv"
            peers.append(run_measured([str(python), "-c", PEER, str(source), str(copy)])[:2])
            out.unlink()
            copy.unlink()
        export_s = statistics.median(s for s, _ in exports)
        peer_s = statistics.median(s for s, _ in peers)
        figures = {
            "machine": machine(),
            "rows": args.rows,
            "source_mib": round(source.stat().st_size / 2**20, 1),
            "decoys": release["decoys"],
            "marked_fields": release["marked_fields"],
            "export_s": [round(s, 2) for s, _ in exports],
            "export_peak_mib": round(max(p for _, p in exports)),
            "peer_s": [round(s, 2) for s, _ in peers],
            "peer_peak_mib": round(max(p for _, p in peers)),
            "throughput_ratio": round(peer_s / export_s, 3),
            "ratio_per_run": [
                round(p / e, 3) for (e, _), (p, _) in zip(exports, peers, strict=True)
            ],
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        print(json.dumps(figures, ensure_ascii=False, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
