"""Keyed subsets: which customers one recipient gets when a request says "any N of segment S".

Two recipients of the same request should hold as few customers in common as possible, so that
a leaked sample points at one of them (Papadimitriou and Garcia-Molina, "Data Leakage
Detection", 2011: allocation decides how well leakers can be told apart). Customers released
least often so far go first; among equals, a PRF keyed per recipient decides, so the choice
cannot be predicted or steered by the recipient, and two recipients get independent orders.

>>> key = bytes(32)
>>> pool = list(range(1, 11))
>>> a = allocate(key, "telesales-team-1", pool, 5)
>>> b = allocate(key, "telesales-team-2", pool, 5, already=count_released(a, pool))
>>> len(a), len(b), len(set(a) & set(b))
(5, 5, 0)
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import numpy as np


def prf_order(key: bytes, recipient: str, customers: Sequence[int] | np.ndarray) -> np.ndarray:
    """A 64-bit keyed pseudo-random number per customer: HMAC-SHA256(key, recipient ‖ 0 ‖ id)."""
    prefix = recipient.encode() + b"\x00"
    digest = hmac.digest
    return np.fromiter(
        (
            int.from_bytes(digest(key, prefix + str(int(c)).encode(), "sha256")[:8], "big")
            for c in customers
        ),
        dtype=np.uint64,
        count=len(customers),
    )


def allocate(
    key: bytes,
    recipient: str,
    candidates: Sequence[int] | np.ndarray,
    count: int,
    already: Sequence[int] | np.ndarray | None = None,
) -> list[int]:
    """``count`` of ``candidates`` (register ids) for ``recipient``, in ascending id order.

    ``already`` gives, per candidate, how many earlier releases of the same kind of request
    held it; the least released go first, then the keyed order decides.
    """
    ids = np.asarray(candidates, dtype=np.int64)
    if count >= ids.size:
        return sorted(ids.tolist())
    released = np.zeros(ids.size, np.int64) if already is None else np.asarray(already, np.int64)
    order = np.lexsort((prf_order(key, recipient, ids), released))
    return sorted(ids[order[:count]].tolist())


def count_released(released: Sequence[int], candidates: Sequence[int]) -> list[int]:
    """Per candidate, 1 if it is in ``released`` else 0 (add these up over earlier releases)."""
    held = set(released)
    return [1 if c in held else 0 for c in candidates]
