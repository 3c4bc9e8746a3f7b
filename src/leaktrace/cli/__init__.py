"""The ``leaktrace`` command: a thin shell over the library.

Each command group lives in its own module and only parses options, calls the library and
renders; library errors (:class:`leaktrace.exceptions.LeaktraceError`) become one line on stderr
and the error's exit code.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import signal
import sys
from collections.abc import Iterable
from functools import cache
from typing import NoReturn

import typer

from leaktrace import __version__

# Command name → (module of leaktrace.cli, the command function or Typer group in it).
COMMANDS = {
    "init": ("workspace", "init_command"),
    "scan": ("scan", "scan_command"),
    "customers": ("customers", "app"),
    "export": ("export", "export_command"),
    "canary": ("canary", "app"),
    "ledger": ("ledger", "app"),
    "access": ("access", "app"),
    "trace": ("trace", "trace_command"),
    "cases": ("trace", "cases_command"),
    "synth": ("synth", "synth_command"),
    "monitor": ("monitor", "app"),
    "demo": ("demo", "demo_command"),
}


def build(names: Iterable[str] = tuple(COMMANDS)) -> typer.Typer:
    """The ``leaktrace`` command with the commands ``names`` (their modules imported now)."""
    app = typer.Typer(
        name="leaktrace",
        help="Find, release, watch and trace customer personal information leaked by insiders.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for name in names:
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"leaktrace.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leaktrace {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Find, release, watch and trace customer personal information leaked by insiders."""


@cache
def _every_command() -> typer.Typer:
    return build()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # every command: what tests and tools import
        return _every_command()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def settle_process() -> None:
    """What a command sets for its process before it starts (benchmarks that call the library
    in a process of their own set the same, to measure what a command pays)."""
    # NumPy's OpenBLAS starts a thread per core that spins for a while (~0.1 CPU s an export,
    # on two cores); leaktrace does no linear algebra. It reads this when NumPy is imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # A command allocates arrays, not cycles; at the default (700, 10, 10) an export's start
    # (imports, numba's load) ran ~500 collections, 0.15-0.2 CPU s, against 0.05 s at these.
    gc.set_threshold(50_000, 20, 20)


def main() -> None:
    """The ``leaktrace`` command line, which exits by ``SystemExit`` (:func:`run`, the console
    script, ends the process after it).

    Only the module of the command asked for is imported: the others bring the workspace's
    database, the register, the export and the monitor, ~0.35 s of every run of ``scan``. Help
    without a command, ``--version`` and an unknown command get every command.
    """
    asked = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMANDS else None
    settle_process()
    # A polite stop (kill, a scheduler's timeout) unwinds like Ctrl-C: partial files are
    # removed and open transactions rolled back, instead of the process vanishing mid-write.
    signal.signal(signal.SIGTERM, _interrupt)
    build([asked] if asked else COMMANDS)()


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run() -> NoReturn:
    """The console script: :func:`main`, then the process ends at once (``os._exit``) with
    main's exit status, after the atexit handlers and a flush of stdout and stderr.

    What is left is the interpreter's own teardown, which keeps nothing a finished command
    needs (files are closed, the workspace committed and closed) and took 0.25 s after an
    export, numba's compiled code most of it (benchmarks/RESULTS.md). An error that is not an
    exit (a bug) ends the usual way, with its traceback.
    """
    try:
        main()
    except SystemExit as done:
        status = done.code
    else:
        status = 0
    if not isinstance(status, int):  # None is success; a message is printed and exits 1
        if status is not None:
            print(status, file=sys.stderr)
        status = 0 if status is None else 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(status)
