"""The case report as one self-contained HTML file: summary, verdict and its error bound,
evidence per channel, a timeline of the suspect's accesses to the leaked customers against
their normal work (inline SVG), masked examples, the legal tally, the chain of custody (SHA-256
of the inputs, the ledger entries cited, the chain head) and the method and its limits.

Nothing in it is a raw identifier: examples are masked by their type's ``mask``.
"""

from __future__ import annotations

import datetime
from typing import Any

import jinja2
import pyarrow as pa

from leaktrace import identifiers, store
from leaktrace.trace.case import Case

EXAMPLES = 5
EXAMPLE_COLUMNS = 10  # identifier columns first, then the others, up to this many
CHART_WIDTH, CHART_HEIGHT = 720, 180

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("leaktrace.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def render(case: Case, context: dict[str, Any]) -> str:
    """The report of ``case`` (``context``: what :func:`context_of` gathers from the
    workspace)."""
    return _environment.get_template("case.html").render(case=case, **context)


def context_of(workspace: store.Workspace, case: Case) -> dict[str, Any]:
    """What the report needs beyond the case: the suspect's timeline, masked examples, the
    ledger entries cited and the chain head."""
    suspect = _suspect(case)
    timeline = []
    if suspect is not None:
        timeline = store.access_days(workspace.db, suspect, case.matched_ids)
    cited = {c.release_id for c in case.candidates[:3]} | set(case.canaries)
    entries = [
        {"seq": r["ledger_seq"], "release_id": r["release_id"], "recipient": r["recipient"],
         "role": r["role"]}
        for r in store.releases(workspace.db, "complete") if r["release_id"] in cited
    ]  # fmt: skip
    head = store.ledger_head(workspace.db)
    return {
        "suspect": suspect,
        "chart": chart(timeline),
        "examples": masked_examples(case.leaked, case),
        "entries": entries,
        "head": f"{head[0]}:{head[1].hex()}" if head else None,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _suspect(case: Case) -> str | None:
    """The user whose accesses the timeline shows: the one named, else the most significant."""
    if case.verdict.users:
        return case.verdict.users[0]
    return case.windows[0].staff_id if case.windows else None


def chart(days: list[tuple[datetime.date, int, int]]) -> dict[str, Any] | None:
    """Stacked daily bars (leaked customers' events over other events) as SVG geometry."""
    if not days:
        return None
    top = max(leaked + other for _, leaked, other in days) or 1
    step = CHART_WIDTH / len(days)
    bars = []
    for i, (day, leaked, other) in enumerate(days):
        total_h = (leaked + other) / top * (CHART_HEIGHT - 20)
        leaked_h = leaked / top * (CHART_HEIGHT - 20)
        bars.append(
            {
                "x": round(i * step, 1),
                "width": round(max(step - 1, 1), 1),
                "other_y": round(CHART_HEIGHT - total_h, 1),
                "other_h": round(total_h - leaked_h, 1),
                "leaked_y": round(CHART_HEIGHT - leaked_h, 1),
                "leaked_h": round(leaked_h, 1),
                "title": f"{day}: {leaked} on leaked customers, {other} other",
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bars": bars,
        "first": days[0][0],
        "last": days[-1][0],
        "top": top,
        "leaked_days": sum(1 for _, leaked, _ in days if leaked),
    }


def masked_examples(leaked: pa.Table, case: Case) -> dict[str, Any]:
    """A few rows of the leak with every identifier column masked (others as they are; the
    customer number left out)."""
    kinds = dict(case.mapping.identifiers)
    columns = [c for c in leaked.column_names if c in kinds]
    columns += [c for c in leaked.column_names if c not in kinds and c != case.mapping.id_column]
    columns = columns[:EXAMPLE_COLUMNS]
    head = leaked.select(columns).slice(0, EXAMPLES).to_pylist()
    rows = []
    for row in head:
        shown = {}
        for column, value in row.items():
            if value is None:
                shown[column] = ""
            elif column in kinds:
                shown[column] = identifiers.get(kinds[column]).mask(str(value))
            else:  # a column not typed as an identifier may still hold some (remarks, a
                shown[column] = masked_text(str(value))  # phone the sample did not reveal)
        rows.append(shown)
    return {"columns": columns, "rows": rows}


def masked_text(text: str) -> str:
    """``text`` with every identifier found in it masked by its type.

    >>> masked_text("客户Tel13912345678")
    '客户Tel139****5678'
    """
    parts, position = [], 0
    for span in identifiers.find_all(text):
        parts += [
            text[position : span.start],
            identifiers.get(span.type).mask(text[span.start : span.end]),
        ]
        position = span.end
    return "".join([*parts, text[position:]])
