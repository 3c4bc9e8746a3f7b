"""Evidence channels: what a leaked table says about each recorded release.

For every complete release in the ledger, three tests under "this table did not come from that
release" (DESIGN.md, "Layered attribution"):

* **keyed marks** — the agreements of each marked field with the form the release's PRF picked
  for that customer follow Binomial(trials, 1/q); fields are independent, so the total follows
  the convolution of those binomials, and the p-value is its exact upper tail;
* **decoys** — a decoy's identifiers exist nowhere but in one release: any hit is proof (p = 0);
* **release set** — of m leaked customers of the register, the number the release holds
  follows Binomial(m, |R| / N) when the leak does not come from it (N: customers in the
  register).

Everything is recomputed from the ledger, the register and the keys: nothing per record was
stored when the release was made, besides which customers it held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import customers, ledger, store
from leaktrace.release import marks


@dataclass
class Candidate:
    """The evidence that a leaked table came from one release."""

    release_id: str
    recipient: str
    marks: dict[str, marks.MarkCount] = field(default_factory=dict)
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
                f: {"agreements": c.agreements, "trials": c.trials, "q": c.q}
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
) -> list[Candidate]:
    """Every complete release, with its evidence against ``leaked``, most likely first
    (``owners``: the register id of each leaked row, when already known)."""
    if mapping is None:
        mapping = customers.propose_mapping(leaked)
    if owners is None:
        owners = customers.row_owners(workspace, leaked, mapping)
    tokens = customers.record_tokens(owners)
    matched = pc.drop_null(owners)
    matched_customers = len(pc.unique(matched))
    register_size = workspace.counts()["customers"]
    decoy_hits = store.decoy_hits(workspace.db, exact_tokens(workspace, leaked, mapping))
    results = []
    for entry in ledger.entries(workspace, kind="release"):
        body = entry.body
        release_id = body["release_id"]
        result = Candidate(release_id=release_id, recipient=body["recipient"])
        fields = {
            f: r for f, r in body.get("marked_fields", {}).items() if f in leaked.column_names
        }
        if fields:
            result.marks = marks.read_marks(
                workspace.keyring.key("mark"), release_id, tokens, leaked, fields
            )
            result.marks_pvalue = sum_of_binomials_pvalue(
                [(c.agreements, c.trials, 1 / c.q) for c in result.marks.values()]
            )
        result.decoys = decoy_hits.get(release_id, 0)
        result.matched = matched_customers
        held = store.release_member_count(workspace.db, release_id, matched)
        result.members = held
        if register_size and result.matched:
            share = body["customers"] / register_size
            result.members_pvalue = marks.binomial_pvalue(held, result.matched, min(share, 1.0))
        results.append(result)
    results.sort(key=lambda c: (c.pvalue, c.release_id))
    return results


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


def sum_of_binomials_pvalue(tests: list[tuple[int, int, float]]) -> float:
    """``P(X_1 + … + X_k >= k_1 + … + k_k)`` for independent X_j ~ Binomial(n_j, p_j), exactly
    (the binomials' distributions convolved).

    >>> round(sum_of_binomials_pvalue([(2, 2, 0.5), (1, 1, 0.5)]), 6)
    0.125
    >>> sum_of_binomials_pvalue([])
    1.0
    """
    observed = sum(k for k, _, _ in tests)
    if observed <= 0:
        return 1.0
    distribution = np.ones(1)
    for _, n, p in tests:
        if n == 0:
            continue
        i = np.arange(n + 1)
        log_pmf = (
            math.lgamma(n + 1)
            - np.array([math.lgamma(x + 1) + math.lgamma(n - x + 1) for x in i])
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )
        distribution = np.convolve(distribution, np.exp(log_pmf))
    if observed >= len(distribution):
        return 0.0
    return float(min(1.0, distribution[observed:].sum()))
