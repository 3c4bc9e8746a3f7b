"""What the benchmark scripts share: the machine's description, timing, peak memory, output."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "out"
PEERS_PYTHON = Path(__file__).parent / ".venv-peers" / "bin" / "python"
PRODUCT_PYTHON = Path(__file__).parent / ".venv-product" / "bin" / "python"


def machine() -> str:
    """One line: CPU model, cores, memory, Python, date."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}"
    )


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_peers(*packages: str) -> Path:
    """The peers' own virtualenv (benchmarks/.venv-peers), created with ``packages`` if missing."""
    _venv(PEERS_PYTHON)
    missing = subprocess.run(
        [
            str(PEERS_PYTHON),
            "-c",
            "import " + ",".join(p.split("[")[0].replace("-", "_") for p in packages),
        ],
        capture_output=True,
    )
    if missing.returncode:
        subprocess.run([str(PEERS_PYTHON), "-m", "pip", "install", "-q", *packages], check=True)
    return PEERS_PYTHON


def ensure_product() -> Path:
    """A virtualenv with leaktrace installed as the README's quick start installs it
    (benchmarks/.venv-product: this checkout, editable, without the development tools), made
    if missing and brought up to date. pandas and scipy, which the development tools bring,
    change what leaktrace pays at start: pyarrow imports pandas at its first NumPy conversion
    and numba imports scipy's BLAS at its first compiled call, if they are installed.

    leaktrace's sources are byte-compiled here, as Python does at a user's first run: where
    PYTHONDONTWRITEBYTECODE is set (this machine sets it) an editable install never gets its
    ``.pyc`` files, and every leaktrace process compiled its modules again (~0.2 s of an
    export), while the peers' packages were compiled by pip when they were installed."""
    _venv(PRODUCT_PYTHON)
    # Every time (pip finds it installed in seconds): the checkout may ask for new dependencies.
    root = Path(__file__).parents[1]
    subprocess.run([str(PRODUCT_PYTHON), "-m", "pip", "install", "-q", "-e", str(root)], check=True)
    subprocess.run(
        [str(PRODUCT_PYTHON), "-m", "compileall", "-q", str(root / "src" / "leaktrace")],
        check=True,
    )
    return PRODUCT_PYTHON


def _venv(python: Path) -> None:
    """A virtualenv whose interpreter is ``python``, made if missing."""
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)


def _tree_memory_kib(pid: int) -> int:
    """Memory of a process and all its descendants, in KiB (0 once it is gone).

    Proportional set size (Pss, /proc/PID/smaps_rollup): forked workers share their parent's
    pages, and adding up their RSS would count those pages once per worker.
    """
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += next(
                int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished child processes so far (a
    child's own waited-for workers included): differences around :func:`run_measured` give a
    command's CPU, a figure that other work on the machine inflates less than wall time."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_measured(command: list[str], **kwargs: Any) -> tuple[float, float, str]:
    """Run ``command``: (wall seconds, peak memory of its whole process tree in MiB, stdout).

    The tree (a command and its worker processes) is sampled every 0.5 s (reading smaps costs
    CPU), so a peak shorter than that may be missed; ``ru_maxrss`` alone would miss the
    workers' share. The time is taken when the command ends (waiting on it between samples):
    until 2026-12-05 it was taken at the first sample after the end, up to 0.5 s late (a
    1M-row export of ~4.35 s read 4.66 s, its pyarrow peer of ~1.93 s read 2.02 s).
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    peak = 0
    while True:
        peak = max(peak, _tree_memory_kib(process.pid))
        try:
            process.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            continue
    seconds = time.perf_counter() - started
    output = process.stdout.read() if process.stdout else ""
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit code {process.returncode}")
    return seconds, peak / 1024, output
