"""``leaktrace synth``: a seeded synthetic institution for demos, tests and benchmarks."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from leaktrace import synth
from leaktrace.cli._common import JsonOption, QuietOption, handle_errors, print_json, progress
from leaktrace.cli._common import stdout as console
from leaktrace.exceptions import ConfigError

_NOUNS = {
    "portfolios": "portfolio entries",
    "access_log": "access events",
    "insiders": "planted staff (ground truth)",
}


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--start must be a date like 2025-01-01, not {value!r}") from None


@handle_errors
def synth_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")],
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1, help="Number of customers.")
    ] = 5_000,
    staff: Annotated[
        int | None,
        typer.Option(min=6, help="Number of staff (default: one per 500 customers, at least 20)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Days of access logs.")] = 30,
    start: Annotated[
        str, typer.Option(help="First day of the access logs (customers are as of the day before).")
    ] = synth.START.isoformat(),
    events: Annotated[
        int | None,
        typer.Option(
            min=1, help="About this many access events (default: the roles' normal workload)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    kind: Annotated[
        str, typer.Option(help="Institution: bank, insurer, lender or education.")
    ] = "bank",
    file_format: Annotated[
        str, typer.Option("--format", help="csv (UTF-8, Chinese headers) or parquet.")
    ] = "csv",
    remarks: Annotated[
        bool,
        typer.Option(
            "--remarks/--no-remarks", help="Free-text 备注 in the customer table (slower)."
        ),
    ] = True,
    insiders: Annotated[
        bool,
        typer.Option(
            "--insiders",
            help="Plant insider scenarios and legitimately busy colleagues; their ground truth "
            "goes to insiders.csv (or .parquet) beside the access log.",
        ),
    ] = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a synthetic bank, insurer, lender or school: customers, branches, staff, portfolios,
    loan applications and access logs.

    Customers have names by real surname frequencies, checksum-valid resident IDs with real
    region codes, valid mobile prefixes, UnionPay cards, plates and addresses. Staff (teller,
    customer manager, credit officer, call centre, back office, IT) work business hours at
    their branch; every credit query refers to a loan application. With --insiders some of
    them are not so honest (credit-report harvesting, slow harvesting, exports before leaving,
    night-time enumeration, a call-centre agent copying callers, a colluding pair), and some
    are busy for good reasons (month-end batches, campaigns, a branch merger, a portfolio
    taken over); insiders.csv names them all.
    """
    if kind not in synth.KINDS:
        raise ConfigError(
            f"unknown institution kind {kind!r}; choose one of {', '.join(synth.KINDS)}"
        )
    if file_format not in ("csv", "parquet"):
        raise ConfigError("--format must be csv or parquet")
    first_day = _date(start)
    with progress(not quiet and not as_json) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if bar is None:
                return
            if stage not in tasks:
                label = "customers" if stage == "customers" else "access log (days)"
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done)

        summary = synth.write_institution(
            directory,
            customers,
            staff=staff,
            days=days,
            start=first_day,
            seed=seed,
            kind=kind,
            file_format=file_format,
            remarks=remarks,
            events=events,
            insiders=insiders,
            progress=report,
        )
    files = summary["files"]
    if as_json:
        # "customers" and "rows" as before the institution had staff and logs.
        print_json({"customers": files["customers"]["path"], "rows": customers, **summary})
        return
    console.print(
        f"wrote a synthetic {kind} to {directory}: "
        + ", ".join(f"{info['rows']:,} {_NOUNS.get(name, name)}" for name, info in files.items()),
        highlight=False,
    )
