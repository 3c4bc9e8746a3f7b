"""Synthetic institution (合成机构): branches, staff and customer managers' portfolios.

The branches are those the customers of :mod:`leaktrace.synth.customer` already name: a bank
or insurer has three outlets per district of the address table (the customers' ``branch_code``
and ``branch_name`` columns), an education agency one campus per district, a consumer lender
one office per province. Above the outlets sit province branches, the head office and a
customer service (call) centre, each a row of the branch table too.

Staff are sized by the customers (:func:`default_staff`) and given a role (``ROLES``), a branch,
a join date and, for some, a leave date inside or before the period of the access logs. Tellers,
customer managers and credit officers sit at outlets in proportion to the outlets' customers;
back office staff at province branches, the call centre's agents at the call centre, IT at head
office. Each customer manager holds a portfolio: the customers of an outlet, shuffled, are cut
into consecutive runs, one per manager, and about 30% stay with nobody.

Every customer is a row number ``i`` (``customer_id`` ``C%08d`` of ``i + 1``); the
:class:`Institution` keeps the customers grouped by outlet (``customer_order``), so that "a
customer of branch b", "of province p" or "of manager m's portfolio" is a draw from a range of
that array. It holds a few integers per customer and per staff member, never the customers'
columns: 10 million customers take about 80 MB.

>>> world = institution(2_000, staff=40, seed=1, days=10)
>>> world.staff.num_rows, world.staff.column_names[:4]
(40, ['staff_id', 'name', 'role', 'branch_code'])
>>> sorted(set(world.staff["role"].to_pylist())) == sorted(ROLES)
True
>>> institution(2_000, staff=40, seed=1, days=10).staff.equals(world.staff)
True
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leaktrace.exceptions import ConfigError
from leaktrace.synth.customer import (
    AS_OF,
    BLOCK_ROWS,
    INSTITUTIONS,
    KINDS,
    _ascii_digits,
    _Block,
    _branches,
    _dates,
    _days,
    _fixed_strings,
    _names,
    _strip_suffix,
    _tables,
)

ROLES = ("teller", "customer_manager", "credit_officer", "call_centre", "back_office", "it")
ROLE_LABELS = {
    "teller": "柜员",
    "customer_manager": "客户经理",
    "credit_officer": "信贷员",
    "call_centre": "客服坐席",
    "back_office": "后台运营",
    "it": "信息科技",
}
TELLER, MANAGER, CREDIT, CALL, BACK, IT = range(len(ROLES))
LEVELS = ("outlet", "province", "head_office", "call_centre")
OUTLET, PROVINCE, HEAD, CENTRE = range(len(LEVELS))
NEVER = np.iinfo(np.int32).max  # leave day of staff still employed
START = AS_OF + datetime.timedelta(days=1)

# Share of each role in the staff, per kind (ROLES order). An insurer's "customer managers" are
# its sales agents, an education agency's its course consultants; lenders have no counters and
# schools no credit officers.
_ROLE_SHARES = {
    "bank": (0.30, 0.25, 0.12, 0.15, 0.13, 0.05),
    "insurer": (0.15, 0.45, 0.03, 0.20, 0.13, 0.04),
    "lender": (0.00, 0.15, 0.30, 0.35, 0.15, 0.05),
    "education": (0.15, 0.45, 0.00, 0.20, 0.15, 0.05),
}
_HEAD_OFFICE = {"bank": "总行", "insurer": "总公司", "lender": "总部", "education": "总部"}
_PROVINCE_BRANCH = {"bank": "分行", "insurer": "分公司", "lender": "分公司", "education": "分校"}
# Customers' first accounts open from these years (customer.py); branches opened before them.
_FIRST_OPEN = {"bank": 1995, "insurer": 2005, "lender": 2015, "education": 2021}
_PORTFOLIO_SHARE = 0.7  # of an outlet's customers that have a customer manager
_FORMER_SHARE = 0.05  # staff in the directory who left before the period
_TURNOVER = 0.015  # joiners, and leavers, per month of the period


@dataclass(frozen=True, eq=False)
class Institution:
    """A synthetic institution: its tables and the integer arrays the access logs draw from.

    Days are counted from 1970-01-01. Customer ranges (``branch_lo/hi``, ``staff_lo/hi``,
    ``portfolio_lo/hi``) index ``customer_order``; ``customer_order[branch_lo[b]:branch_hi[b]]``
    are the row numbers of branch ``b``'s customers (all customers for head office and the
    call centre, the province's for a province branch).
    """

    kind: str
    seed: int
    customers: int
    start: datetime.date
    days: int
    name: str
    branches: pa.Table
    staff: pa.Table
    branch_level: np.ndarray  # int8, LEVELS
    branch_lo: np.ndarray  # int64
    branch_hi: np.ndarray
    customer_order: np.ndarray  # int32 customer row numbers, grouped by outlet
    customer_branch: np.ndarray  # int32 outlet (branch row) of each customer
    staff_role: np.ndarray  # int8, ROLES
    staff_branch: np.ndarray  # int32 branch row
    staff_join: np.ndarray  # int32 day, first day employed
    staff_leave: np.ndarray  # int32 day, last day employed (NEVER if still employed)
    staff_pace: np.ndarray  # float64 personal work pace, about 1
    staff_lo: np.ndarray  # int64 range of the customers the staff member serves
    staff_hi: np.ndarray
    portfolio_lo: np.ndarray  # int64 range of a customer manager's portfolio (empty otherwise)
    portfolio_hi: np.ndarray

    @property
    def first_day(self) -> int:
        """The first day of the period, as a day number."""
        return _days(self.start)

    @property
    def last_day(self) -> int:
        """The last day of the period, as a day number."""
        return _days(self.start) + self.days - 1

    def employed(self, day: int) -> np.ndarray:
        """Which staff are employed on ``day`` (a day number), as a boolean mask."""
        return (self.staff_join <= day) & (day <= self.staff_leave)

    def with_staff_dates(
        self,
        rows: np.ndarray | Sequence[int],
        *,
        join: datetime.date | None = None,
        leave: datetime.date | None = None,
    ) -> Institution:
        """A copy in which staff ``rows`` joined and/or left on the given dates (in the arrays
        the logs are drawn from and in the staff table alike).

        >>> world = institution(500, staff=20, seed=1, days=5)
        >>> moved = world.with_staff_dates([3], leave=world.start)
        >>> moved.staff["leave_date"][3].as_py() == world.start
        True
        >>> bool(moved.employed(moved.last_day)[3])
        False
        """
        rows = np.asarray(rows, dtype=np.int64)
        join_days, leave_days = self.staff_join.copy(), self.staff_leave.copy()
        if join is not None:
            join_days[rows] = _days(join)
        if leave is not None:
            leave_days[rows] = _days(leave)
        if np.any(join_days[rows] > leave_days[rows]):
            raise ConfigError("A leave date falls before the join date.")
        staff = self.staff.set_column(
            self.staff.schema.get_field_index("join_date"), "join_date", _dates(join_days)
        )
        staff = staff.set_column(
            staff.schema.get_field_index("leave_date"),
            "leave_date",
            pa.array(leave_days.astype("datetime64[D]"), pa.date32(), mask=leave_days == NEVER),
        )
        return dataclasses.replace(self, staff=staff, staff_join=join_days, staff_leave=leave_days)

    def portfolio(self, staff: int) -> np.ndarray:
        """The customer row numbers in customer manager ``staff``'s portfolio (row of the staff
        table); empty for other staff."""
        return self.customer_order[self.portfolio_lo[staff] : self.portfolio_hi[staff]]

    def portfolio_batches(self, batch_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        """The portfolios as ``(customer_id, staff_id)`` batches, by manager."""
        managers = np.flatnonzero(self.portfolio_hi > self.portfolio_lo)
        staff_ids = self.staff["staff_id"].combine_chunks()
        pending: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        rows = 0

        def batch() -> pa.RecordBatch:
            customers = np.concatenate(pending) if pending else np.empty(0, np.int64)
            owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
            return pa.RecordBatch.from_arrays(
                [customer_ids(customers), staff_ids.take(pa.array(owner))],
                schema=PORTFOLIO_SCHEMA,
            )

        for manager in managers:
            lo, hi = int(self.portfolio_lo[manager]), int(self.portfolio_hi[manager])
            while lo < hi:
                take = min(hi - lo, batch_rows - rows)
                pending.append(self.customer_order[lo : lo + take].astype(np.int64))
                owners.append(np.full(take, manager, dtype=np.int64))
                rows += take
                lo += take
                if rows == batch_rows:
                    yield batch()
                    pending, owners, rows = [], [], 0
        if rows or not managers.size:
            yield batch()


BRANCH_SCHEMA = pa.schema(
    [
        ("branch_code", pa.string()),
        ("branch_name", pa.string()),
        ("level", pa.string()),
        ("province", pa.string()),
        ("city", pa.string()),
        ("opened", pa.date32()),
    ]
)
STAFF_SCHEMA = pa.schema(
    [
        ("staff_id", pa.string()),
        ("name", pa.string()),
        ("role", pa.string()),
        ("branch_code", pa.string()),
        ("join_date", pa.date32()),
        ("leave_date", pa.date32()),
        ("terminal", pa.string()),
        ("ip", pa.string()),
    ]
)
PORTFOLIO_SCHEMA = pa.schema([("customer_id", pa.string()), ("staff_id", pa.string())])


def customer_ids(rows: np.ndarray) -> pa.Array:
    """``customer_id`` values (``C00000001`` …) of customer row numbers, as the customer table
    writes them.

    >>> customer_ids(np.array([0, 41])).to_pylist()
    ['C00000001', 'C00000042']
    """
    rows = np.asarray(rows, dtype=np.int64)
    prefix = np.full((rows.size, 1), ord("C"), dtype=np.uint8)
    return _fixed_strings(np.concatenate([prefix, _ascii_digits(rows + 1, 8)], axis=1))


def default_staff(customers: int) -> int:
    """Staff for ``customers`` customers when not given: one per 500, at least 20.

    >>> default_staff(5_000), default_staff(10_000_000)
    (20, 20000)
    """
    return max(20, customers // 500)


def _rng(seed: int, kind: str, stream: str) -> np.random.Generator:
    entropy = [seed, KINDS.index(kind), 0x1A57, zlib.crc32(stream.encode())]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _customer_outlets(n: int, seed: int, kind: str, outlets_per_district: int) -> np.ndarray:
    """The outlet (branch row) of each customer, from the same draws as the customer table."""
    out = np.empty(n, dtype=np.int32)
    for block in range(-(-n // BLOCK_ROWS)):
        start = block * BLOCK_ROWS
        kept = min(BLOCK_ROWS, n - start)
        index = np.arange(start, start + BLOCK_ROWS, dtype=np.int64)
        rows = _Block(seed, kind, block, index, AS_OF, INSTITUTIONS[kind])
        province, district = rows.home
        if kind == "lender":
            outlet = province
        elif outlets_per_district == 3:
            outlet = district * 3 + rows.branch
        else:
            outlet = district
        out[start : start + kept] = outlet[:kept]
    return out


def _branch_rows(kind: str, name: str, rng: np.random.Generator) -> dict[str, list]:
    """The branch table as columns, outlets first (their row is the customers' outlet)."""
    tables = _tables()
    rows = tables.district_rows
    province_of = np.repeat(np.arange(len(tables.province_codes)), tables.district_count)
    columns: dict[str, list] = {key: [] for key in ("code", "name", "level", "province", "city")}
    columns["outlet_province"] = []

    def add(code: str, branch: str, level: int, province: str, city: str, rank: int) -> None:
        columns["code"].append(code)
        columns["name"].append(branch)
        columns["level"].append(level)
        columns["province"].append(province)
        columns["city"].append(city)
        columns["outlet_province"].append(rank)

    if kind in ("bank", "insurer"):
        names = _branches(kind, name).to_pylist()
        for i, row in enumerate(rows):
            for outlet in range(3):
                code = f"{int(row['code']) * 100 + outlet + 1:08d}"
                add(code, names[i * 3 + outlet], OUTLET, row["province"], row["city"],
                    int(province_of[i]))  # fmt: skip
    elif kind == "education":
        for i, row in enumerate(rows):
            city = _strip_suffix(row["city"], "市")
            campus = f"{name}{city}{_strip_suffix(row['district'], '区市县')}校区"
            add(f"{int(row['code']) * 100 + 1:08d}", campus, OUTLET, row["province"],
                row["city"], int(province_of[i]))  # fmt: skip
    # Province branches (a lender's only offices, which serve as its outlets).
    capital = {}
    for i, row in enumerate(rows):
        capital.setdefault(int(province_of[i]), row["city"])
    for rank, (code, province) in enumerate(
        zip(tables.province_codes, tables.province_names, strict=True)
    ):
        short = _strip_suffix(province, "省市")
        level = OUTLET if kind == "lender" else PROVINCE
        add(f"{code}000000", f"{name}{short}{_PROVINCE_BRANCH[kind]}", level, province,
            capital.get(rank, province), rank)  # fmt: skip
    add("00000001", name + _HEAD_OFFICE[kind], HEAD, "北京市", "北京市", -1)
    add("00000002", name + "客户服务中心", CENTRE, "四川省", "成都市", -1)
    # Outlets opened over the ten years before the first customers, higher levels earlier.
    first = _days(datetime.date(_FIRST_OPEN[kind], 1, 1))
    level = np.array(columns["level"])
    years = np.select(
        [level == OUTLET, level == PROVINCE, level == HEAD],
        [rng.uniform(0, 10, level.size), rng.uniform(10, 15, level.size), 18.0],
        default=rng.uniform(0, 5, level.size),
    )
    columns["opened"] = list(first - (years * 365.25).astype(np.int64))
    return columns


def institution(
    customers: int,
    staff: int | None = None,
    seed: int = 0,
    *,
    kind: str = "bank",
    start: datetime.date = START,
    days: int = 30,
) -> Institution:
    """The branches, staff and portfolios of an institution with ``customers`` customers (those
    of :func:`leaktrace.synth.customers` with the same ``seed`` and ``kind``), for a period of
    ``days`` days from ``start``.

    ``staff`` rows of staff (:func:`default_staff` when None): about 5% left before the period
    (a directory keeps former staff), about 1.5% a month join and leave during it.
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown institution kind {kind!r}; choose one of {', '.join(KINDS)}.")
    staff = default_staff(customers) if staff is None else staff
    if customers < 1 or staff < len(ROLES) or days < 1 or seed < 0:
        raise ConfigError(
            f"An institution needs at least one customer, {len(ROLES)} staff and one day, and "
            "a non-negative seed."
        )
    if customers > 99_000_000:
        raise ConfigError("At most 99,000,000 synthetic customers per data set.")
    if staff > 9_999_999:
        raise ConfigError("At most 9,999,999 synthetic staff.")
    name = INSTITUTIONS[kind]
    branch_columns = _branch_rows(kind, name, _rng(seed, kind, "branches"))
    level = np.array(branch_columns["level"], dtype=np.int8)
    outlets = np.flatnonzero(level == OUTLET)  # the first rows
    outlet_province = np.array(branch_columns["outlet_province"])
    per_district = 3 if kind in ("bank", "insurer") else 1
    outlet_of_customer = _customer_outlets(customers, seed, kind, per_district)

    # Customers grouped by outlet, shuffled within it (a random key breaks the ties).
    rng = _rng(seed, kind, "order")
    key = (outlet_of_customer.astype(np.int64) << 32) | rng.integers(0, 1 << 32, customers)
    order = np.argsort(key, kind="stable").astype(np.int32)
    del key
    counts = np.bincount(outlet_of_customer, minlength=outlets.size)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    branch_lo = np.zeros(level.size, dtype=np.int64)
    branch_hi = np.full(level.size, customers, dtype=np.int64)
    branch_lo[outlets], branch_hi[outlets] = offsets[:-1], offsets[1:]
    for row in np.flatnonzero(level == PROVINCE):  # outlets of a province are consecutive
        members = outlets[outlet_province[outlets] == outlet_province[row]]
        if members.size:
            branch_lo[row], branch_hi[row] = offsets[members[0]], offsets[members[-1] + 1]
        else:
            branch_lo[row] = branch_hi[row] = 0

    # Staff: roles by share (largest remainders), branches by where the customers are.
    rng = _rng(seed, kind, "staff")
    shares = np.array(_ROLE_SHARES[kind])
    quota = shares * staff
    count = np.floor(quota).astype(np.int64)
    count[np.argsort(-(quota - count), kind="stable")[: staff - count.sum()]] += 1
    role = rng.permutation(np.repeat(np.arange(len(ROLES)), count)).astype(np.int8)
    branch = np.empty(staff, dtype=np.int32)
    head = int(np.flatnonzero(level == HEAD)[0])
    centre = int(np.flatnonzero(level == CENTRE)[0])
    at_outlet = np.isin(role, (TELLER, MANAGER, CREDIT))
    branch[at_outlet] = rng.choice(outlets.size, int(at_outlet.sum()), p=counts / customers)
    branch[role == CALL] = centre
    branch[role == IT] = head
    back = np.flatnonzero(role == BACK)
    provinces = np.flatnonzero(level == PROVINCE)
    if kind == "lender" or not provinces.size:
        branch[back] = head
    else:
        weight = (branch_hi[provinces] - branch_lo[provinces]).astype(np.float64)
        branch[back] = provinces[rng.choice(provinces.size, back.size, p=weight / weight.sum())]

    # Employment: most staff joined years ago; some join or leave during the period, some left
    # before it. Nobody joined before their branch opened.
    first, last = _days(start), _days(start) + days - 1
    opened = np.array(branch_columns["opened"], dtype=np.int64)[branch]
    tenure = np.clip(rng.exponential(7 * 365.25, staff), 30, 35 * 365.25).astype(np.int64)
    join = np.maximum(first - tenure, opened)
    leave = np.full(staff, NEVER, dtype=np.int64)
    state = rng.random(staff)
    turnover = _TURNOVER * days / 30
    former = state < _FORMER_SHARE
    joiner = (state >= _FORMER_SHARE) & (state < _FORMER_SHARE + turnover)
    leaver = (state >= _FORMER_SHARE + turnover) & (state < _FORMER_SHARE + 2 * turnover)
    gone = first - rng.integers(1, 3 * 365, staff)
    leave[former] = gone[former]
    join[former] = np.maximum(np.minimum(join, gone - 30)[former], opened[former])
    join[joiner] = first + rng.integers(0, days, staff)[joiner]
    leave[leaver] = first + rng.integers(0, days, staff)[leaver]
    join = np.minimum(join, leave)

    # Own customers: an outlet's for outlet staff, a province's for back office, all for the
    # call centre and IT (and a lender's back office at head office).
    staff_lo, staff_hi = branch_lo[branch], branch_hi[branch]
    # Portfolios: the managers of an outlet employed during the period share 70% of its
    # customers in consecutive runs of the shuffled order.
    portfolio_lo = np.zeros(staff, dtype=np.int64)
    portfolio_hi = np.zeros(staff, dtype=np.int64)
    managers = np.flatnonzero((role == MANAGER) & (leave >= first) & (join <= last))
    managers = managers[np.argsort(branch[managers], kind="stable")]
    if managers.size:
        outlet = branch[managers]
        starts = np.flatnonzero(np.r_[True, outlet[1:] != outlet[:-1]])
        sizes = np.diff(np.r_[starts, managers.size])
        rank = np.arange(managers.size) - np.repeat(starts, sizes)
        many = np.repeat(sizes, sizes)
        covered = np.floor(counts[outlet] * _PORTFOLIO_SHARE)
        portfolio_lo[managers] = offsets[outlet] + (covered * rank // many).astype(np.int64)
        portfolio_hi[managers] = offsets[outlet] + (covered * (rank + 1) // many).astype(np.int64)

    staff_table = _staff_table(rng, staff, role, branch, join, leave, branch_columns["code"], start)
    branches = pa.table(
        [
            pa.array(branch_columns["code"]),
            pa.array(branch_columns["name"]),
            pa.array([LEVELS[i] for i in branch_columns["level"]]),
            pa.array(branch_columns["province"]),
            pa.array(branch_columns["city"]),
            _dates(np.array(branch_columns["opened"])),
        ],
        schema=BRANCH_SCHEMA,
    )
    return Institution(
        kind=kind,
        seed=seed,
        customers=customers,
        start=start,
        days=days,
        name=name,
        branches=branches,
        staff=staff_table,
        branch_level=level,
        branch_lo=branch_lo,
        branch_hi=branch_hi,
        customer_order=order,
        customer_branch=outlet_of_customer,
        staff_role=role,
        staff_branch=branch,
        staff_join=join.astype(np.int32),
        staff_leave=leave.astype(np.int32),
        staff_pace=np.exp(rng.normal(0, 0.3, staff)),
        staff_lo=staff_lo,
        staff_hi=staff_hi,
        portfolio_lo=portfolio_lo,
        portfolio_hi=portfolio_hi,
    )


def _staff_table(
    rng: np.random.Generator,
    staff: int,
    role: np.ndarray,
    branch: np.ndarray,
    join: np.ndarray,
    leave: np.ndarray,
    codes: list[str],
    start: datetime.date,
) -> pa.Table:
    """The staff directory: ids, names, roles, branches, dates, and each one's terminal and IP
    (a seat number within the branch, the branch's subnet of 10.0.0.0/8)."""
    male = rng.random(staff) < 0.45
    years = start.year - rng.integers(22, 59, staff)
    names = _names(rng, male, years).names
    seat = np.empty(staff, dtype=np.int64)
    by_branch = np.argsort(branch, kind="stable")
    ordered = branch[by_branch]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    seat[by_branch] = np.arange(staff) - np.repeat(starts, np.diff(np.r_[starts, staff]))
    host_bits = int(math.log2((1 << 24) // (len(codes) + 1)))
    hosts = (1 << host_bits) - 2
    address = (10 << 24) + ((branch.astype(np.int64) + 1) << host_bits) + seat % hosts + 1
    ip = [f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}" for a in address.tolist()]
    pairs = zip(branch.tolist(), seat.tolist(), strict=True)
    terminal = [f"{codes[b]}-{s + 1:04d}" for b, s in pairs]
    staff_id = [f"EMP{i + 1:07d}" for i in range(staff)]
    return pa.table(
        [
            pa.array(staff_id),
            names,
            pa.array(ROLES).take(pa.array(role.astype(np.int64))),
            pa.array(codes).take(pa.array(branch.astype(np.int64))),
            _dates(join),
            pa.array(np.asarray(leave, dtype="datetime64[D]"), pa.date32(), mask=leave == NEVER),
            pa.array(terminal),
            pa.array(ip),
        ],
        schema=STAFF_SCHEMA,
    )
