"""leaktrace demo: the whole story on a synthetic bank names the planted insider (issue 7,
acceptance 5)."""

from __future__ import annotations

import datetime
import json
import time

from typer.testing import CliRunner

from leaktrace import ledger, store
from leaktrace.cli import app


def test_the_demo_names_the_planted_insider_in_under_three_minutes(tmp_path):
    started = time.monotonic()
    result = CliRunner().invoke(app, ["demo", str(tmp_path / "demo"), "--json"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["found_insider"] and outcome["named"] == [outcome["insider"]]
    started = datetime.date.fromisoformat(outcome["harvest_started"])
    alerted = datetime.date.fromisoformat(outcome["first_alert"])
    assert 0 <= (alerted - started).days <= 2  # the monitor caught the harvest as it went on
    assert elapsed < 180
    report = (tmp_path / "demo" / "case.html").read_text(encoding="utf-8")
    assert outcome["insider"] in report and 'id="timeline"' in report
    with store.open_workspace(tmp_path / "demo" / "ws", read_only=True) as ws:
        kinds = [e.kind for e in ledger.entries(ws)]
        assert kinds.count("release") == 2 and "canary" in kinds and kinds[-1] == "case"
        assert ledger.verify(ws).ok
    again = CliRunner().invoke(app, ["demo", str(tmp_path / "demo")])
    assert again.exit_code != 0 and "already holds a demo" in again.output
