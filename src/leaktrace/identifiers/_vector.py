"""Column-wise building blocks for ``valid_column``: one pass of Arrow's C++ kernels (RE2)
over a whole column instead of a Python call per cell (PEERS.md: 3–10× faster)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A flat string array: chunks combined, non-string columns cast to text."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def fold(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC (full-width digits and letters → ASCII) and trimmed."""
    return pc.utf8_trim_whitespace(pc.utf8_normalize(as_strings(values), "NFKC"))


def remove(values: pa.Array, pattern: str) -> pa.Array:
    """Delete every match of an RE2 ``pattern``."""
    return pc.replace_substring_regex(values, pattern, "")


def full_match(values: pa.Array, pattern: str) -> np.ndarray:
    """Boolean NumPy array: which values match RE2 ``pattern`` entirely (nulls are False)."""
    matched = pc.match_substring_regex(values, f"^(?:{pattern})$")
    return to_numpy_bool(matched)


def to_numpy_bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A NumPy bool array from an Arrow boolean array, nulls as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def drop_separators(strings: pa.Array) -> pa.Array:
    """Delete spaces, dashes and ASCII whitespace: literal passes only for what occurs.

    Several literal replacements cost a fraction of one RE2 replacement over the same strings.
    """
    for separator in " -\t\n\r\f":
        if pc.any(pc.match_substring(strings, separator)).as_py():
            strings = pc.replace_substring(strings, separator, "")
    return strings


def fixed_width_bytes(values: pa.Array, width: int) -> np.ndarray:
    """A (n, width) uint8 matrix of a null-free string array whose values are all ``width`` long."""
    fixed = values.cast(pa.binary(width))
    if len(fixed) == 0:
        return np.empty((0, width), dtype=np.uint8)
    data = np.frombuffer(fixed.buffers()[1], dtype=np.uint8).reshape(-1, width)
    return data[fixed.offset : fixed.offset + len(fixed)]
