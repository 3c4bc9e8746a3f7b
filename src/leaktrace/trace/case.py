"""Trace a leaked list (``leaktrace trace``): read it, match it to the register, gather the
evidence of every release (:mod:`.channels`) and of every user of the access logs
(:mod:`.access_windows`), decide (:mod:`.verdict`) and tally the persons it covers by legal
category (:mod:`leaktrace.law`).

A leak may come in several files (a broker's sample, then the list): they are read as one table,
columns joined by name. Canaries (:mod:`leaktrace.release.canary`) found in the leak are
reported apart: they prove the list came out of the production tables they were planted in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import customers, law, ledger, scan, store, tables
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.release.writers import sha256
from leaktrace.trace import access_windows, channels
from leaktrace.trace.verdict import Verdict, decide

MAX_LEAK_ROWS = 2_000_000  # a leak is read whole; larger lists are refused with a clear error
_SAMPLE_ROWS = 2_000


@dataclass
class Case:
    """One traced leak and everything the verdict rests on."""

    inputs: list[dict[str, Any]]
    leaked: pa.Table  # in memory only, for the report's masked examples
    matched_ids: pa.Array  # register ids of the matched rows
    rows: int
    matched_rows: int
    matched_customers: int
    mapping: customers.ColumnMap
    candidates: list[channels.Candidate]
    windows: list[access_windows.Window]
    canaries: dict[str, int]
    verdict: Verdict
    tally: law.Tally
    warnings: tuple[str, ...] = ()  # rows of the inputs that could not be read

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        """JSON-ready, with the ``top`` most likely releases."""
        return {
            "inputs": self.inputs,
            "rows": self.rows,
            "matched_rows": self.matched_rows,
            "matched_customers": self.matched_customers,
            "mapping": self.mapping.as_dict(),
            "verdict": self.verdict.as_dict(),
            "releases_tested": len(self.candidates),
            "candidates": [c.as_dict() for c in self.candidates[:top]],
            "users_tested": len(self.windows),
            "access_windows": [w.as_dict() for w in self.windows[:top]],
            "canaries": self.canaries,
            "tally": self.tally.as_dict(),
            "warnings": list(self.warnings),
        }


def trace_leak(workspace: store.Workspace, sources: Sequence[str]) -> Case:
    """Trace the leaked list in ``sources`` (files or SQL URLs, read as one table)."""
    parts, inputs, notes = [], [], []
    for source in sources:
        table, described, note = _read(source)
        digest = described.get("sha256")
        same = [i for i in inputs if digest is not None and i.get("sha256") == digest]
        if same:  # its rows would count twice, in the tally of persons too
            raise ConfigError(
                f"{described['source']} holds the same bytes as {same[0]['source']}; name each "
                "file of the leak once."
            )
        parts.append(table)
        inputs.append(described)
        notes += [] if note is None else [note]
    leaked = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    mapping = customers.propose_mapping(leaked)
    mapping.segments = []
    owners, exact = _owners_and_exact_tokens(workspace, leaked, mapping)
    hits = store.decoy_hits(workspace.db, exact)
    found = channels.candidates(workspace, leaked, mapping, owners=owners, decoy_hits=hits)
    matched = pc.drop_null(owners)
    users = access_windows.windows(workspace, matched)
    canary_sets = {r["release_id"] for r in store.releases(workspace.db) if r["role"] == "canary"}
    return Case(
        inputs=inputs,
        leaked=leaked,
        matched_ids=matched,
        rows=leaked.num_rows,
        matched_rows=len(matched),
        matched_customers=len(pc.unique(matched)),
        mapping=mapping,
        candidates=found,
        windows=users,
        canaries={r: n for r, n in hits.items() if r in canary_sets},
        verdict=decide(found, len(matched), users),
        tally=law.tally(person_categories(leaked, owners)),
        warnings=tuple(notes),
    )


def _owners_and_exact_tokens(
    workspace: store.Workspace, leaked: pa.Table, mapping: customers.ColumnMap
) -> tuple[pa.Array, pa.Array]:
    """Each row's register id (:func:`customers.row_owners`) and the tokens of every full
    identifier (:func:`.channels.exact_tokens`). Without a customer-number column both come
    from one pass of normalising and hashing the leak's identifiers (half of matching a leak
    of a few thousand rows), which row_owners and exact_tokens would each make."""
    if mapping.id_column is not None or not mapping.identifiers:
        owners = customers.row_owners(workspace, leaked, mapping)
        return owners, channels.exact_tokens(workspace, leaked, mapping)
    found = customers.row_tokens(workspace.keyring.key("match"), leaked, mapping)
    probe = found.rename_columns(["row_no", *found.column_names[1:]])
    owners = customers.owners_of_matches(store.match_tokens(workspace.db, probe), leaked.num_rows)
    exact = found.filter(found.column("exact")).column("token").combine_chunks()
    return pa.array(owners, mask=owners < 0), exact


def record(workspace: store.Workspace, case: Case, report: Path | None = None) -> str:
    """Store ``case`` and append its ledger entry (inputs' SHA-256, verdict, the report's
    SHA-256); its case id."""
    with workspace.transaction():
        case_id = store.next_case_id(workspace.db)
        verdict = case.verdict.as_dict()
        body = {
            "case_id": case_id,
            "inputs": case.inputs,
            "verdict": {k: verdict[k] for k in ("outcome", "release_id", "users", "bound")},
            "report": str(report) if report else None,
            "report_sha256": sha256(report) if report else None,
        }
        entry = ledger.append(workspace, "case", body)
        summary = case.as_dict(top=3)
        store.insert_case(
            workspace.db,
            {
                "case_id": case_id,
                "created": entry.time,
                "inputs": case.inputs,
                "verdict": verdict,
                "summary": {k: v for k, v in summary.items() if k not in ("inputs", "verdict")},
                "report": body["report"],
                "ledger_seq": entry.seq,
            },
        )
    return case_id


def person_categories(leaked: pa.Table, owners: pa.Array) -> list[str | None]:
    """For each matched person, the most sensitive legal category their leaked rows hold (a
    column counts for a row where its cell is not empty)."""
    order = law.SEVERITY_ORDER
    worst = np.full(leaked.num_rows, len(order))
    head = leaked.slice(0, _SAMPLE_ROWS)
    for name in leaked.column_names:
        category = scan.classify_column(name, head.column(name)).category
        if category is None:
            continue
        values = pc.utf8_trim_whitespace(leaked.column(name).cast(pa.string()))
        present = pc.fill_null(pc.greater(pc.utf8_length(values), 0), False)
        rank = order.index(law.LegalCategory(category))
        worst = np.where(present.to_numpy(zero_copy_only=False), np.minimum(worst, rank), worst)
    by_person: dict[int, int] = {}
    for owner, rank in zip(owners.to_pylist(), worst.tolist(), strict=True):
        if owner is not None:
            by_person[owner] = min(by_person.get(owner, len(order)), rank)
    return [order[r].value if r < len(order) else None for r in by_person.values()]


def _read(source: str) -> tuple[pa.Table, dict[str, Any], str | None]:
    """A leak file as one table, what the case records of it (its SHA-256 for a file), and
    what it could not read (:meth:`tables.Table.unread_note`)."""
    with tables.open_table(source) as opened:
        batches, rows = [], 0
        for batch in opened.batches():
            rows += batch.num_rows
            if rows > MAX_LEAK_ROWS:
                raise SourceError(
                    f"{opened.source}: more than {MAX_LEAK_ROWS:,} rows; trace a sample of the "
                    "list (a few thousand rows are plenty)."
                )
            batches.append(batch)
        table = pa.Table.from_batches(batches, opened.schema)
        # Rows the file could not give are not in the leak's counts: the case records how many.
        described: dict[str, Any] = {
            "source": opened.source,
            "rows": table.num_rows,
            "rows_unread": opened.bad_rows,
        }
        note = opened.unread_note()
    if table.num_rows == 0:
        raise SourceError(f"{described['source']}: the list has no rows; nothing to trace.")
    path = Path(source)
    if path.is_file():
        described["sha256"] = sha256(path)
    return table, described, note
