"""The insider monitor (内鬼监测): behaviour features of every user and day, robust baselines,
scored alerts with human-readable reasons, and their review status.

Features, per user (staff member) and day, all computed in DuckDB over ``access_events``
(:func:`leaktrace.store.monitor_add_days`):

* customers touched (distinct), and those of them without any business reference that day;
* credit reports (征信查询) whose customer has no loan application — named by the query's
  business reference, or submitted up to ``application_days`` days before (and a day after) the
  query. A credit query needs the person's consent and an agreed purpose (Credit Reporting
  Regulation arts. 18/20): this is the core rule;
* customers of other branches (the register's branch attribute against the user's branch,
  where the register has customers of that branch), and outside the user's portfolio (for
  users who hold one), without a business reference, beyond what the user's share of
  unreferenced work on the day's other customers would give: work for other branches with a
  reference, or with the user's usual habits (staff who now also serve a merged outlet, a
  successor taking over a portfolio), is work; a harvester references almost none. The two
  overlap and count once;
* customers exported or printed; customers touched off hours (outside ``office_hours``, and
  at weekends);
* enumeration (遍历): customers touched in runs of neighbouring customer numbers. Tokens carry
  no order, so runs are found on register ids, which follow the order of the register's
  source file: a register loaded from a file sorted by customer number (the usual export)
  has ids in customer-number order, and a user walking through customer numbers touches
  neighbouring ids. A run is a block of ``enumeration_block`` consecutive ids of which at
  least ``enumeration_run`` were touched that day; random access almost never fills one. The
  order of access within the day is not used, so shuffling a walk does not hide it;
* activity within ``leave_days`` days before the user's leave date (离职前);
* any touch of a decoy (诱饵客户: a token of a release's decoy): always critical.

Each count is compared with two baselines by robust statistics: the same day's peers (same
role and branch when at least ``min_peers`` of them worked, else same role; a smaller group is
mostly the user) and the user's own days in the ``history_weeks`` calendar weeks before the
day's week (a baseline that moves once a week, so that a new behaviour stays out of it for the
rest of its first week). A robust z-score is ``(x − median) / scale``, where the scale is the
largest of the baseline's spread (from the peers' quartiles, or 1.4826 × the user's MAD), the
spread up to the role's usual high (the 90th percentile of the user's colleagues' maxima over
those weeks: what rare but ordinary work, a list export now and then, reaches), and a Poisson
floor √(median + 1), so that rare, zero-inflated counts do not make every small value an
outlier. The
day's deviation is the smaller of the two z-scores (unusual for the peers *and* for the user;
one of them when the other is missing). Score = Σ weight × (z − z_floor), clipped, plus points
for rule hits (credit queries without an application, enumeration runs, decoys), ×
``leave_factor`` near a leave date; deviations score only after the first ``learning_days`` of
logs. User-days scoring ``alert_score`` or more are ranked by score and the day's best
``analysts × alerts_per_analyst`` are kept (decoy touches always, besides), users alerted in
the ``repeat_days`` before — open cases the reviewers hold — after the new ones. Alerts are
stored once per user and day: running the monitor again over the same days updates them and
keeps their review status.

Nothing here looks at the ground-truth labels of :mod:`leaktrace.synth`.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa

from leaktrace import store
from leaktrace.exceptions import ConfigError, LeaktraceError

STATUSES = ("open", "confirmed", "dismissed")
SEVERITIES = ("medium", "high", "critical")
# Segment attributes of the register that hold a customer's branch, tried in this order.
BRANCH_ATTRIBUTES = ("branch_code", "网点代码", "branch", "网点", "开户网点", "机构号")
# Days of events computed in one pass (bounded memory; the engine works on one such chunk).
# At 10^8 events, 25M-event passes outgrew the store's 2 GB: 1.3–1.8x the wall time of
# 10–15M ones and ~10 % more CPU (benchmarks/RESULTS.md).
CHUNK_EVENTS = 12_000_000
# The role's usual high is this quantile of its users' maxima: one in ten went that high.
HIGH_QUANTILE = 0.9
# A spread from the median up to the 75th percentile, over _Z75, is a standard deviation where
# counts are about normal; so is the spread up to the role's usual high (a high quantile of the
# maxima of about 20 working days) over _Z_HIGH.
_Z75 = 0.6745
_IQR = 1.349
_MAD = 1.4826
_Z_HIGH = 2.3
_EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``[monitor]`` section of ``leaktrace.toml`` (defaults sensible for a bank)."""

    office_hours: str = "07:00-20:00"
    weekend_off_hours: bool = True
    credit_actions: tuple[str, ...] = ("credit_report", "征信查询", "查询征信", "征信报告查询")
    export_actions: tuple[str, ...] = ("export", "print", "download", "导出", "打印", "下载")
    application_days: int = 30
    branch_attribute: str = ""
    history_weeks: int = 4
    history_min_days: int = 5
    learning_days: int = 10
    min_peers: int = 8
    enumeration_block: int = 16
    enumeration_run: int = 4
    enumeration_min: int = 20
    credit_min: int = 1
    leave_days: int = 30
    leave_factor: float = 1.5
    z_floor: float = 3.0
    z_cap: float = 20.0
    alert_score: float = 10.0
    high_score: float = 40.0
    analysts: int = 1
    alerts_per_analyst: int = 10
    repeat_days: int = 7

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Settings from a parsed ``leaktrace.toml`` (missing keys take the defaults)."""
        section = config.get("monitor", {})
        if not isinstance(section, Mapping):
            raise ConfigError("[monitor] in leaktrace.toml must be a table.")
        known = {f.name: f for f in fields(cls)}
        if unknown := sorted(set(section) - set(known)):
            raise ConfigError(
                f"[monitor] in leaktrace.toml: unknown setting {unknown[0]!r}; see README.md."
            )
        values: dict[str, Any] = {}
        default = cls()
        for name, value in section.items():
            wanted = getattr(default, name)
            if isinstance(wanted, tuple):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"[monitor] {name} must be a list of strings.")
                value = tuple(value)
            elif isinstance(wanted, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"[monitor] {name} must be true or false.")
            elif isinstance(wanted, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"[monitor] {name} must be a whole number ≥ 0.")
            elif isinstance(wanted, float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ConfigError(f"[monitor] {name} must be a number ≥ 0.")
                value = float(value)
            elif not isinstance(value, str):
                raise ConfigError(f"[monitor] {name} must be a string.")
            values[name] = value
        settings = cls(**values)
        settings.office()  # checks the format
        if settings.enumeration_block < 2 or settings.enumeration_run < 2:
            raise ConfigError("[monitor] enumeration_block and enumeration_run must be ≥ 2.")
        if settings.history_weeks < 1:
            raise ConfigError("[monitor] history_weeks must be ≥ 1.")
        if settings.analysts < 1 or settings.alerts_per_analyst < 1:
            # A budget of none would hide every alert but decoy touches, the insider included.
            raise ConfigError("[monitor] analysts and alerts_per_analyst must be ≥ 1.")
        return settings

    def office(self) -> tuple[datetime.time, datetime.time]:
        """``office_hours`` as (start, end)."""
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", self.office_hours)
        try:
            if match is None:
                raise ValueError
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = datetime.time(h1, m1), datetime.time(h2 % 24, m2)
            if h2 == 24 and m2 == 0:
                end = datetime.time.max
            if end <= start:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"[monitor] office_hours must look like 07:00-20:00, not {self.office_hours!r}."
            ) from None
        return start, end

    @property
    def budget(self) -> int:
        """Alerts per day the reviewers can read."""
        return self.analysts * self.alerts_per_analyst

    def query(self) -> store.MonitorQuery:
        """What the feature queries need."""
        start, end = self.office()
        return store.MonitorQuery(
            credit_actions=self.credit_actions,
            export_actions=self.export_actions,
            office_start=start,
            office_end=end,
            weekend_off_hours=self.weekend_off_hours,
            application_days_before=self.application_days,
            application_days_after=1,
            enumeration_block=self.enumeration_block,
            enumeration_run=self.enumeration_run,
        )


@dataclass(frozen=True, slots=True)
class Feature:
    """A count scored against the baselines: its weight and how a reason names it."""

    name: str
    weight: float
    text: str  # "{n} …" — what the count is


FEATURES = (
    Feature("customers", 0.5, "{customers} customers today"),
    Feature("no_ref", 1.0, "{no_ref} customers without a business reference (无业务凭证)"),
    Feature(
        "out_branch_excess",
        1.0,
        "{out_branch_no_ref} customers of other branches without a business reference (of "
        "{out_branch} of other branches; {out_branch_usual} expected from the day's other "
        "work, {out_branch_excess} more)",
    ),
    Feature(
        "out_portfolio_excess",
        1.0,
        "{out_portfolio_no_ref} customers outside own portfolio (非管户客户) without a business "
        "reference (of {out_portfolio} outside it; {out_portfolio_usual} expected from the "
        "day's other work, {out_portfolio_excess} more)",
    ),
    Feature(
        "export_customers", 1.0, "{export_customers} customers exported or printed (导出/打印)"
    ),
    Feature(
        "off_no_ref",
        0.5,
        "{off_no_ref} customers touched off hours (非工作时间) without a business reference",
    ),
    Feature(
        "enum_customers",
        1.0,
        "{enum_customers} customers in runs of neighbouring customer numbers (遍历)",
    ),
)
SCORED = tuple(f.name for f in FEATURES)
# Points of the rules: per customer of a credit query without an application (on top of a
# base that makes a single one an alert), and for enumeration runs and decoys.
_CREDIT_BASE = 12.0
_CREDIT_EACH = 2.0
_ENUM_POINTS = 12.0
_DECOY_POINTS = 100.0


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a user and day, its score, severity, reasons and review status."""

    alert_id: int
    staff_id: str
    day: datetime.date
    score: float
    severity: str
    reasons: tuple[str, ...]
    features: dict[str, Any]
    status: str
    created: str
    updated: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "alert_id": self.alert_id,
            "staff_id": self.staff_id,
            "day": self.day.isoformat(),
            "score": round(self.score, 1),
            "severity": self.severity,
            "status": self.status,
            "reasons": list(self.reasons),
            "features": self.features,
            "created": self.created,
            "updated": self.updated,
            "note": self.note,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Alert:
        """An alert from an ``alerts`` row (columns :data:`leaktrace.store.ALERT_COLUMNS`)."""
        return cls(
            alert_id=int(row["alert_id"]),
            staff_id=row["staff_id"],
            day=row["day"],
            score=float(row["score"]),
            severity=row["severity"],
            reasons=tuple(json.loads(row["reasons"])),
            features=json.loads(row["features"]),
            status=row["status"],
            created=row["created"],
            updated=row["updated"],
            note=row["note"],
        )


class MonitorError(LeaktraceError):
    """Nothing to monitor, or an alert that does not exist."""


def branch_attribute(workspace: store.Workspace, settings: Settings | None = None) -> str | None:
    """The register's segment attribute holding a customer's branch: ``branch_attribute``
    from the settings (the workspace's own when not given), else the first of
    :data:`BRANCH_ATTRIBUTES` the register has."""
    settings = settings or Settings.from_config(workspace.config)
    names = store.segment_names(workspace.db)
    if settings.branch_attribute:
        if settings.branch_attribute not in names:
            raise ConfigError(
                f"[monitor] branch_attribute {settings.branch_attribute!r} is not a segment "
                f"attribute of the register ({', '.join(sorted(names)) or 'none'})."
            )
        return settings.branch_attribute
    return next((name for name in BRANCH_ATTRIBUTES if name in names), None)


@dataclass(frozen=True)
class DayFeatures:
    """Every user-day of a period with its counts and baselines (what :func:`run` scores)."""

    table: pa.Table  # columns of store.monitor_peers, then those of own_baselines
    first: datetime.date  # the period's first and last days with events
    last: datetime.date
    learned: datetime.date  # the first day deviations score (see Settings.learning_days)


def day_features(
    workspace: store.Workspace,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    *,
    settings: Settings | None = None,
    on_days: Callable[[int, int], object] | None = None,
) -> DayFeatures:
    """The features of every user-day from ``since`` to ``until`` (default: all days with
    events) with their peer and own baselines, as :func:`run` scores them; nothing is stored.

    Days before ``since`` are read too, as the users' own history. ``on_days`` is called as
    ``on_days(done, total)`` with days of features computed. Raises :class:`MonitorError` when
    there are no access events in the period.
    """
    settings = settings or Settings.from_config(workspace.config)
    if since is not None and until is not None and until < since:
        raise ConfigError(f"--until {until} is before --since {since}.")
    db = workspace.db
    every_day = store.monitor_event_days(db, None, until)
    period = [(day, n) for day, n in every_day if since is None or day >= since]
    if not period:
        if not every_day and since is None:
            raise MonitorError(
                "No access events in the workspace; load them with `leaktrace access load`."
            )
        raise MonitorError(f"No access events {_span_text(since, until)}.")
    first, last = period[0][0], period[-1][0]
    # The own baselines of the first week need the whole weeks before its Monday.
    history_start = first - datetime.timedelta(days=first.weekday() + 7 * settings.history_weeks)
    needed = [(day, n) for day, n in every_day if day >= history_start]
    try:
        store.monitor_prepare(db, branch_attribute(workspace, settings))
        query = settings.query()
        done = 0
        for chunk in _chunks(needed, CHUNK_EVENTS):
            store.monitor_add_days(db, query, chunk[0], chunk[-1])
            done += len(chunk)
            if on_days is not None:
                on_days(done, len(needed))
        table = store.monitor_peers(db, SCORED, first, last, settings.min_peers)
        history = store.monitor_history(db, SCORED)
    finally:
        store.monitor_cleanup(db)
    return DayFeatures(
        table=own_baselines(table, history, SCORED, settings.history_weeks),
        first=first,
        last=last,
        learned=every_day[0][0] + datetime.timedelta(days=settings.learning_days),
    )


def run(
    workspace: store.Workspace,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    *,
    on_days: Callable[[int, int], object] | None = None,
) -> list[Alert]:
    """Score every user-day from ``since`` to ``until`` (default: all days with events), store
    the alerts and return those of the period (with their review status), best first per day.

    See :func:`day_features` for the arguments; raises :class:`MonitorError` when there are no
    access events in the period.
    """
    settings = Settings.from_config(workspace.config)
    days = day_features(workspace, since, until, settings=settings, on_days=on_days)
    before = days.first - datetime.timedelta(days=settings.repeat_days)
    alerted = {
        row["staff_id"]: row["day"]
        for row in store.alert_rows(workspace.db, before, days.first - datetime.timedelta(days=1))
    }
    found = score(days.table, settings, days.learned, alerted)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    rows = [
        {
            "staff_id": item["staff_id"],
            "day": item["day"],
            "score": item["score"],
            "severity": item["severity"],
            "reasons": json.dumps(item["reasons"], ensure_ascii=False),
            "features": json.dumps(item["features"], ensure_ascii=False, default=str),
        }
        for item in found
    ]
    with workspace.transaction() as tx:
        store.save_alerts(tx, rows, days.first, days.last, now)
    return alerts(workspace, days.first, days.last)


def _span_text(since: datetime.date | None, until: datetime.date | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    if since:
        return f"on or after {since}"
    return f"on or before {until}"


def _chunks(days: Sequence[tuple[datetime.date, int]], limit: int) -> list[list[datetime.date]]:
    """Consecutive days in groups of at most ``limit`` events (a bigger day alone)."""
    groups: list[list[datetime.date]] = []
    total = limit
    for day, events in days:
        if total + events > limit:
            groups.append([])
            total = 0
        groups[-1].append(day)
        total += events
    return groups


def own_baselines(
    rows: pa.Table, history: pa.Table, features: Sequence[str], weeks: int
) -> pa.Table:
    """``rows`` (user-days with ``staff_id``, ``day``) with their own baselines appended, from
    ``history`` (every user-day with ``staff_id``, ``role``, ``day`` and ``features``):

    * ``history``: the days the user worked in the ``weeks`` calendar weeks (Monday to
      Sunday) before the day's week; ``<f>_own_median`` and ``<f>_own_mad`` over them. The
      baseline moves once a week, so a new behaviour stays out of it for the rest of its
      first week;
    * ``<f>_high``, the role's usual high: how high one in ten of the user's colleagues of the
      role went on some day of those weeks (the :data:`HIGH_QUANTILE` of their maxima, the
      user left out) — what rare but ordinary work, a list export now and then, reaches.

    Computed with NumPy on a dense (feature, user, day) array — a few sorts per week of the
    period, where the engine's holistic aggregates per user and week cost ten times more.
    """
    both = pa.chunked_array(
        [*history.column("staff_id").chunks, *rows.column("staff_id").chunks], pa.string()
    )
    codes = both.dictionary_encode().combine_chunks()
    users = len(codes.dictionary)
    index = codes.indices.to_numpy(zero_copy_only=False)
    user_h, user_r = index[: history.num_rows], index[history.num_rows :]
    day_h = _days(history.column("day"))
    day_r = _days(rows.column("day"))
    n = rows.num_rows
    out: dict[str, np.ndarray] = {"history": np.zeros(n)}
    for f in features:
        for name in ("own_median", "own_mad", "high"):
            out[f"{f}_{name}"] = np.full(n, np.nan)
    if history.num_rows and n:
        # Column of a day: days since the Monday of the first week (1970-01-01 is a Thursday).
        week0 = int((min(day_h.min(), day_r.min()) + 3) // 7)
        col_h = day_h + 3 - 7 * week0
        span = int(max(col_h.max(), day_r.max() + 3 - 7 * week0)) + 1
        values = np.full((len(features), users, span), np.nan, np.float32)
        for k, f in enumerate(features):
            values[k, user_h, col_h] = _column(history, f)
        worked = np.zeros((users, span), bool)
        worked[user_h, col_h] = True
        role_codes = _role_codes(history, user_h, users)
        week_r = (day_r + 3) // 7 - week0
        for week in np.unique(week_r):
            lo, hi = max(0, int(week - weeks) * 7), int(week) * 7
            at = np.flatnonzero(week_r == week)
            if hi <= lo:
                continue
            median, mad, high_by_user = _window_stats(values[:, :, lo:hi])
            highs = _role_highs(high_by_user, role_codes)  # (features, users)
            days_worked = worked[:, lo:hi].sum(axis=1)
            users_at = user_r[at]
            out["history"][at] = days_worked[users_at]
            for k, f in enumerate(features):
                out[f"{f}_own_median"][at] = median[k, users_at]
                out[f"{f}_own_mad"][at] = mad[k, users_at]
                out[f"{f}_high"][at] = highs[k, users_at]
    for name, column in out.items():
        rows = rows.append_column(name, pa.array(column, mask=np.isnan(column)))
    return rows


def _days(column: pa.ChunkedArray) -> np.ndarray:
    """Dates as days since 1970-01-01."""
    return column.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)


def _role_codes(history: pa.Table, user_h: np.ndarray, users: int) -> np.ndarray:
    """A small integer per user for its role (users without one share a code)."""
    roles = history.column("role").fill_null("").dictionary_encode().combine_chunks()
    codes = np.zeros(users, np.int64)
    codes[user_h] = roles.indices.to_numpy(zero_copy_only=False)
    return codes


def _window_stats(window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD and maximum along the last axis, ignoring NaN (NaN where all are)."""
    count = np.sum(~np.isnan(window), axis=-1)
    ordered = np.sort(window, axis=-1)  # NaN last

    def middle(a: np.ndarray) -> np.ndarray:
        lo = np.clip((count - 1) // 2, 0, None)[..., None]
        hi = np.clip(count // 2, 0, a.shape[-1] - 1)[..., None]
        got = (np.take_along_axis(a, lo, -1) + np.take_along_axis(a, hi, -1))[..., 0] / 2
        return np.where(count > 0, got, np.nan)

    median = middle(ordered)
    mad = middle(np.sort(np.abs(window - median[..., None]), axis=-1))
    top = np.take_along_axis(ordered, np.clip(count - 1, 0, None)[..., None], -1)[..., 0]
    return median, mad, np.where(count > 0, top, np.nan)


def _role_highs(maxima: np.ndarray, role_codes: np.ndarray) -> np.ndarray:
    """Per feature and user, the :data:`HIGH_QUANTILE` of the maxima of the user's colleagues
    of the same role, the user left out (NaN where no colleague has one).

    Leaving the user out keeps a small role's high from becoming the user's own behaviour:
    among five engineers, one who walked through 200 customers last week would otherwise set
    the high that hides this week's walk.

    >>> maxima = np.array([[1.0, 2.0, 3.0, 100.0, np.nan]])
    >>> _role_highs(maxima, np.zeros(5, np.int64)).round(1)
    array([[80.6, 80.6, 80.4,  2.8, 70.9]])
    """
    highs = np.full(maxima.shape, np.nan)
    for role in np.unique(role_codes):
        members = np.flatnonzero(role_codes == role)
        values = maxima[:, members]  # (features, members)
        ordered = np.sort(values, axis=1)  # NaN last
        known = np.sum(~np.isnan(values), axis=1)  # per feature
        # Rank of each member's own value among the known ones (ties: any one of them).
        rank = np.argsort(np.argsort(values, axis=1, kind="stable"), axis=1)
        own_known = ~np.isnan(values)
        others = known[:, None] - own_known  # colleagues with a value
        position = HIGH_QUANTILE * np.maximum(others - 1, 0)
        low = np.floor(position).astype(np.int64)
        frac = position - low

        upper = np.minimum(low + 1, np.maximum(others - 1, 0))
        below = _colleague_value(ordered, rank, own_known, low)
        got = below + frac * (_colleague_value(ordered, rank, own_known, upper) - below)
        highs[:, members] = np.where(others > 0, got, np.nan)
    return highs


def _colleague_value(
    ordered: np.ndarray, rank: np.ndarray, own: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """The ``j``-th smallest of a row of sorted values with each member's own value (at
    ``rank``, where ``own``) skipped."""
    shifted = np.clip(j + (own & (j >= rank)), 0, ordered.shape[1] - 1)
    return np.take_along_axis(ordered, shifted, axis=1)


def _column(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64, NaN for nulls."""
    return table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)


def robust_z(
    value: np.ndarray,
    median: np.ndarray,
    spread: np.ndarray,
    high: np.ndarray | float = np.nan,
) -> np.ndarray:
    """``(value − median) / scale``: the scale is the largest of the baseline's robust spread
    (a standard deviation estimated from quartiles or the MAD), the spread up to the role's
    usual high (over 2.3), and √(median + 1) — a Poisson floor, so that rare, zero-inflated
    counts do not make every small value an outlier.

    412 customers against peers' median 23 with a spread of 17.8:

    >>> z = robust_z(np.array([412.0]), np.array([23.0]), np.array([17.8]))
    >>> round(float(z[0]), 1)
    21.9
    """
    spread = np.fmax(spread, (high - median) / _Z_HIGH)
    scale = np.fmax(spread, np.sqrt(np.fmax(median, 0) + 1))
    return (value - median) / scale


def quartile_spread(q25: np.ndarray, median: np.ndarray, q75: np.ndarray) -> np.ndarray:
    """A standard deviation from quartiles: the interquartile range over 1.349, or the upper
    half of it over 0.6745 where counts are skewed upwards (the side that matters here).

    >>> quartile_spread(np.array([20.0]), np.array([23.0]), np.array([35.0])).round(1)
    array([17.8])
    """
    return np.fmax((q75 - q25) / _IQR, (q75 - median) / _Z75)


@dataclass(frozen=True)
class DayScores:
    """The score of every row of a :func:`day_features` table, before threshold and budget."""

    total: np.ndarray  # the score
    points: dict[str, np.ndarray]  # what each feature and rule contributed
    decoy: np.ndarray  # touched a decoy (always an alert)
    days_left: np.ndarray  # days to the leave date (NaN when none)
    leaving: np.ndarray  # within ``leave_days`` of it


def day_scores(
    table: pa.Table, settings: Settings, learned: datetime.date | None = None
) -> DayScores:
    """Score every user-day of a :func:`day_features` table (no threshold, no budget).

    Before ``learned`` (the first day of the logs plus ``learning_days``) the baselines are
    still thin (rare work such as a list export has not been seen yet): only the rules
    (credit queries without an application, enumeration, decoys) score.
    """
    n = table.num_rows
    day_numbers = table.column("day").cast(pa.int32()).to_numpy(zero_copy_only=False)
    learning = day_numbers < (learned - _EPOCH).days if learned is not None else np.zeros(n, bool)
    history = np.nan_to_num(_column(table, "history"))
    own_ok = history >= settings.history_min_days
    peers = np.nan_to_num(_column(table, "peers"))
    peer_ok = peers >= settings.min_peers  # a small group is mostly the user themself
    total = np.zeros(n)
    points: dict[str, np.ndarray] = {}
    zs: dict[str, np.ndarray] = {}
    for feature in FEATURES:
        x = _column(table, feature.name)
        high = _column(table, f"{feature.name}_high")
        median = _column(table, f"{feature.name}_peer_median")
        spread = quartile_spread(
            _column(table, f"{feature.name}_peer_q25"),
            median,
            _column(table, f"{feature.name}_peer_q75"),
        )
        z_peer = robust_z(x, median, spread, high)
        # The user's own spread is the MAD alone: a few days of the behaviour we look for would
        # raise a quantile of their own days to that behaviour (MAD takes half the days).
        z_own = robust_z(
            x,
            _column(table, f"{feature.name}_own_median"),
            _MAD * _column(table, f"{feature.name}_own_mad"),
            high,
        )
        z = np.where(
            peer_ok & own_ok,
            np.fmin(z_peer, z_own),
            np.where(peer_ok, z_peer, np.where(own_ok, z_own, np.nan)),
        )
        z = np.nan_to_num(z, nan=0.0)
        zs[feature.name] = z
        got = feature.weight * np.clip(z - settings.z_floor, 0, settings.z_cap)
        got[learning] = 0.0
        points[feature.name] = got
        total += got
    # Customers outside the portfolio include those of other branches: one piece of evidence,
    # counted once (the larger of the two).
    branch, portfolio = points["out_branch_excess"], points["out_portfolio_excess"]
    total -= np.fmin(branch, portfolio)
    points["out_branch_excess"] = np.where(branch > portfolio, branch, 0.0)
    points["out_portfolio_excess"] = np.where(branch > portfolio, 0.0, portfolio)
    credit = np.nan_to_num(_column(table, "credit_no_app"))
    credit_hit = credit >= max(settings.credit_min, 1)
    points["credit_no_app"] = np.where(credit_hit, _CREDIT_BASE + _CREDIT_EACH * credit, 0.0)
    enum = np.nan_to_num(_column(table, "enum_customers"))
    enum_hit = (enum >= settings.enumeration_min) & (zs["enum_customers"] > settings.z_floor)
    points["enumeration"] = np.where(enum_hit, _ENUM_POINTS, 0.0)
    decoy = np.nan_to_num(_column(table, "decoy_customers")) > 0
    points["decoy"] = np.where(decoy, _DECOY_POINTS, 0.0)
    total += points["credit_no_app"] + points["enumeration"] + points["decoy"]
    days_left = _days_to_leave(table)
    leaving = (days_left >= 0) & (days_left <= settings.leave_days)
    total = np.where(leaving & (total > 0), total * settings.leave_factor, total)
    return DayScores(total, points, decoy, days_left, leaving)


def score(
    table: pa.Table,
    settings: Settings,
    learned: datetime.date | None = None,
    alerted: Mapping[str, datetime.date] | None = None,
) -> list[dict[str, Any]]:
    """The alerts of a :func:`day_features` table: score (:func:`day_scores`), severity,
    reasons and the features behind them, for the user-days that score ``alert_score`` or more
    (or touch a decoy), the day's best ``budget`` (and every decoy touch) kept, users alerted
    in the ``repeat_days`` before (``alerted``: their last alert day before the table's days)
    after the others.
    """
    if table.num_rows == 0:
        return []
    scored = day_scores(table, settings, learned)
    total, points, decoy = scored.total, scored.points, scored.decoy
    days_left, leaving = scored.days_left, scored.leaving
    candidate = (total >= settings.alert_score) | decoy
    chosen = _within_budget(
        table, total, decoy, candidate, settings.budget, settings.repeat_days, alerted or {}
    )
    found = []
    rows = table.take(pa.array(chosen, pa.int64())).to_pylist() if chosen else []
    for i, row in zip(chosen, rows, strict=True):
        severity = (
            "critical" if decoy[i] else "high" if total[i] >= settings.high_score else "medium"
        )
        found.append(
            {
                "staff_id": row["staff_id"],
                "day": row["day"],
                "score": float(total[i]),
                "severity": severity,
                "reasons": reasons(
                    row,
                    {k: float(v[i]) for k, v in points.items()},
                    int(days_left[i]) if leaving[i] else None,
                    settings.min_peers,
                ),
                "features": _features(row, {k: float(v[i]) for k, v in points.items()}),
            }
        )
    return found


def _days_to_leave(table: pa.Table) -> np.ndarray:
    """Days from each row's day to the user's leave date (NaN when none)."""
    day = table.column("day").cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.float64)
    leave = table.column("leave_date").cast(pa.int32()).to_numpy(zero_copy_only=False)
    leave = np.where(np.isnan(leave.astype(np.float64)), np.nan, leave)
    return leave - day


def _within_budget(
    table: pa.Table,
    total: np.ndarray,
    decoy: np.ndarray,
    candidate: np.ndarray,
    budget: int,
    repeat_days: int,
    alerted: Mapping[str, datetime.date],
) -> list[int]:
    """Row numbers of the kept alerts, day by day: decoy touches first (kept beyond and
    besides the budget), then users not alerted in the ``repeat_days`` before (by score), then
    the others (by score), up to ``budget`` a day.

    A user alerted days ago is an open case the reviewers already hold: today's alert on them
    updates it, and a new user comes first. ``alerted`` holds the last alert day of users
    alerted before the table's first day (from the store); days are taken in order, so a run
    over many days ranks each as a run on that day alone would.
    """
    day = table.column("day").cast(pa.int32()).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(candidate)
    staff = dict(zip(rows.tolist(), table.column("staff_id").take(rows).to_pylist(), strict=True))
    last = {s: (d - _EPOCH).days for s, d in alerted.items()}
    kept: list[int] = []
    for today in np.unique(day[rows]).tolist():
        todays = rows[day[rows] == today]
        repeat = np.array([today - last.get(staff[i], -(10**9)) <= repeat_days for i in todays])
        order = todays[np.lexsort((-total[todays], repeat, ~decoy[todays]))]
        taken = 0
        for i in order.tolist():
            if decoy[i] or taken < budget:
                kept.append(i)
                last[staff[i]] = today
                taken += not decoy[i]
    return kept


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def reasons(
    row: Mapping[str, Any],
    points: Mapping[str, float],
    days_left: int | None,
    min_peers: int = 8,
) -> list[str]:
    """Human-readable reasons for one user-day, strongest first.

    The first reason is the day's volume against the baselines; then each rule hit and each
    count that scored, with the baselines it was compared with.
    """
    role = row.get("role") or "unknown-role"
    scope = "same branch" if row.get("peer_scope") == "branch" else "all branches"
    out: list[tuple[float, str]] = []
    if points.get("decoy"):
        releases = ", ".join(row.get("decoy_releases") or []) or "a release"
        out.append(
            (
                math.inf,
                f"touched {row['decoy_customers']} decoy customer(s) (诱饵客户) of {releases}: "
                "decoys exist only in released copies, so that copy is in use",
            )
        )
    if points.get("credit_no_app"):
        out.append(
            (
                points["credit_no_app"],
                f"{row['credit_no_app']} credit reports (征信查询) without a loan application of "
                f"the customer (of {row['credit_customers']} queried; Credit Reporting "
                "Regulation arts. 18/20 need consent and an agreed purpose)",
            )
        )
    for feature in FEATURES:
        got = points.get(feature.name, 0.0)
        if feature.name == "enum_customers":
            got += points.get("enumeration", 0.0)
        if got <= 0 or feature.name == "customers":
            continue
        out.append((got, f"{_fill(feature.text, row)}; {_baselines(row, feature.name)}"))
    out.sort(key=lambda item: -item[0])
    peers = f"{row.get('peers') or 0} {role} staff at work, {scope}"
    if (row.get("peers") or 0) < min_peers:
        peers += ": too few to compare with"
    first = (
        f"{_number(row['customers'])} customers today ({_baselines(row, 'customers')}; "
        f"{peers}); {_number(row['no_ref'])} without a business reference"
    )
    lines = [first, *(text for _, text in out)]
    if days_left is not None:
        leave = row["leave_date"]
        when = "today" if days_left == 0 else f"in {days_left} days"
        lines.append(f"leaves on {leave} ({when}; 离职前)")
    return lines


def _fill(text: str, row: Mapping[str, Any]) -> str:
    """``text`` with ``{column}`` fields of ``row`` as numbers (``{kind}_usual``: the customers
    without a reference that the day's other work would give, count − excess)."""
    values = {name: _number(value) for name, value in row.items() if isinstance(value, int | float)}
    for kind in ("out_branch", "out_portfolio"):
        if row.get(f"{kind}_excess") is not None:
            values[f"{kind}_usual"] = _number(round(row[f"{kind}_no_ref"] - row[f"{kind}_excess"]))
            values[f"{kind}_excess"] = _number(round(row[f"{kind}_excess"]))
    return text.format_map(values)


def _baselines(row: Mapping[str, Any], name: str) -> str:
    peer = f"peers' median {_number(row.get(f'{name}_peer_median'))}"
    own = row.get(f"{name}_own_median")
    if own is None or (row.get("history") or 0) == 0:
        return peer + ", no history of their own"
    return f"{peer}, own median {_number(own)}"


def _features(row: Mapping[str, Any], points: Mapping[str, float]) -> dict[str, Any]:
    """What is kept with an alert: the counts, the baselines and the points of each part."""
    counts = {name: row[name] for name in store.MONITOR_COUNTS + store.MONITOR_EXCESS}
    baselines = {
        name: {
            "peer_median": row[f"{name}_peer_median"],
            "peer_q25": row[f"{name}_peer_q25"],
            "peer_q75": row[f"{name}_peer_q75"],
            "own_median": row[f"{name}_own_median"],
            "role_high": row[f"{name}_high"],
        }
        for name in SCORED
    }
    return {
        "role": row.get("role"),
        "branch_code": row.get("branch_code"),
        "peer_scope": row.get("peer_scope"),
        "peers": row.get("peers"),
        "history_days": row.get("history"),
        "leave_date": row.get("leave_date"),
        "decoy_releases": row.get("decoy_releases"),
        "counts": counts,
        "baselines": baselines,
        "points": {k: round(v, 2) for k, v in points.items() if v},
    }


def alerts(
    workspace: store.Workspace,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    *,
    status: str | None = None,
    staff_id: str | None = None,
) -> list[Alert]:
    """Stored alerts, by day and then score (best first), filtered by day, status and user."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    rows = store.alert_rows(workspace.db, since, until, status, staff_id)
    return [Alert.from_row(row) for row in rows]


def set_status(
    workspace: store.Workspace, alert_id: int, status: str, note: str | None = None
) -> Alert:
    """Record a review: ``status`` (open, confirmed or dismissed) and a note for one alert."""
    if status not in STATUSES:
        raise ConfigError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with workspace.transaction() as tx:
        if not store.update_alert_status(tx, alert_id, status, note, now):
            raise MonitorError(
                f"There is no alert {alert_id}; `leaktrace monitor list` shows them."
            )
    return alerts_by_id(workspace, alert_id)


def alerts_by_id(workspace: store.Workspace, alert_id: int) -> Alert:
    """One stored alert."""
    rows = store.alert_rows(workspace.db, alert_id=alert_id)
    if not rows:
        raise MonitorError(f"There is no alert {alert_id}; `leaktrace monitor list` shows them.")
    return Alert.from_row(rows[0])
