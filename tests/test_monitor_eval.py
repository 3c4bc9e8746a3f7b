"""The judge of benchmarks/monitor_eval.py (issue 6, acceptance 1 and 2): it must not be
lenient — an alert after the deadline does not catch, an alert on an insider outside the
behaviour's span and any alert on a busy colleague are false — and the baseline's alerts keep
to the daily budget."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from leaktrace import synth

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
try:
    import monitor_eval
finally:
    sys.path.pop(0)

D = datetime.date(2025, 2, 3)


def _day(n: int) -> datetime.date:
    return D + datetime.timedelta(days=n)


@pytest.fixture
def truth() -> pa.Table:
    rows = [
        # An insider from day 0 to day 10, due by day 2; a slow one due by day 10.
        ("E1", "call_centre_copier", 5, 1, _day(0), _day(10), _day(2), False),
        ("E2", "slow_harvester", 2, 2, _day(0), _day(20), _day(10), False),
        # A busy colleague: alerts on them are false, whenever they fall.
        ("E3", "month_end_batch", 101, 3, _day(0), _day(1), None, True),
    ]
    names = synth.scenarios.TRUTH_SCHEMA.names
    return pa.Table.from_pylist(
        [dict(zip(names, r, strict=True)) for r in rows], schema=synth.scenarios.TRUTH_SCHEMA
    )


def test_the_deadline_is_included_and_later_alerts_do_not_catch(truth):
    scores = monitor_eval.judge([("E1", _day(3)), ("E2", _day(10))], truth, _day(-20))
    assert scores.caught == {
        "call_centre_copier (E1)": None,  # day 3 is after the deadline
        "slow_harvester (E2)": 10,  # the deadline itself
    }
    # Both alerts fall in a behaviour's span: true, though one is late.
    assert scores.false_alerts == 0
    assert scores.alerts == 2


def test_alerts_outside_the_span_and_on_busy_colleagues_are_false(truth):
    alerts = [
        ("E1", _day(-1)),  # the insider before the behaviour started
        ("E1", _day(11)),  # and after it ended
        ("E3", _day(0)),  # a busy colleague on a busy day
        ("E9", _day(5)),  # anyone else
        ("E1", _day(1)),  # the one true alert
    ]
    scores = monitor_eval.judge(alerts, truth, learned=_day(3))
    assert scores.caught["call_centre_copier (E1)"] == 1
    assert scores.false_alerts == 4
    assert scores.false_alerts_scored == 2  # days 5 and 11 are after the learning period


def test_the_baseline_keeps_to_the_budget_and_the_total():
    days = [_day(0)] * 3 + [_day(1)] * 3
    table = pa.table({"staff_id": ["A", "B", "C", "D", "E", "F"], "day": days})
    anomaly = np.array([6.0, 5.0, 1.0, 4.0, 3.0, 2.0])
    assert monitor_eval.top_alerts(table, anomaly, 2) == [
        ("A", _day(0)),
        ("B", _day(0)),
        ("D", _day(1)),
        ("E", _day(1)),
    ]
    # As many alerts as another detector raised: the most anomalous of the whole period.
    assert monitor_eval.top_alerts(table, anomaly, 2, total=3) == [
        ("A", _day(0)),
        ("B", _day(0)),
        ("D", _day(1)),
    ]


def test_margins_leave_the_insiders_days_out_of_the_others(truth):
    table = pa.table(
        {
            "staff_id": ["E1", "E1", "E1", "E3", "E9", "E9"],
            "day": [_day(1), _day(5), _day(11), _day(0), _day(2), _day(-30)],
        }
    )
    scores = np.array([30.0, 50.0, 8.0, 6.0, 4.0, 99.0])
    got = monitor_eval.margins(table, scores, truth, learned=_day(-20))
    # E1: the best by the deadline (day 5 is later); the others: E1 after the span, the busy
    # colleague, E9 after learning (its day −30 is in the learning period).
    assert got["call_centre_copier (E1)"] == 30.0
    assert got["slow_harvester (E2)"] == 0.0  # no day of theirs: nothing scored
    assert got["others"] == 8.0
