"""``leaktrace export``: a unique, recorded copy of a table for one recipient."""

from __future__ import annotations

from typing import Annotated

import typer

from leaktrace import store
from leaktrace.cli._common import (
    JsonOption,
    WorkspaceOption,
    handle_errors,
    print_json,
    stderr,
    warn,
)
from leaktrace.cli._common import stdout as out
from leaktrace.release import export as exporter


def recover(ws: store.Workspace) -> None:
    """Put right exports that were interrupted, and say so on stderr."""
    for message in exporter.recover(ws):
        stderr.print(f"note: {message}", markup=False, highlight=False)


@handle_errors
def export_command(
    source: Annotated[
        str,
        typer.Argument(
            help="The table to release: a file (CSV/TSV, XLSX/XLS, JSON/JSONL, Parquet) or SQL "
            "URL such as postgresql://user@host/db?table=customers.",
            show_default=False,
            metavar="SOURCE",
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="The file to write (.csv, .tsv, .xlsx, .json, .jsonl, .parquet); never "
            "overwritten.",
            show_default=False,
        ),
    ],
    recipient: Annotated[
        str, typer.Option("--to", help="Who receives the copy (a team, a partner, a person).")
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="Why it is released.")],
    role: Annotated[
        str,
        typer.Option("--role", help="The recipient's role: picks the policy in leaktrace.toml."),
    ] = "default",
    approver: Annotated[
        str | None, typer.Option("--approver", help="Who approved the release.")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            help="Release N customers only, chosen for this recipient so that two recipients of "
            "the same request overlap as little as possible.",
        ),
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment",
            help="With --sample: only customers whose segment attributes match, e.g. "
            "branch_code=43021103,city=株洲市.",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a unique copy of SOURCE for one recipient and record it in the ledger.

    The copy holds keyed marks in fields the recipient does not need exactly (address forms,
    the last digit of amounts, list order), decoy customers at keyed positions (~3%), masked
    columns as the role's policy says, and with --sample a subset chosen for this recipient.
    Values a recipient needs (names, phones, IDs, cards) are never changed. An interrupted
    export is put right by the next export or ledger command.
    """
    with store.open_workspace(workspace) as ws:
        recover(ws)
        release = exporter.export(
            ws,
            source,
            output,
            recipient=recipient,
            purpose=purpose,
            role=role,
            approver=approver,
            sample=sample,
            segment=segment,
        )
    for warning in release.warnings:
        warn(warning)
    if as_json:
        print_json(release.as_dict())
        return
    out.print(
        f"{release.release_id}: {release.rows:,} rows ({release.customers:,} customers, "
        f"{release.decoys:,} decoys) for {release.recipient} → {release.output}",
        highlight=False,
    )
    fields = ", ".join(f"{f} ({r})" for f, r in release.marked_fields.items()) or "none"
    out.print(f"marked fields: {fields}", highlight=False)
    out.print(
        f"ledger entry {release.ledger_seq}; SHA-256 {release.output_sha256}", highlight=False
    )
