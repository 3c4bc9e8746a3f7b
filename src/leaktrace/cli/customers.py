"""``leaktrace customers load|match``: the register of keyed tokens, and matching lists to it."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from leaktrace import customers, store, tables
from leaktrace.cli._common import (
    JsonOption,
    QuietOption,
    WorkspaceOption,
    handle_errors,
    print_json,
    progress,
    stderr,
    stdout,
    summarise_for_trace,
    warn,
)
from leaktrace.exceptions import ConfigError

app = typer.Typer(
    name="customers",
    help="The customer register: load customers as keyed tokens, match lists to them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SourceArgument = Annotated[
    str,
    typer.Argument(
        help="A file (CSV/TSV/TXT, XLSX/XLS, JSON/JSONL, Parquet) or SQL URL such as "
        "postgresql://user@host/db?table=customers.",
        show_default=False,
        metavar="SOURCE",
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        "-m",
        help="COLUMN=TYPE, repeatable; TYPE is an identifier type (mobile, resident_id, "
        "bank_card, email, plate, passport, fixed_line, uscc, person_name), birth_date, id, "
        "segment or ignore. With --map only the named columns are read.",
        show_default=False,
    ),
]


@app.command("load")
@handle_errors
def load_command(
    source: SourceArgument,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column",
            help="The column of the institution's customer number [default: found by header].",
            show_default=False,
        ),
    ] = None,
    maps: MapOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the detected columns without asking.")
    ] = False,
    many_rows_per_customer: Annotated[
        bool,
        typer.Option(
            "--many-rows-per-customer",
            help="Load a source with more than 10 rows per customer number (accounts, "
            "transactions); without it such a column is refused as no customer number.",
        ),
    ] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Load customers into the register: keyed tokens of their identifiers, never the values.

    Without --map the scanner finds the identifier, birth-date and segment columns; they are
    shown for confirmation (--yes to skip). Loading again upserts: new customers are added,
    known ones updated, and a changed phone adds a token while the old one is kept. The whole
    load lands in one transaction, or nothing does.
    """
    with store.open_workspace(workspace) as ws:
        if maps:
            mapping = customers.parse_map(maps, id_column)
        else:
            with tables.open_table(source) as table:
                mapping = customers.propose_mapping(table, id_column)
                customers.check_mapping(mapping, table.columns, table.source, load=True)
            if not yes:
                _confirm(mapping)
        with progress(not quiet) as bar:
            task = bar.add_task("loading", total=None) if bar else None
            result = customers.load(
                ws,
                source,
                mapping,
                on_start=lambda total: bar.update(task, total=total) if bar else None,
                on_rows=lambda rows: bar.advance(task, rows) if bar else None,
                many_rows_per_customer=many_rows_per_customer,
            )
            summarise_for_trace(ws, bar)
    data: dict[str, Any] = {
        "source": result.source,
        "rows": result.rows,
        "rows_without_id": result.rows_without_id,
        "customers_new": result.counts.customers_new,
        "customers_updated": result.counts.customers_seen,
        "tokens_new": result.counts.tokens_new,
        "customers_total": result.counts.customers_total,
        "tokens_total": result.counts.tokens_total,
        "load_id": result.counts.load_id,
        "seconds": round(result.seconds, 2),
        "mapping": result.mapping.as_dict(),
        "warnings": result.warnings,
    }
    for warning in result.warnings:
        warn(warning)
    if as_json:
        print_json(data)
        return
    stdout.print(
        f"{result.source}: {result.rows:,} rows → {data['customers_new']:,} new and "
        f"{data['customers_updated']:,} updated customers, {data['tokens_new']:,} new tokens "
        f"({data['customers_total']:,} customers, {data['tokens_total']:,} tokens in the "
        f"register) in {result.seconds:.1f} s",
        highlight=False,
    )
    if result.rows_without_id:
        stdout.print(f"{result.rows_without_id:,} rows without a customer number were skipped")


def _confirm(mapping: customers.ColumnMap) -> None:
    stderr.print(_mapping_table(mapping))
    if not sys.stdin.isatty():
        raise ConfigError(
            "the columns above were detected; pass --yes to load with them, or --map them."
        )
    if not typer.confirm("Load with these columns?", err=True):
        raise typer.Exit(1)


def _mapping_table(mapping: customers.ColumnMap) -> RichTable:
    table = RichTable(title="columns to load")
    table.add_column("column")
    table.add_column("read as")
    if mapping.id_column:
        table.add_row(mapping.id_column, "customer number (token)")
    for column, kind in mapping.identifiers.items():
        table.add_row(
            column,
            "name (in composite tokens only)" if kind == customers.NAME else f"{kind} (token)",
        )
    if mapping.birth_date:
        table.add_row(mapping.birth_date, "birth date (in composite tokens only)")
    for column in mapping.segments:
        table.add_row(column, "segment (kept as is)")
    return table


@app.command("match")
@handle_errors
def match_command(
    source: SourceArgument,
    maps: MapOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """How many rows of a list match the register, by which identifier, and which are ambiguous.

    Matching is format-blind (+86, spaces, full-width digits, 15-digit IDs, traditional
    characters) and works on masked values with a name (138****5678 张伟). A row is ambiguous
    when more than one customer fits it; it is never given to one of them.
    """
    mapping = customers.parse_map(maps) if maps else None
    with store.open_workspace(workspace, read_only=True) as ws:
        result = customers.match(ws, source, mapping)
    summary = result.summary()
    for warning in result.warnings:
        warn(warning)
    if as_json:
        print_json(summary)
        return
    share = result.matched / result.rows if result.rows else 0.0
    stdout.print(
        f"{result.source}: {result.rows:,} rows, {result.matched:,} matched ({share:.1%}) to "
        f"{result.customers:,} customers, {result.ambiguous:,} ambiguous, "
        f"{result.unmatched:,} not in the register, "
        f"{result.rows - result.usable:,} without identifiers",
        highlight=False,
    )
    if result.by_kind:
        table = RichTable()
        table.add_column("matched by")
        table.add_column("rows", justify="right")
        for kind, count in result.by_kind.items():
            table.add_row(kind, f"{count:,}")
        stdout.print(table)
