"""Compiled loops over numeric candidates: their pieces, their windows, the walk that splits
glued numbers.

``_column_text`` finds numeric values in whole columns; the bookkeeping around each candidate
(where its ``[0-9Xx]`` pieces are, which runs of pieces are worth a type's ``valid_column``,
the walk from the left that keeps the longest valid run) was some twenty NumPy passes over the
candidates. Here each is one loop, compiled by numba (``cache=True``: compiled once per
machine and kept beside this file or in numba's cache directory; :func:`warm_up` loads or
compiles them before the scanner forks its workers). The candidates are ASCII (a word's
prefix, pieces, separators and ``X``), so bytes are characters.

>>> import numpy as np
>>> data = np.frombuffer(b"138-1234-5678 12", dtype=np.uint8)
>>> owner, start, end, digits = pieces(np.array([0, 16]), data)
>>> start.tolist(), end.tolist(), digits.tolist()
([0, 4, 9, 14], [3, 8, 13, 16], [13])
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def pieces(
    offsets: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The maximal runs of ``[0-9Xx]`` in each string, and each string's count of ASCII digits.

    Returns (owner, start, end, digits): a run's string and byte offsets in it, in order, and
    ``digits[k]`` for string ``k``.
    """
    count = len(offsets) - 1
    size = len(data)
    owner = np.empty(size // 2 + 1, dtype=np.int64)
    start = np.empty(size // 2 + 1, dtype=np.int64)
    end = np.empty(size // 2 + 1, dtype=np.int64)
    digits = np.zeros(count, dtype=np.int64)
    n = 0
    for k in range(count):
        base = offsets[k]
        inside = False
        for i in range(offsets[k], offsets[k + 1]):
            byte = data[i]
            digit = 0x30 <= byte <= 0x39
            digits[k] += digit
            if digit or byte == 0x58 or byte == 0x78:  # [0-9Xx]
                if not inside:
                    owner[n] = k
                    start[n] = i - base
                    inside = True
            elif inside:
                end[n] = i - base
                n += 1
                inside = False
        if inside:
            end[n] = offsets[k + 1] - base
            n += 1
    return owner[:n], start[:n], end[:n], digits


@njit(cache=True, nogil=True)
def compacted(
    offsets: np.ndarray, data: np.ndarray, owner: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bytes ``start[k]:end[k]`` of string ``owner[k]`` without spaces and dashes, ``x`` as
    ``X`` (what every numeric type's ``compact`` does first): (offsets, bytes) of the copies."""
    out_offsets = np.zeros(len(owner) + 1, dtype=np.int64)
    total = 0
    for k in range(len(owner)):
        total += end[k] - start[k]
    out = np.empty(total, dtype=np.uint8)
    n = 0
    for k in range(len(owner)):
        base = offsets[owner[k]]
        for i in range(base + start[k], base + end[k]):
            byte = data[i]
            if byte == 0x20 or byte == 0x2D:
                continue
            out[n] = 0x58 if byte == 0x78 else byte
            n += 1
        out_offsets[k + 1] = n
    return out_offsets, out[:n]


@njit(cache=True, nogil=True)
def windows(
    glued: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    piece_start: np.ndarray,
    piece_end: np.ndarray,
    ends_x: np.ndarray,
    admitted: np.ndarray,
    max_pieces: int,
    min_digits: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of pieces of glued candidates worth checking: (candidate, first piece, one past
    the last piece, ``[0-9Xx]`` characters held) of each.

    Candidate ``c`` has pieces ``first[c] … first[c] + count[c] - 1`` (numbered over all
    candidates); a run holds at most ``max_pieces`` pieces, is not the whole candidate, holds at
    least ``min_digits`` digits (a final ``X``, ``ends_x`` of its last piece, is no digit) and a
    count of ``[0-9Xx]`` characters some numeric type admits (``admitted``, by count).
    """
    limit = len(admitted) - 1
    total = 0
    for c in glued:
        total += count[c] * max_pieces
    owner = np.empty(total, dtype=np.int64)
    low = np.empty(total, dtype=np.int64)
    high = np.empty(total, dtype=np.int64)
    held = np.empty(total, dtype=np.int64)
    n = 0
    for c in glued:
        pieces_of = count[c]
        for i in range(pieces_of):
            chars = 0
            for j in range(i + 1, min(pieces_of, i + max_pieces) + 1):
                piece = first[c] + j - 1
                chars += piece_end[piece] - piece_start[piece]
                if i == 0 and j == pieces_of:
                    continue  # the whole candidate, tried before
                if chars - ends_x[piece] < min_digits or not admitted[min(chars, limit)]:
                    continue
                owner[n] = c
                low[n] = i
                high[n] = j
                held[n] = chars
                n += 1
    return owner[:n], low[:n], high[:n], held[:n]


@njit(cache=True, nogil=True)
def walk(
    glued: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    piece_start: np.ndarray,
    piece_end: np.ndarray,
    owner: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    types: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``find_all``'s walk over glued candidates: from the left, the longest valid run of
    pieces that starts at the current piece is a value and the walk goes on after it, else the
    walk moves one piece on.

    The runs (``owner``, ``low``, ``high``) are grouped by candidate in order, ``types[k]`` the
    type code of run ``k`` or -1. Returns (candidate, start, end, type code) of each value.
    """
    pieces_total = len(piece_start)
    reach = np.full(pieces_total, -1, dtype=np.int64)
    reach_type = np.full(pieces_total, -1, dtype=np.int64)
    for k in range(len(owner)):
        if types[k] < 0:
            continue
        slot = first[owner[k]] + low[k]
        if high[k] > reach[slot]:
            reach[slot] = high[k]
            reach_type[slot] = types[k]
    out_owner = np.empty(pieces_total, dtype=np.int64)
    out_start = np.empty(pieces_total, dtype=np.int64)
    out_end = np.empty(pieces_total, dtype=np.int64)
    out_type = np.empty(pieces_total, dtype=np.int64)
    n = 0
    for c in glued:
        position = 0
        while position < count[c]:
            slot = first[c] + position
            if reach[slot] >= 0:
                out_owner[n] = c
                out_start[n] = piece_start[slot]
                out_end[n] = piece_end[first[c] + reach[slot] - 1]
                out_type[n] = reach_type[slot]
                n += 1
                position = reach[slot]
            else:
                position += 1
    return out_owner[:n], out_start[:n], out_end[:n], out_type[:n]


def warm_up() -> None:
    """Load (or compile, the first time on a machine) every loop, so that forked workers
    inherit them instead of each compiling its own."""
    offsets = np.array([0, 3], dtype=np.int64)
    data = np.frombuffer(b"1 2", dtype=np.uint8)
    owner, start, end, _ = pieces(offsets, data)
    compacted(offsets, data, owner, start, end)
    glued = np.zeros(1, dtype=np.int64)
    first, count = np.zeros(1, dtype=np.int64), np.array([2], dtype=np.int64)
    admitted = np.ones(4, dtype=np.bool_)
    run = windows(glued, first, count, start, end, np.zeros(2, np.int64), admitted, 8, 1)
    walk(glued, first, count, start, end, run[0], run[1], run[2], np.zeros(len(run[0]), np.int64))
