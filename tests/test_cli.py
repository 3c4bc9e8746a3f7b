"""The command line: every command has help and is documented; errors are one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from leaktrace import exceptions
from leaktrace.cli import _common, app

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
runner = CliRunner()


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    names = [f"{prefix}{c.name}" for c in group.registered_commands]
    for sub in group.registered_groups:
        names += _commands(sub.typer_instance, f"{prefix}{sub.name} ")
    return names


COMMANDS = _commands(app)


def test_there_are_commands():
    assert "scan" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert re.search(rf"`leaktrace {re.escape(command)}\b", README), command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_that_prints_results_takes_json(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert "--json" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("leaktrace ")


def _error_classes(cls: type) -> list[type]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _error_classes(sub))]


_RUN_MAIN = """
import sys
from leaktrace.cli import main
sys.argv = ["leaktrace", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    print("exit", exit.code)
print(sorted(m for m in ("leaktrace.monitor", "leaktrace.release.export", "leaktrace.scan")
             if m in sys.modules))
"""


def test_a_command_imports_only_its_own_module():
    """``leaktrace scan`` does not pay for the monitor's or the export's imports."""
    run = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, "scan", "--help"], capture_output=True, text=True
    )
    assert "Usage: leaktrace scan" in run.stdout
    assert run.stdout.strip().endswith("['leaktrace.scan']")
    every = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, "--help"], capture_output=True, text=True
    )
    assert all(name in every.stdout for name in ("monitor", "export", "trace", "scan"))
    unknown = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, "nosuch"], capture_output=True, text=True
    )
    assert "exit 2" in unknown.stdout and "No such command" in unknown.stderr


_RUN_SCRIPT = """
import atexit, sys
from leaktrace.cli import run
atexit.register(lambda: print("atexit ran", file=sys.stderr))
sys.argv = ["leaktrace", *sys.argv[1:]]
run()
print("not reached")
"""


def test_the_console_script_ends_with_the_status_and_every_line(tmp_path):
    """The console script ends the process at once after a command, yet with its exit status,
    all its output (through a pipe) and the atexit handlers run."""
    path = tmp_path / "list.csv"
    path.write_text("姓名,手机\n王芳,13812345678\n李强,13912345678\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _RUN_SCRIPT, "scan", str(path), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (source,) = json.loads(done.stdout)
    assert {c["name"]: c["detected"] for c in source["columns"]}["手机"] == "mobile"
    assert "atexit ran" in done.stderr
    missing = subprocess.run(
        [sys.executable, "-c", _RUN_SCRIPT, "scan", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 3
    assert "no such file" in missing.stderr and "atexit ran" in missing.stderr
    assert "not reached" not in missing.stdout


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    """`leaktrace ledger show | head -1`: when the reader of the output stops, the command
    stops with the status of a program SIGPIPE stops, and says nothing (it did report "broken
    pipe; check the path and its permissions")."""
    import os

    assert runner.invoke(app, ["init", str(tmp_path / "ws")]).exit_code == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line
    with os.fdopen(write_end, "w") as closed:
        done = subprocess.run(
            [sys.executable, "-c", _RUN_SCRIPT, "ledger", "show", "-w", str(tmp_path / "ws")],
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == _common.EXIT_CLOSED_PIPE == 141
    assert done.stderr == "atexit ran\n"


def test_readme_documents_exit_codes():
    codes = {0, 2, 130, _common.EXIT_CLOSED_PIPE} | {
        c.exit_code for c in _error_classes(exceptions.LeaktraceError)
    }
    assert codes >= {0, 1, 2, 3, 4}
    for code in codes:
        assert f"| {code} |" in README


def test_scan_json_on_a_file(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(
        "姓名,手机,备注\n"
        "王芳,13812345678,客户来电 身份证11010519491231002X\n"
        "李强,139-1234-5678,无\n"
        "张伟,+86 150 0000 1234,已核实\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["scan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)
    columns = {c["name"]: c for c in source["columns"]}
    assert columns["手机"]["detected"] == "mobile"
    assert columns["手机"]["hit_ratio"] == 1.0
    assert columns["备注"]["kind"] == "free_text"
    assert columns["备注"]["findings"].get("resident_id") == 1
    assert "13812345678" not in result.stdout  # examples are masked
    assert source["summary"]["jrt_class"] == "C2"


def test_scan_bad_source_is_one_line_and_others_still_scanned(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("手机\n13812345678\n13912345678\n", encoding="utf-8")
    missing = tmp_path / "missing.csv"
    result = runner.invoke(app, ["scan", str(missing), str(good), "--json"])
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert any("missing.csv" in line for line in errors)
    assert "Traceback" not in result.output
    sources = json.loads(result.stdout)
    assert [s["error"] is None for s in sources] == [False, True]


def test_json_and_csv_together_is_a_usage_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("手机\n13812345678\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(path), "--json", "--csv"])
    assert result.exit_code == 2
    assert "--json" in result.stderr


def test_what_the_system_refuses_is_one_line(tmp_path):
    """A path that is a file where a folder is needed: the reason and the path, exit 1."""
    taken = tmp_path / "taken"
    taken.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["synth", "-q", "-n", "10", str(taken)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and str(taken) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_store_that_fails_to_read_mid_command_is_exit_4(tmp_path, monkeypatch):
    """DuckDB's IOException while a command runs (a store truncated past the blocks its opening
    reads): one line that names the store, the workspace's exit code."""
    import duckdb

    from leaktrace import ledger, store

    store.init_workspace(tmp_path / "ws").close()

    def damaged(*_args, **_kwargs):
        raise duckdb.IOException("IO Error: Could not read enough bytes from file")

    monkeypatch.setattr(ledger, "entries", damaged)
    result = runner.invoke(app, ["ledger", "show", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 4, result.output
    assert "restore leaktrace.duckdb from a backup" in result.stderr
    assert "Traceback" not in result.output


def test_a_polite_stop_unwinds_like_ctrl_c(tmp_path):
    """SIGTERM (kill, a scheduler's timeout) ends a command as an interrupt: exit 130, one line,
    and no partial file left behind."""
    import signal
    import time

    synth = ["synth", "-q", "-n", "10", "--days", "100000", str(tmp_path / "bank")]
    started = subprocess.Popen(
        [sys.executable, "-c", _RUN_SCRIPT, *synth],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list((tmp_path / "bank").glob(".*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    started.send_signal(signal.SIGTERM)
    _out, err = started.communicate(timeout=60)
    assert started.returncode == 130, err
    assert "error: interrupted" in err and "Traceback" not in err
    assert not list((tmp_path / "bank").glob(".*.partial"))
