"""``leaktrace demo``: a synthetic bank, a planted insider, a broker's sample, traced."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leaktrace import demo
from leaktrace.cli._common import JsonOption, QuietOption, handle_errors, print_json, stderr
from leaktrace.cli._common import stdout as out


@handle_errors
def demo_command(
    directory: Annotated[
        Path, typer.Argument(help="Folder for the demo's bank, workspace, leak and report.")
    ] = Path("leaktrace-demo"),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same story.")] = 7,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run the whole story on a synthetic bank in a few minutes.

    Builds a bank with a month of access logs in which one customer manager harvests strangers'
    credit reports in the evenings; loads the register and the logs into a workspace; makes two
    traceable releases and canaries; lets a broker merge, reformat and sample the harvested
    list; traces the 30-row sample and writes the case report. Prints whether the trace named
    the planted insider.
    """

    def step(text: str) -> None:
        if not quiet and not as_json:
            stderr.print(f"· {text}", highlight=False)

    result = demo.run(directory, seed=seed, progress=step)
    if as_json:
        print_json(result.as_dict())
        return
    alert = (
        f"the monitor first alerted on {result.first_alert}"
        if result.first_alert
        else "the monitor did not alert"
    )
    out.print(
        f"planted insider {result.insider} began harvesting on {result.harvest_started}; {alert} "
        f"({result.other_alerts} alerts on others over the month)",
        highlight=False,
    )
    named = ", ".join(result.named) or "no one"
    out.print(
        f"planted insider: {result.insider}; the trace named: {named} ({result.outcome}) — "
        f"{'found' if result.found_insider else 'NOT found'}",
        highlight=False,
    )
    out.print(f"case {result.case_id}: report {result.report}", highlight=False)
    if result.pdf:
        out.print(f"PDF: {result.pdf}", highlight=False)
    out.print(f"the broker's sample: {result.leak}", highlight=False)
