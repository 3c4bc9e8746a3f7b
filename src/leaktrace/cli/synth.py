"""``leaktrace synth``: a seeded synthetic institution for demos, tests and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leaktrace import synth
from leaktrace.cli._common import JsonOption, handle_errors, print_json, stdout
from leaktrace.exceptions import ConfigError


@handle_errors
def synth_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")],
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1, help="Number of customers.")
    ] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    kind: Annotated[
        str, typer.Option(help="Institution: bank, insurer, lender or education.")
    ] = "bank",
    file_format: Annotated[
        str, typer.Option("--format", help="csv (UTF-8, Chinese headers) or parquet.")
    ] = "csv",
    as_json: JsonOption = False,
) -> None:
    """Write synthetic customers (with free-text remarks) of a bank, insurer, lender or school.

    Everything is generated: names by real surname frequencies, checksum-valid resident IDs
    with real region codes, valid mobile prefixes, UnionPay cards, plates and addresses.
    """
    if kind not in synth.KINDS:
        raise ConfigError(
            f"unknown institution kind {kind!r}; choose one of {', '.join(synth.KINDS)}"
        )
    if file_format not in ("csv", "parquet"):
        raise ConfigError("--format must be csv or parquet")
    directory.mkdir(parents=True, exist_ok=True)
    path = synth.write_customers(
        directory / f"customers.{file_format}",
        customers,
        seed,
        kind=kind,
        remarks=True,
        header="zh" if file_format == "csv" else "en",
    )
    if as_json:
        print_json({"customers": str(path), "rows": customers, "seed": seed, "kind": kind})
    else:
        stdout.print(f"wrote {customers:,} synthetic {kind} customers to {path}", highlight=False)
