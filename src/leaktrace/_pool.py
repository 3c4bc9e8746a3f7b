"""Work on a stream of batches in forked worker processes, results in order, memory bounded."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.synchronize import Semaphore
from typing import Any, TypeVar

from leaktrace.exceptions import LeaktraceError

R = TypeVar("R")
PR_SET_PDEATHSIG = 1  # prctl(2)
STARTUP_SECONDS = 30.0  # a forked worker reaches its initializer in milliseconds
START_ATTEMPTS = 3


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


_THREAD_PREFIX = "leaktrace-thread"
_in_worker = False
_threads: tuple[int, ThreadPoolExecutor] | None = None


def _start_worker(started: Semaphore) -> None:
    global _in_worker
    _in_worker = True
    _die_with_parent()
    # The command's SIGTERM handler (an interrupt, to unwind) is not for workers: the pool
    # stops them with SIGTERM and expects them to end.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    started.release()


BACKGROUND_NICE = 10  # the scheduling priority of threads that work ahead of the one that waits


def lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux sets nice per thread; elsewhere
    nothing changes): for threads that work ahead of what another, busier thread needs, so that
    on a machine with few cores they take the time that thread leaves, not the time it waits
    for. An export's reading, numbering and register reads run so beside the exporting thread,
    whose work (typing, decoys) holds the interpreter: 3.11 against 3.21 s on two cores."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


def thread_jobs() -> int:
    """How many threads a step that releases the GIL should split its work into: one per CPU;
    one in a worker of :func:`forked_pool`, whose siblings already keep the other CPUs busy,
    and in a thread of :func:`threads` (waiting there on its own pool could take every thread)."""
    if _in_worker or threading.current_thread().name.startswith(_THREAD_PREFIX):
        return 1
    return default_jobs()


def threads() -> ThreadPoolExecutor:
    """This process's pool of :func:`thread_jobs` threads, made on first use.

    A forked child makes its own: the threads of a pool it inherited did not survive the fork.
    """
    global _threads
    if _threads is None or _threads[0] != os.getpid():
        _threads = (os.getpid(), ThreadPoolExecutor(thread_jobs(), _THREAD_PREFIX))
    return _threads[1]


def forked_pool(jobs: int, startup_seconds: float = STARTUP_SECONDS) -> ProcessPoolExecutor:
    """``jobs`` worker processes, forked now and each known to be running.

    Workers inherit the parent as it is at this call (loaded dictionaries, compiled loops).
    Each one tells the parent that it started, because CPython 3.11 can leave a forked child
    hanging for ever in its after-fork set-up: when another thread of the parent (a DuckDB or
    Arrow thread entering or leaving Python) held the interpreter's thread-state lock at the
    moment of the fork, the child waits on that lock, and a pool waiting on that child never
    finishes (seen once in the tests). Workers not started within ``startup_seconds`` are
    killed and the pool is forked again.
    """
    context = multiprocessing.get_context("fork")
    for _ in range(START_ATTEMPTS):
        started = context.Semaphore(0)
        pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(started,)
        )
        pool.submit(int)  # with fork, the first task forks every worker
        deadline = time.monotonic() + startup_seconds
        if all(started.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in range(jobs)):
            return pool
        # The executor offers no other handle on a worker that never started.
        for process in list(pool._processes.values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
    raise LeaktraceError(
        f"Worker processes did not start within {startup_seconds:.0f} s, {START_ATTEMPTS} times; "
        "the machine may be overloaded. Run the command again."
    )


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
    with forked_pool(jobs) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(function, *item))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
