"""A compiled loop for :class:`leaktrace.identifiers._vector.KeyIndex`: looking keys up in its
hash table (Fibonacci hashing, linear probing).

NumPy probed all queries a slot at a time, a dozen array passes per round; one loop over the
queries does the same with no temporary arrays. Compiled by numba (``cache=True``;
:func:`warm_up` loads it before the scanner forks).

>>> import numpy as np
>>> golden = np.uint64(0x9E3779B97F4A7C15)
>>> slots = np.full(8, np.uint64(2**64 - 1)); rows = np.full(8, -1)
>>> home = int(((np.array([42], np.uint64) * golden) >> np.uint64(61))[0])  # wraps
>>> slots[home], rows[home] = 42, 0
>>> probe(slots, rows, golden, np.uint64(61), np.array([42, 7], dtype=np.uint64)).tolist()
[0, -1]
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NO_KEY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


@njit(cache=True, nogil=True)
def probe(
    slots: np.ndarray, rows: np.ndarray, golden: np.uint64, shift: np.uint64, query: np.ndarray
) -> np.ndarray:
    """The row of each key in ``query`` (uint64), or -1: from its home slot
    ``(key * golden) >> shift`` on, until the key or an empty slot."""
    mask = len(slots) - 1
    found = np.full(len(query), -1, dtype=np.int64)
    for k in range(len(query)):
        key = query[k]
        slot = np.int64((key * golden) >> shift)
        while slots[slot] != _NO_KEY:
            if slots[slot] == key:
                found[k] = rows[slot]
                break
            slot = (slot + 1) & mask
    return found


def warm_up() -> None:
    """Load (or compile, the first time on a machine) the loop before workers fork."""
    slots = np.full(4, _NO_KEY, dtype=np.uint64)
    probe(slots, np.full(4, -1, dtype=np.int64), np.uint64(1), np.uint64(62), slots[:1])
