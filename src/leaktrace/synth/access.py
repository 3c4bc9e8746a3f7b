"""Synthetic access logs (访问日志) and loan applications of an :class:`Institution`.

Each day of the period is drawn on its own, from random streams seeded by ``(seed, kind, day,
purpose)``, so the same seed gives the same events whatever the batch size, and memory is
bounded by one day's events (a few hundred bytes each at the peak of drawing them) plus the
output batches, whatever the length of the period.

Normal work, per staff member and day:

- attendance: employed that day (join and leave dates), at work on most weekdays; outlets open
  on weekends with a rota of tellers, the call centre works every day in shifts, others come in
  on a weekend now and then;
- sessions: a Poisson number per working day by role, personal pace (about ±30%), month-end
  (back office ×1.8, tellers ×1.4, more at quarter-end) and campaign days (about one weekday in
  twelve: customer managers ×2, call centre ×1.6);
- a session serves one customer with one business reference: a teller's transaction serial
  (``TX``), a call-centre ticket (``TK``), a back-office or post-loan work order (``WO``), an IT
  change ticket (``CH``), a customer manager's contact record (``CT``); most sessions have one,
  some none. Its events (view, query, update, print …) follow seconds to minutes apart in the
  role's systems. A few sessions are list exports: one reference, many customers;
- customers: tellers and credit officers serve their outlet's customers (85–90%), customer
  managers their portfolio, back office their province, the call centre and IT anyone;
- times: business hours of the role (counters 9–17, offices 8:30–18:00 with a lunch dip, the
  call centre 8–22 and a thin night shift, IT with night maintenance), with some overtime
  evenings;
- loan applications (``LA`` + date + serial), taken by credit officers (and customer managers
  for their portfolio): each is entered in the loan system and its applicant's credit report is
  queried minutes later under the application's id, sometimes twice. Every legitimate credit
  query has an application, of the same customer, taken earlier that day by the same person.

Hooks for planted scenarios (issue 6): :func:`access_days` and :func:`access_batches` take
``scenarios``, callables ``(DayContext, DayWork) -> DayWork`` run on each day's normal work
before it is sorted and written. A scenario adds, changes or drops :class:`Events` and
:class:`Applications` (numeric arrays: staff and customer row numbers, seconds of the day, codes
of ``SYSTEMS``, ``ACTIONS`` and ``REFERENCES``) and marks what it plants with a ``label``
(0 is normal work); ``labels=True`` writes that column for ground truth. :func:`make_events`
builds events; :meth:`DayContext.rng` gives a scenario its own reproducible stream;
:class:`~leaktrace.synth.institution.Institution` gives staff, branches, portfolios and
customer ranges, and :meth:`~leaktrace.synth.institution.Institution.with_staff_dates` moves a
join or leave date (the pre-departure exporter) before the logs are drawn.

>>> from leaktrace.synth.institution import institution
>>> world = institution(1_000, staff=30, seed=2, days=3)
>>> log = access_log(world)
>>> log.column_names[:4]
['event_id', 'time', 'staff_id', 'branch_code']
>>> access_log(world, batch_rows=7).equals(log)
True
"""

from __future__ import annotations

import calendar
import datetime
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import pyarrow as pa

from leaktrace.exceptions import ConfigError
from leaktrace.synth.customer import (
    KINDS,
    _ascii_digits,
    _fixed_strings,
    _money,
)
from leaktrace.synth.institution import MANAGER, ROLES, Institution, customer_ids

SYSTEMS = ("core", "loan", "credit_query", "crm", "call_centre")
SYSTEM_LABELS = {
    "core": "核心业务系统",
    "loan": "信贷管理系统",
    "credit_query": "征信查询系统",
    "crm": "客户关系管理系统",
    "call_centre": "呼叫中心系统",
}
ACTIONS = ("view", "query", "credit_report", "export", "print", "update")
# Business reference kinds: index 0 is "none"; the others are the prefixes of the references.
REFERENCES = ("", "TX", "LA", "TK", "WO", "CH", "CT")
REFERENCE_LABELS = {
    "TX": "交易流水号",
    "LA": "贷款申请号",
    "TK": "来电工单号",
    "WO": "后台工单号",
    "CH": "变更单号",
    "CT": "客户接触记录号",
}
PRODUCTS = ("个人消费贷款", "个人住房贷款", "个人经营贷款", "汽车贷款", "信用卡")
CORE, LOAN, CREDIT_QUERY, CRM, CALL_SYSTEM = range(len(SYSTEMS))
VIEW, QUERY, CREDIT_REPORT, EXPORT, PRINT, UPDATE = range(len(ACTIONS))
NO_REFERENCE, TX, LA, TK, WO, CH, CT = range(len(REFERENCES))
DAY_SECONDS = 86_400

ACCESS_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("time", pa.timestamp("s")),
        ("staff_id", pa.string()),
        ("branch_code", pa.string()),
        ("terminal", pa.string()),
        ("ip", pa.string()),
        ("system", pa.string()),
        ("action", pa.string()),
        ("customer_id", pa.string()),
        ("business_ref", pa.string()),
    ]
)
APPLICATION_SCHEMA = pa.schema(
    [
        ("application_id", pa.string()),
        ("customer_id", pa.string()),
        ("staff_id", pa.string()),
        ("branch_code", pa.string()),
        ("submitted", pa.timestamp("s")),
        ("product", pa.string()),
        ("amount", pa.decimal128(15, 2)),
    ]
)
LABEL_FIELD = pa.field("label", pa.int16())

# ---- workloads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Workload:
    sessions: float  # per working day at pace 1
    extra: float  # mean further events in a session
    portfolio: float  # share of sessions on the manager's portfolio
    own: float  # share on the staff member's own customers (outlet, province)
    steps: tuple[tuple[int, int, float], ...]  # (system, action, weight)
    reference: tuple[int, float]  # kind, share of sessions carrying one
    export: tuple[float, int, int, int]  # share of sessions, fewest, most customers, system
    hours: str
    weekday: float  # attendance
    weekend: float
    overtime: float  # share of working days with an evening
    month_end: float
    campaign: float


_WORKLOADS = (
    _Workload(  # teller
        45, 1.2, 0.0, 0.85,
        ((CORE, VIEW, 40), (CORE, QUERY, 25), (CORE, UPDATE, 20), (CORE, PRINT, 15)),
        (TX, 0.92), (0.0, 1, 1, CORE), "counter", 0.93, 0.30, 0.03, 1.4, 1.2,
    ),
    _Workload(  # customer manager
        20, 1.0, 0.80, 0.15,
        ((CRM, VIEW, 35), (CORE, QUERY, 20), (CRM, UPDATE, 20), (LOAN, VIEW, 10),
         (CORE, VIEW, 10), (CORE, PRINT, 5)),
        (CT, 0.70), (0.005, 5, 30, CRM), "office", 0.93, 0.12, 0.10, 1.3, 2.0,
    ),
    _Workload(  # credit officer
        10, 1.5, 0.0, 0.90,
        ((LOAN, VIEW, 40), (LOAN, UPDATE, 30), (CORE, QUERY, 20), (LOAN, PRINT, 10)),
        (WO, 0.75), (0.0, 1, 1, LOAN), "office", 0.93, 0.05, 0.08, 1.2, 1.0,
    ),
    _Workload(  # call centre
        50, 1.0, 0.0, 1.0,
        ((CALL_SYSTEM, VIEW, 45), (CALL_SYSTEM, UPDATE, 25), (CORE, QUERY, 20), (CRM, VIEW, 10)),
        (TK, 0.97), (0.0, 1, 1, CALL_SYSTEM), "call", 0.75, 0.70, 0.0, 1.2, 1.6,
    ),
    _Workload(  # back office
        25, 0.8, 0.0, 0.95,
        ((CORE, VIEW, 30), (CORE, UPDATE, 35), (CORE, QUERY, 20), (CORE, PRINT, 15)),
        (WO, 0.88), (0.004, 20, 100, CORE), "office", 0.93, 0.06, 0.10, 1.8, 1.0,
    ),
    _Workload(  # IT
        1.5, 0.5, 0.0, 1.0,
        ((CORE, QUERY, 60), (CORE, VIEW, 30), (CORE, UPDATE, 10)),
        (CH, 0.90), (0.02, 10, 50, CORE), "it", 0.93, 0.08, 0.15, 1.0, 1.0,
    ),
)  # fmt: skip
assert len(_WORKLOADS) == len(ROLES)
# Loan applications taken per working day, by kind and role (ROLES order).
_APPLICATIONS = {
    "bank": (0.0, 0.5, 3.0, 0.0, 0.0, 0.0),
    "insurer": (0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
    "lender": (0.0, 1.0, 6.0, 0.0, 0.0, 0.0),
    "education": (0.0,) * 6,
}
_PRODUCT_WEIGHTS = {  # (weights over PRODUCTS, median amount in yuan)
    "bank": ((40, 15, 15, 10, 20), (80_000, 900_000, 300_000, 120_000, 30_000)),
    "insurer": ((100, 0, 0, 0, 0), (50_000, 1, 1, 1, 1)),
    "lender": ((85, 0, 5, 10, 0), (20_000, 1, 100_000, 60_000, 1)),
    "education": ((100, 0, 0, 0, 0), (20_000, 1, 1, 1, 1)),
}
_PROFILES = {  # relative activity by hour of the day
    "counter": {8: 0.3, 9: 1, 10: 1.1, 11: 1, 12: 0.7, 13: 0.8, 14: 1, 15: 1, 16: 0.9, 17: 0.15},
    "office": {7: 0.05, 8: 0.5, 9: 1, 10: 1.1, 11: 1, 12: 0.35, 13: 0.6, 14: 1, 15: 1.05, 16: 1,
               17: 0.55, 18: 0.1, 19: 0.03, 20: 0.015},
    "call": {0: 0.02, 1: 0.01, 2: 0.01, 3: 0.01, 4: 0.01, 5: 0.02, 6: 0.05, 7: 0.15, 8: 0.6,
             9: 1, 10: 1, 11: 1, 12: 0.7, 13: 0.8, 14: 1, 15: 1, 16: 1, 17: 0.9, 18: 0.7,
             19: 0.7, 20: 0.55, 21: 0.4, 22: 0.2, 23: 0.06},
    "it": {0: 0.04, 1: 0.04, 2: 0.03, 8: 0.5, 9: 1, 10: 1.1, 11: 1, 12: 0.35, 13: 0.6, 14: 1,
           15: 1.05, 16: 1, 17: 0.55, 18: 0.1, 22: 0.06, 23: 0.06},
    "evening": {17: 0.3, 18: 1, 19: 0.9, 20: 0.6, 21: 0.35, 22: 0.1},
}  # fmt: skip
_PROFILE_NAMES = tuple(_PROFILES)
_EVENING = _PROFILE_NAMES.index("evening")
_QUARTER_END = 1.2
# Public holidays on fixed dates (元旦, 劳动节, 国庆节), worked like weekends; the lunar ones
# (春节, 清明, 端午, 中秋) move every year and are left out.
_HOLIDAYS = frozenset({(1, 1), *((5, d) for d in range(1, 6)), *((10, d) for d in range(1, 8))})
_CAMPAIGN_SHARE = 1 / 12
_WEEKEND_PACE = 0.7


def _column(name: str, dtype: type = np.float64) -> np.ndarray:
    return np.array([getattr(w, name) for w in _WORKLOADS], dtype=dtype)


_SESSIONS = _column("sessions")
_EXTRA = _column("extra")
_PORTFOLIO = _column("portfolio")
_OWN = _column("own")
_REF_KIND = np.array([w.reference[0] for w in _WORKLOADS], dtype=np.int8)
_REF_SHARE = np.array([w.reference[1] for w in _WORKLOADS])
_EXPORT_SHARE = np.array([w.export[0] for w in _WORKLOADS])
_EXPORT_MIN = np.array([w.export[1] for w in _WORKLOADS])
_EXPORT_MAX = np.array([w.export[2] for w in _WORKLOADS])
_EXPORT_SYSTEM = np.array([w.export[3] for w in _WORKLOADS], dtype=np.int8)
_PROFILE = np.array([_PROFILE_NAMES.index(w.hours) for w in _WORKLOADS])
_WEEKDAY = _column("weekday")
_WEEKEND = _column("weekend")
_OVERTIME = _column("overtime")
_MONTH_END = _column("month_end")
_CAMPAIGN = _column("campaign")
_MEAN_SIZE = _EXPORT_SHARE * (_EXPORT_MIN + _EXPORT_MAX) / 2 + (1 - _EXPORT_SHARE) * (1 + _EXTRA)
_MAX_SESSIONS = 5_000_000  # a day; sessions and applications share the 10⁷ reference serials
_REQUERY = 0.05  # applications whose applicant's credit report is queried twice
_MEAN_APPLICATION_EVENTS = 2 + _REQUERY


def _cumulative(tables: Sequence[Sequence[float]]) -> np.ndarray:
    """Rows of weights as one ascending array: row r's cumulative shares shifted by r, so that
    ``searchsorted(table, r + u)`` draws from row r for a uniform u (one call for all rows)."""
    rows = []
    for r, weights in enumerate(tables):
        w = np.asarray(weights, dtype=np.float64)
        rows.append(r + np.cumsum(w) / w.sum())
    return np.concatenate(rows)


_HOUR_TABLE = _cumulative(
    [[_PROFILES[name].get(hour, 0.0) for hour in range(24)] for name in _PROFILE_NAMES]
)
_STEP_TABLE = _cumulative([[s[2] for s in w.steps] for w in _WORKLOADS])
_STEP_OFFSET = np.cumsum([0] + [len(w.steps) for w in _WORKLOADS])
_STEP_SYSTEM = np.array([s[0] for w in _WORKLOADS for s in w.steps], dtype=np.int8)
_STEP_ACTION = np.array([s[1] for w in _WORKLOADS for s in w.steps], dtype=np.int8)


def _draw_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw per element from ``row``'s weights in a :func:`_cumulative` table, as an index
    into the flattened rows."""
    u = rng.random(row.size)
    index = np.searchsorted(table, row + u, side="right")
    # A draw falling exactly on a row's end belongs to that row, not the next one.
    return np.minimum(index, table.size - 1)


def _hours(rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
    return _draw_rows(rng, _HOUR_TABLE, profile) - profile * 24


# ---- the day's work as numbers ---------------------------------------------------------------


@dataclass
class Events:
    """Access events as parallel arrays (one element per event).

    ``staff`` and ``customer`` are row numbers of the staff table and of the customer table,
    ``seconds`` the time of day (0–86,399), ``system``/``action``/``reference`` indices into
    ``SYSTEMS``/``ACTIONS``/``REFERENCES`` (reference 0: none), ``number`` the reference's
    digits (date × 10⁷ + serial, see :meth:`DayContext.reference_number`), ``label`` 0 for
    normal work and a scenario's own code for what it planted.
    """

    staff: np.ndarray
    customer: np.ndarray
    seconds: np.ndarray
    system: np.ndarray
    action: np.ndarray
    reference: np.ndarray
    number: np.ndarray
    label: np.ndarray

    _DTYPES: ClassVar[dict[str, type]] = {
        "staff": np.int32, "customer": np.int32, "seconds": np.int32, "system": np.int8,
        "action": np.int8, "reference": np.int8, "number": np.int64, "label": np.int16,
    }  # fmt: skip

    def __post_init__(self) -> None:
        for item in fields(self):
            setattr(self, item.name, np.asarray(getattr(self, item.name), self._DTYPES[item.name]))

    def __len__(self) -> int:
        return self.staff.size

    @classmethod
    def empty(cls) -> Events:
        """No events."""
        return cls(*(np.empty(0, dtype=d) for d in cls._DTYPES.values()))

    @classmethod
    def concat(cls, parts: Sequence[Events]) -> Events:
        """The events of ``parts``, one after the other."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index: np.ndarray) -> Events:
        """The events at ``index`` (integers or a boolean mask)."""
        return type(self)(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass
class Applications:
    """Loan applications as parallel arrays: ``number`` the id's digits (date × 10⁷ + serial;
    the id is ``LA`` + those 15 digits), ``customer``/``staff`` row numbers, ``seconds`` the
    time of day it was submitted, ``product`` an index into ``PRODUCTS``, ``amount`` in fen,
    ``label`` as for :class:`Events`."""

    number: np.ndarray
    customer: np.ndarray
    staff: np.ndarray
    seconds: np.ndarray
    product: np.ndarray
    amount: np.ndarray
    label: np.ndarray

    _DTYPES: ClassVar[dict[str, type]] = {
        "number": np.int64, "customer": np.int32, "staff": np.int32, "seconds": np.int32,
        "product": np.int8, "amount": np.int64, "label": np.int16,
    }  # fmt: skip

    def __post_init__(self) -> None:
        for item in fields(self):
            setattr(self, item.name, np.asarray(getattr(self, item.name), self._DTYPES[item.name]))

    def __len__(self) -> int:
        return self.number.size

    @classmethod
    def empty(cls) -> Applications:
        """No applications."""
        return cls(*(np.empty(0, dtype=d) for d in cls._DTYPES.values()))

    @classmethod
    def concat(cls, parts: Sequence[Applications]) -> Applications:
        """The applications of ``parts``, one after the other."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index: np.ndarray) -> Applications:
        """The applications at ``index`` (integers or a boolean mask)."""
        return type(self)(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass
class DayWork:
    """One day's access events and loan applications."""

    events: Events
    applications: Applications = field(default_factory=Applications.empty)


@dataclass(frozen=True, eq=False)
class DayContext:
    """What a day's generator (and a scenario) knows about the day."""

    world: Institution
    day: int  # day number (days since 1970-01-01)
    index: int  # 0 for the first day of the period
    date: datetime.date
    weekend: bool  # a weekend or fixed-date public holiday
    month_end: bool  # the last two days of a month
    quarter_end: bool  # the last two days of March, June, September, December
    campaign: bool  # a marketing campaign day (weekdays only)
    working: np.ndarray  # staff at work today (employed and attending)
    scale: float  # workload multiplier

    def rng(self, stream: str) -> np.random.Generator:
        """A random stream for ``stream`` on this day: scenarios name their own."""
        return _day_rng(self.world, self.day, stream)

    def reference_number(self, serial: np.ndarray | int) -> np.ndarray:
        """Digits of a reference (or application id) issued today with ``serial`` (< 10⁷)."""
        stamp = self.date.year * 10_000 + self.date.month * 100 + self.date.day
        return stamp * 10_000_000 + np.asarray(serial, dtype=np.int64)


Scenario = Callable[[DayContext, DayWork], DayWork]


def _day_rng(world: Institution, day: int, stream: str) -> np.random.Generator:
    entropy = [world.seed, KINDS.index(world.kind), 0xACCE55, day, zlib.crc32(stream.encode())]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _context(world: Institution, index: int, scale: float) -> DayContext:
    day = world.first_day + index
    date = world.start + datetime.timedelta(days=index)
    weekend = date.weekday() >= 5 or (date.month, date.day) in _HOLIDAYS
    month_end = date.day >= calendar.monthrange(date.year, date.month)[1] - 1
    rng = _day_rng(world, day, "attendance")
    campaign = (rng.random() < _CAMPAIGN_SHARE) and not weekend
    role = world.staff_role
    attend = np.where(weekend, _WEEKEND, _WEEKDAY)[role]
    working = world.employed(day) & (rng.random(role.size) < attend)
    return DayContext(
        world=world,
        day=day,
        index=index,
        date=date,
        weekend=weekend,
        month_end=month_end,
        quarter_end=month_end and date.month % 3 == 0,
        campaign=campaign,
        working=working,
        scale=scale,
    )


def _role_factor(ctx: DayContext) -> np.ndarray:
    """Workload factor of each role on the day (month end, quarter end, campaign, weekend)."""
    factor = np.ones(len(ROLES))
    if ctx.month_end:
        factor *= _MONTH_END * (_QUARTER_END if ctx.quarter_end else 1.0)
    if ctx.campaign:
        factor *= _CAMPAIGN
    if ctx.weekend:
        factor *= _WEEKEND_PACE
    return factor * ctx.scale


def make_events(
    staff: np.ndarray,
    customer: np.ndarray,
    seconds: np.ndarray,
    system: int | np.ndarray,
    action: int | np.ndarray,
    reference: int | np.ndarray = NO_REFERENCE,
    number: int | np.ndarray = 0,
    label: int = 0,
) -> Events:
    """Events for a scenario to add to a day's work: arrays of staff rows, customer rows and
    seconds of the day; the rest scalars or arrays (codes of ``SYSTEMS``, ``ACTIONS``,
    ``REFERENCES``).

    >>> make_events([3, 3], [10, 11], [36_000, 36_060], CREDIT_QUERY, CREDIT_REPORT, label=1).action
    array([2, 2], dtype=int8)
    """
    size = np.asarray(staff).size

    def full(value: int | np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(value), size)

    return Events(staff, customer, seconds, full(system), full(action), full(reference),
                  full(number), full(label))  # fmt: skip


def _normal_work(ctx: DayContext) -> DayWork:
    """The day's normal work, unsorted."""
    world = ctx.world
    rng = ctx.rng("sessions")
    working = np.flatnonzero(ctx.working)
    role = world.staff_role[working]
    factor = _role_factor(ctx)
    count = rng.poisson(_SESSIONS[role] * factor[role] * world.staff_pace[working])
    staff = np.repeat(working, count).astype(np.int32)
    sessions = staff.size
    if sessions > _MAX_SESSIONS:  # references number sessions with seven digits a day
        raise ConfigError("Over 5 million sessions in one day: spread the events over more days.")
    srole = world.staff_role[staff]
    export = rng.random(sessions) < _EXPORT_SHARE[srole]
    size = np.where(
        export,
        rng.integers(_EXPORT_MIN[srole], _EXPORT_MAX[srole] + 1),
        1 + rng.poisson(_EXTRA[srole]),
    )
    evening = np.repeat(rng.random(working.size) < _OVERTIME[role], count)
    evening &= rng.random(sessions) < 0.25
    profile = np.where(evening, _EVENING, _PROFILE[srole])
    start = _hours(rng, profile) * 3600 + rng.integers(0, 3600, sessions)

    # Whose customers: the portfolio, the staff member's own (outlet or province), or anyone.
    u = rng.random(sessions)
    plo, phi = world.portfolio_lo[staff], world.portfolio_hi[staff]
    olo, ohi = world.staff_lo[staff], world.staff_hi[staff]
    portfolio = (u < _PORTFOLIO[srole]) & (phi > plo)
    own = ~portfolio & (u < _PORTFOLIO[srole] + _OWN[srole]) & (ohi > olo)
    lo = np.where(portfolio, plo, np.where(own, olo, 0))
    span = np.where(portfolio, phi, np.where(own, ohi, world.customers)) - lo

    reference = np.where(
        export | (rng.random(sessions) < _REF_SHARE[srole]), _REF_KIND[srole], NO_REFERENCE
    )
    number = ctx.reference_number(np.arange(sessions))

    # Sessions become events: one customer each (a list export draws one per event), steps a
    # few seconds to minutes apart.
    total = int(size.sum())
    session = np.repeat(np.arange(sessions), size)
    first = np.cumsum(size) - size
    listed = export[session]
    gap = np.where(listed, rng.integers(0, 2, total), rng.exponential(45, total) + 5)
    gap = gap.astype(np.int64)
    gap[first] = 0
    elapsed = np.cumsum(gap)
    seconds = start[session] + elapsed - elapsed[first][session]
    position = lo[session] + (rng.random(total) * span[session]).astype(np.int64)
    position = np.where(listed, position, position[first][session])
    erole = srole[session]
    step = _draw_rows(rng, _STEP_TABLE, erole.astype(np.int64))
    system = np.where(listed, _EXPORT_SYSTEM[erole], _STEP_SYSTEM[step])
    action = np.where(listed, EXPORT, _STEP_ACTION[step])
    if world.kind == "education":  # no loans: its managers look students up in the core system
        system = np.where(system == LOAN, CORE, system)
    normal = Events(
        staff=staff[session],
        customer=world.customer_order[position],
        seconds=np.minimum(seconds, DAY_SECONDS - 1),
        system=system,
        action=action,
        reference=reference[session],
        number=number[session],
        label=np.zeros(total, dtype=np.int16),
    )
    applications, credit = _applications(ctx, working, role, factor, sessions)
    return DayWork(Events.concat([normal, credit]), applications)


def _applications(
    ctx: DayContext, working: np.ndarray, role: np.ndarray, factor: np.ndarray, serial0: int
) -> tuple[Applications, Events]:
    """Loan applications taken today and their events: entered in the loan system, then the
    applicant's credit report queried under the application's id."""
    world = ctx.world
    rng = ctx.rng("applications")
    rate = np.array(_APPLICATIONS[world.kind])[role]
    # Campaigns bring applications to managers; month ends do not.
    pace = world.staff_pace[working] * ctx.scale * (_WEEKEND_PACE if ctx.weekend else 1.0)
    pace = pace * np.where(ctx.campaign, np.sqrt(_CAMPAIGN[role]), 1.0)
    count = rng.poisson(rate * pace)
    staff = np.repeat(working, count).astype(np.int32)
    size = staff.size
    plo, phi = world.portfolio_lo[staff], world.portfolio_hi[staff]
    olo, ohi = world.staff_lo[staff], world.staff_hi[staff]
    portfolio = (world.staff_role[staff] == MANAGER) & (phi > plo)
    own = ~portfolio & (ohi > olo) & (rng.random(size) < 0.95)
    lo = np.where(portfolio, plo, np.where(own, olo, 0))
    span = np.where(portfolio, phi, np.where(own, ohi, world.customers)) - lo
    customer = world.customer_order[lo + (rng.random(size) * span).astype(np.int64)]
    profile = np.full(size, _PROFILE_NAMES.index("office"))
    submitted = _hours(rng, profile) * 3600 + rng.integers(0, 3600, size)
    weights, medians = _PRODUCT_WEIGHTS[world.kind]
    product = np.searchsorted(np.cumsum(weights) / sum(weights), rng.random(size), side="right")
    product = np.minimum(product, len(PRODUCTS) - 1)
    amount = np.exp(rng.normal(np.log(np.array(medians, dtype=np.float64)[product]), 0.6))
    amount = np.maximum(np.round(amount, -3), 1000).astype(np.int64) * 100
    number = ctx.reference_number(serial0 + np.arange(size))
    applications = Applications(
        number, customer, staff, submitted, product, amount, np.zeros(size, np.int16)
    )
    queried = submitted + rng.integers(120, 5400, size)
    again = rng.random(size) < _REQUERY
    requeried = (queried + rng.integers(600, 7200, size))[again]
    entries = np.concatenate([np.arange(size)] * 2 + [np.flatnonzero(again)])
    events = Events(
        staff=staff[entries],
        customer=customer[entries],
        seconds=np.minimum(np.concatenate([submitted, queried, requeried]), DAY_SECONDS - 1),
        system=np.repeat([LOAN, CREDIT_QUERY, CREDIT_QUERY], [size, size, again.sum()]),
        action=np.repeat([UPDATE, CREDIT_REPORT, CREDIT_REPORT], [size, size, again.sum()]),
        reference=np.full(entries.size, LA),
        number=number[entries],
        label=np.zeros(entries.size, np.int16),
    )
    return applications, events


def _check(world: Institution, work: DayWork) -> None:
    """A scenario's output must still fit the institution."""
    events, apps = work.events, work.applications
    staff_count = world.staff_role.size
    for name, values, high in (
        ("staff", np.concatenate([events.staff, apps.staff]), staff_count),
        ("customer", np.concatenate([events.customer, apps.customer]), world.customers),
        ("seconds", np.concatenate([events.seconds, apps.seconds]), DAY_SECONDS),
        ("system", events.system, len(SYSTEMS)),
        ("action", events.action, len(ACTIONS)),
        ("reference", events.reference, len(REFERENCES)),
    ):
        if values.size and (values.min() < 0 or values.max() >= high):
            raise ConfigError(f"A scenario produced an out-of-range {name}.")


def access_days(
    world: Institution,
    *,
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
) -> Iterator[tuple[DayContext, DayWork]]:
    """Each day of the period with its work (events and applications sorted by time).

    ``scale`` multiplies every workload (:func:`expected_events` finds the one for a target
    number of events); ``scenarios`` are applied in order to each day's normal work.
    """
    if not scale > 0:
        raise ConfigError("The workload scale must be positive.")
    for index in range(world.days):
        ctx = _context(world, index, scale)
        work = _normal_work(ctx)
        for scenario in scenarios:
            work = scenario(ctx, work)
            _check(world, work)
        events = work.events.take(np.argsort(work.events.seconds, kind="stable"))
        apps = work.applications.take(np.argsort(work.applications.seconds, kind="stable"))
        yield ctx, DayWork(events, apps)


def expected_events(world: Institution, scale: float = 1.0) -> float:
    """The expected number of access events of the period (normal work, no scenarios)."""
    total = 0.0
    role = world.staff_role
    apps = np.array(_APPLICATIONS[world.kind])[role]
    for index in range(world.days):
        ctx = _context(world, index, scale)
        attend = np.where(ctx.weekend, _WEEKEND, _WEEKDAY)[role] * world.employed(ctx.day)
        factor = _role_factor(ctx)[role]
        sessions = _SESSIONS[role] * factor * _MEAN_SIZE[role]
        weekend = _WEEKEND_PACE if ctx.weekend else 1.0
        campaign = np.sqrt(_CAMPAIGN[role]) if ctx.campaign else 1.0
        taken = apps * scale * weekend * campaign * _MEAN_APPLICATION_EVENTS
        total += float(np.sum(attend * world.staff_pace * (sessions + taken)))
    return total


# ---- to Arrow -------------------------------------------------------------------------------


def _references(prefix: np.ndarray, number: np.ndarray) -> pa.Array:
    """``TX2025010300000123``-style strings; null where ``prefix`` is 0."""
    has = prefix > 0
    codes = np.frombuffer("".join(r or "  " for r in REFERENCES).encode(), np.uint8)
    matrix = np.concatenate([codes.reshape(-1, 2)[prefix], _ascii_digits(number, 15)], axis=1)
    strings = _fixed_strings(matrix)
    if has.all():
        return strings
    # Null where there is no reference: a validity bitmap over the same fixed-width buffers.
    bitmap = pa.py_buffer(np.packbits(has, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), has.size, [bitmap, *strings.buffers()[1:]])


def _stamps(ctx: DayContext, seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970-01-01 of times of the day."""
    return ctx.day * np.int64(DAY_SECONDS) + seconds.astype(np.int64)


def _times(stamps: np.ndarray) -> pa.Array:
    return pa.array(stamps, pa.int64()).cast(pa.timestamp("s"))


class _StaffColumns:
    """Per-staff string columns, taken per event."""

    def __init__(self, world: Institution) -> None:
        staff = world.staff
        self.staff_id = staff["staff_id"].combine_chunks()
        self.branch_code = staff["branch_code"].combine_chunks()
        self.terminal = staff["terminal"].combine_chunks()
        self.ip = staff["ip"].combine_chunks()
        self.systems = pa.array(SYSTEMS)
        self.actions = pa.array(ACTIONS)


def _event_batch(
    columns: _StaffColumns, events: Events, stamps: np.ndarray, first_id: int, labels: bool
) -> pa.RecordBatch:
    staff = pa.array(events.staff)
    arrays = [
        pa.array(np.arange(first_id, first_id + len(events), dtype=np.int64)),
        _times(stamps),
        columns.staff_id.take(staff),
        columns.branch_code.take(staff),
        columns.terminal.take(staff),
        columns.ip.take(staff),
        columns.systems.take(pa.array(events.system)),
        columns.actions.take(pa.array(events.action)),
        customer_ids(events.customer),
        _references(events.reference, events.number),
    ]
    schema = ACCESS_SCHEMA
    if labels:
        arrays.append(pa.array(events.label))
        schema = schema.append(LABEL_FIELD)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _application_batch(
    ctx: DayContext, columns: _StaffColumns, apps: Applications, labels: bool
) -> pa.RecordBatch:
    staff = pa.array(apps.staff)
    arrays = [
        _references(np.full(len(apps), LA, np.int8), apps.number),
        customer_ids(apps.customer),
        columns.staff_id.take(staff),
        columns.branch_code.take(staff),
        _times(_stamps(ctx, apps.seconds)),
        pa.array(PRODUCTS).take(pa.array(apps.product)),
        _money(apps.amount),
    ]
    schema = APPLICATION_SCHEMA
    if labels:
        arrays.append(pa.array(apps.label))
        schema = schema.append(LABEL_FIELD)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def activity_batches(
    world: Institution,
    *,
    batch_rows: int = 500_000,
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
    on_day: Callable[[int], object] | None = None,
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """``("access", batch)`` and ``("applications", batch)`` pairs in one pass over the days;
    access batches hold ``batch_rows`` events (the last fewer), applications come per day.
    Event ids count from 1 over the period. ``on_day`` is called with the number of days
    drawn so far."""
    if batch_rows < 1:
        raise ConfigError("The batch size must be positive.")
    columns = _StaffColumns(world)
    # Days are cut into batches as numbers; only whole batches become Arrow strings.
    pending: list[tuple[Events, np.ndarray]] = []
    count = 0
    next_id = 1

    def cut(rows: int) -> pa.RecordBatch:
        nonlocal pending, count, next_id
        taken: list[tuple[Events, np.ndarray]] = []
        need = rows
        while need:
            events, stamps = pending[0]
            if len(events) <= need:
                taken.append(pending.pop(0))
                need -= len(events)
            else:
                taken.append((events.take(slice(0, need)), stamps[:need]))
                pending[0] = (events.take(slice(need, None)), stamps[need:])
                need = 0
        events = Events.concat([e for e, _ in taken])
        batch = _event_batch(columns, events, np.concatenate([t for _, t in taken]), next_id,
                             labels)  # fmt: skip
        count -= rows
        next_id += rows
        return batch

    for ctx, work in access_days(world, scale=scale, scenarios=scenarios):
        if len(work.events):
            pending.append((work.events, _stamps(ctx, work.events.seconds)))
            count += len(work.events)
        while count >= batch_rows:
            yield "access", cut(batch_rows)
        if len(work.applications):
            yield "applications", _application_batch(ctx, columns, work.applications, labels)
        if on_day is not None:
            on_day(ctx.index + 1)
    if count:
        yield "access", cut(count)


def access_batches(
    world: Institution,
    *,
    batch_rows: int = 500_000,
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
) -> Iterator[pa.RecordBatch]:
    """The access log as record batches of ``batch_rows`` events (``ACCESS_SCHEMA``, plus
    ``label`` when ``labels``), in time order; the same rows whatever ``batch_rows``."""
    for name, batch in activity_batches(
        world, batch_rows=batch_rows, scale=scale, scenarios=scenarios, labels=labels
    ):
        if name == "access":
            yield batch


def access_log(
    world: Institution,
    *,
    batch_rows: int = 500_000,
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
) -> pa.Table:
    """The whole access log as one table (for tests and small worlds)."""
    schema = ACCESS_SCHEMA.append(LABEL_FIELD) if labels else ACCESS_SCHEMA
    batches = access_batches(
        world, batch_rows=batch_rows, scale=scale, scenarios=scenarios, labels=labels
    )
    return pa.Table.from_batches(list(batches), schema).combine_chunks()


def applications(
    world: Institution,
    *,
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
) -> pa.Table:
    """The loan applications of the period as one table (``APPLICATION_SCHEMA``)."""
    schema = APPLICATION_SCHEMA.append(LABEL_FIELD) if labels else APPLICATION_SCHEMA
    batches = [
        batch
        for name, batch in activity_batches(world, scale=scale, scenarios=scenarios, labels=labels)
        if name == "applications"
    ]
    return pa.Table.from_batches(batches, schema)
