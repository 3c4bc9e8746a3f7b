"""Compiled loops of the keyed marks: the GB/T 2260 head (省市区 / 省区 / 市区) each address
starts with.

One pass per value over its leading three-byte (CJK) characters, with the polynomial prefix
hash of :func:`leaktrace.release.marks._hash_text` and a binary search among the heads' sorted
hashes where a character can end a head, where NumPy needed a gather of a (rows x 48) byte
matrix, a dozen passes over it and a regex and dictionary pass to share work between repeated
prefixes. Compiled by numba (``cache=True``), imported on first use.

>>> import numpy as np
>>> data = np.frombuffer("北京市朝阳区x".encode(), np.uint8)
>>> code = lambda c: int.from_bytes(c.encode(), "big")
>>> h = 0
>>> for c in "北京市":
...     h = (h * 0x100000001B3 + code(c) + 1) & 0xFFFFFFFFFFFFFFFF
>>> head_index(np.array([0, data.size]), data, np.ones(1, bool), 16,
...            np.array([code("市")], np.uint64), np.array([h], np.uint64),
...            np.array([7])).tolist()
[7]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def head_index(
    offsets: np.ndarray,
    data: np.ndarray,
    valid: np.ndarray,
    width: int,
    last_chars: np.ndarray,
    hashes: np.ndarray,
    head: np.ndarray,
) -> np.ndarray:
    """Per value, ``head[j]`` for the longest leading run of at most ``width`` three-byte
    characters that ends in one of ``last_chars`` (sorted char codes) and whose prefix hash is
    ``hashes[j]`` (sorted); -1 where none is."""
    n = offsets.size - 1
    out = np.full(n, -1, dtype=np.int64)
    base = np.uint64(0x100000001B3)
    one = np.uint64(1)
    for i in range(n):
        if not valid[i]:
            continue
        position = offsets[i]
        end = offsets[i + 1]
        value = np.uint64(0)
        for _ in range(width):
            if position + 3 > end:
                break
            b0 = data[position]
            if b0 < 0xE0 or b0 >= 0xF0:
                break
            code = (
                (np.uint64(b0) << np.uint64(16))
                | (np.uint64(data[position + 1]) << np.uint64(8))
                | np.uint64(data[position + 2])
            )
            value = value * base + code + one
            position += 3
            k = np.searchsorted(last_chars, code)
            if k < last_chars.size and last_chars[k] == code:
                j = np.searchsorted(hashes, value)
                if j < hashes.size and hashes[j] == value:
                    out[i] = head[j]
    return out
