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
    if not PEERS_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_PYTHON.parents[1])], check=True)
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
