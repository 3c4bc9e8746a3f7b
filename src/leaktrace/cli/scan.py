"""``leaktrace scan``: where customer personal information lives, and how sensitive it is."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer
from rich.table import Table as RichTable

from leaktrace import scan as scanner
from leaktrace.cli._common import (
    CsvOption,
    JsonOption,
    QuietOption,
    handle_errors,
    print_json,
    progress,
    stderr,
    stdout,
)
from leaktrace.exceptions import ConfigError, SourceError

CSV_FIELDS = (
    "source",
    "column",
    "kind",
    "detected",
    "hit_ratio",
    "non_empty",
    "jrt_class",
    "sensitive",
    "category",
    "examples",
    "findings",
)


@handle_errors
def scan_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files (CSV/TSV/TXT, XLSX/XLS, JSON/JSONL, Parquet), folders (searched "
            "recursively) or SQL URLs such as postgresql://user@host/db?table=customers.",
            show_default=False,
            metavar="SOURCE",
        ),
    ],
    full: Annotated[bool, typer.Option("--full", help="Read every row, not a sample.")] = False,
    sample: Annotated[
        int, typer.Option("--sample", min=100, help="Rows read per source when not --full.")
    ] = scanner.SAMPLE_ROWS,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Processes for --full scans [default: CPUs]."),
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    quiet: QuietOption = False,
) -> None:
    """Type every column (identifier, sensitive attribute, free text) and find identifiers in text.

    Each source is reported on its own; a source that cannot be read is reported as an error and
    the others are still scanned (exit code 3 at the end).
    """
    if as_json and as_csv:
        raise ConfigError("--json and --csv cannot be used together; choose one.")
    results = []
    with progress(not quiet) as bar:
        task = bar.add_task("scanning", total=None) if bar else None

        def on_source(source: str, rows: int | None) -> None:
            if bar is not None:
                bar.update(task, description=f"scanning {source}", completed=0, total=rows)

        def on_rows(rows: int) -> None:
            if bar is not None:
                bar.advance(task, rows)

        for result in scanner.scan(
            sources,
            full=full,
            sample_rows=sample,
            on_source=on_source,
            on_rows=on_rows,
            jobs=jobs,
        ):
            if result.error:
                stderr.print(f"error: {result.error}", markup=False, highlight=False)
            results.append(result)
    if as_json:
        print_json([r.to_dict() for r in results])
    elif as_csv:
        _write_csv(results)
    else:
        for result in results:
            if not result.error:
                _render(result)
    failed = [r for r in results if r.error]
    if failed:
        raise SourceError(f"{len(failed)} of {len(results)} sources could not be scanned")


def _write_csv(results: list[scanner.SourceResult]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(CSV_FIELDS)
    for result in results:
        for column in result.columns:
            writer.writerow(
                [
                    result.source,
                    column.name,
                    column.kind,
                    column.detected or "",
                    f"{column.hit_ratio:.4f}",
                    column.non_empty,
                    column.jrt_class or "",
                    column.sensitive,
                    column.category or "",
                    " | ".join(column.examples),
                    " ".join(f"{k}={v}" for k, v in column.findings.items()),
                ]
            )


def _render(result: scanner.SourceResult) -> None:
    scope = "sample" if result.sampled else "all rows"
    stdout.print(
        f"[bold]{result.source}[/bold] ({result.kind}, {result.rows_scanned:,} rows, {scope})"
    )
    table = RichTable(show_lines=False)
    for header in ("column", "type", "hits", "examples", "class", "sensitive", "category"):
        table.add_column(header)
    for column in result.columns:
        found = ", ".join(f"{k} {v:,}" for k, v in column.findings.items())
        kind = column.detected or "—"
        if column.kind == "free_text":
            kind = f"free text: {found}" if found else "free text"
        table.add_row(
            column.name,
            kind,
            f"{column.hit_ratio:.0%}" if column.kind in ("identifier", "attribute") else "",
            ", ".join(column.examples or [f.example for f in column.finding_examples[:3]]),
            column.jrt_class or "",
            "yes" if column.sensitive else "",
            column.category or "",
        )
    stdout.print(table)
    summary = (
        f"highest class {result.jrt_class or '—'}; sensitive: {', '.join(result.sensitive) or '—'}"
        f"; legal category: {result.category or '—'}"
    )
    if result.bad_rows:
        summary += f"; {result.bad_rows:,} malformed rows skipped"
    stdout.print(summary + "\n")
