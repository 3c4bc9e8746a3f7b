"""The case report as PDF: the HTML report printed by a headless Chromium (Debian's
``chromium`` package, or Google Chrome), so the PDF shows exactly what the HTML shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from leaktrace.exceptions import ConfigError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


def browser() -> str | None:
    """The first headless-capable browser on the PATH, if any."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def write_pdf(html: str, path: Path) -> None:
    """Print ``html`` to ``path`` (through a temporary file: never half a PDF)."""
    program = browser()
    if program is None:
        raise ConfigError(
            "writing a PDF needs Chromium (apt install chromium); the HTML report has the same "
            "content"
        )
    partial = path.with_name(f".{path.name}.partial")
    with tempfile.TemporaryDirectory(prefix="leaktrace-report-") as folder:
        page = Path(folder) / "case.html"
        page.write_text(html, encoding="utf-8")
        command = [
            program, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            f"--user-data-dir={folder}/profile", f"--print-to-pdf={partial}", page.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"{program} could not print the report to PDF ({error})") from None
    if not partial.exists() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"{program} wrote no PDF; the HTML report has the same content")
    os.replace(partial, path)
