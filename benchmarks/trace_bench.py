"""Speed of `leaktrace trace` at a bank's scale (issue 7, acceptance 3): a 10,000-row leak
against a register of 10 million customers, 10,000 releases and 100 million access events,
against DuckDB's bare token joins of the same sizes.

Built once, not timed, and kept in --keep (stages: register, access, releases, leak; each is
skipped when its marker file exists, and --until stops after one, so each build step fits a
run of its own):

1. register — `leaktrace.synth` writes --customers bank customers (Parquet) and `leaktrace
   customers load` loads them into a fresh workspace;
2. access — the synthetic bank of the same customers (same seed) writes its staff directory,
   portfolios, applications and about --events access events over --days days (Parquet), and
   `leaktrace access load` loads them (staff first);
3. releases — --releases releases in the ledger. One of them, the leaked one, goes through the
   real export (`leaktrace.release.export.export`: keyed marks, decoys, its file, its ledger
   entry) of a campaign list of --leaked-release register customers. The others are recorded
   by :func:`record_fixture_release` the way an export records one (the same store and ledger
   functions: a release row, its members, its decoys' tokens, a ledger entry with its marked
   fields and policy, then "complete"), without writing a file: their members are drawn from
   the register at random, their decoys' tokens are random 16-byte tokens (an HMAC output
   looks alike), and their marked fields are those of the real export, so trace reads marks
   for them as it would for real ones. Sizes: mostly campaign lists of a few hundred to ten
   thousand customers, some segment and vendor lists up to 100,000, a few large extracts up
   to a million, and a handful of near-whole-register transfers (see :func:`release_sizes`);
4. leak — --leak rows of the leaked release's file through the broker
   (`leaktrace.synth.broker.resell`: columns dropped and renamed, phones reformatted, names
   in traditional characters, shuffled), as CSV; and the same without renaming, so that the
   marked columns keep their names and trace reads the keyed marks of every release.

Timed, one after the other in one run: trace's touch summary built anew, as the end of each
`access load` and `customers load` builds it (a load's cost, shown apart; --warm skips it);
then `leaktrace trace LEAK --json` in its own process (wall seconds and peak memory of its
process tree), then the peer: one DuckDB process on the same store (read-only) that joins the
leak's tokens (computed beforehand, not timed) to the register's tokens, the customers found
to the release members (count per release) and to the access events (count per user) — the
bare joins trace cannot do without.

usage: python benchmarks/trace_bench.py [--customers 10000000] [--releases 10000]
       [--events 100000000] [--leak 10000] [--keep DIR] [--until STAGE] [--runs 2]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, children_cpu, machine, run_measured

from leaktrace import customers, ledger, store, synth
from leaktrace.release import export as exporter
from leaktrace.synth.broker import resell

LEAKTRACE = str(Path(sys.executable).parent / "leaktrace")
STAGES = ("register", "access", "releases", "leak")
DECOY_RATE = 0.03  # the default policy's share of decoy rows
# Identifier kinds a decoy's tokens are recorded under (customer number, ID, card, e-mail):
# what the real export records for the synthetic bank's columns (pool phones are left out).
DECOY_KINDS = (customers.REF_KIND, customers.EXACT_KINDS["resident_id"],
               customers.EXACT_KINDS["bank_card"], customers.EXACT_KINDS["email"])  # fmt: skip
TEXT = pacsv.ConvertOptions(strings_can_be_null=True, column_types={
    "id_number": pa.string(), "mobile": pa.string(), "customer_id": pa.string(),
    "card_number": pa.string(), "branch_code": pa.string()})  # fmt: skip


def release_sizes(count: int, register: int, rng: np.random.Generator) -> np.ndarray:
    """Customers per release for ``count`` releases of a bank over a few years, each size
    log-uniform within its kind: 85 % campaign lists (200–10,000), 13 % segment and vendor
    lists (10,000–100,000), 1.9 % large extracts (100,000–1,000,000) and 0.1 % transfers of
    most of the register (20–100 %)."""
    kinds = rng.choice(4, size=count, p=[0.85, 0.13, 0.019, 0.001])
    low = np.array([200, 10_000, 100_000, register // 5])[kinds]
    high = np.array([10_000, 100_000, 1_000_000, register])[kinds]
    sizes = np.exp(rng.uniform(np.log(low), np.log(np.maximum(high, low + 1))))
    return np.minimum(sizes.astype(np.int64), register)


def record_fixture_release(
    workspace: store.Workspace,
    members: np.ndarray,
    marked_fields: dict[str, str],
    policy: dict,
    created: str,
    rng: np.random.Generator,
) -> str:
    """Record a release of ``members`` (register ids) as an export does — pending row, members
    and decoy tokens, ledger entry, complete — without a file; its release id. The caller holds
    the transaction (one for many releases: a commit per release took 0.3 s here)."""
    db = workspace.db
    release_id = store.next_release_id(db)
    decoys = max(1, round(len(members) * DECOY_RATE))
    tokens = rng.integers(0, 256, size=(decoys * len(DECOY_KINDS), 16), dtype=np.uint8)
    decoy_table = pa.table(
        {
            "decoy": pa.array(np.repeat(np.arange(decoys, dtype=np.int32), len(DECOY_KINDS))),
            "kind": pa.array(np.tile(np.array(DECOY_KINDS, np.uint8), decoys)),
            "token": pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), decoys * len(DECOY_KINDS), [None, pa.py_buffer(tokens.tobytes())]
            ),
        }
    )
    described = {
        "release_id": release_id,
        "recipient": f"vendor {rng.integers(1, 400):03d}",
        "role": "default",
        "purpose": "campaign list",
        "approver": None,
        "created": created,
        "source": "fixture (benchmarks/trace_bench.py)",
        "output": f"/nonexistent/{release_id}.csv",
    }
    ids = pa.array(members, pa.int64())
    store.insert_release(
        db, {**described, "status": "pending", "partial": f"/nonexistent/.{release_id}.partial"}
    )
    body = {
        **described,
        "output_sha256": "0" * 64,
        "rows": len(members) + decoys,
        "decoys": decoys,
        "customers": len(members),
        "members_sha256": hashlib.sha256(np.unique(members).astype(">i8").tobytes()).hexdigest(),
        "marked_fields": marked_fields,
        "policy": policy,
        "request": {"sample": None, "segment": {}},
        "key_version": workspace.keyring.version,
    }
    store.add_release_members(db, release_id, ids, decoy_table)
    entry = ledger.append(workspace, "release", body)
    store.update_release(
        db,
        release_id,
        status="complete",
        rows=body["rows"],
        decoys=decoys,
        customers=len(members),
        output_sha256=body["output_sha256"],
        ledger_seq=entry.seq,
    )
    return release_id


def build_register(keep: Path, workspace: Path, count: int, seed: int) -> None:
    """Synthetic customers, a fresh workspace, `leaktrace customers load`."""
    source = keep / "customers.parquet"
    if not source.exists():
        partial = keep / "customers.parquet.partial"
        synth.write_customers(partial, count, seed=seed, format="parquet")
        partial.rename(source)
    if workspace.exists():
        raise SystemExit(f"{workspace} exists without its register marker; remove it first")
    run_measured([LEAKTRACE, "init", str(workspace), "--json"])
    seconds, mib, _ = run_measured(
        [LEAKTRACE, "customers", "load", str(source), "-w", str(workspace), "--yes", "-q"]
    )
    print(f"register: {count:,} customers loaded in {seconds:.0f} s ({mib:,.0f} MiB)")


def build_access(keep: Path, workspace: Path, count: int, events: int, days: int, seed: int):
    """The bank's staff, portfolios, applications and access log; loaded staff first."""
    folder = keep / "bank"
    if not (folder / "access_log.parquet").exists():
        world = synth.institution(count, seed=seed, days=days)
        scale = events / synth.expected_events(world)
        synth.write_tables(world, folder, file_format="parquet")
        synth.write_activity(world, folder, file_format="parquet", scale=scale)
    for name in ("staff", "applications", "portfolios", "access_log"):
        path = str(folder / f"{name}.parquet")
        command = [LEAKTRACE, "access", "load", path, "-w", str(workspace), "-q", "--json"]
        seconds, mib, out = run_measured(command)
        result = json.loads(out)
        print(f"access load {name}: {result['loaded']:,} of {result['rows']:,} rows in "
              f"{seconds:.0f} s ({mib:,.0f} MiB)")  # fmt: skip


def build_releases(keep: Path, workspace: Path, count: int, leaked: int, seed: int) -> None:
    """``count`` releases, one of them (at 60 % of the ledger) the real export of a campaign
    list of ``leaked`` customers."""
    rng = np.random.default_rng(seed)
    register = pq.ParquetFile(keep / "customers.parquet")
    campaign = np.zeros(register.metadata.num_rows, bool)
    campaign[rng.choice(len(campaign), leaked, replace=False)] = True
    source, parts, offset = keep / "campaign.parquet", [], 0
    for batch in register.iter_batches(100_000):
        parts.append(batch.filter(pa.array(campaign[offset : offset + batch.num_rows])))
        offset += batch.num_rows
    pq.write_table(pa.Table.from_batches(parts), source)
    with store.open_workspace(workspace) as ws:
        ids = (
            ws.db.sql(f"SELECT customer_id FROM customers WHERE {store.LOADED}")
            .to_arrow_table()
            .column(0)
            .to_numpy()
        )
        sizes = release_sizes(count - 1, len(ids), rng)
        before = int(0.6 * count)
        start = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
        step = datetime.timedelta(days=3 * 365) / count
        started, fields, policy = time.perf_counter(), {}, {}
        ws.db.execute("BEGIN")
        for index, size in enumerate(sizes):
            if index == before:
                ws.db.execute("COMMIT")
                made = exporter.export(ws, str(source), keep / "leaked_release.csv",
                                       recipient="telemarketing vendor 017",
                                       purpose="credit card campaign")  # fmt: skip
                body = ledger.entry(ws, made.ledger_seq).body
                fields, policy = body["marked_fields"], body["policy"]
                (keep / "leaked_release.json").write_text(json.dumps(made.as_dict()))
                ws.db.execute("BEGIN")
            if not fields:  # the marked fields and policy of the real export, found once
                fields, policy = _policy_of(ws, source)
            members = ids[rng.choice(len(ids), int(size), replace=False)] if size < len(
                ids) // 4 else rng.permutation(ids)[: int(size)]  # fmt: skip
            created = (start + step * index).isoformat(timespec="seconds")
            record_fixture_release(ws, members, fields, policy, created, rng)
            if index % 250 == 249:
                ws.db.execute("COMMIT")
                ws.db.execute("BEGIN")
            if index % 500 == 0:
                print(f"  {index:,} releases in {time.perf_counter() - started:.0f} s", flush=True)
        ws.db.execute("COMMIT")
        total = ws.db.execute("SELECT count(*) FROM release_customers").fetchall()[0][0]
        tokens = ws.db.execute("SELECT count(*) FROM decoy_tokens").fetchall()[0][0]
    print(f"releases: {count:,} ({total:,} member rows, {tokens:,} decoy tokens) in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip


def _policy_of(ws: store.Workspace, source: Path) -> tuple[dict[str, str], dict]:
    """The fields and policy the default export would mark, for fixtures made before it."""
    from leaktrace.release.marks import suggest_fields
    from leaktrace.release.policy import policy_for

    table = pq.read_table(source).slice(0, 1000)
    return suggest_fields(table), policy_for(ws.config, "default").as_dict()


LEAKS = {  # file: the broker's steps
    "leak.csv": ("drop", "rename", "phones", "traditional", "shuffle"),
    "leak_named.csv": ("drop", "phones", "traditional", "shuffle"),  # marked columns keep names
}


def build_leak(keep: Path, rows: int, seed: int) -> None:
    """``rows`` rows of the leaked release's file through the broker, as CSV: once with his
    renamed headers, once with the release's own (so trace reads the keyed marks too)."""
    released = pacsv.read_csv(keep / "leaked_release.csv", convert_options=TEXT)
    for name, steps in LEAKS.items():
        sold = resell(released, seed, keep=rows, steps=steps)
        pacsv.write_csv(sold, keep / name)
        print(f"{name}: {sold.num_rows:,} rows, columns {', '.join(sold.column_names)}")


def leak_tokens(keep: Path, workspace: Path, name: str) -> Path:
    """The leak's match tokens (what trace computes first), for the peer; not timed."""
    path = keep / f"{name}.tokens.parquet"
    if path.exists():
        return path
    leaked = pacsv.read_csv(keep / name, convert_options=pacsv.ConvertOptions(
        column_types={}, strings_can_be_null=True))  # fmt: skip
    leaked = leaked.cast(pa.schema([pa.field(f.name, pa.string()) for f in leaked.schema]))
    with store.open_workspace(workspace, read_only=True) as ws:
        mapping = customers.propose_mapping(leaked)
        mapping.segments = []
        found = customers.row_tokens(ws.keyring.key("match"), leaked, mapping)
    pq.write_table(found.select(["row", "token"]), path)
    return path


SUMMARISE = """
import sys, time
from leaktrace import store
from leaktrace.trace import access_windows
with store.open_workspace(sys.argv[1]) as ws:
    for table in store.TOUCH_TABLES:
        ws.db.execute(f"DROP TABLE IF EXISTS {table}")
    started = time.perf_counter()
    access_windows.prepare(ws)
    print(f"{time.perf_counter() - started:.3f}")
"""


def summarise(workspace: Path) -> None:
    """Build trace's touch summary anew, as `access load` and `customers load` do at their
    end, and print what it took (a load's cost, not the trace's)."""
    cpu = children_cpu()
    seconds, mib, out = run_measured([sys.executable, "-c", SUMMARISE, str(workspace)])
    print(f"touch summary (built at the end of each load): {float(out.split()[-1]):.1f} s "
          f"({seconds:.1f} s with process start, {children_cpu() - cpu:.1f} s CPU), "
          f"peak {mib:,.0f} MiB, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip


PEER = """
import os, sys, time, duckdb
db = duckdb.connect(sys.argv[1], read_only=True)
db.execute("SET enable_progress_bar = false")
parts = [os.path.join(os.path.dirname(sys.argv[1]), "access_events", name)
         for (name,) in db.execute("SELECT name FROM access_parts").fetchall()]
started = time.perf_counter()
db.execute("CREATE TEMP TABLE probe AS SELECT * FROM read_parquet(?)", [sys.argv[2]])
db.execute('''CREATE TEMP TABLE hit AS SELECT DISTINCT t.customer_id
              FROM probe p JOIN tokens t ON t.token = p.token''')
a = time.perf_counter()
releases = db.execute('''SELECT m.release_id, count(*) FROM release_customers m
                         SEMI JOIN hit h ON h.customer_id = m.customer_id
                         GROUP BY m.release_id''').fetchall()
b = time.perf_counter()
users = db.execute('''SELECT e.staff_id, count(DISTINCT e.customer_id), min(e.time), max(e.time)
                      FROM read_parquet(?) e SEMI JOIN hit h ON h.customer_id = e.customer_id
                      GROUP BY e.staff_id''', [parts]).fetchall()
c = time.perf_counter()
customers = db.execute("SELECT count(*) FROM hit").fetchall()[0][0]
print(f"{c - started:.3f} {a - started:.3f} {b - a:.3f} {c - b:.3f} {customers} {len(releases)} "
      f"{len(users)}")
"""


def peer(workspace: Path, tokens: Path) -> dict:
    """DuckDB's bare joins in a process of their own (see the module docstring)."""
    database = str(workspace / store.DATABASE_NAME)
    seconds, mib, out = run_measured([sys.executable, "-c", PEER, database, str(tokens)])
    total, register, releases, access, found, held, users = out.split()[-7:]
    return {"process_s": seconds, "joins_s": float(total), "register_s": float(register),
            "releases_s": float(releases), "access_s": float(access), "customers": int(found),
            "releases": int(held), "users": int(users), "peak_mib": mib}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--leak", type=int, default=10_000)
    parser.add_argument("--leaked-release", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", type=Path, default=None, help="where the build is kept")
    parser.add_argument("--until", choices=STAGES, help="build up to this stage, then stop")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of trace and the peer")
    parser.add_argument(
        "--warm", action="store_true", help="keep trace's touch summary, do not time building it"
    )
    args = parser.parse_args()
    keep = args.keep or OUT / f"trace_{args.customers}_{args.releases}_{args.events}_{args.seed}"
    keep.mkdir(parents=True, exist_ok=True)
    workspace = keep / "ws"
    print(machine())
    steps = {
        "register": lambda: build_register(keep, workspace, args.customers, args.seed),
        "access": lambda: build_access(
            keep, workspace, args.customers, args.events, args.days, args.seed
        ),
        "releases": lambda: build_releases(
            keep, workspace, args.releases, args.leaked_release, args.seed
        ),
        "leak": lambda: build_leak(keep, args.leak, args.seed),
    }
    for stage in STAGES:
        marker = keep / f".{stage}.done"
        if not marker.exists():
            started = time.perf_counter()
            steps[stage]()
            marker.write_text(f"{time.perf_counter() - started:.0f} s\n")
        if stage == args.until:
            return
    with store.open_workspace(workspace, read_only=True) as ws:
        counts = ws.counts()
        sizes = ws.db.execute(
            "SELECT count(*), sum(customers) FROM releases WHERE status = 'complete'"
        ).fetchall()[0]
        events = ws.db.execute("SELECT count(*) FROM access_events").fetchall()[0][0]
    print(f"workspace: {counts['customers']:,} customers, {sizes[0]:,} releases "
          f"({sizes[1]:,} members), {events:,} access events")  # fmt: skip
    print("| leak | run | trace s | trace CPU s | trace peak | peer s (process) | peer joins s "
          "| ratio | load |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    if not args.warm:
        summarise(workspace)
    for name in LEAKS:
        tokens = leak_tokens(keep, workspace, name)
        for run in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            cpu = children_cpu()
            seconds, mib, out = run_measured(
                [LEAKTRACE, "trace", str(keep / name), "-w", str(workspace), "--json"]
            )
            cpu = children_cpu() - cpu
            traced = json.loads(out)
            joined = peer(workspace, tokens)
            print(f"| {name} | {run} | {seconds:.1f} | {cpu:.1f} | {mib:,.0f} MiB | "
                  f"{joined['process_s']:.1f} | {joined['joins_s']:.1f} | "
                  f"{seconds / joined['process_s']:.1f}× | {load:.1f} |", flush=True)  # fmt: skip
            verdict = traced["verdict"]
            best = traced["candidates"][0] if traced["candidates"] else {}
            print(f"  verdict {verdict['outcome']} {verdict.get('release_id')} named="
                  f"{verdict.get('person_named')}; {traced['matched_rows']:,} of "
                  f"{traced['rows']:,} rows matched; {traced['releases_tested']:,} releases, "
                  f"{traced['users_tested']:,} users tested; top: decoys {best.get('decoys')}, "
                  f"marks p {best.get('marks_pvalue')}, members {best.get('members')}; "
                  f"peer: {joined}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
