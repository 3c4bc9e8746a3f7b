"""Work on a stream of batches in forked worker processes, results in order, memory bounded."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")
PR_SET_PDEATHSIG = 1  # prctl(2)


def default_jobs() -> int:
    """One worker per CPU this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _die_with_parent() -> None:
    """Have the kernel kill this worker when its parent dies (a ``kill -9`` of the command
    would otherwise leave workers waiting forever on a queue that their siblings keep open)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the call above took effect
            os._exit(1)


def ordered_map(
    function: Callable[..., R], items: Iterable[tuple[Any, ...]], jobs: int
) -> Iterator[R]:
    """``function(*item)`` for every item, in order.

    With ``jobs`` > 1 the calls run in forked worker processes (they start with whatever the
    parent has loaded: dictionaries, keys) and at most two items per worker are in flight, so
    memory stays bounded however long the stream is.
    """
    if jobs <= 1:
        for item in items:
            yield function(*item)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_die_with_parent
    ) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(function, *item))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
