"""The ``leaktrace`` command: a thin shell over the library.

Each command group lives in its own module and only parses options, calls the library and
renders; library errors (:class:`leaktrace.exceptions.LeaktraceError`) become one line on stderr
and the error's exit code.
"""

from __future__ import annotations

import typer

from leaktrace import __version__
from leaktrace.cli import (
    access,
    canary,
    customers,
    demo,
    export,
    ledger,
    monitor,
    scan,
    synth,
    trace,
    workspace,
)

app = typer.Typer(
    name="leaktrace",
    help="Find, release, watch and trace customer personal information leaked by insiders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command(name="init")(workspace.init_command)
app.command(name="scan")(scan.scan_command)
app.add_typer(customers.app, name="customers")
app.command(name="export")(export.export_command)
app.add_typer(canary.app, name="canary")
app.add_typer(ledger.app, name="ledger")
app.add_typer(access.app, name="access")
app.command(name="trace")(trace.trace_command)
app.command(name="cases")(trace.cases_command)
app.command(name="synth")(synth.synth_command)
app.add_typer(monitor.app, name="monitor")
app.command(name="demo")(demo.demo_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leaktrace {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Find, release, watch and trace customer personal information leaked by insiders."""


def main() -> None:
    """Entry point of the ``leaktrace`` console script."""
    app()
