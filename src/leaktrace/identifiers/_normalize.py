"""Whole columns to canonical values, for tokens: the column form of each type's ``validate``.

A customer register or a leaked list holds millions of values; calling ``validate`` on each costs
a few microseconds of Python. Most values of a real column are already canonical (an ID column
of 18-character numbers, a mobile column of 11 digits), so :func:`normalize_column` checks the
whole column with the type's vectorized ``valid_column``, keeps the canonical-looking valid
values as they are, and sends only the rest (``+86 138-1234-5678``, full-width digits, 15-digit
IDs, upper-case e-mail) through ``validate``, once per distinct value.

Names are checked by dictionary, not by format, and a register must keep rare names too: a name
column is normalized with :func:`person_name.compact` (NFKC, no spaces, simplified characters),
once per distinct value, and only values that are masked (``张*``) or hold no letter are dropped.

>>> normalize_column("mobile", pa.array(["+86 138-1234-5678", "13912345678", "12345"])).to_pylist()
['13812345678', '13912345678', None]
>>> masked_parts("mobile", pa.array(["138****5678", "13812345678"])).to_pylist()
[{'head': '138', 'tail': '5678'}, None]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.identifiers import _vector, get, person_name

# What a canonical value looks like, per type: such a value, when valid, is its own
# ``validate`` result (tests/identifiers/test_normalize.py checks this on every type).
_CANONICAL = {
    "mobile": r"1[0-9]{10}",
    "resident_id": r"[0-9]{17}[0-9X]",
    "bank_card": r"[0-9]{12,19}",
    "email": r"[a-z0-9._%+\-]+@[a-z0-9.\-]+",
    "plate": r"\p{Han}[A-Z0-9]{5,7}\p{Han}?",
    "passport": r"[A-Z0-9]+",
    "uscc": r"[0-9A-Z]{18}",
    "fixed_line": r"0[0-9]{9,11}",
}
_NO_LETTER = r"^[^\p{L}]*$"


def normalize_column(name: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The canonical value of each cell of a column of type ``name``; null where invalid."""
    strings = _vector.as_strings(values)
    if name == person_name.NAME:
        return _names(strings)
    module = get(name)
    valid = module.valid_column(strings)
    canonical = _vector.full_match(strings, _CANONICAL[name]) if name in _CANONICAL else None
    ready = valid & canonical if canonical is not None else np.zeros_like(valid)
    result = pc.if_else(pa.array(ready), strings, pa.nulls(len(strings), pa.string()))
    rest = np.flatnonzero(valid & ~ready)
    if rest.size == 0:
        return result
    return _patch(result, rest, _by_distinct(strings.take(pa.array(rest)), module.validate))


def masked_parts(name: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The visible head and tail of each masked value (``138****5678`` → 138, 5678); else null.

    Separators are dropped and width and case folded first, so ``6222 **** **** 0128`` gives
    head 6222 and tail 0128.
    """
    strings = _vector.as_strings(values)
    module = get(name)
    if not hasattr(module, "masked_column"):
        return pa.nulls(len(strings), pa.struct([("head", pa.string()), ("tail", pa.string())]))
    masked = pa.array(module.masked_column(strings))
    folded = pc.utf8_upper(_vector.drop_separators(_vector.fold(strings)))
    parts = pc.extract_regex(folded, r"^(?P<head>[0-9A-Z]*)\*+(?P<tail>[0-9A-Z]*)$")
    return pc.if_else(masked, parts, pa.nulls(len(strings), parts.type))


def _names(strings: pa.Array) -> pa.Array:
    """Names compacted once per distinct value; masked or letterless values dropped."""
    usable = pc.and_not(
        pc.invert(pc.match_substring_regex(strings, _NO_LETTER)),
        pc.match_substring_regex(strings, r"[*＊]"),
    )
    result = _by_distinct(strings, person_name.compact)
    return pc.if_else(pc.fill_null(usable, False), result, pa.nulls(len(strings), pa.string()))


def _by_distinct(strings: pa.Array, convert: Callable[[str], str]) -> pa.Array:
    """``convert`` applied once per distinct value; a ``ValueError`` gives null."""
    encoded = pc.dictionary_encode(strings)
    converted: list[str | None] = []
    for value in encoded.dictionary.to_pylist():
        try:
            converted.append(convert(value) or None)
        except ValueError:
            converted.append(None)
    return pa.array(converted, pa.string()).take(encoded.indices)


def _patch(result: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``result`` with ``values`` put at positions ``rows``."""
    index = np.full(len(result), -1, dtype=np.int64)
    index[rows] = np.arange(rows.size)
    take = pa.array(index, mask=index < 0)
    return pc.coalesce(result, values.take(take))
