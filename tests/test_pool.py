"""leaktrace._pool: ordered results, and no worker outlives a killed command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from leaktrace._pool import ordered_map


def _square(x: int) -> int:
    return x * x


def test_results_come_in_order_with_and_without_workers():
    items = [(i,) for i in range(50)]
    assert list(ordered_map(_square, items, 2)) == list(ordered_map(_square, items, 1))


_SLOW = """
import os, time
from leaktrace._pool import ordered_map
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
