"""Insider monitor evaluation (issue 6, acceptance 1 and 2): a synthetic bank with planted
insiders and benign busy colleagues, scored as security teams work — recall at a fixed daily
alert budget, days to the first alert, false alerts per 1,000 staff-days — against
scikit-learn's IsolationForest on the same features and budget.

For each seed: a bank of ``--customers`` customers and their staff (one per 500, so 2,000 for
a million customers) works ``--days`` days; insiders are planted with ground truth (labels in
the access log, which the monitor never reads). The register and the access files are loaded
as an institution would (``customers.load``, ``access.load``), ``monitor.run`` scores every
day, and the alerts are compared with the labels:

* an insider is *caught* when an alert names them on a day of their behaviour no later than
  the deadline (the first day of the behaviour and the next; ten days for the slow harvester);
* a *false alert* is an alert on a staff-day without planted behaviour (benign busy colleagues
  included), counted per 1,000 staff-days with events;
* the baseline is IsolationForest over the same per-day counts (raw, and divided by the same
  day's peer median), alerting the day's ``budget`` most anomalous users.

Run: ``python benchmarks/monitor_eval.py [--seeds 1 2 3] [--customers 1000000] [--days 60]``;
the markdown table goes to stdout (and ``--out FILE``).
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

from leaktrace import access, customers, monitor, store, synth
from leaktrace.synth import access as sa
from leaktrace.synth.institution import NEVER, ROLES


@dataclass(frozen=True)
class Plant:
    """A planted insider (or a benign busy colleague): who, from when, what kind."""

    kind: str
    staff: tuple[int, ...]  # staff rows
    start: int  # day index the behaviour starts
    insider: bool = True
    deadline: int = 2  # days from the start (inclusive of the start) to be alerted in


@dataclass
class Cast:
    """The plants of one bank and the scenarios that draw them."""

    plants: list[Plant] = field(default_factory=list)
    scenarios: list[sa.Scenario] = field(default_factory=list)
    leave: dict[int, datetime.date] = field(default_factory=dict)


def _pick(world: synth.Institution, role: str, rng: np.random.Generator, taken: set) -> int:
    """A staff member of ``role`` employed the whole period, not picked before."""
    rows = np.flatnonzero(
        (world.staff_role == ROLES.index(role))
        & (world.staff_join < world.first_day)
        & (world.staff_leave == NEVER)
    )
    rows = np.array([r for r in rows if r not in taken])
    chosen = int(rng.choice(rows))
    taken.add(chosen)
    return chosen


def _add(work: sa.DayWork, events: sa.Events) -> sa.DayWork:
    work.events = sa.Events.concat([work.events, events])
    return work


def _office_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.sort(rng.integers(9 * 3600, 17 * 3600, n))


def plant(world: synth.Institution, seed: int) -> tuple[synth.Institution, Cast]:
    """Interim planted scenarios of issue 6, drawn here until ``leaktrace.synth.scenarios``
    (helper B) is merged: each kind of insider once, and benign busy colleagues."""
    rng = np.random.default_rng([seed, 0x1A5])
    taken: set[int] = set()
    cast = Cast()
    n = world.customers
    label = iter(range(1, 100))

    def scenario(rows: tuple[int, ...], start: int, stop: int, draw: Callable, code: int) -> None:
        def apply(ctx: sa.DayContext, work: sa.DayWork) -> sa.DayWork:
            if not start <= ctx.index < stop or not ctx.working[list(rows)].any():
                return work
            return _add(work, draw(ctx, ctx.rng(f"plant-{code}"), code))

        cast.scenarios.append(apply)

    def start_day() -> int:
        return int(rng.integers(14, world.days - 12))

    # Credit-query harvester: a customer manager queries 15–40 strangers' credit reports a day.
    who, day, code = _pick(world, "customer_manager", rng, taken), start_day(), next(label)
    cast.plants.append(Plant("credit-query harvester", (who,), day))

    def credit(ctx, r, code, who=who):
        k = int(r.integers(15, 41))
        return sa.make_events(
            np.full(k, who),
            r.choice(n, k, replace=False),
            _office_seconds(r, k),
            sa.CREDIT_QUERY,
            sa.CREDIT_REPORT,
            label=code,
        )

    scenario((who,), day, world.days, credit, code)

    # Slow harvester: a teller looks up 15–30 customers of other branches a day, for weeks.
    who, day, code = _pick(world, "teller", rng, taken), start_day(), next(label)
    cast.plants.append(Plant("slow harvester", (who,), day, deadline=10))

    def slow(ctx, r, code, who=who):
        k = int(r.integers(15, 31))
        return sa.make_events(
            np.full(k, who),
            r.choice(n, k, replace=False),
            _office_seconds(r, k),
            sa.CORE,
            sa.QUERY,
            label=code,
        )

    scenario((who,), day, world.days, slow, code)

    # Pre-departure bulk export: a back-office clerk exports 300–1,500 customers in the three
    # days before leaving.
    who, day, code = _pick(world, "back_office", rng, taken), start_day(), next(label)
    cast.leave[who] = world.start + datetime.timedelta(days=day + 3)
    cast.plants.append(Plant("pre-departure export", (who,), day))

    def export(ctx, r, code, who=who):
        k = int(r.integers(300, 1501))
        seconds = 16 * 3600 + np.arange(k) // 4
        return sa.make_events(
            np.full(k, who), r.choice(n, k, replace=False), seconds, sa.CORE, sa.EXPORT, label=code
        )

    scenario((who,), day, day + 3, export, code)

    # Off-hours enumerator: an IT engineer walks 60–200 consecutive customer numbers at night.
    who, day, code = _pick(world, "it", rng, taken), start_day(), next(label)
    cast.plants.append(Plant("off-hours enumerator", (who,), day))

    def walk(ctx, r, code, who=who):
        k = int(r.integers(60, 201))
        first = int(r.integers(0, n - k))
        seconds = 22 * 3600 + np.arange(k) * 20
        return sa.make_events(
            np.full(k, who), np.arange(first, first + k), seconds, sa.CORE, sa.QUERY, label=code
        )

    def every_day(ctx, work, walk=walk, day=day, code=code):  # at night, worked that day or not
        if day <= ctx.index:
            return _add(work, walk(ctx, ctx.rng(f"plant-{code}"), code))
        return work

    cast.scenarios.append(every_day)

    # Call-centre operator copying callers' numbers: 25–50 customer views a day without a
    # ticket, on top of the calls.
    who, day, code = _pick(world, "call_centre", rng, taken), start_day(), next(label)
    cast.plants.append(Plant("call-centre copier", (who,), day))

    def copy(ctx, r, code, who=who):
        k = int(r.integers(25, 51))
        return sa.make_events(
            np.full(k, who),
            r.choice(n, k, replace=False),
            np.sort(r.integers(8 * 3600, 20 * 3600, k)),
            sa.CALL_SYSTEM,
            sa.VIEW,
            label=code,
        )

    scenario((who,), day, world.days, copy, code)

    # Colluding pair: two customer managers split a list of 40–80 customers a day.
    a = _pick(world, "customer_manager", rng, taken)
    b = _pick(world, "customer_manager", rng, taken)
    day, code = start_day(), next(label)
    cast.plants.append(Plant("colluding pair", (a, b), day))

    def pair(ctx, r, code, a=a, b=b):
        k = int(r.integers(40, 81))
        staff = np.where(np.arange(k) % 2 == 0, a, b)
        return sa.make_events(
            staff, r.choice(n, k, replace=False), _office_seconds(r, k), sa.CRM, sa.VIEW, label=code
        )

    scenario((a, b), day, world.days, pair, code)

    # Benign: a teller of a merged branch serves another branch's customers, every session
    # with a transaction serial; a manager takes over a leaving colleague's portfolio.
    who, day = _pick(world, "teller", rng, taken), start_day()
    cast.plants.append(Plant("branch merger (benign)", (who,), day, insider=False))
    other = int(rng.integers(0, world.branch_lo.size))

    def merger(ctx, r, code, who=who, other=other):
        lo, hi = world.branch_lo[other], max(world.branch_hi[other], world.branch_lo[other] + 1)
        k = int(r.integers(40, 81))
        people = world.customer_order[np.minimum(r.integers(lo, hi, k), n - 1)]
        return sa.make_events(
            np.full(k, who),
            people,
            _office_seconds(r, k),
            sa.CORE,
            sa.VIEW,
            sa.TX,
            ctx.reference_number(8_000_000 + np.arange(k)),
            label=0,
        )

    scenario((who,), day, world.days, merger, 0)

    who, day = _pick(world, "customer_manager", rng, taken), start_day()
    cast.plants.append(Plant("portfolio takeover (benign)", (who,), day, insider=False))
    donor = _pick(world, "customer_manager", rng, taken)

    def takeover(ctx, r, code, who=who, donor=donor):
        book = world.portfolio(donor)
        k = int(r.integers(20, 41))
        people = r.choice(book, min(k, book.size), replace=False) if book.size else np.empty(0)
        return sa.make_events(
            np.full(people.size, who),
            people,
            _office_seconds(r, people.size),
            sa.CRM,
            sa.VIEW,
            sa.CT,
            ctx.reference_number(8_500_000 + np.arange(people.size)),
            label=0,
        )

    scenario((who,), day, world.days, takeover, 0)

    for row, leave in cast.leave.items():
        world = world.with_staff_dates([row], leave=leave)
    return world, cast


@dataclass
class Truth:
    """Planted behaviour: per staff id, the days (dates) of their labelled events."""

    days: dict[str, set[datetime.date]]
    staff_days: int  # staff-days with events


def truth(log: Path) -> dict[str, set[datetime.date]]:
    """Days of planted (labelled) events per staff id, from the access log's label column."""
    rows = duckdb.sql(
        f"""SELECT staff_id, CAST(time AS DATE) AS day FROM read_parquet('{log}')
        WHERE label > 0 GROUP BY ALL"""
    ).fetchall()
    days: dict[str, set[datetime.date]] = {}
    for staff_id, day in rows:
        days.setdefault(staff_id, set()).add(day)
    return days


@dataclass
class Scores:
    """One detector's results on one bank."""

    caught: dict[str, int | None]  # plant kind → days to first alert within deadline (None)
    false_alerts: int
    false_alerts_scored: int  # on days after the learning period
    alerts: int


def judge(
    alerts: list[tuple[str, datetime.date]],
    cast: Cast,
    world: synth.Institution,
    planted: dict[str, set[datetime.date]],
    learned: datetime.date,
) -> Scores:
    """Caught insiders, days to the first alert and false alerts of a list of (staff, day)."""
    staff_ids = world.staff["staff_id"].to_pylist()
    caught: dict[str, int | None] = {}
    for p in cast.plants:
        if not p.insider:
            continue
        for row in p.staff:
            sid = staff_ids[row]
            # The behaviour starts on its first planted day (a plant waits for a working day).
            start = min(planted[sid])
            days = sorted(
                (d - start).days
                for s, d in alerts
                if s == sid and d in planted.get(sid, set()) and (d - start).days >= 0
            )
            first = days[0] if days and days[0] < p.deadline else None
            caught[f"{p.kind} ({sid})"] = first
    false = [(s, d) for s, d in alerts if d not in planted.get(s, set())]
    return Scores(
        caught=caught,
        false_alerts=len(false),
        false_alerts_scored=sum(d >= learned for _, d in false),
        alerts=len(alerts),
    )


def forest_alerts(
    table: pa.Table, budget: int, seed: int, normalized: bool
) -> list[tuple[str, datetime.date]]:
    """IsolationForest on the per-day counts the monitor uses (raw, or over the same day's peer
    median + 1), with each role as a one-hot column; the day's ``budget`` most anomalous."""
    from sklearn.ensemble import IsolationForest

    names = [*monitor.SCORED, "credit_no_app", "decoy_customers", "events"]
    columns = []
    for name in names:
        x = np.nan_to_num(table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False))
        if normalized and name in monitor.SCORED:
            median = table.column(f"{name}_peer_median").cast(pa.float64())
            x = x / (np.nan_to_num(median.to_numpy(zero_copy_only=False)) + 1)
        columns.append(x)
    roles = table.column("role").fill_null("").to_pylist()
    for role in sorted(set(roles)):
        columns.append(np.array([r == role for r in roles], np.float64))
    matrix = np.column_stack(columns)
    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=2).fit(matrix)
    anomaly = -forest.score_samples(matrix)
    days = table.column("day").to_pylist()
    staff = table.column("staff_id").to_pylist()
    order = np.argsort(-anomaly, kind="stable")
    per_day: dict[datetime.date, int] = {}
    chosen = []
    for i in order.tolist():
        if per_day.get(days[i], 0) < budget:
            per_day[days[i]] = per_day.get(days[i], 0) + 1
            chosen.append((staff[i], days[i]))
    return chosen


def run_seed(seed: int, customers_n: int, days: int, folder: Path, reuse: bool = False) -> dict:
    """Build, load and score one bank (``reuse``: score the workspace a kept folder holds);
    judge the monitor and the baselines."""
    started = time.perf_counter()
    world = synth.institution(customers_n, seed=seed, days=days)
    world, cast = plant(world, seed)
    built = loaded = 0.0
    if not (reuse and (folder / "ws").exists()):
        path = folder / "customers.parquet"
        as_of = world.start - datetime.timedelta(days=1)
        synth.write_customers(path, customers_n, seed, as_of=as_of)
        synth.write_tables(world, folder, file_format="parquet")
        synth.write_activity(
            world, folder, file_format="parquet", scenarios=cast.scenarios, labels=True
        )
        built = time.perf_counter() - started
        with store.init_workspace(folder / "ws") as ws:
            customers.load(ws, str(path))
            for name in ("staff", "portfolios", "applications", "access_log"):
                access.load(ws, str(folder / f"{name}.parquet"))
        loaded = time.perf_counter() - started - built
    with store.open_workspace(folder / "ws") as ws:
        clock = time.perf_counter()
        found = monitor.run(ws)
        scored = time.perf_counter() - clock
        settings = monitor.Settings.from_config(ws.config)
        features = monitor.day_features(ws, settings=settings)
        events = ws.db.sql("SELECT count(*) FROM access_events").fetchall()[0][0]
    planted = truth(folder / "access_log.parquet")
    table = features.table
    staff_days = table.num_rows
    scored_days = sum(d >= features.learned for d in table.column("day").to_pylist())
    ours = judge([(a.staff_id, a.day) for a in found], cast, world, planted, features.learned)
    budget = settings.budget
    forests = {
        name: judge(
            forest_alerts(table, budget, seed, normalized), cast, world, planted, features.learned
        )
        for name, normalized in (
            ("IsolationForest (raw counts)", False),
            ("IsolationForest (÷ peer median)", True),
        )
    }
    return {
        "seed": seed,
        "staff": world.staff.num_rows,
        "events": events,
        "staff_days": staff_days,
        "scored_staff_days": scored_days,
        "learned": features.learned,
        "budget": budget,
        "ours": ours,
        "forests": forests,
        "reasons": all(a.reasons for a in found),
        "seconds": {"build": built, "load": loaded, "score": scored},
        "plants": cast.plants,
    }


def _recall(scores: Scores) -> str:
    hit = sum(v is not None for v in scores.caught.values())
    return f"{hit}/{len(scores.caught)}"


def report(results: list[dict]) -> str:
    """The markdown of the results."""
    lines = [
        f"Machine: {machine()}.",
        "",
        "| seed | events | staff-days | detector | recall at budget | false alerts (per 1,000 "
        "staff-days) | after learning | alerts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = [("leaktrace monitor", r["ours"]), *r["forests"].items()]
        for name, s in rows:
            rate = 1000 * s.false_alerts / r["staff_days"]
            after = 1000 * s.false_alerts_scored / max(r["scored_staff_days"], 1)
            lines.append(
                f"| {r['seed']} | {r['events']:,} | {r['staff_days']:,} | {name} | {_recall(s)} | "
                f"{s.false_alerts} ({rate:.2f}) | {s.false_alerts_scored} ({after:.2f}) | "
                f"{s.alerts} |"
            )
    lines += [
        "",
        "Days from the start of each behaviour to its first alert (– not caught in time):",
        "",
        "| seed | insider | leaktrace | IF raw | IF ÷ peers |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        forests = list(r["forests"].values())
        for name, days in r["ours"].caught.items():
            cells = [days, *(f.caught[name] for f in forests)]
            shown = " | ".join("–" if c is None else str(c) for c in cells)
            lines.append(f"| {r['seed']} | {name} | {shown} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, help="Keep each bank's files in this folder.")
    parser.add_argument(
        "--reuse", action="store_true", help="With --keep: score the banks kept there before."
    )
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        if args.keep:
            folder = args.keep / f"seed-{seed}"
            if not args.reuse:
                shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix=f"monitor-eval-{seed}-"))
        try:
            result = run_seed(seed, args.customers, args.days, folder, args.reuse)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        seconds = result["seconds"]
        print(
            f"seed {seed}: built {seconds['build']:.0f} s, loaded {seconds['load']:.0f} s, "
            f"scored {seconds['score']:.1f} s; leaktrace {_recall(result['ours'])}, "
            f"{result['ours'].false_alerts} false alerts",
            file=sys.stderr,
        )
        results.append(result)
    text = report(results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
