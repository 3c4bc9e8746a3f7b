"""The export's read-ahead: items in order, errors where they arise, bounded look-ahead."""

from __future__ import annotations

import threading
import time

import pytest

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
