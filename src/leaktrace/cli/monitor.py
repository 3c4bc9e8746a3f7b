"""``leaktrace monitor [review|list]``: score users' days, show and review the alerts."""

from __future__ import annotations

import csv
import datetime
import sys
from typing import Annotated

import typer
from rich.table import Table as RichTable

from leaktrace import monitor, store
from leaktrace.cli._common import (
    CsvOption,
    JsonOption,
    QuietOption,
    WorkspaceOption,
    handle_errors,
    print_json,
    progress,
    stdout,
)
from leaktrace.exceptions import ConfigError

app = typer.Typer(
    name="monitor",
    help="Score every user's day of access events against peers and own history; alerts with "
    "reasons, and their review.",
    rich_markup_mode=None,
)


def _date(text: str | None, option: str) -> datetime.date | None:
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} must be a date such as 2025-01-31, not {text!r}.") from None


SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="First day (YYYY-MM-DD) [default: the first day with events].",
        show_default=False,
        metavar="DATE",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Last day (YYYY-MM-DD) [default: the last day with events].",
        show_default=False,
        metavar="DATE",
    ),
]


@app.callback(invoke_without_command=True)
@handle_errors
def monitor_command(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    quiet: QuietOption = False,
) -> None:
    """Score each user's days from --since to --until and list the alerts, best first per day.

    Features per user and day (customers touched, without a business reference, credit
    reports without a loan application, other branches and portfolios, exports, off hours,
    enumeration, days before leaving, decoys) are compared with the same day's peers and the
    user's own history; thresholds and the daily alert budget are in [monitor] of
    leaktrace.toml. Running again over the same days updates the alerts and keeps their review
    status. `leaktrace monitor review ID` records a review; `leaktrace monitor list` shows
    stored alerts without scoring.
    """
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise ConfigError("--json and --csv cannot be used together; choose one.")
    first, last = _date(since, "--since"), _date(until, "--until")
    with store.open_workspace(workspace) as ws, progress(not quiet) as bar:
        task = bar.add_task("scoring days", total=None) if bar is not None else None

        def on_days(done: int, total: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total)

        found = monitor.run(ws, first, last, on_days=on_days)
    _render(found, as_json, as_csv, "No alerts" + _span(first, last) + ".")


@app.command("list")
@handle_errors
def list_command(
    since: SinceOption = None,
    until: UntilOption = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only alerts of this status: open, confirmed, dismissed.",
            show_default=False,
        ),
    ] = None,
    staff: Annotated[
        str | None, typer.Option("--staff", help="Only this user's alerts.", show_default=False)
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """List stored alerts (nothing is scored), by day and score; filter by status and user."""
    if as_json and as_csv:
        raise ConfigError("--json and --csv cannot be used together; choose one.")
    first, last = _date(since, "--since"), _date(until, "--until")
    with store.open_workspace(workspace) as ws:
        found = monitor.alerts(ws, first, last, status=status, staff_id=staff)
    _render(found, as_json, as_csv, "No alerts" + _span(first, last) + ".")


@app.command("review")
@handle_errors
def review_command(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.", show_default=False)],
    confirm: Annotated[
        bool, typer.Option("--confirm", help="The alert is a real finding.")
    ] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="The alert is not a finding.")] = False,
    reopen: Annotated[bool, typer.Option("--reopen", help="Open the alert again.")] = False,
    note: Annotated[
        str | None, typer.Option("--note", help="What the reviewer found.", show_default=False)
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the review of an alert: --confirm, --dismiss or --reopen, with a --note."""
    chosen = [
        name
        for name, flag in (("confirmed", confirm), ("dismissed", dismiss), ("open", reopen))
        if flag
    ]
    if len(chosen) != 1:
        raise ConfigError("Give exactly one of --confirm, --dismiss and --reopen.")
    with store.open_workspace(workspace) as ws:
        alert = monitor.set_status(ws, alert_id, chosen[0], note)
    if as_json:
        print_json(alert.as_dict())
    else:
        stdout.print(
            f"alert {alert.alert_id} ({alert.staff_id}, {alert.day}): {alert.status}"
            + (f" — {alert.note}" if alert.note else ""),
            highlight=False,
            markup=False,
        )


def _span(first: datetime.date | None, last: datetime.date | None) -> str:
    if first and last:
        return f" from {first} to {last}"
    if first:
        return f" from {first}"
    return f" up to {last}" if last else ""


_COLUMNS = ("id", "day", "staff", "role", "score", "severity", "status", "reasons")


def _render(found: list[monitor.Alert], as_json: bool, as_csv: bool, empty: str) -> None:
    if as_json:
        print_json([alert.as_dict() for alert in found])
        return
    rows = [
        (
            str(a.alert_id),
            a.day.isoformat(),
            a.staff_id,
            str(a.features.get("role") or ""),
            f"{a.score:.1f}",
            a.severity,
            a.status,
            a.reasons,
        )
        for a in found
    ]
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(_COLUMNS)
        for row in rows:
            writer.writerow([*row[:-1], " | ".join(row[-1])])
        return
    if not rows:
        stdout.print(empty, highlight=False)
        return
    if stdout.is_terminal:
        table = RichTable(show_edge=False, pad_edge=False, show_lines=True)
        for name in _COLUMNS:
            table.add_column(name, no_wrap=name != "reasons")
        for row in rows:
            table.add_row(*row[:-1], "\n".join(row[-1]))
        stdout.print(table)
    else:
        # Piped: one tab-separated line per alert, reasons joined, for grep and spreadsheets.
        for row in (_COLUMNS, *((*r[:-1], " | ".join(r[-1])) for r in rows)):
            typer.echo("\t".join(row))
    counts = {s: sum(a.status == s for a in found) for s in monitor.STATUSES}
    stdout.print(
        f"{len(found)} alerts: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
        highlight=False,
    )
