"""``leaktrace access load|status``: access logs, the staff directory, loan applications and
portfolios, loaded for the monitor."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from leaktrace import access, store
from leaktrace.cli._common import (
    JsonOption,
    QuietOption,
    WorkspaceOption,
    handle_errors,
    print_json,
    progress,
    stdout,
    summarise_for_trace,
    warn,
)

_COUNTS = ("loads", "rows", "loaded", "duplicates", "rejected")

app = typer.Typer(
    name="access",
    help="Access logs, staff, loan applications and portfolios: load them for the monitor.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("load")
@handle_errors
def load_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A file (CSV/TSV/TXT, JSON/JSONL, Parquet, XLSX) or SQL URL such as "
            "postgresql://user@host/db?table=access_log.",
            show_default=False,
            metavar="SOURCE",
        ),
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            "-k",
            help="events, staff, applications or portfolios [default: guessed from the columns].",
            show_default=False,
        ),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="FIELD=COLUMN, repeatable: time, staff_id, customer, action, system, "
            "business_ref, terminal, ip, event_id (events); staff_id, role, branch_code, "
            "join_date, leave_date (staff); application_id, customer, staff_id, submitted "
            "(applications); staff_id, customer (portfolios). The customer column may carry its "
            "type: customer=证件号码:resident_id (number, resident_id, mobile …). Unnamed fields "
            "are found by header.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Load access events, the staff directory, applications or portfolios.

    Customers are kept as match tokens, never as the numbers or identifiers the source holds;
    staff names are not read. Loading is incremental: events already loaded are counted as
    duplicates, not added again. Lines that cannot be taken (bad timestamps, users missing
    from the staff directory, truncated rows, text in another encoding) are counted and listed
    by line number; the rest is loaded.
    """
    mapping = access.parse_map(maps) if maps else None
    with store.open_workspace(workspace) as ws, progress(not quiet) as bar:
        task = bar.add_task("loading", total=None) if bar else None

        def advance(rows: int, total: int | None) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=rows, total=total)

        result = access.load(ws, source, kind, mapping, advance)
        if result.kind == "events":
            summarise_for_trace(ws, bar)
    for warning in result.warnings:
        warn(warning)
    if as_json:
        print_json(result.summary())
        return
    stdout.print(result.message(), highlight=False, markup=False)


@app.command("status")
@handle_errors
def status_command(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """What the workspace holds: staff, events, applications and portfolios, loads per kind,
    and rejected lines by reason."""
    with store.open_workspace(workspace, read_only=True) as ws:
        data = access.status(ws)
    if as_json:
        print_json(data)
        return
    span = f", {data['first_event']} to {data['last_event']}" if data["first_event"] else ""
    stdout.print(
        f"{data['events']:,} events{span}; {data['staff']:,} staff, "
        f"{data['applications']:,} applications, {data['portfolios']:,} portfolio entries",
        highlight=False,
        markup=False,
    )
    if data["loads"]:
        table = RichTable()
        table.add_column("kind")
        for column in _COUNTS:
            table.add_column(column, justify="right")
        for name, counts in data["loads"].items():
            table.add_row(name, *(f"{counts[c]:,}" for c in _COUNTS))
        stdout.print(table)
    for reason, count in data["rejected_by_reason"].items():
        stdout.print(f"rejected: {count:,} lines, {reason}", highlight=False, markup=False)
