"""``leaktrace trace``: which release a leaked list came from, how sure, and what it covers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leaktrace import store
from leaktrace.cli._common import JsonOption, WorkspaceOption, handle_errors, print_json, warn
from leaktrace.cli._common import stdout as out
from leaktrace.cli.export import recover
from leaktrace.exceptions import ConfigError
from leaktrace.report import html
from leaktrace.report.pdf import write_pdf
from leaktrace.trace import case as cases

_OUTCOMES = {
    "attributed": "ATTRIBUTED",
    "shortlist": "SHORTLIST (cannot be told apart)",
    "inconclusive": "INCONCLUSIVE",
    "not_ours": "NOT OURS (too few matches)",
}


@handle_errors
def trace_command(
    leak: Annotated[
        list[str],
        typer.Argument(
            help="The leaked list: one or more files (CSV/TXT, XLSX/XLS, JSON, Parquet) or SQL "
            "URLs, read as one table.",
            show_default=False,
            metavar="LEAK...",
        ),
    ],
    top: Annotated[int, typer.Option(min=1, help="How many releases to list.")] = 5,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the case report here: one self-contained HTML file (verdict, evidence, "
            "timeline, masked examples, legal tally, chain of custody).",
            show_default=False,
        ),
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf", help="Also write the case report as PDF (needs Chromium).", show_default=False
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trace a leaked list to the release it came from.

    Matches the rows to the register (exact, composite and masked tokens), tests every release
    in the ledger (decoys, keyed marks, release set) with a correction for the number of
    releases tested, and gives a verdict — attributed, shortlist, inconclusive or not ours —
    naming a recipient only when a decoy or two independent channels agree. Also counts the
    persons the leak covers by legal category (information for investigators, not legal
    advice).
    """
    for path in (report, pdf):
        if path is not None and path.exists():  # an earlier case's, which it still points to
            raise ConfigError(f"{path} exists; leaktrace never overwrites a report: pick a name.")
    with store.open_workspace(workspace) as ws:
        recover(ws)
        traced = cases.trace_leak(ws, leak)
        if report is not None or pdf is not None:
            page = html.render(traced, html.context_of(ws, traced))
            if report is not None:
                write_report(report, page)
            if pdf is not None:
                write_pdf(page, pdf)
        case_id = cases.record(ws, traced, report or pdf)
    for warning in traced.warnings:
        warn(warning)
    if as_json:
        print_json({"case_id": case_id, **traced.as_dict(top), "report": report, "pdf": pdf})
        return
    out.print(f"case {case_id}", highlight=False)
    verdict = traced.verdict
    out.print(
        f"{traced.rows:,} rows, {traced.matched_rows:,} matched to "
        f"{traced.matched_customers:,} customers; {len(traced.candidates):,} releases tested",
        highlight=False,
    )
    line = _OUTCOMES[verdict.outcome]
    if verdict.release_id:
        named = "recipient named" if verdict.person_named else "recipient not named"
        line += f": {verdict.release_id} to {verdict.recipient} ({named}; p ≤ {verdict.bound:.2g})"
    out.print(f"verdict: {line}", highlight=False)
    for reason in verdict.reasons:
        out.print(f"  {reason}", highlight=False)
    for release_id, count in traced.canaries.items():
        out.print(
            f"canaries: {count} of {release_id} are in the leak — it came from the production "
            "tables they were planted in",
            highlight=False,
        )
    if traced.candidates:
        table = Table("release", "recipient", "p", "marks p", "decoys", "members")
        for candidate in traced.candidates[:top]:
            table.add_row(
                candidate.release_id,
                candidate.recipient,
                f"{candidate.pvalue:.3g}",
                f"{candidate.marks_pvalue:.3g}",
                str(candidate.decoys),
                f"{candidate.members}/{candidate.matched}",
            )
        out.print(table)
    for written in (report, pdf):
        if written is not None:
            out.print(f"report: {written}", highlight=False)
    tally = traced.tally
    counted = ", ".join(f"{c.label} {n}" for c, n in tally.persons.items()) or "none"
    out.print(
        f"legal tally: {tally.total} persons ({counted}); ordinary thresholds: "
        f"{tally.reached(insider=False) or 'not reached'}; insider thresholds: "
        f"{tally.reached(insider=True) or 'not reached'} (share {tally.share:.2f}; "
        "information for investigators, not legal advice)",
        highlight=False,
    )


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (never half a report)."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{path.name}: the report is HTML; name it with .html")
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the report to {path}: {error.strerror}") from None


@handle_errors
def cases_command(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List the traced leaks (cases): when, what, the verdict and the report."""
    with store.open_workspace(workspace, read_only=True) as ws:
        recorded = store.cases(ws.db)
    if as_json:
        print_json(recorded)
        return
    if not recorded:
        out.print("no cases yet: `leaktrace trace LEAK` records one", highlight=False)
        return
    table = Table("case", "created", "inputs", "verdict", "release / users", "report")
    for item in recorded:
        verdict = item["verdict"]
        table.add_row(
            item["case_id"],
            item["created"][:19],
            ", ".join(Path(i["source"]).name for i in item["inputs"]),
            verdict["outcome"],
            verdict.get("release_id") or ", ".join(verdict.get("users", [])) or "-",
            item["report"] or "-",
        )
    out.print(table)
