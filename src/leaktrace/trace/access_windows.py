"""The access-window channel: which users looked at the leaked customers, and when.

A user who harvested a list query by query (the bank case of the field notes: credit reports of
strangers, one at a time) touched its customers in the access logs. For each user u who touched
any of the m leaked customers of the register, under "the leak did not come from u" the number
of them u touched follows Binomial(m, |A_u| / N), where A_u is every customer u touched in the
logs and N the customers of the register: someone who touches a third of all customers in normal
work (a call centre) is expected to touch a third of any list. The p-value is that binomial's
upper tail; the verdict corrects it for the number of users tested. The harvest window is the
first and last access of the user to the leaked customers.

The channel works on register ids, so customers must have been loaded (`customers load`) before
the logs (`access load`) for their events to name them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from leaktrace import store
from leaktrace.release.marks import binomial_pvalue


@dataclass(frozen=True, slots=True)
class Window:
    """One user's accesses to the leaked customers."""

    staff_id: str
    hits: int  # leaked customers the user touched
    matched: int  # leaked customers of the register (m)
    touched: int  # customers the user touched in all the logs (|A_u|)
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
            "first": self.first.isoformat(sep=" "),
            "last": self.last.isoformat(sep=" "),
            "pvalue": self.pvalue,
        }


def windows(workspace: store.Workspace, leaked_customers: pa.Array) -> list[Window]:
    """Every user who touched a leaked customer, most significant first (``leaked_customers``:
    the register ids of the leak's matched rows)."""
    matched = len(set(leaked_customers.to_pylist()) - {None})
    register = workspace.counts()["customers"]
    if not matched or not register:
        return []
    found = []
    for row in store.access_windows(workspace.db, leaked_customers):
        share = min(1.0, row["touched"] / register)
        found.append(
            Window(
                staff_id=row["staff_id"],
                hits=row["hits"],
                matched=matched,
                touched=row["touched"],
                first=row["first"],
                last=row["last"],
                pvalue=binomial_pvalue(row["hits"], matched, share),
            )
        )
    found.sort(key=lambda w: (w.pvalue, -w.hits, w.staff_id))
    return found
