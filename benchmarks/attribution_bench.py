"""Attribution accuracy of `leaktrace trace` (issue 7, acceptance 1 and 2): seeded trials of the
broker chain over leak paths and sample sizes, and innocent trials.

World (built once per seed, cached in benchmarks/out): a synthetic bank of 20,000 customers and
80 staff with a month of access logs in which five staff harvest 400 strangers' credit reports
each (evenings, no application) and a colluding pair splits one 400-customer list; a register,
staff directory, applications, portfolios and logs loaded; 20 releases of 500 customers to 20
recipients (keyed subsets, decoys, marks).

Paths (a trial takes n rows of *our* customers, then the broker adds as many rows of another
source's list, drops and renames columns, reformats phones, converts names to traditional
characters and shuffles — so "n" is the number of matched records):

* release — rows of one release's file: correct when the verdict names that release;
* harvest — harvested customers' rows from the register's source: correct when the verdict
  names exactly the harvester;
* pair — rows of the colluding pair's list: correct when it names one or both of the pair
  and no one else;
* merged — rows of two releases merged: correct when it names one of them (or shortlists
  only them);
* decoy_only — two decoy rows of one release, nothing else: correct when it names it.

Innocent trials: random register customers that no release held and no one harvested; such
customers of one branch (whose own staff touch many of them in normal work); and lists that are
not ours (another synthetic bank): anyone named is a false accusation. A false accusation
in any trial is a named person who is not the source.

Robustness: at n = 20 (release) and n = 50 (harvest), each broker step alone, none, and all.

usage: python benchmarks/attribution_bench.py [--seed 3] [--trials 40] [--innocent 500]
       [--acceptance] [--trial-seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, machine

from leaktrace import access, customers, store, synth
from leaktrace.release import export as exporter
from leaktrace.synth import access as logs
from leaktrace.synth.broker import STEPS, resell
from leaktrace.synth.institution import CREDIT, MANAGER, institution
from leaktrace.trace import case

CUSTOMERS, STAFF, DAYS, RELEASES, RELEASE_SIZE, HARVEST = 20_000, 80, 30, 20, 500, 400
SIZES = (10, 20, 50, 100, 1000)
TEXT = pacsv.ConvertOptions(strings_can_be_null=True, column_types={
    "身份证号": pa.string(), "手机号": pa.string(), "客户号": pa.string(), "网点代码": pa.string(),
    "id_number": pa.string(), "mobile": pa.string(), "customer_id": pa.string()})  # fmt: skip


def build(folder: Path, seed: int) -> dict:
    """The world of the trials (see the module docstring); its ground truth."""
    truth_file = folder / "truth.json"
    if truth_file.exists():
        return json.loads(truth_file.read_text())
    world = institution(CUSTOMERS, STAFF, seed, days=DAYS)
    staff_ids = world.staff["staff_id"].to_pylist()
    able = np.flatnonzero(np.isin(world.staff_role, (MANAGER, CREDIT)))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(able, 7, replace=False)
    harvesters, pair = chosen[:5], chosen[5:]
    order = rng.permutation(CUSTOMERS).astype(np.int32)
    lists = [order[i * HARVEST : (i + 1) * HARVEST] for i in range(6)]
    plan = []  # (staff row, customer rows, first day)
    for i, staff in enumerate(harvesters):
        plan.append((int(staff), lists[i], 3 + 5 * i))
    plan.append((int(pair[0]), lists[5][: HARVEST // 2], 8))
    plan.append((int(pair[1]), lists[5][HARVEST // 2 :], 8))

    def harvest(ctx: logs.DayContext, work: logs.DayWork) -> logs.DayWork:
        extra = [work.events]
        for staff, targets, first in plan:
            day = ctx.index - first
            if 0 <= day < 5:
                part = targets[day * len(targets) // 5 : (day + 1) * len(targets) // 5]
                seconds = np.sort(ctx.rng(f"h{staff}").integers(68_400, 79_200, part.size))
                extra.append(logs.make_events(np.full(part.size, staff), part,
                                              seconds.astype(np.int32), logs.CREDIT_QUERY,
                                              logs.CREDIT_REPORT, label=1))  # fmt: skip
        return logs.DayWork(logs.Events.concat(extra), work.applications)

    bank = folder / "bank"
    synth.write_institution(bank, CUSTOMERS, staff=STAFF, days=DAYS, seed=seed, remarks=False,
                            scenarios=[harvest])  # fmt: skip
    releases = []
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(bank / "customers.csv"))
        for name in ("staff", "applications", "portfolios", "access_log"):
            access.load(ws, str(bank / f"{name}.csv"))
        for r in range(RELEASES):
            made = exporter.export(ws, str(bank / "customers.csv"), folder / f"release{r}.csv",
                                   recipient=f"partner-{r:02d}", purpose="campaign",
                                   sample=RELEASE_SIZE)  # fmt: skip
            releases.append({"release_id": made.release_id, "output": made.output})
    truth = {
        "releases": releases,
        "harvesters": [{"staff_id": staff_ids[s], "customers": t.tolist()} for s, t, _ in plan[:5]],
        "pair": {"staff_ids": [staff_ids[int(p)] for p in pair], "customers": lists[5].tolist()},
    }
    truth_file.write_text(json.dumps(truth))
    return truth


class Trials:
    """The world opened once, and one trial at a time."""

    def __init__(self, folder: Path, truth: dict, seed: int) -> None:
        self.folder, self.truth = folder, truth
        self.ws = store.open_workspace(folder / "ws", read_only=True)
        self.register = pacsv.read_csv(folder / "bank" / "customers.csv", convert_options=TEXT)
        self.files = {r["release_id"]: pacsv.read_csv(r["output"], convert_options=TEXT)
                      for r in truth["releases"]}  # fmt: skip
        self.other = synth.customers(3000, seed=seed + 5000)
        held = {c for (c,) in self.ws.db.sql(
            "SELECT DISTINCT customer_id FROM release_customers").fetchall()}  # fmt: skip
        harvested = {c for h in truth["harvesters"] for c in h["customers"]}
        harvested |= set(truth["pair"]["customers"])
        ids = customers.register_ids(self.ws, self.register.column("客户号"))
        self.innocent_rows = [i for i, owner in enumerate(ids)
                              if owner not in held and i not in harvested]  # fmt: skip
        # Customers of the larger branches, never released or harvested: lists drawn from one
        # branch, where its own staff touch many customers in normal work.
        by_branch = defaultdict(list)
        for i, code in zip(self.innocent_rows, self.register.column("网点代码").take(
                pa.array(self.innocent_rows)).to_pylist(), strict=True):  # fmt: skip
            by_branch[code].append(i)
        self.branches = sorted((v for v in by_branch.values() if len(v) >= 40), key=len)[-20:]
        self.scratch = Path(tempfile.mkdtemp(prefix="attribution_", dir=OUT))

    def trace(self, ours: pa.Table, seed: int, steps=STEPS, extra_rows: int | None = None):
        others = self.other.slice(seed % 2000, extra_rows if extra_rows is not None
                                  else ours.num_rows)  # fmt: skip
        leak = resell(ours, seed, keep=None, other=others if "merge" in steps else None,
                      steps=steps)  # fmt: skip
        path = self.scratch / f"leak{seed}.csv"
        pacsv.write_csv(leak, path)
        try:
            return case.trace_leak(self.ws, [str(path)])
        finally:
            path.unlink()

    def register_rows(self, rows) -> pa.Table:
        return self.register.take(pa.array(sorted(rows), pa.int64()))


def _named(verdict) -> set[str]:
    """Who the verdict names: users of the logs, or the recipient of the release."""
    if not verdict.person_named:
        return set()
    return set(verdict.users) | ({f"release:{verdict.release_id}"} if verdict.release_id else set())


def run_trials(
    trials: Trials, per_cell: int, innocent: int, seed: int, acceptance: bool = False
) -> dict:
    """Every path, size and broker variant, then the innocent trials; with ``acceptance``
    only the cells issue 7's acceptance 1 names (release at n = 20, harvest at n = 50, with
    the whole broker chain) and the innocent trials."""
    rng = random.Random(seed)
    results: dict[str, dict] = defaultdict(lambda: {"trials": 0, "correct": 0, "false": 0})
    releases = trials.truth["releases"]

    def record(key: str, correct: bool, named: set[str], allowed: set[str]) -> None:
        cell = results[key]
        cell["trials"] += 1
        cell["correct"] += bool(correct)
        cell["false"] += bool(named - allowed)

    def release_trial(key: str, n: int, steps=STEPS) -> None:
        chosen = rng.choice(releases)
        table = trials.files[chosen["release_id"]]
        rows = table.take(
            pa.array(sorted(rng.sample(range(table.num_rows), min(n, table.num_rows))))
        )
        traced = trials.trace(rows, rng.randrange(10**9), steps)
        verdict = traced.verdict
        record(key, verdict.release_id == chosen["release_id"], _named(verdict),
               {f"release:{chosen['release_id']}"})  # fmt: skip

    def harvest_trial(key: str, n: int, steps=STEPS) -> None:
        harvester = rng.choice(trials.truth["harvesters"])
        rows = rng.sample(harvester["customers"], min(n, len(harvester["customers"])))
        traced = trials.trace(trials.register_rows(rows), rng.randrange(10**9), steps)
        verdict = traced.verdict
        record(key, verdict.users == (harvester["staff_id"],), _named(verdict),
               {harvester["staff_id"]})  # fmt: skip

    if acceptance:
        for _ in range(per_cell):
            release_trial("release n=20", 20)
            harvest_trial("harvest n=50", 50)
        innocent_trials(trials, innocent, rng, record)
        return dict(results)
    for n in SIZES:
        for _ in range(per_cell):
            release_trial(f"release n={n}", n)
            harvest_trial(f"harvest n={n}", n)
    pair = trials.truth["pair"]
    for n in (20, 50, 100):
        for _ in range(per_cell):
            rows = rng.sample(pair["customers"], n)
            traced = trials.trace(trials.register_rows(rows), rng.randrange(10**9))
            named = _named(traced.verdict)
            record(f"pair n={n}", bool(named) and named <= set(pair["staff_ids"]), named,
                   set(pair["staff_ids"]))  # fmt: skip
    for _ in range(per_cell):
        a, b = rng.sample(releases, 2)
        parts = [trials.files[r["release_id"]] for r in (a, b)]
        rows = pa.concat_tables([p.take(pa.array(sorted(rng.sample(range(p.num_rows), 10))))
                                 for p in parts])  # fmt: skip
        verdict = trials.trace(rows, rng.randrange(10**9)).verdict
        allowed = {f"release:{a['release_id']}", f"release:{b['release_id']}"}
        ok = verdict.release_id in (a["release_id"], b["release_id"]) or (
            verdict.outcome == "shortlist"
            and set(verdict.shortlist) <= {a["release_id"], b["release_id"]}
        )
        record("merged 10+10", ok, _named(verdict), allowed)
        chosen = rng.choice(releases)
        table = trials.files[chosen["release_id"]]
        decoys = table.filter(pc.invert(pc.is_in(table.column("客户号"),
                                                 trials.register.column("客户号"))))  # fmt: skip
        rows = decoys.take(pa.array(sorted(rng.sample(range(decoys.num_rows), 2))))
        verdict = trials.trace(rows, rng.randrange(10**9), extra_rows=0).verdict
        record("decoy_only 2", verdict.release_id == chosen["release_id"], _named(verdict),
               {f"release:{chosen['release_id']}"})  # fmt: skip
    for variant in ("none", *STEPS, "all"):
        steps = () if variant == "none" else STEPS if variant == "all" else (variant,)
        for _ in range(per_cell):
            release_trial(f"broker {variant}: release n=20", 20, steps)
            harvest_trial(f"broker {variant}: harvest n=50", 50, steps)
    innocent_trials(trials, innocent, rng, record)
    return dict(results)


def innocent_trials(trials: Trials, innocent: int, rng: random.Random, record) -> None:
    """``innocent`` lists of each kind in which no one is to blame, recorded with ``record``."""
    for _ in range(innocent):
        n = rng.choice((20, 50, 100))
        rows = rng.sample(trials.innocent_rows, n)
        verdict = trials.trace(trials.register_rows(rows), rng.randrange(10**9)).verdict
        record("innocent: never released or harvested", verdict.outcome != "attributed",
               _named(verdict), set())  # fmt: skip
        branch = rng.choice(trials.branches)
        rows = rng.sample(branch, min(n, len(branch)))
        verdict = trials.trace(trials.register_rows(rows), rng.randrange(10**9)).verdict
        record("innocent: one branch's customers", not _named(verdict), _named(verdict), set())
        strangers = synth.customers(n, seed=rng.randrange(10**6) + 10**6)
        verdict = trials.trace(strangers, rng.randrange(10**9), extra_rows=0).verdict
        record("innocent: not ours", verdict.outcome == "not_ours", _named(verdict), set())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--trials", type=int, default=40, help="trials per path and size")
    parser.add_argument("--innocent", type=int, default=500, help="innocent trials of each kind")
    parser.add_argument(
        "--acceptance", action="store_true",
        help="only release n=20, harvest n=50 and the innocent trials (issue 7, acceptance 1)",
    )  # fmt: skip
    parser.add_argument(
        "--trial-seed", type=int, default=None,
        help="seed of the trials' draws [default: --seed]; another one gives new trials in the "
        "same world",
    )  # fmt: skip
    args = parser.parse_args()
    trial_seed = args.seed if args.trial_seed is None else args.trial_seed
    folder = OUT / f"attribution_{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    truth = build(folder, args.seed)
    built = time.perf_counter() - started
    trials = Trials(folder, truth, args.seed)
    results = run_trials(trials, args.trials, args.innocent, trial_seed, args.acceptance)
    total = sum(c["trials"] for c in results.values())
    false = sum(c["false"] for c in results.values())
    print(json.dumps({
        "machine": machine(), "seed": args.seed, "trial_seed": trial_seed,
        "build_s": round(built, 1),
        "trials_s": round(time.perf_counter() - started - built, 1), "trials": total,
        "false_accusations": false,
        "cells": {k: {**v, "accuracy": round(v["correct"] / v["trials"], 3)}
                  for k, v in results.items()},
    }, ensure_ascii=False, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
