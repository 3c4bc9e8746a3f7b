"""The access-window channel: which users looked at the leaked customers, and when.

A user who harvested a list query by query (the bank case of the field notes: credit reports of
strangers, one at a time) touched its customers in the access logs. For each user u who touched
any of the m leaked customers of the register, under "the leak did not come from u" u touched
each leaked customer c with the chance p_c that u touches a customer of c's branch in normal
work: |A_u ∩ B(c)| / |B(c)|, where A_u is every customer u touched in the logs and B(c) the
register's customers of c's branch (a segment attribute such as ``branch_code``; all customers
when the register keeps none). Someone who touches a third of a branch's customers in normal
work (its tellers, the province's back office) is expected to touch a third of a list drawn
from that branch. The number touched then follows a Poisson-binomial law, whose upper tail is at
most that of Binomial(m, p̄) with the mean p̄ of the p_c (Hoeffding, 1956), and never less than
Binomial(m, |A_u| / N) is used either: the p-value is the larger of the two tails, and the
verdict corrects it for the number of users tested. The harvest window is the first and last
access of the user to the leaked customers.

The channel works on register ids, so customers must have been loaded (`customers load`) before
the logs (`access load`) for their events to name them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from leaktrace import monitor, store
from leaktrace.tails import binomial_tail


@dataclass(frozen=True, slots=True)
class Window:
    """One user's accesses to the leaked customers."""

    staff_id: str
    hits: int  # leaked customers the user touched
    matched: int  # leaked customers of the register (m)
    touched: int  # customers the user touched in all the logs (|A_u|)
    share: float  # the chance of touching a customer like the leaked ones in normal work
    first: datetime.datetime
    last: datetime.datetime
    pvalue: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "staff_id": self.staff_id,
            "hits": self.hits,
            "matched": self.matched,
            "touched": self.touched,
            "share": self.share,
            "first": self.first.isoformat(sep=" "),
            "last": self.last.isoformat(sep=" "),
            "pvalue": self.pvalue,
        }


def prepare(workspace: store.Workspace) -> None:
    """Make current what :func:`windows` reads about users' normal work: the per-user touch
    summary of all access events (:func:`store.touch_summary`), when there are events. The
    CLI's loads call it, so that the first trace after a load does not pay for it (~17 s for
    10^8 events, benchmarks/RESULTS.md)."""
    if store.has_access_events(workspace.db):
        store.touch_summary(workspace.db, monitor.branch_attribute(workspace))


def windows(workspace: store.Workspace, leaked_customers: pa.Array) -> list[Window]:
    """Every user who touched a leaked customer, most significant first (``leaked_customers``:
    the register ids of the leak's matched rows)."""
    matched = len(set(leaked_customers.to_pylist()) - {None})
    register = store.register_size(workspace.db)
    if not matched or not register:
        return []
    found = []
    for row in store.leak_windows(
        workspace.db, leaked_customers, monitor.branch_attribute(workspace)
    ):
        share = min(1.0, max(row["touched"] / register, row["share"]))
        found.append(
            Window(
                staff_id=row["staff_id"],
                hits=row["hits"],
                matched=matched,
                touched=row["touched"],
                share=share,
                first=row["first"],
                last=row["last"],
                pvalue=binomial_tail(row["hits"], matched, share),
            )
        )
    found.sort(key=lambda w: (w.pvalue, -w.hits, w.staff_id))
    return found
