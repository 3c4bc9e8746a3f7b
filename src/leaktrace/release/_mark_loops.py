"""Compiled loops of the keyed marks: the PRF (SipHash-2-4 of the record tokens), the GB/T 2260
head (省市区 / 省区 / 市区) each address starts with, the room number it ends with, which texts
are plain numbers (amounts), the splice that writes the marked values, and the marking of an
address column, and of a list column's pair order, in one pass.

One pass per value over its leading three-byte (CJK) characters, with the polynomial prefix
hash of :func:`leaktrace.release.marks._hash_text` looked up in an open-addressed table of the
heads' hashes where a character can end a head, where NumPy needed a gather of a (rows x 48) byte
matrix, a dozen passes over it and a regex and dictionary pass to share work between repeated
prefixes. The room parse and the splice are one pass per value instead of a dozen NumPy passes
and a (rows x 6) byte matrix, and a gather of every output byte through an index array. All
release the GIL (``nogil``), so that the export marks one batch in a thread while the next
is being read and the last one gets its decoys. Compiled by numba (``cache=True``), imported on
first use.

>>> import numpy as np
>>> data = np.frombuffer("北京市朝阳区x".encode(), np.uint8)
>>> code = lambda c: int.from_bytes(c.encode(), "big")
>>> h = 0
>>> for c in "北京市":
...     h = (h * 0x100000001B3 + code(c) + 1) & 0xFFFFFFFFFFFFFFFF
>>> ending = np.zeros(4096, np.bool_)
>>> ending[char_bits(code("市"))] = True
>>> slot_hashes, slot_heads = np.zeros(8, np.uint64), np.full(8, -1)
>>> slot_hashes[slot_of(h, 3)], slot_heads[slot_of(h, 3)] = h, 7
>>> head_index(np.array([0, data.size]), data, np.ones(1, bool), 16, ending, slot_hashes,
...            slot_heads).tolist()
[7]
"""

from __future__ import annotations

import numpy as np
from numba import njit

MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: where a head's hash starts in the table


def char_bits(code: int) -> int:
    """The 12 bits of a three-byte character's code by which :func:`head_index` tests whether
    it may end a head (the low six bits of its last two bytes)."""
    return ((code >> 8) & 0x3F) << 6 | (code & 0x3F)


def slot_of(value: int, bits: int) -> int:
    """The first slot :func:`head_index` probes for a head hash, in a table of 2**bits."""
    return ((value * MIX) & 0xFFFFFFFFFFFFFFFF) >> (64 - bits)


@njit(cache=True, nogil=True)
def head_index(
    offsets: np.ndarray,
    data: np.ndarray,
    valid: np.ndarray,
    width: int,
    ending: np.ndarray,
    slot_hashes: np.ndarray,
    slot_heads: np.ndarray,
) -> np.ndarray:
    """Per value, the head of the longest leading run of at most ``width`` three-byte
    characters that may end a head (``ending[char_bits(code)]``) and whose prefix hash is in
    the open-addressed table (``slot_hashes``, ``slot_heads``: a power of two slots, -1 in an
    empty one; linear probing from :func:`slot_of`); -1 where none is."""
    n = offsets.size - 1
    out = np.full(n, -1, dtype=np.int64)
    base = np.uint64(0x100000001B3)
    one = np.uint64(1)
    mask = slot_hashes.size - 1
    bits = 0
    while (1 << bits) < slot_hashes.size:
        bits += 1
    shift = np.uint64(64 - bits)
    mix = np.uint64(MIX)
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
            b1 = data[position + 1]
            b2 = data[position + 2]
            code = (np.uint64(b0) << np.uint64(16)) | (np.uint64(b1) << np.uint64(8)) | b2
            value = value * base + code + one
            position += 3
            if not ending[((b1 & 0x3F) << 6) | (b2 & 0x3F)]:
                continue
            slot = np.int64((value * mix) >> shift)
            while slot_heads[slot] >= 0:
                if slot_hashes[slot] == value:
                    out[i] = slot_heads[slot]
                    break
                slot = (slot + 1) & mask
    return out


@njit(cache=True, nogil=True)
def plain_numbers(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per value, whether it is a plain ASCII number (:func:`leaktrace.release.marks.
    _plain_numbers` has the rule): one pass over its bytes."""
    n = offsets.size - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start = offsets[i]
        end = offsets[i + 1]
        if not valid[i] or end - start < 1 or end - start > 24:
            continue
        dots = 0
        integer_digits = 0
        good = True
        for position in range(start, end):
            byte = data[position]
            if 48 <= byte <= 57:
                integer_digits += dots == 0
            elif byte == 46:  # .
                dots += 1
            elif not (byte == 44 or ((byte == 43 or byte == 45) and position == start)):
                good = False  # besides digits and points: commas, and a sign in front only
                break
        if not good or dots > 1 or integer_digits < 1 or integer_digits > 12:
            continue
        first = data[start]
        if first == 44 or data[end - 1] < 48:  # a leading comma; no digit at the end
            continue
        lead = start + (first == 43 or first == 45)
        if lead + 1 < end and data[lead] == 48 and data[lead + 1] >= 48:  # a leading zero
            continue
        out[i] = True
    return out


@njit(cache=True, nogil=True)
def _ends_with(data: np.ndarray, end: int, word: np.ndarray) -> bool:
    for i in range(word.size):  # noqa: SIM110 - a loop numba compiles without allocating
        if data[end - word.size + i] != word[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def room_forms(
    offsets: np.ndarray,
    data: np.ndarray,
    valid: np.ndarray,
    room: np.ndarray,
    units: np.ndarray,
    unit_lengths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per value, whether it ends with a room number — one of ``units`` (UTF-8 words, one per
    row of the matrix, ``unit_lengths`` bytes each), 3-4 ASCII digits and optionally ``room``
    (the UTF-8 of 室) — and its form: 0 with ``room``, 1 without (0 where there is no room).

    The unit word is read in a window of six bytes before the digits that must lie inside the
    value even for a shorter word, as the NumPy parse did.
    """
    n = offsets.size - 1
    found = np.zeros(n, dtype=np.bool_)
    form = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if not valid[i]:
            continue
        start = offsets[i]
        end = offsets[i + 1]
        marked = end - start >= room.size and _ends_with(data, end, room)
        if marked:
            end -= room.size
        digits = 0
        while digits < 5 and end - digits - 1 >= start:
            byte = data[end - digits - 1]
            if byte < 48 or byte > 57:
                break
            digits += 1
        if digits < 3 or digits > 4:
            continue
        before = end - digits
        if before - 6 < start:
            continue
        for w in range(units.shape[0]):
            if _ends_with(data, before, units[w, : unit_lengths[w]]):
                found[i] = True
                form[i] = 0 if marked else 1
                break
    return found, form


@njit(cache=True, nogil=True)
def splice(
    data: np.ndarray,
    pool: np.ndarray,
    valid: np.ndarray,
    sources: np.ndarray,
    lengths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Row offsets (int64, from 0) and UTF-8 data of strings whose row i is the concatenation
    of byte segments ``sources[i, j]``, ``lengths[i, j]`` (j in order) of ``data`` followed by
    ``pool`` (a segment lies in one of them); rows not ``valid`` are empty."""
    n, k = sources.shape
    offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        size = 0
        if valid[i]:
            for j in range(k):
                size += lengths[i, j]
        offsets[i + 1] = offsets[i] + size
    out = np.empty(offsets[n], dtype=np.uint8)
    split = data.size
    for i in range(n):
        if not valid[i]:
            continue
        at = offsets[i]
        for j in range(k):
            length = lengths[i, j]
            source = sources[i, j]
            if source >= split:
                out[at : at + length] = pool[source - split : source - split + length]
            else:
                out[at : at + length] = data[source : source + length]
            at += length
    return offsets, out


@njit(cache=True, nogil=True)
def mark_addresses(
    offsets: np.ndarray,
    data: np.ndarray,
    valid: np.ndarray,
    present: np.ndarray,
    words: np.ndarray,
    head: np.ndarray,
    room: np.ndarray,
    room_form: np.ndarray,
    heads: np.ndarray,
    variant: np.ndarray,
    pool: np.ndarray,
    room_at: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Row offsets (int64, from 0) and UTF-8 data of addresses written with the forms the PRF
    ``words`` pick, what :meth:`leaktrace.release.marks.AddressRule.render` writes for the
    forms :func:`leaktrace.release.marks.mark_table` asks (bit j of a row's word for slot j,
    where the slot exists and the row has a token; else the form the value has), in one pass.

    ``head``, ``room``, ``room_form``: the parse of each value; ``heads``: per head, its has_p,
    has_c, form_p, form_c, characters, offset and length in bytes in ``pool`` (a (7, heads)
    array); ``variant``: the head with province form i and city form j; ``room_at``: where 室
    lies in ``pool``."""
    n = offsets.size - 1
    new_head = np.empty(n, dtype=np.int64)
    body_start = np.empty(n, dtype=np.int64)
    body_end = np.empty(n, dtype=np.int64)
    add_room = np.zeros(n, dtype=np.bool_)
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        body_start[i] = offsets[i]
        body_end[i] = offsets[i + 1]
        new_head[i] = -1
        size = 0
        if valid[i]:
            marked = present[i]
            word = words[i]
            h = head[i]
            if h >= 0:
                p, c = heads[2, h], heads[3, h]
                if marked and heads[0, h]:
                    p = np.int64(word & np.uint64(1))
                if marked and heads[1, h]:
                    c = np.int64((word >> np.uint64(1)) & np.uint64(1))
                chosen = variant[h, p, c]
                if chosen != h:
                    new_head[i] = chosen
                    body_start[i] += 3 * heads[4, h]
                    size += heads[6, chosen]
            if room[i] and marked:
                without = np.int64((word >> np.uint64(2)) & np.uint64(1))
                if without == 0 and room_form[i] == 1:
                    add_room[i] = True
                    size += 3
                elif without == 1 and room_form[i] == 0:
                    body_end[i] -= 3
            size += body_end[i] - body_start[i]
        else:
            body_end[i] = body_start[i]
        out_offsets[i + 1] = out_offsets[i] + size
    out = np.empty(out_offsets[n], dtype=np.uint8)
    for i in range(n):
        at = out_offsets[i]
        chosen = new_head[i]
        if chosen >= 0:
            start = heads[5, chosen]
            for b in range(heads[6, chosen]):
                out[at + b] = pool[start + b]
            at += heads[6, chosen]
        for b in range(body_start[i], body_end[i]):
            out[at] = data[b]
            at += 1
        if add_room[i]:
            for b in range(3):
                out[at + b] = pool[room_at + b]
    return out_offsets, out


@njit(cache=True, nogil=True)
def list_swaps(
    index: np.ndarray, forms: np.ndarray, words: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Per row, the pairs to swap as bits (bit j: pair j) for the forms the PRF ``words``
    pick (bit j of a row's word for pair j, where the row has a token): ``index`` is the row's
    value among distinct ones (-1: null), ``forms`` their pairs' forms (-1: no pair there)."""
    n = index.size
    slots = forms.shape[1]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        value = index[i]
        if value < 0 or not present[i]:
            continue
        word = words[i]
        swap = 0
        for j in range(slots):
            form = forms[value, j]
            if form >= 0 and np.int64((word >> np.uint64(j)) & np.uint64(1)) != form:
                swap |= 1 << j
        out[i] = swap
    return out


_SIP_LAST = np.uint64(16 << 56)  # the message length in the last block, no tail bytes


@njit(cache=True, nogil=True, inline="always")
def _rotl(x: np.uint64, bits: np.uint64) -> np.uint64:
    return (x << bits) | (x >> (np.uint64(64) - bits))


@njit(cache=True, nogil=True, inline="always")
def _sipround(
    v0: np.uint64, v1: np.uint64, v2: np.uint64, v3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    v0 += v1
    v1 = _rotl(v1, np.uint64(13)) ^ v0
    v0 = _rotl(v0, np.uint64(32))
    v2 += v3
    v3 = _rotl(v3, np.uint64(16)) ^ v2
    v0 += v3
    v3 = _rotl(v3, np.uint64(21)) ^ v0
    v2 += v1
    v1 = _rotl(v1, np.uint64(17)) ^ v2
    v2 = _rotl(v2, np.uint64(32))
    return v0, v1, v2, v3


@njit(cache=True, nogil=True)
def siphash24_16(k0: np.uint64, k1: np.uint64, words: np.ndarray) -> np.ndarray:
    """SipHash-2-4 under the key (``k0``, ``k1``) of 16-byte messages given as an (n, 2) array
    of little-endian uint64: :func:`leaktrace.release.marks.siphash24_16_keyed` with one key,
    a message at a time in registers instead of a dozen NumPy passes per round."""
    n = words.shape[0]
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        v0 = k0 ^ np.uint64(0x736F6D6570736575)
        v1 = k1 ^ np.uint64(0x646F72616E646F6D)
        v2 = k0 ^ np.uint64(0x6C7967656E657261)
        v3 = k1 ^ np.uint64(0x7465646279746573)
        for j in range(3):
            m = words[i, j] if j < 2 else _SIP_LAST
            v3 ^= m
            v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
            v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
            v0 ^= m
        v2 ^= np.uint64(0xFF)
        for _ in range(4):
            v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        out[i] = v0 ^ v1 ^ v2 ^ v3
    return out
