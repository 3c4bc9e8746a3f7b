"""Column-wise pieces of decoy customers (:mod:`.decoys`): new identifiers with valid check
characters, and donor values with their digits redrawn — on whole Arrow columns and NumPy
arrays, one draw of a generator per column rather than one per value.

>>> rng = np.random.default_rng(1)
>>> ids = resident_ids(np.array([110105]), np.array(["1990-01-05"], "datetime64[D]"),
...                    np.array([11]))
>>> from leaktrace.checksums import gb11643_check_char
>>> number = ids[0].as_py()
>>> number[:17], number[17] == gb11643_check_char(number[:17])
('11010519900105011', True)
>>> len(redraw_digit_runs(pa.array(["A12-305"]), rng)[0].as_py())
7
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.identifiers import _vector
from leaktrace.synth.customer import (
    _GB11643_CHARS,
    _GB11643_WEIGHTS,
    _ascii_digits,
    _fixed_strings,
    _luhn_sums,
    _ragged_strings,
)

_PLATE_LETTERS = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ", dtype=np.uint8)  # no I, no O
_ROOM = r"^(?P<body>(?:.*\D)?)(?P<room>\d{3,4})(?P<tail>室?)$"
_PLAIN_AMOUNT = r"^[-+]?[¥￥]?[\d,]*\d(?:\.\d+)?$"


def _strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    values = _vector.flat(values)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def _rewrite_bytes(
    values: pa.Array, change: Callable[[np.ndarray, np.ndarray, np.ndarray], None]
) -> pa.Array:
    """``values`` (strings) with their bytes rewritten in place by ``change(data, row, at)``
    (``row``: the value each byte belongs to, ``at``: its position in it); lengths unchanged."""
    values = _strings(values)
    n = len(values)
    offsets, raw = _vector.raw_buffers(values)
    start = int(offsets[0])
    data = raw[start : int(offsets[-1])].copy()
    lengths = np.diff(offsets)
    row = np.repeat(np.arange(n), lengths)
    at = np.arange(data.size) - (offsets[:-1] - start)[row]
    change(data, row, at)
    validity = None
    if values.null_count:
        valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    new_offsets = pa.py_buffer((offsets - start).astype(np.int32))
    return pa.Array.from_buffers(pa.string(), n, [validity, new_offsets, pa.py_buffer(data)])


def _is_digit(data: np.ndarray) -> np.ndarray:
    return (data >= 48) & (data <= 57)


def redraw_digit_runs(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Every run of ASCII digits redrawn with the same length and a non-zero first digit."""

    def change(data: np.ndarray, row: np.ndarray, at: np.ndarray) -> None:
        digit = _is_digit(data)
        previous = np.r_[False, digit[:-1]] & (at > 0)
        first = digit & ~previous
        drawn = rng.integers(0, 10, data.size, dtype=np.uint8)
        drawn = np.where(first, 1 + drawn % 9, drawn)  # 1-9 at the head of a run
        data[digit] = (48 + drawn[digit]).astype(np.uint8)

    return _rewrite_bytes(values, change)


def address_like(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Addresses with every house, building and room number redrawn: a room number at the end
    (``1502``, ``1502室``) keeps a floor no higher than the donor's and gets a door of 01-04;
    other runs of digits keep their length."""
    values = _strings(values)
    parts = pc.extract_regex(values, _ROOM)
    has_room = np.asarray(pc.is_valid(parts).to_numpy(zero_copy_only=False), dtype=bool)
    body = pc.if_else(pa.array(has_room), pc.struct_field(parts, "body"), values)
    body = redraw_digit_runs(body, rng)
    if not has_room.any():
        return body
    rooms = pc.cast(pc.struct_field(parts, "room"), pa.int64()).fill_null(0).to_numpy()
    floor = rng.integers(1, np.maximum(rooms // 100, 1) + 1)
    door = rng.integers(1, 5, len(values))
    room = pc.cast(pa.array(floor * 100 + door), pa.string())
    tail = pc.struct_field(parts, "tail")
    joined = pc.binary_join_element_wise(body, room, tail, "")
    return pc.if_else(pa.array(has_room), joined, body)


def plate_like(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Plates with the province character and city letter kept and a new serial: digits
    redrawn, ASCII letters (but D and F, which mark new-energy plates) drawn from the plate
    alphabet, anything else kept."""
    values = _strings(values)
    head = pc.binary_length(pc.utf8_slice_codeunits(values, 0, 2)).fill_null(0).to_numpy()

    def change(data: np.ndarray, row: np.ndarray, at: np.ndarray) -> None:
        serial = at >= head[row]
        upper = data & 0xDF  # ASCII letters to upper case for the test
        letter = serial & (upper >= 65) & (upper <= 90) & (upper != 68) & (upper != 70)
        letter &= data < 128
        digit = serial & _is_digit(data)
        digits = rng.integers(0, 10, data.size, dtype=np.uint8)
        letters = _PLATE_LETTERS[rng.integers(0, _PLATE_LETTERS.size, data.size)]
        data[digit] = (48 + digits[digit]).astype(np.uint8)
        data[letter] = letters[letter]

    return _rewrite_bytes(values, change)


def amount_like(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Non-round amounts with their last two digits redrawn (the last one non-zero); round
    amounts, nulls and non-numbers unchanged; same type and decimals."""
    values = _vector.flat(values)
    text = _strings(values)
    digits = pc.utf8_length(pc.replace_substring_regex(text, r"\D", ""))
    plain = pc.and_(
        pc.and_(pc.match_substring_regex(text, _PLAIN_AMOUNT), pc.invert(pc.ends_with(text, "0"))),
        pc.greater_equal(digits, 3),
    )
    change = np.asarray(plain.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    if not change.any():
        return values
    offsets, _ = _vector.raw_buffers(text)
    ends = offsets[1:] - offsets[0]

    def redraw(data: np.ndarray, row: np.ndarray, at: np.ndarray) -> None:
        rows = np.flatnonzero(change)
        last = ends[rows] - 1
        before = last - 1
        before = np.where(_is_digit(data[before]), before, before - 1)  # 34839.78, 1,234
        data[last] = (49 + rng.integers(0, 9, rows.size)).astype(np.uint8)
        data[before] = (48 + rng.integers(0, 10, rows.size)).astype(np.uint8)

    redrawn = _rewrite_bytes(text, redraw)
    if pa.types.is_string(values.type):
        return redrawn
    return pc.if_else(pa.array(change), redrawn.cast(values.type), values)


def resident_ids(regions: np.ndarray, days: np.ndarray, sequence: np.ndarray) -> pa.Array:
    """18-character resident ID numbers (GB 11643): region, birth date, sequence (its parity
    the gender) and the check character."""
    dates = days.astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    first17 = np.hstack(
        [
            _ascii_digits(regions, 6),
            _ascii_digits(year * 10_000 + month * 100 + day, 8),
            _ascii_digits(sequence, 3),
        ]
    )
    check = _GB11643_CHARS[((first17.astype(np.int64) - 48) @ _GB11643_WEIGHTS) % 11]
    return _fixed_strings(np.hstack([first17, check[:, None]]))


def card_numbers(bins: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Card numbers of ``lengths`` digits: a 6-digit BIN, random digits and a Luhn check
    digit."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return pa.array([], pa.string())
    width = int(lengths.max())
    # Right-aligned payloads; leading zeros add nothing to a Luhn sum.
    payload = rng.integers(0, 10, (lengths.size, width - 1), dtype=np.int64)
    payload[np.arange(width - 1)[None, :] < (width - lengths)[:, None]] = 0
    start = width - lengths
    bin_digits = _ascii_digits(bins, 6).astype(np.int64) - 48
    for k in range(6):
        payload[np.arange(lengths.size), start + k] = bin_digits[:, k]
    check = (10 - _luhn_sums(payload, doubled_last=True) % 10) % 10
    matrix = (48 + np.hstack([payload, check[:, None]])).astype(np.uint8)
    return _ragged_strings(matrix, lengths, right=True)


def date_like(days: np.ndarray, donors: pa.Array) -> pa.Array:
    """``days`` written as the donors write dates: a date column stays one; text keeps the
    donor's separators and widths (``1990/1/5``, ``1990年01月05日``); ISO where it has none."""
    days = days.astype("datetime64[D]")
    if not (pa.types.is_string(donors.type) or pa.types.is_large_string(donors.type)):
        return pa.array(days).cast(donors.type)
    parts = pc.extract_regex(
        donors, r"^(?P<y>\d{4})(?P<s1>\D*)(?P<m>\d{1,2})(?P<s2>\D*)(?P<d>\d{1,2})(?P<rest>.*)$"
    )
    # The parts cut from the ISO form (NumPy's, a fifth of Arrow's strftime: 5 ms of a batch).
    iso = pa.array(np.datetime_as_string(days), pa.string())  # YYYY-MM-DD: years 1000-9999

    def padded(start: int, group: str) -> pa.Array:
        full = pc.utf8_slice_codeunits(iso, start, start + 2)
        short = pc.cast(pc.cast(full, pa.int64()), pa.string())
        two = pc.equal(pc.utf8_length(pc.struct_field(parts, group)), 2)
        return pc.if_else(two, full, short)

    fields = [pc.struct_field(parts, name) for name in ("s1", "s2", "rest")]
    year = pc.utf8_slice_codeunits(iso, 0, 4)
    written = pc.binary_join_element_wise(
        year, fields[0], padded(5, "m"), fields[1], padded(8, "d"), fields[2], ""
    )
    return pc.if_else(pc.is_valid(parts), written, iso).cast(donors.type)


def mask_like(values: pa.Array, donors: pa.Array) -> pa.Array:
    """``values`` masked where their donor shows ``*`` (same length: star for star; else the
    first character kept, the rest starred); values of unmasked donors as they are."""
    donors = _strings(donors)
    masked = np.asarray(
        pc.match_substring(donors, "*").fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    if not masked.any():
        return values
    rows = np.flatnonzero(masked)
    # Only the masked rows, which few templates have, go through Python.
    new = [
        _mask_one(value, donor)
        for value, donor in zip(
            values.take(pa.array(rows)).to_pylist(),
            donors.take(pa.array(rows)).to_pylist(),
            strict=True,
        )
    ]
    out = values.to_numpy(zero_copy_only=False).astype(object)
    out[rows] = new
    return pa.array(out, pa.string())


def _mask_one(value: str | None, donor: str) -> str | None:
    if value is None:
        return None
    if len(donor) == len(value):
        return "".join("*" if d == "*" else v for v, d in zip(value, donor, strict=True))
    return value[0] + "*" * (len(value) - 1)
