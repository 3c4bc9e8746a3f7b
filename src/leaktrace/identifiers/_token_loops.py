"""Compiled loops over a column's UTF-8 bytes: folding full-width forms, cutting the tokens RE2
marked, character offsets of byte offsets, counts of bytes by class, the shapes of words, and
slices of strings.

``_column_text`` has RE2 put a NUL before and after every token of the grammar; one loop here
then gives every token's bytes, its row, and its offset in the row in bytes and in characters
(bytes that do not continue a UTF-8 sequence), where NumPy needed a dozen passes over the
column. Compiled by numba (``cache=True``; :func:`warm_up` loads them before the scanner forks).

>>> import numpy as np
>>> marked = "王\\x00Tel139\\x00 a\\x00x@y.cn\\x00".encode()
>>> row, byte_start, char_start, offsets, data = cut(np.array([0, len(marked)]),
...                                                  np.frombuffer(marked, np.uint8))
>>> row.tolist(), byte_start.tolist(), char_start.tolist(), offsets.tolist(), bytes(data)
([0, 0], [3, 11], [1, 9], [0, 6, 12], b'Tel139x@y.cn')
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fold(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Full-width ASCII forms (U+FF01..U+FF5E, ``EF BC 81`` … ``EF BD 9E``) and the ideographic
    space (``E3 80 80``) as one ASCII byte each, a NUL as U+0001: (offsets, bytes, whether
    anything changed) of the folded strings, which keep every character offset."""
    out = np.empty(offsets[-1] - offsets[0], dtype=np.uint8)
    new_offsets = np.empty(len(offsets), dtype=np.int64)
    changed = False
    n = 0
    for r in range(len(offsets) - 1):
        new_offsets[r] = n
        i = offsets[r]
        end = offsets[r + 1]
        while i < end:
            byte = data[i]
            if byte == 0xEF and i + 2 < end:
                point = ((byte & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
                if 0xFF01 <= point <= 0xFF5E:
                    out[n] = point - 0xFEE0
                    n += 1
                    i += 3
                    changed = True
                    continue
            elif byte == 0xE3 and i + 2 < end and data[i + 1] == 0x80 and data[i + 2] == 0x80:
                out[n] = 0x20
                n += 1
                i += 3
                changed = True
                continue
            elif byte == 0:
                byte = 1
                changed = True
            out[n] = byte
            n += 1
            i += 1
    new_offsets[len(offsets) - 1] = n
    return new_offsets, out[:n], changed


@njit(cache=True, nogil=True)
def cut(
    offsets: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tokens between pairs of NUL marks in strings that hold no other NUL.

    Returns (row, byte_start, char_start, token_offsets, token_bytes): each token's string,
    its offset there in bytes and in characters as if the marks were not there, and the tokens'
    bytes as the buffers of a string array.
    """
    marks = 0
    for i in range(offsets[0], offsets[-1]):
        marks += data[i] == 0
    count = marks // 2
    row = np.empty(count, dtype=np.int64)
    byte_start = np.empty(count, dtype=np.int64)
    char_start = np.empty(count, dtype=np.int64)
    token_offsets = np.zeros(count + 1, dtype=np.int64)
    out = np.empty(offsets[-1] - offsets[0], dtype=np.uint8)
    k = 0
    n = 0
    for r in range(len(offsets) - 1):
        position = 0
        chars = 0
        inside = False
        for i in range(offsets[r], offsets[r + 1]):
            byte = data[i]
            if byte == 0:
                if inside:
                    k += 1
                    token_offsets[k] = n
                else:
                    row[k] = r
                    byte_start[k] = position
                    char_start[k] = chars
                inside = not inside
                continue
            if inside:
                out[n] = byte
                n += 1
            position += 1
            chars += (byte & 0xC0) != 0x80
    return row, byte_start, char_start, token_offsets, out[:n]


@njit(cache=True, nogil=True)
def chars_before(
    offsets: np.ndarray, data: np.ndarray, rows: np.ndarray, byte_offsets: np.ndarray
) -> np.ndarray:
    """The character offset of byte offset ``byte_offsets[k]`` in string ``rows[k]``."""
    result = np.empty(len(rows), dtype=np.int64)
    for k in range(len(rows)):
        begin = offsets[rows[k]]
        chars = 0
        for i in range(begin, begin + byte_offsets[k]):
            chars += (data[i] & 0xC0) != 0x80
        result[k] = chars
    return result


@njit(cache=True, nogil=True)
def class_counts(
    offsets: np.ndarray, data: np.ndarray, classes: np.ndarray, count: int
) -> np.ndarray:
    """Per string, how many of its bytes are in each of ``count`` byte classes: an (n, count)
    array; ``classes[b]`` has bit ``c`` set when byte ``b`` is in class ``c``."""
    result = np.zeros((len(offsets) - 1, count), dtype=np.int64)
    for r in range(len(offsets) - 1):
        for i in range(offsets[r], offsets[r + 1]):
            bits = classes[data[i]]
            c = 0
            while bits:
                result[r, c] += bits & 1
                bits >>= 1
                c += 1
    return result


@njit(cache=True, nogil=True)
def word_shapes(
    offsets: np.ndarray, data: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shape of the ASCII words ``rows`` of a string array: (leading letters, whether the
    rest is a plain number ``^[0-9]+(?:[ -][0-9]+)*[Xx]?$``, its separators when it is)."""
    letters = np.zeros(len(rows), dtype=np.int64)
    plain = np.zeros(len(rows), dtype=np.bool_)
    separators = np.zeros(len(rows), dtype=np.int64)
    for k in range(len(rows)):
        begin = offsets[rows[k]]
        end = offsets[rows[k] + 1]
        i = begin
        while i < end and (0x41 <= data[i] <= 0x5A or 0x61 <= data[i] <= 0x7A):
            i += 1
        letters[k] = i - begin
        ok = i < end and 0x30 <= data[i] <= 0x39
        seps = 0
        while ok and i < end:
            byte = data[i]
            if 0x30 <= byte <= 0x39:
                i += 1
            elif (byte == 0x20 or byte == 0x2D) and i + 1 < end and 0x30 <= data[i + 1] <= 0x39:
                seps += 1
                i += 1
            elif (byte == 0x58 or byte == 0x78) and i + 1 == end:
                i += 1
            else:
                ok = False
        plain[k] = ok
        if ok:
            separators[k] = seps
    return letters, plain, separators


def warm_up() -> None:
    """Load (or compile, the first time on a machine) every loop before workers fork."""
    offsets = np.array([0, 3], dtype=np.int64)
    data = np.frombuffer(b"\x00a\x00", dtype=np.uint8)
    fold(offsets, data)
    cut(offsets, data)
    chars_before(offsets, data, np.zeros(1, np.int64), np.ones(1, np.int64))
    class_counts(offsets, data, np.zeros(256, dtype=np.uint8), 1)
    one = np.zeros(1, np.int64)
    word_shapes(offsets, data, one)
    slices(offsets, data, one, one, one + 1)


@njit(cache=True, nogil=True)
def slices(
    offsets: np.ndarray, data: np.ndarray, owner: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of the strings ``data[offsets[owner[k]] + start[k] : … + end[k]]``."""
    new_offsets = np.zeros(len(owner) + 1, dtype=np.int64)
    for k in range(len(owner)):
        new_offsets[k + 1] = new_offsets[k] + end[k] - start[k]
    out = np.empty(new_offsets[-1], dtype=np.uint8)
    for k in range(len(owner)):
        shift = offsets[owner[k]] + start[k] - new_offsets[k]
        for i in range(new_offsets[k], new_offsets[k + 1]):
            out[i] = data[i + shift]
    return new_offsets, out
