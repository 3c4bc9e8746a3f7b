"""The ``leaktrace`` command: a thin shell over the library.

Each command group lives in its own module and only parses options, calls the library and
renders; library errors (:class:`leaktrace.exceptions.LeaktraceError`) become one line on stderr
and the error's exit code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from functools import cache

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


def main() -> None:
    """Entry point of the ``leaktrace`` console script.

    Only the module of the command asked for is imported: the others bring the workspace's
    database, the register, the export and the monitor, ~0.35 s of every run of ``scan``. Help
    without a command, ``--version`` and an unknown command get every command.
    """
    asked = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMANDS else None
    build([asked] if asked else COMMANDS)()
