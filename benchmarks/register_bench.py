"""Speed of the customer register (issue 4): `customers load` of 10 million synthetic customers,
and `customers match` of a 100,000-row broker list against them, as a ratio to DuckDB's bare
join of the same token columns.

1. Load: `leaktrace customers load` in its own process on a Parquet file of synthetic bank
   customers (name, ID, mobile, e-mail, plate, card, birth date, segments): wall time and the
   peak memory (Pss) of the process and its token workers.
2. Match: a 100,000-row list drawn from the same customers as a broker would pass it on —
   names in traditional characters, `+86 138-…` phones (a fifth masked as `138****5678`),
   15-digit IDs where the birth year allows, a third without an ID — matched by
   `leaktrace customers match` in its own process.
3. Peer: DuckDB's bare hash join of the list's tokens against the register's token column
   (tokens computed beforehand, not timed): the floor for any matching done in the store.

usage: python benchmarks/register_bench.py [--customers 10000000] [--leak 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from opencc import OpenCC

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, machine, run_measured

from leaktrace import customers, store, synth

LEAKTRACE = [str(Path(sys.executable).parent / "leaktrace")]


def customers_file(n: int, seed: int) -> Path:
    """The register's source as Parquet (cached in benchmarks/out)."""
    path = OUT / f"register_{n}_{seed}.parquet"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        synth.write_customers(path, n, seed=seed, format="parquet")
    return path


def broker_list(source: Path, rows: int, seed: int) -> pa.Table:
    """``rows`` customers of ``source``, reformatted as a broker passes them on."""
    columns = ["name", "mobile", "id_number", "birth_date"]
    table = pq.read_table(source, columns=columns)
    rng = np.random.default_rng(seed)
    picked = table.take(pa.array(np.sort(rng.choice(len(table), rows, replace=False))))
    s2t = OpenCC("s2t")
    names = [s2t.convert(v) for v in picked.column("name").to_pylist()]
    phones, ids = [], []
    for i, (phone, number) in enumerate(
        zip(
            picked.column("mobile").to_pylist(), picked.column("id_number").to_pylist(), strict=True
        )
    ):
        if phone is None:
            phones.append(None)
        elif i % 5 == 0:
            phones.append(f"{phone[:3]}****{phone[7:]}")
        else:
            phones.append(f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}")
        if i % 3 == 0:
            ids.append(None)
        elif number[6:8] == "19":
            ids.append(number[:6] + number[8:17])
        else:
            ids.append(number.lower())
    return pa.table({"客户姓名": names, "联系电话": phones, "证件号码": ids})


def bare_join(workspace: Path, leak: Path) -> tuple[float, int]:
    """DuckDB's hash join of the list's tokens with the register's (seconds, hits)."""
    with store.open_workspace(workspace, read_only=True) as ws:
        probe = customers.row_tokens(  # the same tokens `customers match` computes
            ws.keyring.key("match"),
            pacsv.read_csv(leak, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)),
            customers.ColumnMap(
                identifiers={
                    "客户姓名": "person_name",
                    "联系电话": "mobile",
                    "证件号码": "resident_id",
                }
            ),
        )
        ws.db.register("probe", probe)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            hits = ws.db.sql(
                "SELECT count(*) FROM probe p JOIN tokens t ON t.token = p.token"
            ).fetchall()[0][0]
            best = min(best, time.perf_counter() - started)
    return best, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--leak", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    print(machine())
    source = customers_file(args.customers, args.seed)
    workspace = OUT / f"register_ws_{args.customers}"
    shutil.rmtree(workspace, ignore_errors=True)
    run_measured([*LEAKTRACE, "init", str(workspace), "--json"])
    load_s, load_mib, out = run_measured(
        [
            *LEAKTRACE,
            "customers",
            "load",
            str(source),
            "-w",
            str(workspace),
            "--yes",
            "-q",
            "--json",
        ]
    )
    loaded = json.loads(out)
    size = sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file()) / 2**30
    print(
        f"load: {loaded['customers_total']:,} customers, {loaded['tokens_total']:,} tokens in "
        f"{load_s:.1f} s ({loaded['rows'] / load_s:,.0f} rows/s), peak memory {load_mib:,.0f} MiB "
        "(Pss of the process tree); "
        f"store {size:.2f} GiB"
    )
    leak = OUT / f"register_leak_{args.leak}.csv"
    pacsv.write_csv(broker_list(source, args.leak, args.seed + 1), leak)
    match_s, match_mib, out = run_measured(
        [*LEAKTRACE, "customers", "match", str(leak), "-w", str(workspace), "--json"]
    )
    matched = json.loads(out)
    join_s, hits = bare_join(workspace, leak)
    print(
        f"match: {args.leak:,} rows in {match_s:.2f} s (process start and mapping included), "
        f"peak memory {match_mib:,.0f} MiB; matched {matched['matched']:,}, ambiguous "
        f"{matched['ambiguous']:,}, unmatched {matched['unmatched']:,}; by {matched['matched_by']}"
    )
    print(
        f"DuckDB bare join of the same tokens: {join_s:.3f} s ({hits:,} hits); "
        f"match / bare join = {match_s / join_s:.1f}x"
    )


if __name__ == "__main__":
    main()
