"""Keyed marks (键控标记): one of q equivalent forms per record and field, chosen by a PRF.

A mark rule looks at a column and finds, in each value, *slots*: places where the value can be
written in q ways that mean the same thing, the original among them. A PRF keyed by (mark key,
release id, record token, field name) picks one form per slot. A leaked copy that keeps the
field shows, slot by slot, which form it carries; for the release it came from every slot
agrees with the PRF, for any other release each slot agrees with probability 1/q, independently
(the PRF of another release is independent of the data). So with m agreements in n slots the
p-value of "not this release" is the binomial tail ``P(X >= m)``, X ~ Binomial(n, 1/q)
(:func:`leaktrace.tails.binomial_tail`).

Rules (a small registry, :data:`RULES`; one q per rule):

``address`` (q = 2, up to three slots)
    the province suffix kept or dropped (贵州省贵阳市… / 贵州贵阳市…, 北京市朝阳区 / 北京朝阳区,
    广西壮族自治区 / 广西), the city's 市 kept or dropped (贵阳市云岩区 / 贵阳云岩区), and 室
    after a room number (…2单元1502室 / …2单元1502). Only the leading divisions of GB/T 2260
    that name one county together are varied (province, city and county must be consistent),
    so every form names the same place; anything else in the value is left alone.
``amount`` (q = 9, one slot)
    the last digit of a non-round amount, 1-9: 15713.35 may become 15713.31 … 15713.39. Values
    whose last digit is 0 (round values, 12000.00, 15713.30) are never changed, nor is the type
    or the number of decimals; the change is at most 8 units of the last place. Decimal, integer
    and floating columns, and text columns of plain ASCII numbers (``1,234.56``, ``-3074.53``).
``list_order`` (q = 2, one slot per pair of items)
    the order within consecutive pairs of a delimited list (借记卡、信用卡、手机银行 →
    信用卡、借记卡、手机银行): the items and their number never change.

A mark never touches a value a recipient needs: :func:`mark_table` refuses columns whose header
or values are a phone, name, ID, card, e-mail, plate or other identifier, and no rule changes a
column's type, so a marked CSV opens in pandas and Excel with the same columns and dtypes. Date
formats are not varied (a mixed-format date column would stop being a date column).

Everything is column-wise: the PRF is SipHash-2-4 (a PRF designed for short inputs, Aumasson and
Bernstein 2012, https://www.aumasson.jp/siphash/siphash.pdf) over the 16-byte record token in
NumPy, with a 128-bit key per (release, field) derived by HMAC-SHA256 from the mark key; the
rules work on Arrow buffers.

>>> import pyarrow as pa
>>> from leaktrace.keys import token
>>> key, tokens = bytes(32), pa.array([token(bytes(32), "mobile", "13800000000")] * 2)
>>> table = pa.table({"balance": ["15713.35", "12000.00"]})
>>> marked = mark_table(key, "R1", tokens, table, {"balance": "amount"})
>>> marked["balance"][1].as_py()
'12000.00'
>>> counts = read_marks(key, "R1", tokens, marked, {"balance": "amount"})
>>> (counts["balance"].agreements, counts["balance"].trials, counts["balance"].q)
(1, 1, 9)
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import _vector
from leaktrace.tails import binomial_tail

_DOMAIN = b"leaktrace mark v1\x00"
CHUNK_ROWS = 1 << 16  # rules build a few (rows x 25) matrices; this bounds their memory
# Identifier types a recipient needs unchanged: never marked.
PROTECTED = frozenset({"mobile", "person_name", "resident_id", "bank_card", "email", "plate",
                       "passport", "uscc", "fixed_line"})  # fmt: skip


# ---- the PRF -----------------------------------------------------------------------------


_SIP_CHUNK = 16_384  # rows hashed at a time: the state arrays stay in the CPU's cache


def _sipround(v0, v1, v2, v3, t):  # one SipRound, in place on arrays (t: scratch)
    v0 += v1
    np.left_shift(v1, 13, out=t)
    v1 >>= 51
    v1 |= t
    v1 ^= v0
    np.left_shift(v0, 32, out=t)
    v0 >>= 32
    v0 |= t
    v2 += v3
    np.left_shift(v3, 16, out=t)
    v3 >>= 48
    v3 |= t
    v3 ^= v2
    v0 += v3
    np.left_shift(v3, 21, out=t)
    v3 >>= 43
    v3 |= t
    v3 ^= v0
    v2 += v1
    np.left_shift(v1, 17, out=t)
    v1 >>= 47
    v1 |= t
    v1 ^= v2
    np.left_shift(v2, 32, out=t)
    v2 >>= 32
    v2 |= t


def siphash24_16(key: bytes, words: np.ndarray) -> np.ndarray:
    """SipHash-2-4 of 16-byte messages given as an (n, 2) array of little-endian uint64, in
    one compiled loop (:func:`leaktrace.release._mark_loops.siphash24_16`; the NumPy
    :func:`siphash24_16_keyed` gives the same words).

    >>> message = np.frombuffer(bytes(range(16)), dtype="<u8").reshape(1, 2)
    >>> hex(int(siphash24_16(bytes(range(16)), message)[0]))
    '0x3f2acc7f57c29bdb'
    """
    from leaktrace.release import _mark_loops

    k0, k1 = key_halves(key)
    return _mark_loops.siphash24_16(k0, k1, np.ascontiguousarray(words, dtype=np.uint64))


def key_halves(key: bytes) -> tuple[np.uint64, np.uint64]:
    """A 16-byte SipHash key as its two little-endian 64-bit halves."""
    k0, k1 = (int.from_bytes(key[i : i + 8], "little") for i in (0, 8))
    return np.uint64(k0), np.uint64(k1)


def siphash24_16_keyed(
    k0: np.ndarray | np.uint64, k1: np.ndarray | np.uint64, words: np.ndarray
) -> np.ndarray:
    """:func:`siphash24_16` with the key given by its halves (:func:`key_halves`), one for
    all messages or one per message (arrays of n): trace hashes each release's member rows
    under that release's key in one pass."""
    n = words.shape[0]
    k0 = np.broadcast_to(np.asarray(k0, dtype=np.uint64), (n,))
    k1 = np.broadcast_to(np.asarray(k1, dtype=np.uint64), (n,))
    out = np.empty(n, dtype=np.uint64)
    size = max(1, min(n, _SIP_CHUNK))
    state = [np.empty(size, dtype=np.uint64) for _ in range(5)]
    last = np.uint64(16 << 56)  # the message length in the last block, no tail bytes
    for start in range(0, n, _SIP_CHUNK):
        stop = min(n, start + _SIP_CHUNK)
        v0, v1, v2, v3, t = (a[: stop - start] for a in state)
        np.bitwise_xor(k0[start:stop], np.uint64(0x736F6D6570736575), out=v0)
        np.bitwise_xor(k1[start:stop], np.uint64(0x646F72616E646F6D), out=v1)
        np.bitwise_xor(k0[start:stop], np.uint64(0x6C7967656E657261), out=v2)
        np.bitwise_xor(k1[start:stop], np.uint64(0x7465646279746573), out=v3)
        block = words[start:stop].astype(np.uint64)
        for m in (block[:, 0], block[:, 1], last):
            v3 ^= m
            _sipround(v0, v1, v2, v3, t)
            _sipround(v0, v1, v2, v3, t)
            v0 ^= m
        v2 ^= np.uint64(0xFF)
        for _ in range(4):
            _sipround(v0, v1, v2, v3, t)
        chunk = out[start:stop]
        np.bitwise_xor(v0, v1, out=chunk)
        chunk ^= v2
        chunk ^= v3
    return out


def field_key(key: bytes, release_id: str, field: str) -> bytes:
    """The 128-bit SipHash key of one field of one release, derived from the mark key."""
    message = _DOMAIN + release_id.encode() + b"\x00" + field.encode()
    return hmac.digest(key, message, "sha256")[:16]


def token_words(record_tokens: pa.Array | pa.ChunkedArray | Sequence[bytes | None]):
    """(n, 2) uint64 words of 16-byte tokens, and which rows have one."""
    if isinstance(record_tokens, pa.ChunkedArray):
        record_tokens = _vector.flat(record_tokens)
    if not isinstance(record_tokens, pa.Array):
        record_tokens = pa.array(list(record_tokens), pa.binary(16))
    if record_tokens.type != pa.binary(16):
        try:
            record_tokens = record_tokens.cast(pa.binary(16))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ConfigError("Record tokens must be 16-byte keyed tokens (keys.tokens).") from None
    n = len(record_tokens)
    present = ~np.asarray(record_tokens.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    buffer = record_tokens.buffers()[1]
    raw = np.frombuffer(buffer, dtype=np.uint8)[
        record_tokens.offset * 16 : (record_tokens.offset + n) * 16
    ]
    return raw.view("<u8").reshape(n, 2), present


def prf_words(
    key: bytes,
    release_id: str,
    field: str,
    record_tokens: pa.Array | pa.ChunkedArray | Sequence[bytes | None],
) -> tuple[np.ndarray, np.ndarray]:
    """One 64-bit PRF word per record for (release, field), and which records have a token."""
    words, present = token_words(record_tokens)
    return siphash24_16(field_key(key, release_id, field), words), present


def choices(words: np.ndarray, q: int, slots: int) -> np.ndarray:
    """The form index (0..q-1) the PRF picks for each record and slot: bit j of the word for
    slot j when q = 2; the word modulo q (one slot) otherwise (bias below 2^-60)."""
    if q == 2:
        shifts = np.arange(slots, dtype=np.uint64)
        return ((words[:, None] >> shifts) & np.uint64(1)).astype(np.int64)
    if slots != 1:
        raise ValueError("rules with q > 2 have one slot")
    return (words % np.uint64(q)).astype(np.int64)[:, None]


# ---- the binomial tail ---------------------------------------------------------------------


# ---- rules ---------------------------------------------------------------------------------


class MarkRule(Protocol):
    """A way to write values of a column in q equivalent forms.

    ``observe`` tells, for each value and slot, whether the slot exists and which form
    (0..q-1) the value shows; it must depend on the value alone, and changing the form of one
    slot must not change which slots exist. ``render`` writes the values with the given forms
    (where a slot exists); it keeps the column's type. A rule may also have
    ``mark(values, words, present)``, which writes what ``render`` writes for the forms
    :func:`mark_table` picks from the PRF words, in one pass; :func:`mark_table` then uses it.
    """

    name: str
    q: int
    slots: int

    def accepts(self, type_: pa.DataType) -> bool: ...

    def observe(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]: ...

    def render(self, values: pa.Array, forms: np.ndarray) -> pa.Array: ...


def _strings(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (int64), UTF-8 data and validity of a string array (no copy of the data)."""
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offset_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[
        values.offset : values.offset + len(values) + 1
    ].astype(np.int64)
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return offsets, data, valid


def _byte_at(data: np.ndarray, position: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``data[position]`` where ``ok``, else 0."""
    safe = np.where(ok & (position >= 0) & (position < data.size), position, 0)
    return np.where(ok, data[safe] if data.size else 0, 0).astype(np.int64)


def _char_code(text: str) -> int:
    raw = text.encode()
    return int.from_bytes(raw, "big")


def _splice(
    values: pa.Array, pool: np.ndarray, sources: np.ndarray, lengths: np.ndarray
) -> pa.Array:
    """A string array whose row i is the concatenation of byte segments ``sources[i, j]``,
    ``lengths[i, j]`` (j in order) taken from the values' data followed by ``pool``; nulls stay
    null. One compiled pass (:func:`leaktrace.release._mark_loops.splice`) builds the data."""
    from leaktrace.release import _mark_loops

    _, data, valid = _strings(values)
    row_offsets, out = _mark_loops.splice(
        data if data.size else np.zeros(1, np.uint8),
        pool,
        valid,
        np.ascontiguousarray(sources, dtype=np.int64),
        np.ascontiguousarray(lengths, dtype=np.int64),
    )
    return _rewritten(values, row_offsets, out)


def _rewritten(values: pa.Array, row_offsets: np.ndarray, out: np.ndarray) -> pa.Array:
    """``values`` rewritten: the same type and nulls, new row offsets (int64, from 0) and data."""
    large = pa.types.is_large_string(values.type)
    if not large and row_offsets[-1] >= 2**31:  # pragma: no cover - chunks keep far below this
        raise ValueError("string data too large for 32-bit offsets")
    buffer = pa.py_buffer(row_offsets.astype(np.int64 if large else np.int32))
    return pa.Array.from_buffers(
        values.type, len(values), [_bitmap(values), buffer, pa.py_buffer(out)]
    )


class _Memo:
    """A parse's result for the last values it was given: a rule observes, then renders, the
    same values and parses them once. The values are kept alive, so that their buffers'
    addresses identify them."""

    def __init__(self, parse: Callable[[pa.Array], Any]) -> None:
        self._parse = parse
        self._last: tuple[object, pa.Array, Any] | None = None

    def __call__(self, values: pa.Array) -> Any:
        buffers = tuple(0 if b is None else b.address for b in values.buffers())
        identity = (buffers, values.offset, len(values))
        if self._last is None or self._last[0] != identity:
            self._last = (identity, values, self._parse(values))
        return self._last[2]


# -- amounts


class AmountRule:
    """The last digit (1-9) of non-round amounts; see the module docstring."""

    name = "amount"
    q = 9
    slots = 1

    def __init__(self) -> None:
        self._floats = _Memo(self._float_units)
        self._text_digits = _Memo(self._last_digits)

    def accepts(self, type_: pa.DataType) -> bool:
        return (
            pa.types.is_decimal(type_)
            or pa.types.is_integer(type_)
            or pa.types.is_floating(type_)
            or pa.types.is_string(type_)
            or pa.types.is_large_string(type_)
        )

    def _units(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Integer values in units of the last place, and which values have that form."""
        n = len(values)
        valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        type_ = values.type
        if pa.types.is_decimal(type_):
            width = 16 if pa.types.is_decimal128(type_) else 32
            raw = np.frombuffer(values.buffers()[1], dtype="<i8")
            words = raw[values.offset * width // 8 : (values.offset + n) * width // 8]
            words = words.reshape(n, width // 8)
            low = words[:, 0]
            fits = np.all(words[:, 1:] == (low >> 63)[:, None], axis=1)
            return low, valid & fits
        if pa.types.is_integer(type_):
            units = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            sign = "u" if pa.types.is_unsigned_integer(type_) else ""
            info = np.iinfo(np.dtype(f"{sign}int{type_.bit_width}"))
            base = units - np.sign(units) * (np.abs(units) % 10)
            room = (base + 9 <= info.max) & (base - 9 >= info.min)
            return units, valid & room
        if pa.types.is_floating(type_):
            floats = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
            return np.zeros(n, np.int64), valid & np.isfinite(floats)
        return np.zeros(n, np.int64), valid & _plain_numbers(values)

    def observe(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        n = len(values)
        type_ = values.type
        if pa.types.is_floating(type_):
            units, ok, _scale = self._floats(values)
        elif pa.types.is_string(type_) or pa.types.is_large_string(type_):
            units, ok = self._text_digits(values)
        else:
            units, ok = self._units(values)
        digit = np.abs(units) % 10
        available = ok & (digit != 0)
        return available.reshape(n, 1), np.where(available, digit - 1, 0).reshape(n, 1)

    def _last_digits(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Text amounts: the last digit of each plain number, and which values are ones (once
        for observing and rendering the same values)."""
        _, ok = self._units(values)
        offsets, data, _ = _strings(values)
        last = _byte_at(data, offsets[1:] - 1, ok & (offsets[1:] > offsets[:-1]))
        return np.where(ok, last - 48, 0), ok

    @staticmethod
    def _float_units(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Floats as integers in units of their own last decimal place (0-6 decimals)."""
        floats = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
        valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        scale = np.full(floats.size, -1, dtype=np.int64)
        units = np.zeros(floats.size, dtype=np.int64)
        # The fewest decimals that hold the value win: each value is tried from 0 decimals up
        # and leaves the search once held (amounts of two decimals take three passes, not 7).
        todo = np.arange(floats.size)
        for decimals in range(7):
            if not todo.size:
                break
            some = floats[todo]
            rounded = np.round(some * 10.0**decimals)
            # Exact to a few units in the last place of the float itself: a tolerance relative
            # to the scaled value would let 1073919.11 pass as 1073919.1.
            back = rounded / 10.0**decimals
            with np.errstate(invalid="ignore"):  # infinities: inf - inf is NaN, not held
                exact = (np.abs(back - some) <= 4 * np.spacing(np.abs(some))) & (
                    np.abs(rounded) < 2.0**53
                )
            held = todo[exact]
            scale[held] = decimals
            units[held] = rounded[exact].astype(np.int64)
            todo = todo[~exact]
        return units, valid & (scale >= 0), scale

    def render(self, values: pa.Array, forms: np.ndarray) -> pa.Array:
        available, current = self.observe(values)
        change = available[:, 0] & (forms[:, 0] != current[:, 0])
        if not change.any():
            return values
        delta = forms[:, 0] - current[:, 0]  # new digit minus old digit
        type_ = values.type
        if pa.types.is_decimal(type_):
            units, _ = self._units(values)
            new = units + np.where(change, np.sign(units) * delta, 0)
            width = 16 if pa.types.is_decimal128(type_) else 32
            words = np.zeros((len(values), width // 8), dtype=np.int64)
            words[:, 0] = new
            words[:, 1:] = (new >> 63)[:, None]
            return (
                pa.Array.from_buffers(
                    type_, len(values), [values.buffers()[0], pa.py_buffer(words)], offset=0
                )
                if values.offset == 0
                else pa.Array.from_buffers(
                    type_, len(values), [_bitmap(values), pa.py_buffer(words)]
                )
            )
        if pa.types.is_integer(type_):
            units, _ = self._units(values)
            new = units + np.where(change, np.sign(units) * delta, 0)
            return _like(values, pa.array(new).cast(type_))
        if pa.types.is_floating(type_):
            units, _, scale = self._floats(values)
            new_units = units + np.where(change, np.sign(units) * delta, 0)
            new = new_units / 10.0 ** np.maximum(scale, 0)
            floats = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
            return _like(values, pa.array(np.where(change, new, floats)).cast(type_))
        # Text: the last byte is an ASCII digit; write the new one in a copy of the data.
        offsets, data, _ = _strings(values)
        out = data[offsets[0] : offsets[-1]].copy()
        rows = np.flatnonzero(change)
        out[offsets[rows + 1] - 1 - offsets[0]] = (49 + forms[rows, 0]).astype(np.uint8)
        large = pa.types.is_large_string(type_)
        buffer = pa.py_buffer((offsets - offsets[0]).astype(np.int64 if large else np.int32))
        return pa.Array.from_buffers(
            type_, len(values), [_bitmap(values), buffer, pa.py_buffer(out)]
        )


def _bitmap(values: pa.Array) -> pa.Buffer | None:
    if values.null_count == 0:
        return None
    valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))


def _like(values: pa.Array, new: pa.Array) -> pa.Array:
    """``new`` with the nulls of ``values``."""
    if values.null_count == 0:
        return new
    return pc.if_else(values.is_null(), pa.scalar(None, values.type), new)


def _plain_numbers(values: pa.Array) -> np.ndarray:
    """Which strings are plain ASCII numbers: an optional sign, digits (thousands commas
    allowed), at most one decimal point, a digit at the end, no leading zero before another
    digit, at most 12 integer digits (longer runs are identifiers, not amounts). A compiled
    pass (:func:`leaktrace.release._mark_loops.plain_numbers`; a dozen NumPy passes over the
    bytes took 7 ms a 65,536-value chunk, 0.2 s of a 10⁶-row export with two amount fields)."""
    from leaktrace.release import _mark_loops

    offsets, data, valid = _strings(values)
    return _mark_loops.plain_numbers(offsets, data if data.size else np.zeros(1, np.uint8), valid)


# -- list order


class ListOrderRule:
    """The order within consecutive pairs of a delimited list; see the module docstring."""

    name = "list_order"
    q = 2
    slots = 4

    def __init__(self, separator: str = "、") -> None:
        self.separator = separator
        self._parse = _Memo(self._parse_new)
        self._encoded = _Memo(self._encoded_new)
        self._distinct = _Memo(self._distinct_new)

    def accepts(self, type_: pa.DataType) -> bool:
        return pa.types.is_string(type_) or pa.types.is_large_string(type_)

    def _parse_new(self, values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
        """Items, each value's first item and item count, and per (value, pair) the form:
        -1 no pair (missing, empty or equal items), 0 in code-point order, 1 reversed."""
        lists = pc.split_pattern(values.fill_null(""), self.separator)
        offsets = lists.offsets.to_numpy().astype(np.int64)
        items = lists.flatten()
        starts, counts = offsets[:-1], np.diff(offsets)
        n = len(values)
        slot = np.arange(self.slots)
        exists = (2 * slot + 1)[None, :] < counts[:, None]
        valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        exists &= valid[:, None]
        rows, pairs = np.nonzero(exists)
        first = starts[rows] + 2 * pairs
        a, b = items.take(pa.array(first)), items.take(pa.array(first + 1))
        less = np.asarray(pc.less(a, b).to_numpy(zero_copy_only=False), dtype=bool)
        greater = np.asarray(pc.greater(a, b).to_numpy(zero_copy_only=False), dtype=bool)
        empty = np.asarray(pc.equal(pc.binary_length(a), 0).to_numpy(zero_copy_only=False)) | (
            np.asarray(pc.equal(pc.binary_length(b), 0).to_numpy(zero_copy_only=False))
        )
        form = np.full((n, self.slots), -1, dtype=np.int64)
        form[rows, pairs] = np.where((less | greater) & ~empty, greater.astype(np.int64), -1)
        return items, starts, counts, form

    def _encoded_new(self, values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """The distinct values (lists repeat: a few product sets), each value's index among
        them (-1: null) and the pair forms of each distinct value."""
        encoded = pc.dictionary_encode(values)
        index = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return encoded.dictionary, index, self._parse(encoded.dictionary)[3]

    def _distinct_new(self, values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """:meth:`_encoded_new`, with the pair forms of each row."""
        dictionary, index, form = self._encoded(values)
        rows = form[np.maximum(index, 0)] if len(form) else np.full((len(values), self.slots), -1)
        return dictionary, index, np.where(index[:, None] >= 0, rows, -1)

    def observe(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        form = self._distinct(values)[2]
        return form >= 0, np.maximum(form, 0)

    def render(self, values: pa.Array, forms: np.ndarray) -> pa.Array:
        _, index, form = self._distinct(values)
        swap = (form >= 0) & (forms != form)
        if not swap.any():
            return values
        # Render each distinct (value, swaps) once: its pairs read in the order asked.
        code = index * (1 << self.slots) + (swap * (1 << np.arange(self.slots))).sum(axis=1)
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        rendered = self._render_rows(values.take(pa.array(first)), forms[first])
        return rendered.take(pa.array(inverse.ravel()))

    def mark(self, values: pa.Array, words: np.ndarray, present: np.ndarray) -> pa.Array:
        """What :meth:`render` writes for the forms :func:`mark_table` picks from the PRF
        ``words`` (rows with ``present`` tokens): the swaps of each row in one compiled pass,
        and each distinct (value, swaps) rendered once (13 against 4.4 ms a 62,500-row column)."""
        from leaktrace.release import _mark_loops

        dictionary, index, form = self._encoded(values)
        if not len(dictionary):
            return values
        swaps = _mark_loops.list_swaps(
            index, np.ascontiguousarray(form), np.ascontiguousarray(words, np.uint64), present
        )
        if not swaps.any():
            return values
        # The distinct (value, swaps) by a count over their codes (a few thousand possible).
        code = (index + 1) * (1 << self.slots) + swaps
        used = np.flatnonzero(np.bincount(code, minlength=(len(dictionary) + 1) << self.slots))
        group = np.empty((len(dictionary) + 1) << self.slots, dtype=np.int64)
        group[used] = np.arange(used.size)
        inverse = group[code]
        first = np.empty(used.size, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(values) - 1, -1, -1)  # each group's first row
        pairs = form[np.maximum(index[first], 0)]
        flipped = (swaps[first, None] >> np.arange(self.slots)) & 1
        wanted = np.where((pairs >= 0) & (flipped == 1), 1 - pairs, pairs)
        rendered = self._render_rows(values.take(pa.array(first)), wanted)
        return rendered.take(pa.array(inverse))

    def _render_rows(self, values: pa.Array, forms: np.ndarray) -> pa.Array:
        items, starts, counts, form = self._parse(values)
        swap = (form >= 0) & (forms != form)
        changed = swap.any(axis=1)
        if not changed.any():
            return values
        order = np.arange(len(items), dtype=np.int64)
        r, s = np.nonzero(swap)
        first = starts[r] + 2 * s
        order[first], order[first + 1] = first + 1, first
        swapped = pa.ListArray.from_arrays(
            pa.array(np.concatenate([starts, [starts[-1] + counts[-1]]]).astype(np.int32)),
            items.take(pa.array(order)),
        )
        joined = pc.binary_join(swapped, self.separator)
        return pc.if_else(pa.array(changed), joined, values)


# -- addresses


_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
_ROOM = "室"


@dataclass(frozen=True)
class _Heads:
    """Leading division chains (province? city? county) in every form, hashed for lookup."""

    texts: pa.Array  # head strings
    chars: np.ndarray  # length in characters of each head
    has_p: np.ndarray  # province slot exists (per head)
    has_c: np.ndarray  # city slot exists
    form_p: np.ndarray  # 0 full, 1 short
    form_c: np.ndarray
    variant: np.ndarray  # (heads, 2, 2): the head with province form i and city form j
    max_chars: int
    # What the compiled search asks (:func:`leaktrace.release._mark_loops.head_index`): which
    # characters may end a head, by 12 bits of their code, and the hashes in an open-addressed
    # table a quarter full (a binary search among the sorted hashes took 15 ms a 65,536-value
    # chunk, 0.5 s of a 10⁶-row export marking two address columns).
    ending: np.ndarray
    slot_hashes: np.ndarray
    slot_heads: np.ndarray


_BASE = np.uint64(0x100000001B3)
_MAX_HEAD = 16  # characters; longer heads (a few autonomous prefectures) get no slots


def _hash_text(text: str) -> int:
    """The prefix hash :func:`_head_index` gives a value starting with ``text`` (one value:
    tests and :func:`_hash_texts`' doctest)."""
    value = 0
    for char in text:
        value = (value * 0x100000001B3 + _char_code(char) + 1) & 0xFFFFFFFFFFFFFFFF
    return value


def _hash_texts(texts: Sequence[str]) -> np.ndarray:
    """:func:`_hash_text` of every text, column by column in NumPy (one code per distinct
    character instead of one per character of ~10^5 heads).

    >>> texts = ["北京市朝阳区", "贵州贵阳市云岩区", "a"]
    >>> [int(h) for h in _hash_texts(texts)] == [_hash_text(t) for t in texts]
    True
    """
    code = {char: _char_code(char) for char in set().union(*texts)}
    lengths = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    flat = np.fromiter((code[char] for text in texts for char in text), np.uint64, lengths.sum())
    starts = np.cumsum(lengths) - lengths
    hashes = np.zeros(len(texts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(int(lengths.max(initial=0))):
            rows = np.flatnonzero(lengths > k)
            hashes[rows] = hashes[rows] * _BASE + flat[starts[rows] + k] + np.uint64(1)
    return hashes


def _province_forms(name: str) -> tuple[str, ...]:
    if name.endswith("特别行政区") or name.startswith("台湾"):
        return (name,)
    for suffix in _PROVINCE_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return (name, name[: -len(suffix)])
    return (name,)


def _city_forms(name: str) -> tuple[str, ...]:
    if name.endswith("市") and len(name) >= 3:
        return (name, name[:-1])
    return (name,)


@cache
def _heads() -> _Heads:
    """Every head 省市区 / 省区 / 市区 in every suffix form; a head whose text is claimed by two
    classes, or that is a proper prefix of another head, has no slots (so that changing one
    form can never make the value read as another head).

    Built in Python from the divisions in ~0.12 s, which every export paid while it types its
    columns, so kept in the cache folder (:func:`leaktrace.identifiers._vector.stored`)."""
    from leaktrace.identifiers import address
    from leaktrace.release import _mark_loops

    sources = [Path(__file__), Path(_mark_loops.__file__), address.DIVISIONS]
    return _vector.stored("mark-heads", sources, _build_heads)


def _build_heads() -> _Heads:
    from leaktrace.identifiers.address import divisions
    from leaktrace.release import _mark_loops

    by_code = {}
    for division in divisions():
        by_code.setdefault(division.code, division)
    entries: dict[str, tuple[int, int, int, int, int]] = {}  # text -> (class, hp, hc, fp, fc)
    clash: set[str] = set()
    classes: list[dict[tuple[int, int], str]] = []

    def add(text: str, key: tuple[int, int, int, int]) -> None:
        if text in entries:  # the same text in two classes: neither may be varied
            clash.add(text)
        entries.setdefault(text, (len(classes) - 1, *key))

    for division in divisions():
        if division.level != 3:
            continue
        province = by_code.get(division.code[:2] + "0000")
        city = by_code.get(division.code[:4] + "00")
        if province is None:
            continue
        if city is not None and (city.level != 2 or city.name == province.name):
            city = None
        p_forms = _province_forms(province.name)
        c_forms = _city_forms(city.name) if city else None
        # A short form must not run into what follows as if it were its suffix: 济南 + 市中区
        # reads as 济南市 + 中区, 吉林 + 市… as 吉林市.
        following = (city.name if city else division.name)[:1]
        if following in "省市自" or division.name[:1] in "省市自":
            p_forms = p_forms[:1]
        if c_forms and division.name[:1] in "省市自":
            c_forms = c_forms[:1]
        layouts = [(p_forms, c_forms)]
        if city is not None:
            layouts.append((None, c_forms))
        for provinces, cities in layouts:
            classes.append({})
            for fp, p in enumerate(provinces or ("",)):
                for fc, c in enumerate(cities or ("",)):
                    text = p + c + division.name
                    has_p = int(provinces is not None and len(provinces) == 2)
                    has_c = int(cities is not None and len(cities) == 2)
                    classes[-1][(fp, fc)] = text
                    add(text, (has_p, has_c, fp, fc))
    texts = sorted(entries)
    index = {text: i for i, text in enumerate(texts)}
    prefixes = {text[:k] for text in texts for k in range(1, len(text))}
    count = len(texts)
    has_p = np.zeros(count, dtype=bool)
    has_c = np.zeros(count, dtype=bool)
    form_p = np.zeros(count, dtype=np.int64)
    form_c = np.zeros(count, dtype=np.int64)
    variant = np.tile(np.arange(count)[:, None, None], (1, 2, 2))
    for text, (klass, hp, hc, fp, fc) in entries.items():
        i = index[text]
        members = classes[klass]
        unsafe = any(m in clash or m in prefixes or len(m) > _MAX_HEAD for m in members.values())
        if unsafe:
            continue
        has_p[i], has_c[i], form_p[i], form_c[i] = hp, hc, fp, fc
        for (a, b), member in members.items():
            variant[i, a, b] = index[member]
        if not hp:
            variant[i, 1, :] = variant[i, 0, :]
        if not hc:
            variant[i, :, 1] = variant[i, :, 0]
    hashes = _hash_texts(texts)
    if np.unique(hashes).size != hashes.size:  # pragma: no cover - 64-bit collision
        raise RuntimeError("head hash collision")
    ending = np.zeros(4096, dtype=np.bool_)
    ending[[_mark_loops.char_bits(_char_code(t[-1])) for t in texts]] = True
    bits = max(4, (4 * len(texts) - 1).bit_length())
    slot_hashes = np.zeros(1 << bits, dtype=np.uint64)
    slot_heads = np.full(1 << bits, -1, dtype=np.int64)
    for value, head in zip(hashes.tolist(), range(len(texts)), strict=True):
        slot = _mark_loops.slot_of(value, bits)
        while slot_heads[slot] >= 0:
            slot = (slot + 1) & ((1 << bits) - 1)
        slot_hashes[slot], slot_heads[slot] = value, head
    return _Heads(
        texts=pa.array(texts),
        chars=np.array([len(t) for t in texts]),
        has_p=has_p,
        has_c=has_c,
        form_p=form_p,
        form_c=form_c,
        variant=variant,
        max_chars=min(_MAX_HEAD, max(len(t) for t in texts)),
        ending=ending,
        slot_hashes=slot_hashes,
        slot_heads=slot_heads,
    )


def _head_index(values: pa.Array) -> np.ndarray:
    """The head (index into ``_heads().texts``, -1: none) each value starts with: the longest
    one among its leading three-byte (CJK) characters, found by prefix hash
    (:func:`leaktrace.release._mark_loops.head_index`, compiled)."""
    from leaktrace.release import _mark_loops

    heads = _heads()
    offsets, data, valid = _strings(values)
    if not data.size:
        data = np.zeros(1, np.uint8)
    return _mark_loops.head_index(
        offsets, data, valid, heads.max_chars, heads.ending, heads.slot_hashes, heads.slot_heads
    )


class AddressRule:
    """Province and city suffixes kept or dropped, 室 after a room number; see the module
    docstring."""

    name = "address"
    q = 2
    slots = 3

    def accepts(self, type_: pa.DataType) -> bool:
        return pa.types.is_string(type_) or pa.types.is_large_string(type_)

    def __init__(self) -> None:
        self._parse = _Memo(self._parse_new)

    def _parse_new(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per value: head index (-1: none), room slot exists, room form (0 with 室, 1 without)."""
        from leaktrace.release import _mark_loops

        offsets, data, valid = _strings(values)
        head = _head_index(values)
        # The room: (单元|栋|号楼) + 3-4 digits + optional 室, at the end of the value.
        room, room_form = _mark_loops.room_forms(
            offsets, data if data.size else np.zeros(1, np.uint8), valid, *_room_words()
        )
        return head, room, room_form

    def observe(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        heads = _heads()
        head, room, room_form = self._parse(values)
        found = head >= 0
        safe = np.where(found, head, 0)
        available = np.stack([found & heads.has_p[safe], found & heads.has_c[safe], room], axis=1)
        forms = np.stack(
            [heads.form_p[safe] * found, heads.form_c[safe] * found, room_form], axis=1
        )
        return available, np.where(available, forms, 0)

    def render(self, values: pa.Array, forms: np.ndarray) -> pa.Array:
        heads = _heads()
        head, room, room_form = self._parse(values)
        available, current = self.observe(values)
        target = np.where(available, forms, current)
        found = head >= 0
        safe = np.where(found, head, 0)
        new_head = heads.variant[safe, target[:, 0], target[:, 1]]
        head_change = found & (new_head != safe)
        add_room = room & (target[:, 2] == 0) & (room_form == 1)
        drop_room = room & (target[:, 2] == 1) & (room_form == 0)
        if not (head_change.any() or add_room.any() or drop_room.any()):
            return values
        offsets, data, _ = _strings(values)
        starts, ends = offsets[:-1], offsets[1:]
        pool, head_offsets, head_bytes, room_at = _head_pool()
        base = data.size
        # Three segments per value: the new head (or nothing), the rest of the value (without
        # the old head, without a dropped 室), an added 室 (or nothing).
        body_start = starts + np.where(head_change, 3 * heads.chars[safe], 0)
        body_end = ends - np.where(drop_room, 3, 0)
        sources = np.stack(
            [base + head_offsets[new_head], body_start, np.full(len(values), base + room_at)],
            axis=1,
        )
        lengths = np.stack(
            [
                np.where(head_change, head_bytes[new_head], 0),
                body_end - body_start,
                np.where(add_room, 3, 0),
            ],
            axis=1,
        )
        return _splice(values, pool, sources, lengths)

    def mark(self, values: pa.Array, words: np.ndarray, present: np.ndarray) -> pa.Array:
        """What :meth:`render` writes for the forms :func:`mark_table` picks from the PRF
        ``words`` (rows with ``present`` tokens), in one compiled pass: observing, choosing and
        rendering in NumPy made marking a 62,500-row batch's address column take 21 ms, this 10."""
        from leaktrace.release import _mark_loops

        head, room, room_form = self._parse(values)
        offsets, data, valid = _strings(values)
        pool, _, _, room_at = _head_pool()
        row_offsets, out = _mark_loops.mark_addresses(
            offsets,
            data if data.size else np.zeros(1, np.uint8),
            valid,
            present,
            np.ascontiguousarray(words, dtype=np.uint64),
            head,
            room,
            room_form,
            _head_table(),
            _heads().variant,
            pool,
            room_at,
        )
        return _rewritten(values, row_offsets, out)


@cache
def _head_table() -> np.ndarray:
    """Per head, what :func:`leaktrace.release._mark_loops.mark_addresses` reads of it: has_p,
    has_c, form_p, form_c, its characters, and its offset and length in bytes in the pool."""
    heads = _heads()
    _, offsets, lengths, _ = _head_pool()
    rows = [heads.has_p, heads.has_c, heads.form_p, heads.form_c, heads.chars, offsets, lengths]
    return np.ascontiguousarray(np.stack([np.asarray(r, np.int64) for r in rows]))


@cache
def _room_words() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """室, and the words before a room number (单元, 号楼, 栋) as rows of a byte matrix with
    their lengths: the arguments :func:`leaktrace.release._mark_loops.room_forms` takes."""
    words = [w.encode() for w in ("单元", "号楼", "栋")]
    matrix = np.zeros((len(words), max(map(len, words))), np.uint8)
    for row, word in enumerate(words):
        matrix[row, : len(word)] = np.frombuffer(word, np.uint8)
    lengths = np.array([len(w) for w in words], np.int64)
    return np.frombuffer(_ROOM.encode(), np.uint8), matrix, lengths


@cache
def _head_pool() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The UTF-8 bytes of every head then 室; each head's offset and length in bytes."""
    texts = _heads().texts
    offsets, data = _vector.raw_buffers(texts)
    data = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    pool = np.concatenate([data, np.frombuffer(_ROOM.encode(), np.uint8)])
    return pool, offsets[:-1], np.diff(offsets), int(offsets[-1])


def warm_up() -> None:
    """Load what marking needs (numba and the compiled loops from its cache, the address
    heads) before the first batch comes: the export calls it before it types the columns."""
    words = siphash24_16(bytes(16), np.zeros((1, 2), np.uint64))
    AddressRule().mark(pa.array(["北京市朝阳区建国路8号1单元101室"]), words, np.ones(1, bool))
    ListOrderRule().mark(pa.array(["借记卡、信用卡"]), words, np.ones(1, bool))
    _plain_numbers(pa.array(["15713.35"]))


RULES: dict[str, type] = {
    AddressRule.name: AddressRule,
    AmountRule.name: AmountRule,
    ListOrderRule.name: ListOrderRule,
}


def rule(spec: str | MarkRule) -> MarkRule:
    """The rule named ``spec`` (or ``spec`` itself when it is a rule object)."""
    if not isinstance(spec, str):
        return spec
    try:
        return RULES[spec]()
    except KeyError:
        raise ConfigError(
            f"Unknown mark rule {spec!r}; choose one of {', '.join(sorted(RULES))}."
        ) from None


# ---- tables --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkCount:
    """What one field of an observed table says about one release: ``agreements`` of
    ``trials`` slots show the form the release's PRF picked; each agrees by chance with
    probability ``1/q`` under "not this release"."""

    field: str
    rule: str
    agreements: int
    trials: int
    q: int

    @property
    def pvalue(self) -> float:
        """``P(X >= agreements)``, X ~ Binomial(trials, 1/q)."""
        return binomial_tail(self.agreements, self.trials, 1 / self.q)


def _column(table: pa.Table, field: str) -> pa.Array:
    if field not in table.column_names:
        raise ConfigError(f"No column {field!r} to mark; the table has {table.column_names}.")
    column = table.column(field)
    return _vector.flat(column)


def check_fields(table: pa.Table, fields: Mapping[str, str | MarkRule], sample: int = 200) -> None:
    """Refuse to mark a column a recipient needs unchanged (an identifier, by header or values)
    or a column whose type the rule cannot keep."""
    from leaktrace import scan

    for field, spec in fields.items():
        column = _column(table, field)
        chosen = rule(spec)
        if not chosen.accepts(column.type):
            raise ConfigError(f"The {chosen.name} mark cannot keep the type of column {field!r}.")
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            detected = scan.classify_column(field, column.slice(0, sample)).detected
            if detected in PROTECTED:
                raise ConfigError(
                    f"Column {field!r} holds {detected} values, which are never marked."
                )


def mark_table(
    key: bytes,
    release_id: str,
    record_tokens: pa.Array | pa.ChunkedArray | Sequence[bytes | None],
    table: pa.Table,
    fields: Mapping[str, str | MarkRule],
    *,
    check: bool = True,
) -> pa.Table:
    """``table`` with keyed marks in ``fields`` (column → rule name or rule): same columns,
    same types, one record token per row (rows without a token stay as they are).

    ``key`` is the mark key (``Keyring.key("mark")``). ``check`` refuses identifier columns
    (see :func:`check_fields`); pass ``False`` when the caller has checked the policy once and
    marks batch after batch.
    """
    if len(record_tokens) != table.num_rows:
        raise ConfigError("One record token per row is needed to mark a table.")
    if check:
        check_fields(table, fields)
    for field, spec in fields.items():
        chosen = rule(spec)
        values = _column(table, field)
        words, present = prf_words(key, release_id, field, record_tokens)
        pieces = []
        for start in range(0, max(len(values), 1), CHUNK_ROWS):
            part = values.slice(start, CHUNK_ROWS)
            stop = start + len(part)
            if hasattr(chosen, "mark"):  # the rule does the three steps below in one
                pieces.append(chosen.mark(part, words[start:stop], present[start:stop]))
                continue
            available, current = chosen.observe(part)
            picked = choices(words[start:stop], chosen.q, chosen.slots)
            forms = np.where(available & present[start:stop, None], picked, current)
            pieces.append(chosen.render(part, forms))
        marked = pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
        table = table.set_column(table.column_names.index(field), table.field(field), marked)
    return table


def read_marks(
    key: bytes,
    release_id: str,
    record_tokens: pa.Array | pa.ChunkedArray | Sequence[bytes | None],
    observed: pa.Table,
    fields: Mapping[str, str | MarkRule],
) -> dict[str, MarkCount]:
    """Per field, how many slots of ``observed`` rows (matched to their record tokens; a null
    token is a row that matched no customer) agree with the marks of ``release_id``.

    Fields missing from ``observed`` are left out. Under "not this release" each field's
    agreements follow Binomial(trials, 1/q) (:attr:`MarkCount.pvalue`); fields of different
    rules are independent.
    """
    if len(record_tokens) != observed.num_rows:
        raise ConfigError("One record token per observed row is needed to read marks.")
    counts = {}
    for field, spec in fields.items():
        if field not in observed.column_names:
            continue
        chosen = rule(spec)
        values = _column(observed, field)
        if not chosen.accepts(values.type):
            values = values.cast(pa.string())
        words, present = prf_words(key, release_id, field, record_tokens)
        agreements = trials = 0
        for start in range(0, len(values), CHUNK_ROWS):
            part = values.slice(start, CHUNK_ROWS)
            stop = start + len(part)
            available, current = chosen.observe(part)
            available &= present[start:stop, None]
            picked = choices(words[start:stop], chosen.q, chosen.slots)
            agreements += int((available & (picked == current)).sum())
            trials += int(available.sum())
        counts[field] = MarkCount(field, chosen.name, agreements, trials, chosen.q)
    return counts


def suggest_fields(
    table: pa.Table, sample: int = 200, *, detected: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """A default mark policy: addresses, amounts (decimal columns and amount-like sensitive
    attributes) and 、-separated lists; identifiers are never suggested. ``detected`` gives the
    scanner's type per column when the caller has typed them already."""
    from leaktrace import scan

    amounts = {"credit_limit", "loan_balance", "income", "deposit", "premium", "loan_amount",
               "balance", "salary", "amount", "assets"}  # fmt: skip
    chosen: dict[str, str] = {}
    for field in table.column_names:
        column = _column(table, field)
        if pa.types.is_decimal(column.type):
            chosen[field] = "amount"
            continue
        if not pa.types.is_string(column.type):
            continue
        head = column.slice(0, sample)
        if detected is not None and field in detected:
            kind = detected[field]
        else:
            kind = scan.classify_column(field, head).detected
        if kind in PROTECTED:
            continue
        if kind in ("address", "hukou"):
            chosen[field] = "address"
        elif kind in amounts or (kind and "amount" in kind):
            if _plain_numbers(head.drop_null()).mean() >= 0.8:
                chosen[field] = "amount"
        else:
            present = head.drop_null()
            if (
                len(present)
                and pc.mean(pc.cast(pc.match_substring(present, "、"), pa.int8())).as_py() >= 0.5
            ):
                chosen[field] = "list_order"
    return chosen
