"""Planted insider scenarios (内鬼场景) with ground truth, for the insider monitor (issue 6).

:func:`plant` chooses staff of a synthetic :class:`~leaktrace.synth.institution.Institution` by
role, moves leave dates into the period where a scenario needs one, and returns a :class:`Plan`:
the (possibly changed) institution, the scenario callables for the hooks of
:mod:`leaktrace.synth.access` and the ground truth, one row per planted staff member.

Insiders (label codes 1–6), each planted on top of the person's normal work:

- ``credit_harvester``: the field-notes case. A customer manager and up to two colleagues of
  the same outlet, roles that query credit reports for their work, query 50–300 strangers'
  credit reports a day (征信查询系统, ``credit_report``) for two or three weeks, with no loan
  application or under an application id of another customer (one of theirs of the day, or a
  stale one): about 6,000 reports between three;
- ``slow_harvester``: 20–50 extra customers a day outside the person's outlet and portfolio,
  mostly without a business reference, for three to six weeks;
- ``departure_export``: a customer manager whose leave date is moved into the period exports
  the portfolio, then the outlet's and other customers, 150–800 a session, in the last working
  days before leaving, half of it in the evening;
- ``offhours_enumerator``: back office or IT walks the customer ids in increasing order, a few
  seconds apart, at night or on weekend days, 300–1,500 a time, each time where it stopped;
- ``call_centre_copier``: an agent opens 60–200 further customers a day: others under the
  ticket of a call, the day's callers again after the call with no ticket, strangers with none;
- ``colluding_pair``: two staff of the same role and branch split one target list (customers
  of one province or outlet, not their own) into halves and work through one half each at
  25–45 a day, no more than a busy colleague.

Legitimately high or unusual volumes that must not be flagged (label codes 101–104), on top of
the month-end and campaign peaks of normal work:

- ``month_end_batch``: on month-end days a back-office clerk works through 150–600 customers
  of the province in customer-id order, a work order per 50;
- ``campaign_calls``: on campaign days a customer manager contacts 80–200 portfolio customers,
  a contact record each;
- ``branch_merger``: from a day in the period the staff of one outlet also serve a
  neighbouring outlet's customers (half their sessions, and 30% more), with their references;
- ``portfolio_takeover``: a customer manager leaves in the period (benign: no exports) and a
  colleague of the outlet takes the portfolio over: a handover review under a work order, then
  the departed one's daily work with contact records.

Ground truth (:data:`TRUTH_SCHEMA`): ``staff_id``, ``scenario``, ``label`` (the code carried
by the planted events and applications), ``case`` (staff planted together share it: the
harvesting colleagues, the pair, the merged outlet's staff, the successor and the departed),
``start`` and ``end`` (first and last day with planted events; the departed manager of a
takeover has none and covers the five days before leaving), ``deadline`` (the day by which the
monitor must have alerted: ``start`` + 2 days, the slow harvester ``start`` + 10; null for
benign rows) and ``benign``.

Everything is drawn from the plan's seed and the day, so the same seed plants the same events
whatever the batch size or how often the log is drawn; staff of a plan take part in one
scenario only. Insiders start after a clean baseline (the first two weeks, or the first third
of a short period) and are chosen among staff employed four weeks before the period and
throughout it.

>>> from leaktrace.synth.institution import institution
>>> from leaktrace.synth.access import access_log
>>> plan = plant(institution(20_000, staff=150, seed=3, days=30), seed=3)
>>> plan.truth.column_names
['staff_id', 'scenario', 'label', 'case', 'start', 'end', 'deadline', 'benign']
>>> sorted(set(plan.truth["scenario"].to_pylist())) == sorted(SCENARIOS)
True
>>> plan.truth.filter(pa.compute.field("scenario") == "slow_harvester").select(
...     ["label", "start", "deadline"]).to_pylist()  # doctest: +NORMALIZE_WHITESPACE
[{'label': 2, 'start': datetime.date(2025, 1, 13), 'deadline': datetime.date(2025, 1, 23)}]
>>> log = access_log(plan.world, scenarios=plan.scenarios, labels=True)
>>> sorted(set(log["label"].to_pylist())) == [0, *sorted(set(plan.truth["label"].to_pylist()))]
True
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa

from leaktrace.exceptions import ConfigError
from leaktrace.synth.access import (
    _APPLICATIONS,
    _EXPORT_SYSTEM,
    _PROFILE,
    _PROFILE_NAMES,
    _REF_KIND,
    CALL_SYSTEM,
    CORE,
    CREDIT_QUERY,
    CREDIT_REPORT,
    CRM,
    CT,
    DAY_SECONDS,
    EXPORT,
    LA,
    LOAN,
    NO_REFERENCE,
    QUERY,
    TK,
    UPDATE,
    VIEW,
    WO,
    DayContext,
    DayWork,
    Events,
    Scenario,
    _context,
    _hours,
    make_events,
)
from leaktrace.synth.customer import KINDS
from leaktrace.synth.institution import (
    BACK,
    CALL,
    CREDIT,
    IT,
    MANAGER,
    OUTLET,
    PROVINCE,
    TELLER,
    Institution,
)

INSIDER_SCENARIOS = (
    "credit_harvester",
    "slow_harvester",
    "departure_export",
    "offhours_enumerator",
    "call_centre_copier",
    "colluding_pair",
)
BENIGN_SCENARIOS = ("month_end_batch", "campaign_calls", "branch_merger", "portfolio_takeover")
SCENARIOS = INSIDER_SCENARIOS + BENIGN_SCENARIOS
# Label codes of the planted events: insiders 1–6, benign 101–104 (0 is normal work).
LABEL_CODES = {
    **{name: code for code, name in enumerate(INSIDER_SCENARIOS, 1)},
    **{name: code for code, name in enumerate(BENIGN_SCENARIOS, 101)},
}
DEADLINE_DAYS = {name: 10 if name == "slow_harvester" else 2 for name in INSIDER_SCENARIOS}
TRUTH_SCHEMA = pa.schema(
    [
        ("staff_id", pa.string()),
        ("scenario", pa.string()),
        ("label", pa.int16()),
        ("case", pa.int32()),
        ("start", pa.date32()),
        ("end", pa.date32()),
        ("deadline", pa.date32()),
        ("benign", pa.bool_()),
    ]
)
MIN_DAYS = 7  # a baseline before the insiders start, and days for them to act
_BASELINE = 14
_TENURE = 28  # insiders were employed this many days before the period
_SERIALS = 10_000_000
_DEPARTED_DAYS = 5  # a takeover's departed manager: the days before leaving it covers


# ---- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Plan:
    """Planted scenarios of an institution.

    ``world`` is the institution to draw the logs from (leave dates moved for the departing
    staff), ``scenarios`` the callables to pass as ``scenarios=`` to
    :func:`~leaktrace.synth.access.access_days`, :func:`~leaktrace.synth.access.activity_batches`
    or :func:`~leaktrace.synth.files.write_institution` (which takes the plan itself),
    ``truth`` the ground truth (:data:`TRUTH_SCHEMA`), ``seed`` the plan's seed.
    """

    world: Institution
    scenarios: tuple[Scenario, ...]
    truth: pa.Table
    seed: int

    def staff(self, scenario: str) -> list[str]:
        """Staff ids planted in ``scenario``, in ground-truth order.

        >>> from leaktrace.synth.institution import institution
        >>> world = institution(20_000, staff=150, seed=3, days=30)
        >>> plan = plant(world, insiders={"credit_harvester": 1}, benign=0)
        >>> plan.staff("credit_harvester"), plan.staff("slow_harvester")
        (['EMP0000082', 'EMP0000130'], [])
        """
        if scenario not in LABEL_CODES:
            raise ConfigError(
                f"Unknown scenario {scenario!r}; choose one of {', '.join(LABEL_CODES)}."
            )
        rows = self.truth.filter(pa.compute.equal(self.truth["scenario"], scenario))
        return rows["staff_id"].to_pylist()


Counts = int | Mapping[str, int] | None


def default_count(world: Institution) -> int:
    """Cases of each scenario planted when not told: one per 1,000 staff, at least one.

    >>> from leaktrace.synth.institution import institution
    >>> default_count(institution(1_000, staff=2_500, seed=1, days=1))
    2
    """
    return max(1, world.staff_role.size // 1_000)


def plant(
    world: Institution,
    *,
    seed: int | None = None,
    insiders: Counts = None,
    benign: Counts = None,
) -> Plan:
    """Plant insider scenarios and legitimately busy colleagues in ``world``.

    ``insiders`` and ``benign`` say how many cases of each scenario to plant: None for
    :func:`default_count`, an int for every scenario of the kind, or a mapping from scenario
    name (:data:`INSIDER_SCENARIOS`, :data:`BENIGN_SCENARIOS`) to a count. With None or an int,
    scenarios the institution cannot hold (no credit queries at a school, no two managers at
    one outlet …) are left out; a count in a mapping must be met. ``seed`` defaults to the
    world's.

    >>> from leaktrace.synth.institution import institution
    >>> world = institution(20_000, staff=150, seed=3, days=30)
    >>> plan = plant(world, insiders={"offhours_enumerator": 1}, benign=0)
    >>> plan.truth.select(["scenario", "label", "benign"]).to_pylist()
    [{'scenario': 'offhours_enumerator', 'label': 4, 'benign': False}]
    >>> plant(world, insiders={"offhours_enumerator": 1}, benign=0).truth.equals(plan.truth)
    True
    """
    seed = world.seed if seed is None else seed
    if seed < 0:
        raise ConfigError("The seed must not be negative.")
    wanted = {
        **_counts(world, insiders, INSIDER_SCENARIOS),
        **_counts(world, benign, BENIGN_SCENARIOS),
    }
    if any(wanted.values()) and world.days < MIN_DAYS:
        raise ConfigError(
            f"Planting scenarios needs at least {MIN_DAYS} days of logs (a baseline first)."
        )
    planner = _Planner(world, seed)
    # A count given by name must be met; the others plant what the institution can hold.
    strict = {
        name
        for counts in (insiders, benign)
        if isinstance(counts, Mapping)
        for name, count in counts.items()
        if count
    }
    # Leave dates first: attendance, and so the days of every scenario, depend on them.
    departures = {
        name: planner.departures(name, wanted[name])
        for name in ("departure_export", "portfolio_takeover")
    }
    planner.calendar()
    cases: list[_Case] = []
    for name in SCENARIOS:
        if name in departures:
            made = getattr(planner, name)(departures[name])
        else:
            made = [getattr(planner, name)() for _ in range(wanted[name])]
        made = [case for case in made if case is not None and case.count.any()]
        if name in strict and len(made) < wanted[name]:
            raise ConfigError(
                f"This institution holds {len(made)} {name} case(s), not {wanted[name]}."
            )
        cases.extend(made)
    return Plan(planner.world, tuple(cases), _truth(planner.world, cases), seed)


def _counts(world: Institution, counts: Counts, names: tuple[str, ...]) -> dict[str, int]:
    if counts is None:
        counts = default_count(world)
    if isinstance(counts, Mapping):
        unknown = sorted(set(counts) - set(names))
        if unknown:
            raise ConfigError(f"Unknown scenario {unknown[0]!r}; choose one of {', '.join(names)}.")
        chosen = {name: counts.get(name, 0) for name in names}
    else:
        chosen = dict.fromkeys(names, counts)
    if any(not isinstance(n, int) or n < 0 for n in chosen.values()):
        raise ConfigError("Scenario counts must be non-negative integers.")
    return chosen


def _truth(world: Institution, cases: list[_Case]) -> pa.Table:
    staff_ids = world.staff["staff_id"].to_pylist()
    rows = []
    for case in cases:
        for staff, first, last in case.spans():
            start = world.start + datetime.timedelta(days=first)
            deadline = None
            if not case.benign:
                deadline = start + datetime.timedelta(days=DEADLINE_DAYS[case.name])
            rows.append({
                "staff_id": staff_ids[staff],
                "scenario": case.name,
                "label": LABEL_CODES[case.name],
                "case": case.number,
                "start": start,
                "end": world.start + datetime.timedelta(days=last),
                "deadline": deadline,
                "benign": case.benign,
            })  # fmt: skip
    rows.sort(key=lambda r: (r["benign"], r["label"], r["case"], r["staff_id"]))
    return pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)


# ---- choosing staff and days ------------------------------------------------------------------


class _Planner:
    """Chooses the staff and days of each case from the plan's random stream."""

    def __init__(self, world: Institution, seed: int) -> None:
        entropy = [seed, KINDS.index(world.kind), 0x1D51DE, world.seed]
        self.rng = np.random.default_rng(np.random.SeedSequence(entropy))
        self.world = world
        self.seed = seed
        self.used = np.zeros(world.staff_role.size, dtype=bool)
        # Staff with a history before the period who stay through it: insiders and busy
        # colleagues alike, so that the monitor has their baseline.
        self.stable = (world.staff_join <= world.first_day - _TENURE) & (
            world.staff_leave >= world.last_day
        )
        self.baseline = min(_BASELINE, world.days // 3)
        self.cases = 0

    def calendar(self) -> None:
        """Attendance and day kinds of the period, as the logs will draw them."""
        contexts = [_context(self.world, index, 1.0) for index in range(self.world.days)]
        self.at_work = np.stack([c.working for c in contexts])  # days × staff
        self.weekend = np.array([c.weekend for c in contexts])
        self.month_end = np.array([c.month_end for c in contexts])
        self.campaign = np.array([c.campaign for c in contexts])

    # -- helpers

    def candidates(self, roles: tuple[int, ...], portfolio: bool = False) -> np.ndarray:
        world = self.world
        mask = self.stable & ~self.used & np.isin(world.staff_role, roles)
        if portfolio:
            mask &= world.portfolio_hi > world.portfolio_lo
        return np.flatnonzero(mask)

    def take(self, rows: np.ndarray | list[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        self.used[rows] = True
        return rows

    def number(self) -> int:
        self.cases += 1
        return self.cases

    def window(self, shortest: int, longest: int) -> tuple[int, int]:
        """First and last day index of a stretch of ``shortest``–``longest`` days after the
        baseline (shorter when the period is)."""
        room = self.world.days - self.baseline
        length = min(int(self.rng.integers(shortest, longest + 1)), room)
        first = self.baseline + int(self.rng.integers(0, room - length + 1))
        return first, first + length - 1

    def daily(
        self,
        staff: np.ndarray,
        first: int,
        last: int,
        low: int,
        high: int,
        days: np.ndarray | None = None,
    ) -> np.ndarray:
        """Counts per member and day: ``low``–``high`` on the days in ``first..last`` (and in
        ``days`` when given) that the member is at work, 0 elsewhere."""
        count = np.zeros((staff.size, self.world.days), dtype=np.int64)
        span = slice(first, last + 1)
        draws = self.rng.integers(low, high + 1, (staff.size, last - first + 1))
        on = self.at_work[span][:, staff].T
        if days is not None:
            on &= days[span]
        count[:, span] = np.where(on, draws, 0)
        return count

    def same_branch(self, rows: np.ndarray, size: int) -> np.ndarray:
        """``size`` of ``rows`` at one branch, chosen among the branches holding that many
        (the one holding most when none does)."""
        branch = self.world.staff_branch[rows]
        held = np.bincount(branch)
        enough = np.flatnonzero(held >= min(size, held.max()))
        members = rows[branch == self.rng.choice(enough)]
        return self.rng.permutation(members)[:size]

    # -- leave dates

    def departures(self, name: str, count: int) -> list[tuple[np.ndarray, int]]:
        """Staff whose leave date moves into the period: ``(rows, leave day index)`` per case;
        for a takeover the rows are (departing, successor)."""
        world, rng = self.world, self.rng
        made = []
        for _ in range(count):
            if name == "departure_export":
                pool = self.candidates((MANAGER,), portfolio=True)
                if not pool.size:
                    pool = self.candidates((BACK, CREDIT))
                if not pool.size:
                    break
                rows = self.take([rng.choice(pool)])
                leave = int(rng.integers(max(self.baseline + 5, world.days // 2), world.days))
            else:
                pool = self.candidates((MANAGER,), portfolio=True)
                if pool.size < 2 or np.bincount(world.staff_branch[pool]).max() < 2:
                    break
                rows = self.take(self.same_branch(pool, 2))
                # Leaves with days left for the successor.
                leave = int(rng.integers(world.days // 3, max(world.days // 3 + 1, world.days - 3)))
            made.append((rows, leave))
            self.world = self.world.with_staff_dates(
                rows[:1], leave=world.start + datetime.timedelta(days=leave)
            )
        return made

    # -- insiders

    def credit_harvester(self) -> _Case | None:
        rates = np.array(_APPLICATIONS[self.world.kind])
        roles = tuple(int(r) for r in np.flatnonzero(rates > 0))
        pool = self.candidates(roles)
        if not pool.size:
            return None
        # A customer manager leads where the kind has them query credit; up to two colleagues
        # of the same outlet join in (the field notes: three colleagues, 6,000 reports).
        world = self.world
        branch = world.staff_branch[pool]
        held = np.bincount(branch)
        led = np.bincount(branch[world.staff_role[pool] == MANAGER], minlength=held.size)
        outlets = np.flatnonzero((held >= min(3, held.max())) & (led > 0))
        if not outlets.size:
            outlets = np.flatnonzero(held == held.max())
        members = pool[branch == self.rng.choice(outlets)]
        leaders = members[world.staff_role[members] == MANAGER]
        leader = int(self.rng.choice(leaders if leaders.size else members))
        mates = self.rng.permutation(members[members != leader])[:2]
        staff = self.take([leader, *mates])
        first, last = self.window(14, 21)
        mean = self.rng.integers(50, 200, staff.size)
        count = self.daily(staff, first, last, 1, 1)
        noise = self.rng.lognormal(0, 0.35, count.shape)
        count = np.where(count > 0, np.clip(np.round(mean[:, None] * noise), 50, 300), 0)
        return _CreditHarvest(self.seed, self.number(), staff, count.astype(np.int64))

    def slow_harvester(self) -> _Case | None:
        pool = self.candidates((MANAGER, TELLER, CREDIT))
        if not pool.size:
            return None
        staff = self.take([self.rng.choice(pool)])
        first, last = self.window(21, 42)
        return _SlowHarvest(self.seed, self.number(), staff, self.daily(staff, first, last, 20, 50))

    def departure_export(self, departures: list[tuple[np.ndarray, int]]) -> list[_Case]:
        world, rng = self.world, self.rng
        made = []
        for staff, leave in departures:
            row = int(staff[0])
            # The last two to four working days up to the leave date.
            worked = np.flatnonzero(self.at_work[: leave + 1, row])
            days = worked[worked > self.baseline][-int(rng.integers(2, 5)) :]
            count = np.zeros((1, world.days), dtype=np.int64)
            sessions = rng.integers(1, 4, days.size)
            count[0, days] = [int(rng.integers(150, 801, n).sum()) for n in sessions]
            # Portfolio first, then the outlet, then anyone: no customer twice.
            pool = np.concatenate([
                rng.permutation(np.arange(world.portfolio_lo[row], world.portfolio_hi[row])),
                rng.permutation(_outside(world.staff_lo[row], world.staff_hi[row],
                                         world.portfolio_lo[row], world.portfolio_hi[row])),
                rng.permutation(np.unique(_positions_outside(
                    rng, world, row, int(count.sum()) * 2))),
            ])  # fmt: skip
            _, first_seen = np.unique(pool, return_index=True)
            targets = world.customer_order[pool[np.sort(first_seen)]]
            count = np.minimum(count, np.maximum(targets.size - (count.cumsum(1) - count), 0))
            made.append(
                _DepartureExport(self.seed, self.number(), staff, count, targets=(targets,))
            )
        return made

    def offhours_enumerator(self) -> _Case | None:
        world, rng = self.world, self.rng
        pool = self.candidates((BACK, IT))
        if not pool.size:
            return None
        staff = self.take([rng.choice(pool)])
        first, last = self.window(14, 21)
        # Weekend days, and weekday nights, whether or not the person worked that day.
        span = np.arange(first, last + 1)
        nights = rng.random(span.size) < np.where(self.weekend[span], 0.6, 0.4)
        count = np.zeros((1, world.days), dtype=np.int64)
        count[0, span[nights]] = rng.integers(300, 1501, int(nights.sum()))
        # Never more than half the customers, so the walk fits in the customer ids.
        total = count.sum()
        if total > world.customers // 2:
            count = count * (world.customers // 2) // total
        start = int(rng.integers(0, world.customers - count.sum()))
        return _Enumerator(self.seed, self.number(), staff, count, start=start,
                           weekend=self.weekend.copy())  # fmt: skip

    def call_centre_copier(self) -> _Case | None:
        pool = self.candidates((CALL,))
        if not pool.size:
            return None
        staff = self.take([self.rng.choice(pool)])
        first, last = self.window(10, 21)
        return _CallCopier(self.seed, self.number(), staff, self.daily(staff, first, last, 60, 200))

    def colluding_pair(self) -> _Case | None:
        world, rng = self.world, self.rng
        pool = self.candidates((MANAGER, TELLER, CALL, BACK))
        key = world.staff_branch[pool].astype(np.int64) * 8 + world.staff_role[pool]
        held = np.bincount(key)
        if not pool.size or held.max() < 2:
            return None
        # Prefer a pair at an outlet: the classic case of two colleagues at one counter.
        pairs = np.flatnonzero(held >= 2)
        outlet = world.branch_level[pairs // 8] == OUTLET
        group = int(rng.choice(pairs[outlet] if outlet.any() else pairs))
        staff = self.take(rng.permutation(pool[key == group])[:2])
        first, last = self.window(10, 21)
        count = self.daily(staff, first, last, 25, 45)
        # The target list: customers of one province (or outlet) other than the pair's own.
        row = int(staff[0])
        own_lo, own_hi = world.staff_lo[row], world.staff_hi[row]
        level = world.branch_level
        segment = np.flatnonzero(
            np.isin(level, (OUTLET, PROVINCE)) & (world.branch_hi > world.branch_lo)
        )
        whole = (own_lo == 0) & (own_hi == world.customers)
        if not whole:
            apart = (world.branch_hi[segment] <= own_lo) | (world.branch_lo[segment] >= own_hi)
            segment = segment[apart] if apart.any() else segment
        spans = world.branch_hi[segment] - world.branch_lo[segment]
        need = int(count.sum())
        large = segment[spans >= need]
        chosen = int(rng.choice(large)) if large.size else int(segment[np.argmax(spans)])
        lo, hi = int(world.branch_lo[chosen]), int(world.branch_hi[chosen])
        listed = world.customer_order[lo + rng.choice(hi - lo, min(need, hi - lo), replace=False)]
        # Each works through one half; the second half starts where the first ends.
        halves = (listed[: listed.size // 2], listed[listed.size // 2 :])
        for i, half in enumerate(halves):
            done = count[i].cumsum() - count[i]
            count[i] = np.minimum(count[i], np.maximum(half.size - done, 0))
        return _Pair(self.seed, self.number(), staff, count, targets=halves)

    # -- benign

    def on_days(
        self, kind: type[_Case], days: np.ndarray, low: int, high: int, roles: tuple[int, ...]
    ) -> _Case | None:
        """A case of one person of ``roles`` busy ``low``–``high`` customers on the ``days``
        (a mask) that they are at work."""
        pool = self.candidates(roles, portfolio=roles == (MANAGER,))
        pool = pool[self.at_work[days][:, pool].any(axis=0)]  # there on such a day
        if not pool.size:
            return None
        staff = self.take([self.rng.choice(pool)])
        count = self.daily(staff, 0, self.world.days - 1, low, high, days=days)
        return kind(self.seed, self.number(), staff, count)

    def month_end_batch(self) -> _Case | None:
        return self.on_days(_MonthEndBatch, self.month_end, 150, 600, (BACK,))

    def campaign_calls(self) -> _Case | None:
        return self.on_days(_CampaignCalls, self.campaign, 80, 200, (MANAGER,))

    def branch_merger(self) -> _Case | None:
        world, rng = self.world, self.rng
        pool = self.candidates((TELLER, MANAGER, CREDIT))
        pool = pool[world.branch_level[world.staff_branch[pool]] == OUTLET]
        if not pool.size:
            return None
        # A small outlet closes into a neighbour: two to five staff if there is one such.
        held = np.bincount(world.staff_branch[pool])
        small = np.flatnonzero((held >= 2) & (held <= 5))
        closed = int(rng.choice(small if small.size else np.flatnonzero(held == held.max())))
        outlets = np.flatnonzero(
            (world.branch_level == OUTLET) & (world.branch_hi > world.branch_lo)
        )
        outlets = outlets[outlets != closed]
        if not outlets.size:
            return None
        # The nearest outlet of the same province (outlets of a district are neighbours).
        province = world.branches["province"].to_numpy(zero_copy_only=False)
        near = outlets[province[outlets] == province[closed]]
        near = near if near.size else outlets
        other = int(near[np.argmin(np.abs(near - closed))])
        staff = self.take(pool[world.staff_branch[pool] == closed])
        merged = int(rng.integers(self.baseline, max(self.baseline + 1, world.days - 3)))
        count = self.daily(staff, merged, world.days - 1, 1, 1)
        return _Merger(self.seed, self.number(), staff, count, other=other, closed=closed)

    def portfolio_takeover(self, departures: list[tuple[np.ndarray, int]]) -> list[_Case]:
        made = []
        for rows, leave in departures:
            departed, successor = int(rows[0]), int(rows[1])
            staff = np.array([successor])
            count = self.daily(staff, max(0, leave - 2), self.world.days - 1, 1, 1)
            made.append(_Takeover(self.seed, self.number(), staff, count, departed=departed,
                                  leave=leave))  # fmt: skip
        return made


def _outside(lo: int, hi: int, cut_lo: int, cut_hi: int) -> np.ndarray:
    """Positions ``lo..hi`` without ``cut_lo..cut_hi``."""
    positions = np.arange(lo, hi)
    return positions[(positions < cut_lo) | (positions >= cut_hi)]


def _positions_outside(
    rng: np.random.Generator, world: Institution, staff: int, size: int
) -> np.ndarray:
    """``size`` positions of ``customer_order`` drawn outside the staff member's own customers
    (anywhere when they serve everyone)."""
    lo, hi = int(world.staff_lo[staff]), int(world.staff_hi[staff])
    rest = world.customers - (hi - lo)
    if rest <= 0:
        return rng.integers(0, world.customers, size)
    drawn = rng.integers(0, rest, size)
    return drawn + (drawn >= lo) * (hi - lo)


# ---- building a day's events ------------------------------------------------------------------


class _Day:
    """A day's work being added to: fresh reference serials, and the added events."""

    def __init__(self, ctx: DayContext, work: DayWork) -> None:
        self.ctx = ctx
        self.work = work
        self.added: list[Events] = []
        today = int(ctx.reference_number(0))
        numbers = np.concatenate([work.events.number, work.applications.number])
        numbers = numbers[(numbers >= today) & (numbers < today + _SERIALS)]
        # Serials carry on after the day's last one, as a system issuing them would.
        self.next = int(numbers.max()) - today + 1 if numbers.size else 0

    def serials(self, size: int) -> np.ndarray:
        if self.next + size > _SERIALS:
            raise ConfigError("Over 10 million references in one day.")
        numbers = self.ctx.reference_number(self.next + np.arange(size, dtype=np.int64))
        self.next += size
        return numbers

    def stale(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Application ids of the last month that do not exist (reused, mistyped, made up)."""
        dates = np.datetime64(self.ctx.date) - rng.integers(1, 31, size).astype("timedelta64[D]")
        months = dates.astype("datetime64[M]")
        year = months.astype("datetime64[Y]").astype(np.int64) + 1970
        stamp = (year * 100 + months.astype(np.int64) % 12 + 1) * 100
        stamp += (dates - months).astype(np.int64) + 1
        return stamp * _SERIALS + rng.integers(0, max(self.next, 1_000), size)

    def own(self, staff: int, reference: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Numbers, first seconds and customers of the staff member's normal sessions of the
        day with a ``reference`` kind."""
        events = self.work.events
        mask = (events.staff == staff) & (events.label == 0) & (events.reference == reference)
        index = np.flatnonzero(mask)
        index = index[np.argsort(events.seconds[index], kind="stable")]
        # The earliest event of each session: in time order, the first of each number.
        numbers, earliest = np.unique(events.number[index], return_index=True)
        first = index[earliest]
        return numbers, events.seconds[first], events.customer[first]

    def browse(
        self,
        rng: np.random.Generator,
        staff: int,
        customers: np.ndarray,
        label: int,
        *,
        borrow: float,
        extra: float = 0.5,
    ) -> None:
        """Sessions looking ``customers`` up in the role's systems at the role's hours, without
        a reference but for a share ``borrow`` under the reference of one of the person's own
        sessions of the day (a cover that does not match the customer)."""
        role = int(self.ctx.world.staff_role[staff])
        size = customers.size
        numbers, _, _ = self.own(staff, int(_REF_KIND[role]))
        reference = np.full(size, NO_REFERENCE)
        number = self.serials(size)
        if numbers.size:
            borrowed = rng.random(size) < borrow
            reference[borrowed] = _REF_KIND[role]
            number = np.where(borrowed, rng.choice(numbers, size), number)
        starts = _seconds(rng, int(_PROFILE[role]), size)
        self.add(_sessions(rng, staff, customers, starts, _BROWSE[role], reference, number,
                           label, extra))  # fmt: skip

    def add(self, events: Events) -> None:
        if self.ctx.world.kind == "education":  # no loan system at a school
            events.system = np.where(events.system == LOAN, CORE, events.system).astype(np.int8)
        self.added.append(events)

    def result(self) -> DayWork:
        return DayWork(Events.concat([self.work.events, *self.added]), self.work.applications)


def _seconds(rng: np.random.Generator, profile: str | int, size: int) -> np.ndarray:
    """Times of day drawn from an hour profile of :mod:`~leaktrace.synth.access`."""
    index = _PROFILE_NAMES.index(profile) if isinstance(profile, str) else int(profile)
    return _hours(rng, np.full(size, index)) * 3600 + rng.integers(0, 3600, size)


def _run(rng: np.random.Generator, start: int, size: int, low: float, mean: float) -> np.ndarray:
    """Times of ``size`` events one after the other from ``start``, gaps ``low`` + an
    exponential of ``mean`` seconds; moved earlier when they would run past midnight."""
    gaps = (low + rng.exponential(mean, size)).astype(np.int64)
    gaps[0] = 0
    times = start + np.cumsum(gaps)
    if size and times[-1] >= DAY_SECONDS:
        times -= min(int(times[-1]) - DAY_SECONDS + 1, int(times[0]))
    return np.minimum(times, DAY_SECONDS - 1)


def _sessions(
    rng: np.random.Generator,
    staff: int,
    customers: np.ndarray,
    starts: np.ndarray,
    steps: tuple[tuple[int, int, float], ...],
    reference: np.ndarray,
    number: np.ndarray,
    label: int,
    extra: float = 0.5,
) -> Events:
    """One session per customer: 1 + Poisson(``extra``) events of ``steps`` (system, action,
    weight), seconds to minutes apart, as normal work has them."""
    size = 1 + rng.poisson(extra, customers.size)
    session = np.repeat(np.arange(customers.size), size)
    first = np.cumsum(size) - size
    gap = (rng.exponential(45, session.size) + 5).astype(np.int64)
    gap[first] = 0
    elapsed = np.cumsum(gap)
    seconds = starts[session] + elapsed - elapsed[first][session]
    weights = np.array([s[2] for s in steps], dtype=np.float64)
    step = rng.choice(len(steps), session.size, p=weights / weights.sum())
    return Events(
        staff=np.full(session.size, staff),
        customer=customers[session],
        seconds=np.minimum(seconds, DAY_SECONDS - 1),
        system=np.array([s[0] for s in steps])[step],
        action=np.array([s[1] for s in steps])[step],
        reference=np.broadcast_to(reference, customers.size)[session],
        number=np.broadcast_to(number, customers.size)[session],
        label=np.full(session.size, label),
    )


def _one(staff: int, customers: np.ndarray, *rest: int | np.ndarray) -> Events:
    """Events of one staff member, one per customer (the rest as for :func:`make_events`)."""
    return make_events(np.full(np.size(customers), staff), customers, *rest)


# Steps of browsing customers' records, by role (views and queries, as in normal work).
_BROWSE = {
    TELLER: ((CORE, VIEW, 60), (CORE, QUERY, 40)),
    MANAGER: ((CRM, VIEW, 55), (CORE, QUERY, 30), (LOAN, VIEW, 15)),
    CREDIT: ((LOAN, VIEW, 50), (CORE, QUERY, 50)),
    CALL: ((CALL_SYSTEM, VIEW, 70), (CORE, QUERY, 30)),
    BACK: ((CORE, VIEW, 60), (CORE, QUERY, 40)),
    IT: ((CORE, QUERY, 70), (CORE, VIEW, 30)),
}


# ---- the cases --------------------------------------------------------------------------------


@dataclass(eq=False)
class _Case:
    """A planted case: its staff rows and the planned count per member and day (customers
    touched); a scenario callable for :func:`~leaktrace.synth.access.access_days`."""

    seed: int
    number: int
    staff: np.ndarray
    count: np.ndarray  # members × days
    name: ClassVar[str]

    @property
    def label(self) -> int:
        return LABEL_CODES[self.name]

    @property
    def benign(self) -> bool:
        return self.name in BENIGN_SCENARIOS

    def spans(self) -> list[tuple[int, int, int]]:
        """``(staff row, first day index, last day index)`` of each member with planted work."""
        spans = []
        for row, counts in zip(self.staff.tolist(), self.count, strict=True):
            days = np.flatnonzero(counts)
            if days.size:
                spans.append((row, int(days[0]), int(days[-1])))
        return spans

    def __call__(self, ctx: DayContext, work: DayWork) -> DayWork:
        if not self.count[:, ctx.index].any():
            return work
        stream = f"scenario/{self.name}/{self.seed}/{self.number}"
        day = _Day(ctx, work)
        rng = ctx.rng(stream)
        for member, row in enumerate(self.staff.tolist()):
            size = int(self.count[member, ctx.index])
            if size:
                self.plant(day, rng, member, row, size)
        return day.result()

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        raise NotImplementedError


@dataclass(eq=False)
class _CreditHarvest(_Case):
    name: ClassVar[str] = "credit_harvester"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        lo, hi = int(world.staff_lo[row]), int(world.staff_hi[row])
        # Strangers from anywhere, some of the outlet's own customers without an application.
        position = np.where(
            rng.random(size) < 0.7,
            rng.integers(0, world.customers, size),
            lo + (rng.random(size) * (hi - lo)).astype(np.int64),
        )
        customers = world.customer_order[position]
        # No reference, or an application id of another customer: one of the person's own
        # applications of the day, or one that does not exist.
        apps = day.work.applications
        mine = apps.number[apps.staff == row]
        u = rng.random(size)
        reference = np.where(u < 0.55, NO_REFERENCE, LA)
        number = day.stale(rng, size)
        if mine.size:
            reuse = (u >= 0.55) & (u < 0.85)
            number = np.where(reuse, rng.choice(mine, size), number)
        # Bursts of 5–30 queries, 15 s to a couple of minutes apart, in office hours.
        bursts = np.split(np.arange(size), np.cumsum(rng.integers(5, 31, size))[:-1])
        bursts = [b for b in bursts if b.size]
        starts = _seconds(rng, "office", len(bursts))
        seconds = np.concatenate(
            [_run(rng, int(s), b.size, 15, 40) for s, b in zip(starts, bursts, strict=True)]
        )
        day.add(_one(row, customers, seconds, CREDIT_QUERY, CREDIT_REPORT, reference, number,
                     self.label))  # fmt: skip
        # Some are looked up in the core system first, for the ID number the query needs.
        looked = rng.random(size) < 0.4
        before = np.maximum(seconds[looked] - rng.integers(5, 40, int(looked.sum())), 0)
        day.add(_one(row, customers[looked], before, CORE, QUERY, NO_REFERENCE, 0, self.label))


@dataclass(eq=False)
class _SlowHarvest(_Case):
    name: ClassVar[str] = "slow_harvester"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        customers = world.customer_order[_positions_outside(rng, world, row, size)]
        day.browse(rng, row, customers, self.label, borrow=0.2, extra=0.6)


@dataclass(eq=False)
class _Listed(_Case):
    """A case working through planned target lists, one per member, in order."""

    targets: tuple[np.ndarray, ...] = field(default=())

    def todays(self, day: _Day, member: int, size: int) -> np.ndarray:
        done = int(self.count[member, : day.ctx.index].sum())
        return self.targets[member][done : done + size]


@dataclass(eq=False)
class _DepartureExport(_Listed):
    name: ClassVar[str] = "departure_export"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        role = int(world.staff_role[row])
        customers = self.todays(day, member, size)
        # Sessions of 150–800 customers, a second or so each, half of them in the evening.
        cuts = np.cumsum(rng.integers(150, 801, size // 150 + 1))
        sessions = [s for s in np.split(customers, cuts[cuts < size]) if s.size]
        numbers = day.serials(len(sessions))
        for session, number in zip(sessions, numbers, strict=True):
            profile = "evening" if rng.random() < 0.5 else "office"
            seconds = _run(rng, int(_seconds(rng, profile, 1)[0]), session.size, 0, 0.7)
            reference = _REF_KIND[role] if rng.random() < 0.3 else NO_REFERENCE
            day.add(_one(row, session, seconds, _EXPORT_SYSTEM[role], EXPORT, reference, number,
                         self.label))  # fmt: skip


@dataclass(eq=False)
class _Enumerator(_Case):
    name: ClassVar[str] = "offhours_enumerator"
    start: int = 0
    weekend: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        # Customer ids in increasing order from where the last walk stopped, a few skipped
        # (closed accounts, an id mistyped in the script).
        first = self.start + int(self.count[member, : day.ctx.index].sum())
        customers = np.arange(first, first + size)
        customers = customers[rng.random(size) >= 0.08]
        if self.weekend[day.ctx.index]:
            start = int(rng.integers(10 * 3600, 16 * 3600))
        elif rng.random() < 0.5:
            start = int(rng.integers(21 * 3600, 22 * 3600 + 1800))
        else:
            start = int(rng.integers(1800, 3 * 3600))
        seconds = _run(rng, start, customers.size, 2, 3)
        action = np.where(rng.random(customers.size) < 0.7, VIEW, QUERY)
        day.add(_one(row, customers, seconds, CORE, action, NO_REFERENCE, 0, self.label))


@dataclass(eq=False)
class _CallCopier(_Case):
    name: ClassVar[str] = "call_centre_copier"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        tickets, started, callers = day.own(row, TK)
        part = rng.random(size)
        if not tickets.size:
            part[:] = 1.0
        # Other customers opened during a call, under its ticket.
        during = part < 0.5
        n = int(during.sum())
        if n:
            call = rng.integers(0, tickets.size, n)
            seconds = np.minimum(started[call] + rng.integers(20, 300, n), DAY_SECONDS - 1)
            day.add(_one(row, rng.integers(0, world.customers, n), seconds, CALL_SYSTEM, VIEW,
                         TK, tickets[call], self.label))  # fmt: skip
        # The day's callers opened again after the call, with no ticket: copying the number.
        again = (part >= 0.5) & (part < 0.75)
        n = int(again.sum())
        if n:
            call = rng.integers(0, tickets.size, n)
            seconds = np.minimum(started[call] + rng.integers(60, 3600, n), DAY_SECONDS - 1)
            day.add(_one(row, callers[call], seconds, CALL_SYSTEM, VIEW, NO_REFERENCE, 0,
                         self.label))  # fmt: skip
        # Strangers with no ticket at all.
        n = int((part >= 0.75).sum())
        if n:
            day.add(_one(row, rng.integers(0, world.customers, n), _seconds(rng, "call", n),
                         CALL_SYSTEM, VIEW, NO_REFERENCE, 0, self.label))  # fmt: skip


@dataclass(eq=False)
class _Pair(_Listed):
    name: ClassVar[str] = "colluding_pair"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        day.browse(rng, row, self.todays(day, member, size), self.label, borrow=0.15)


@dataclass(eq=False)
class _MonthEndBatch(_Case):
    name: ClassVar[str] = "month_end_batch"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        lo, hi = int(world.staff_lo[row]), int(world.staff_hi[row])
        size = min(size, hi - lo)
        picked = lo + rng.choice(hi - lo, size, replace=False)
        customers = np.sort(world.customer_order[picked])  # the batch comes in id order
        number = np.repeat(day.serials(-(-size // 50)), 50)[:size]  # a work order per 50
        viewed = _run(rng, int(rng.integers(9 * 3600, 10 * 3600 + 1800)), size, 10, 20)
        updated = np.minimum(viewed + rng.integers(3, 10, size), DAY_SECONDS - 1)
        for seconds, action in ((viewed, VIEW), (updated, UPDATE)):
            day.add(_one(row, customers, seconds, CORE, action, WO, number, self.label))


@dataclass(eq=False)
class _CampaignCalls(_Case):
    name: ClassVar[str] = "campaign_calls"

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        pool = np.concatenate([
            rng.permutation(np.arange(world.portfolio_lo[row], world.portfolio_hi[row])),
            rng.permutation(_outside(world.staff_lo[row], world.staff_hi[row],
                                     world.portfolio_lo[row], world.portfolio_hi[row])),
        ])[:size]  # fmt: skip
        customers = world.customer_order[pool]
        number = day.serials(customers.size)  # a contact record per customer
        viewed = _run(rng, int(rng.integers(8 * 3600 + 1800, 9 * 3600 + 1800)), customers.size,
                      30, 90)  # fmt: skip
        updated = np.minimum(viewed + rng.integers(20, 120, customers.size), DAY_SECONDS - 1)
        for seconds, action in ((viewed, VIEW), (updated, UPDATE)):
            day.add(_one(row, customers, seconds, CRM, action, CT, number, self.label))


@dataclass(eq=False)
class _Merger(_Case):
    name: ClassVar[str] = "branch_merger"
    other: int = 0
    closed: int = 0

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        lo, hi = int(world.branch_lo[self.other]), int(world.branch_hi[self.other])
        events = day.work.events
        # Copies: the day's normal work is changed, not the arrays it was drawn into.
        events.customer, events.label = events.customer.copy(), events.label.copy()
        mine = (events.staff == row) & (events.label == 0) & (events.reference != LA)
        # Half the sessions on the closed outlet's customers now serve the other outlet's.
        own = mine & (world.customer_branch[events.customer] == self.closed)
        sessions, which = np.unique(events.number[own], return_inverse=True)
        moved = rng.random(sessions.size) < 0.5
        served = world.customer_order[lo + rng.integers(0, hi - lo, sessions.size)]
        index = np.flatnonzero(own)[moved[which]]
        events.customer[index] = served[which[moved[which]]]
        events.label[index] = self.label
        # And 30% more sessions, copies of the day's others with the other outlet's customers.
        sessions, which = np.unique(events.number[mine], return_inverse=True)
        copied = rng.random(sessions.size) < 0.3
        if not copied.any():
            return
        keep = np.flatnonzero(mine)[copied[which]]
        extra = events.take(keep)
        old, inverse = np.unique(extra.number, return_inverse=True)
        new = day.serials(old.size)
        profile = int(_PROFILE[int(world.staff_role[row])])
        began = np.full(old.size, DAY_SECONDS, dtype=np.int64)
        np.minimum.at(began, inverse, extra.seconds)
        shift = _seconds(rng, profile, old.size) - began
        extra.number = new[inverse]
        extra.seconds = np.clip(extra.seconds + shift[inverse], 0, DAY_SECONDS - 1).astype(np.int32)
        extra.customer = world.customer_order[lo + rng.integers(0, hi - lo, old.size)][inverse]
        extra.label = np.full(len(extra), self.label, dtype=np.int16)
        day.add(extra)


@dataclass(eq=False)
class _Takeover(_Case):
    name: ClassVar[str] = "portfolio_takeover"
    departed: int = 0
    leave: int = 0

    def spans(self) -> list[tuple[int, int, int]]:
        # The departed manager has no planted events: the row says "leaving, and must not be
        # flagged for it" over the last days.
        return [*super().spans(), (self.departed, max(0, self.leave - _DEPARTED_DAYS + 1),
                                   self.leave)]  # fmt: skip

    def plant(self, day: _Day, rng: np.random.Generator, member: int, row: int, size: int) -> None:
        world = day.ctx.world
        lo, hi = int(world.portfolio_lo[self.departed]), int(world.portfolio_hi[self.departed])
        index = day.ctx.index
        handover = int(np.count_nonzero(self.count[member, max(0, self.leave - 2) : index]))
        if handover < 3:  # the first three days: the portfolio reviewed under a work order
            n = min(hi - lo, int(rng.integers(40, 121)))
            customers = world.customer_order[lo + rng.choice(hi - lo, n, replace=False)]
            seconds = _run(rng, int(rng.integers(9 * 3600, 11 * 3600)), n, 20, 50)
            day.add(_one(row, customers, seconds, CRM, VIEW, WO, day.serials(1)[0], self.label))
        if index > self.leave:  # then the departed manager's daily portfolio work
            n = int(rng.poisson(16 * world.staff_pace[self.departed]))
            customers = world.customer_order[lo + rng.integers(0, hi - lo, n)]
            reference = np.where(rng.random(n) < 0.85, CT, NO_REFERENCE)
            starts = _seconds(rng, "office", n)
            day.add(_sessions(rng, row, customers, starts, _BROWSE[MANAGER], reference,
                              day.serials(n), self.label, extra=1.0))  # fmt: skip


__all__ = [
    "BENIGN_SCENARIOS",
    "DEADLINE_DAYS",
    "INSIDER_SCENARIOS",
    "LABEL_CODES",
    "MIN_DAYS",
    "SCENARIOS",
    "TRUTH_SCHEMA",
    "Plan",
    "default_count",
    "plant",
]
