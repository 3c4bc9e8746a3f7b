"""Evidence channels: what a leaked table says about each recorded release.

For every complete release in the ledger, three tests under "this table did not come from that
release" (DESIGN.md, "Layered attribution"):

* **keyed marks** — the agreements of each marked field with the form the release's PRF picked
  for that customer follow Binomial(trials, 1/q); fields are independent, so the total follows
  the convolution of those binomials, and the p-value is its exact upper tail (times the
  column choices tried for fields a broker renamed, :mod:`.mark_columns`);
* **decoys** — a decoy's identifiers exist nowhere but in one release: any hit is proof (p = 0);
* **release set** — of m leaked customers of the register, the number the release holds
  follows Binomial(m, |R| / N) when the leak does not come from it (N: customers in the
  register).

Everything is recomputed from the ledger, the register and the keys: nothing per record was
stored when the release was made, besides which customers it held. A release's marks are read
on the leaked rows of the customers it held (the only rows it marked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import customers, ledger, store, tails
from leaktrace.release import marks
from leaktrace.trace import bulk_marks, mark_columns


@dataclass
class Candidate:
    """The evidence that a leaked table came from one release."""

    release_id: str
    recipient: str
    marks: dict[str, marks.MarkCount] = field(default_factory=dict)
    mark_columns: dict[str, str] = field(default_factory=dict)  # field → the leak's column
    marks_pvalue: float = 1.0
    decoys: int = 0
    members: int = 0  # leaked customers the release holds
    matched: int = 0  # leaked rows matched to a register customer
    members_pvalue: float = 1.0

    @property
    def pvalue(self) -> float:
        """The smallest channel p-value (0 with a decoy hit); correct it for the number of
        candidates (Bonferroni) before calling anything significant."""
        return 0.0 if self.decoys else min(self.marks_pvalue, self.members_pvalue)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "release_id": self.release_id,
            "recipient": self.recipient,
            "pvalue": self.pvalue,
            "marks_pvalue": self.marks_pvalue,
            "marks": {
                f: {
                    "column": self.mark_columns.get(f, f),
                    "agreements": c.agreements,
                    "trials": c.trials,
                    "q": c.q,
                }
                for f, c in self.marks.items()
            },
            "decoys": self.decoys,
            "members": self.members,
            "matched": self.matched,
            "members_pvalue": self.members_pvalue,
        }


def candidates(
    workspace: store.Workspace,
    leaked: pa.Table,
    mapping: customers.ColumnMap | None = None,
    owners: pa.Array | None = None,
    decoy_hits: dict[str, int] | None = None,
) -> list[Candidate]:
    """Every complete release, with its evidence against ``leaked``, most likely first
    (``owners``: the register id of each leaked row, and ``decoy_hits``: decoys per release
    found in it, when already known).

    The releases' members among the leaked customers come from one query, and their keyed
    marks are read in one pass (:mod:`.bulk_marks`): only the rows of a release's own
    customers carry its marks, so only those are read for it.
    """
    if mapping is None:
        mapping = customers.propose_mapping(leaked)
    if owners is None:
        owners = customers.row_owners(workspace, leaked, mapping)
    if decoy_hits is None:
        decoy_hits = store.decoy_hits(workspace.db, exact_tokens(workspace, leaked, mapping))
    matched_customers = len(pc.unique(pc.drop_null(owners)))
    register_size = store.register_size(workspace.db)
    bodies = [entry.body for entry in ledger.entries(workspace, kind="release")]
    release_ids = [body["release_id"] for body in bodies]
    pair_release, pair_row = _member_rows(workspace, owners, release_ids)
    held = _held(owners, pair_release, pair_row, len(bodies))
    identifying = [c for c in (mapping.id_column, mapping.birth_date) if c] + [*mapping.identifiers]
    reads = mark_columns.locate(
        leaked, identifying, [body.get("marked_fields", {}) for body in bodies]
    )
    read = (
        bulk_marks.read_many(
            workspace.keyring.key("mark"),
            leaked,
            customers.record_tokens(owners),
            reads,
            pair_release,
            pair_row,
            release_ids,
        )
        if any(reads)
        else [{} for _ in bodies]
    )
    results = []
    for j, body in enumerate(bodies):
        result = Candidate(release_id=release_ids[j], recipient=body["recipient"])
        if reads[j]:
            result.marks, result.mark_columns, choices = mark_columns.best(read[j])
            tail = tails.sum_of_binomials_tail(
                [(c.agreements, c.trials, 1 / c.q) for c in result.marks.values()]
            )
            result.marks_pvalue = min(1.0, choices * tail)
        result.decoys = decoy_hits.get(result.release_id, 0)
        result.matched = matched_customers
        result.members = int(held[j])
        if register_size and result.matched:
            share = body["customers"] / register_size
            result.members_pvalue = tails.binomial_tail(
                result.members, result.matched, min(share, 1.0)
            )
        results.append(result)
    results.sort(key=lambda c: (c.pvalue, c.release_id))
    return results


def _member_rows(
    workspace: store.Workspace, owners: pa.Array, release_ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(release index, row) of every leaked row whose customer a release of ``release_ids``
    holds."""
    found = store.release_member_rows(workspace.db, owners)
    index = {r: j for j, r in enumerate(release_ids)}
    release = np.array([index.get(r, -1) for r in found.column("release_id").to_pylist()])
    lists = found.column("rows").combine_chunks()
    sizes = pc.list_value_length(lists).to_numpy(zero_copy_only=False) if len(found) else []
    pair_release = np.repeat(release, sizes).astype(np.int64)
    pair_row = pc.list_flatten(lists).to_numpy() if len(found) else np.zeros(0, np.int64)
    known = pair_release >= 0
    return pair_release[known], pair_row[known]


def _held(owners: pa.Array, release: np.ndarray, row: np.ndarray, releases: int) -> np.ndarray:
    """Per release, how many distinct leaked customers it holds."""
    ids = pc.fill_null(owners, -1).to_numpy()
    # a customer in several rows counts once: only the row where it first appears is counted
    _, first = np.unique(ids, return_index=True)
    counted = np.zeros(len(ids), bool)
    counted[first] = True
    return np.bincount(release[counted[row]], minlength=releases)


def exact_tokens(
    workspace: store.Workspace, leaked: pa.Table, mapping: customers.ColumnMap
) -> pa.Array:
    """The tokens of every full identifier in ``leaked``, customer numbers included (what a
    decoy or canary is recognised by)."""
    key = workspace.keyring.key("match")
    found = customers.row_tokens(key, leaked, mapping)
    exact = found.filter(found.column("exact")).column("token").combine_chunks()
    if mapping.id_column is None:
        return exact
    numbers = customers.customer_refs(key, leaked.column(mapping.id_column))
    return pa.concat_arrays([exact, pc.drop_null(numbers)])
