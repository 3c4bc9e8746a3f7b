"""The compiled loop that runs a pattern's automaton (:mod:`leaktrace.identifiers._automata`)
over every string of a column, straight off Arrow's UTF-8 bytes.

>>> import numpy as np
>>> text = b"1391234567813"
>>> classes = np.zeros(0x10000, np.int32)  # one class: any character
>>> moves = np.array([[1], [2], [-1]], np.int32)  # exactly two characters
>>> matches(np.array([0, 2, 4, 7]), np.frombuffer(text, np.uint8), classes, moves,
...         np.array([False, False, True]), 0, 0, False).tolist()
[True, True, False]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def matches(
    offsets: np.ndarray,
    data: np.ndarray,
    classes: np.ndarray,
    moves: np.ndarray,
    accepting: np.ndarray,
    initial: int,
    other: int,
    prefix: bool,
) -> np.ndarray:
    """Whether each string is in the automaton's language (``prefix``: whether one of its
    prefixes is).

    ``classes`` gives the class of each code point of the Basic Multilingual Plane, ``other`` is
    the class of every other character, ``moves[state, class]`` the next state (-1: none can
    follow). A sequence cut short by the end of its string counts as ``other``.
    """
    count = len(offsets) - 1
    result = np.zeros(count, dtype=np.bool_)
    for r in range(count):
        state = initial
        p = offsets[r]
        end = offsets[r + 1]
        found = accepting[state]
        while p < end and state >= 0 and not (prefix and found):
            byte = data[p]
            if byte < 0x80:
                kind = classes[byte]
                p += 1
            elif byte < 0xE0 and p + 1 < end:
                kind = classes[((byte & 0x1F) << 6) | (data[p + 1] & 0x3F)]
                p += 2
            elif byte >= 0xE0 and byte < 0xF0 and p + 2 < end:
                code = ((byte & 0x0F) << 12) | ((data[p + 1] & 0x3F) << 6) | (data[p + 2] & 0x3F)
                kind = classes[code]
                p += 3
            else:  # above the plane, or cut short
                kind = other
                p += 4 if byte >= 0xF0 else end - p
            state = moves[state, kind]
            found = state >= 0 and accepting[state]
        result[r] = found
    return result


def warm_up() -> None:
    """Load (or compile, the first time on a machine) the loop before workers fork."""
    data = np.frombuffer(b"ab", dtype=np.uint8)
    table = np.zeros(0x10000, dtype=np.int32)
    moves = np.zeros((1, 1), dtype=np.int32)
    matches(np.array([0, 2], dtype=np.int64), data, table, moves, np.ones(1, np.bool_), 0, 0, False)
