"""``leaktrace ledger verify|show``: check the ledger's chain, list its entries and head."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from leaktrace import ledger, store
from leaktrace.cli._common import JsonOption, WorkspaceOption, handle_errors, print_json, stdout
from leaktrace.cli.export import recover
from leaktrace.exceptions import LedgerError

app = typer.Typer(
    name="ledger",
    help="The ledger of releases and cases: verify its hash chain, list its entries.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("verify")
@handle_errors
def verify_command(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            help="SEQ:HASH of a chain head recorded earlier outside the workspace (as `ledger "
            "show` prints it); the entry must still be in the ledger with that hash.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry's hash, link and MAC, and the chain head; exit 5 if anything is broken.

    Reports the first entry that cannot be trusted and why: edited, forged (bad MAC), broken
    link, reordered, missing, or newest entries deleted (the chain head names more).
    """
    parsed = ledger.parse_anchor(anchor) if anchor is not None else None
    with store.open_workspace(workspace) as ws:
        recover(ws)
        result = ledger.verify(ws, parsed)
    if as_json:
        print_json(result.as_dict())
    elif result.ok:
        stdout.print(result.message, highlight=False)
    if not result.ok:
        raise LedgerError(result.message)


@app.command("show")
@handle_errors
def show_command(
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            "-k",
            help="Only entries of this kind (release, release_aborted, canary, case …).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        int | None,
        typer.Option("--since", help="Only entries after this seq.", show_default=False),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the ledger's entries (seq, time, kind, body summary, hash) and its chain head.

    Record the head (SEQ:HASH) outside the workspace now and then: `ledger verify --anchor`
    then also catches a rewrite by someone who holds the key. Nothing is verified here.
    """
    with store.open_workspace(workspace) as ws:
        recover(ws)
        found = ledger.entries(ws, kind=kind, since_seq=since)
        head = ledger.head(ws)
    if as_json:
        print_json(
            {
                "head": head.as_dict() if head else None,
                "entries": [entry.as_dict() for entry in found],
            }
        )
        return
    rows = [
        (
            str(entry.seq),
            entry.time[:19].replace("T", " "),
            entry.kind,
            entry.summary(),
            entry.entry_hash.hex()[:16],
        )
        for entry in found
    ]
    columns = ("seq", "time (UTC)", "kind", "summary", "hash")
    if not rows:
        stdout.print("No entries" + (f" of kind {kind}" if kind else "") + ".", highlight=False)
    elif stdout.is_terminal:
        table = RichTable(show_edge=False, pad_edge=False)
        for name in columns:
            table.add_column(name, no_wrap=name != "summary")
        for row in rows:
            table.add_row(*row)
        stdout.print(table)
    else:
        # Piped: one tab-separated line per entry, for grep and spreadsheets.
        for row in (columns, *rows):
            typer.echo("\t".join(row))
    if head is None:
        stdout.print("chain head: none (empty ledger)", highlight=False)
    else:
        stdout.print(f"chain head: {head}  (record it outside the workspace)", highlight=False)
