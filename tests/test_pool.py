"""leaktrace._pool: ordered results, and no worker outlives a killed command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from leaktrace import _pool
from leaktrace._pool import ordered_map
from leaktrace.exceptions import LeaktraceError


def _square(x: int) -> int:
    return x * x


def _thread_jobs_here(_: int) -> tuple[int, int]:
    return _pool.thread_jobs(), _pool.threads().submit(os.getpid).result()


def test_a_worker_of_a_forked_pool_splits_no_work_into_threads():
    """Its siblings keep the other CPUs busy; threads it inherited died in the fork."""
    _pool.threads().submit(int).result()  # the parent's pool exists before the fork
    assert _pool.thread_jobs() == _pool.default_jobs()
    [(jobs, pid)] = list(ordered_map(_thread_jobs_here, [(0,)], 2))
    assert jobs == 1 and pid != os.getpid()


def _sigterm_is_default(_: int) -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_workers_end_on_sigterm_whatever_the_command_handles():
    """The command turns SIGTERM into an interrupt; the pool stops its workers with SIGTERM,
    so they take the default back."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        assert list(ordered_map(_sigterm_is_default, [(0,), (1,)], 2)) == [True, True]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_thread_of_the_pool_splits_no_work_into_threads():
    assert _pool.threads().submit(_pool.thread_jobs).result() == 1


def test_results_come_in_order_with_and_without_workers():
    items = [(i,) for i in range(50)]
    assert list(ordered_map(_square, items, 2)) == list(ordered_map(_square, items, 1))


_SLOW = """
import os, time
import pytest

from leaktrace import _pool
from leaktrace._pool import ordered_map
from leaktrace.exceptions import LeaktraceError
def slow(x):
    time.sleep(60)
    return x
print(os.getpid(), flush=True)
list(ordered_map(slow, [(i,) for i in range(4)], 2))
"""


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def test_workers_die_with_a_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", _SLOW], stdout=subprocess.PIPE, text=True)
    assert int(parent.stdout.readline()) == parent.pid
    deadline = time.monotonic() + 20
    while len(_children(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _children(parent.pid)
    assert len(workers) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{w}") for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{w}") for w in workers)


def _hang(folder: str, first_only: bool) -> None:
    """A worker start that hangs (in the first worker to run it only, or in every one) as a
    child stuck after fork would; each hung worker leaves its pid in ``folder``."""
    try:
        with open(os.path.join(folder, "first"), "x"):
            pass
    except FileExistsError:
        if first_only:
            return
    with open(os.path.join(folder, str(os.getpid())), "w"):
        pass
    time.sleep(3600)


def _gone(pids: list[int]) -> bool:
    return not any(os.path.exists(f"/proc/{p}") for p in pids)


def _hung(folder) -> list[int]:
    return [int(p.name) for p in folder.iterdir() if p.name.isdigit()]


def test_a_worker_that_never_starts_is_killed_and_the_pool_forked_again(tmp_path, monkeypatch):
    monkeypatch.setattr(_pool, "_die_with_parent", lambda: _hang(str(tmp_path), first_only=True))
    started = time.monotonic()
    with _pool.forked_pool(2, startup_seconds=2) as pool:
        assert len(_hung(tmp_path)) == 1  # one worker of the first pool hung
        assert [pool.submit(_square, i).result(timeout=20) for i in range(4)] == [0, 1, 4, 9]
    assert time.monotonic() - started < 20
    assert _gone(_hung(tmp_path))


def test_workers_that_never_start_end_in_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_pool, "_die_with_parent", lambda: _hang(str(tmp_path), first_only=False))
    monkeypatch.setattr(_pool, "START_ATTEMPTS", 2)
    with pytest.raises(LeaktraceError, match="did not start within 1 s, 2 times"):
        _pool.forked_pool(1, startup_seconds=1)
    assert len(_hung(tmp_path)) == 2 and _gone(_hung(tmp_path))
