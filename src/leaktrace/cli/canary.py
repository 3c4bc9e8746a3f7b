"""``leaktrace canary plant``: tripwire customers for the institution's own tables."""

from __future__ import annotations

from typing import Annotated

import typer

from leaktrace import store
from leaktrace.cli._common import JsonOption, WorkspaceOption, handle_errors, print_json
from leaktrace.cli._common import stdout as out
from leaktrace.cli.export import recover
from leaktrace.release import canary

app = typer.Typer(
    help="Canary customers: decoys planted in production tables as tripwires.",
    no_args_is_help=True,
)


@app.command("plant")
@handle_errors
def plant_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A table of real customers to take the canaries' shape from (columns, formats, "
            "regions, numbering): a file or SQL URL.",
            show_default=False,
            metavar="SOURCE",
        ),
    ],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many canaries.")],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="The file to write the canaries to (.csv, .tsv, .xlsx, .json, .jsonl, .parquet).",
            show_default=False,
        ),
    ],
    note: Annotated[
        str | None, typer.Option("--note", help="Where they will be planted, for the ledger.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write N canary customers shaped like SOURCE and register them.

    Insert the rows of the output into the production tables. Any access to a canary in the
    access logs is a critical alert (`leaktrace monitor`), and any canary in a leaked list
    proves it came from those tables (`leaktrace trace`). Phones come only from
    decoy_phone_pool in leaktrace.toml; without one, canaries carry no phone number.
    """
    with store.open_workspace(workspace) as ws:
        recover(ws)
        planted = canary.plant(ws, source, output, count=count, note=note)
    if as_json:
        print_json(planted.as_dict())
        return
    out.print(
        f"{planted.release_id}: {planted.count:,} canaries → {planted.output} "
        f"(ledger entry {planted.ledger_seq}; SHA-256 {planted.output_sha256})",
        highlight=False,
    )
