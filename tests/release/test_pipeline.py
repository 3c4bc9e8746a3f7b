"""The export's read-ahead: items in order, errors where they arise, bounded look-ahead."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from leaktrace import _pool
from leaktrace.release.pipeline import ReadAhead


def test_items_come_in_order_and_errors_where_they_arose() -> None:
    with ReadAhead(iter(range(50))) as ahead:
        assert list(ahead) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad row")

    with ReadAhead(failing()) as ahead, pytest.raises(ValueError, match="bad row"):
        assert next(iter(ahead)) == 1
        list(ahead)


def test_no_more_than_depth_items_are_made_ahead() -> None:
    made = []
    lock = threading.Lock()

    def items():
        for i in range(10):
            with lock:
                made.append(i)
            yield i

    with ReadAhead(items(), depth=2) as ahead:
        taken = iter(ahead)
        assert next(taken) == 0
        time.sleep(0.3)  # the producer runs ahead as far as it may
        with lock:
            assert len(made) == 3  # the one taken and two ahead
    assert len(made) <= 4  # closing stops the producer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_the_producer_runs_at_a_lower_priority_than_the_consumer() -> None:
    def priorities():
        yield os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with ReadAhead(priorities()) as ahead:
        (producer,) = list(ahead)
    # Lowered to BACKGROUND_NICE; a process already nicer than that stays as it is.
    assert producer == max(before, _pool.BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
