"""The text engine's token grammar cut by one compiled loop instead of RE2.

``_column_text`` cuts free text into the tokens of :func:`leaktrace.identifiers.grammar`. RE2
does it in one pass, but marking every token and copying the column costs more than all the
checks after it on long rows. This loop reads the same grammar straight off the UTF-8 bytes:
at each character, the first alternative that matches there, each quantifier greedy, as RE2
and Python's ``re`` both read it (the grammar has no look-arounds):

* e-mail: local part, ``@``, domain with at least one dot-label (no choice is ever undone);
* masked value: every masked form holds an asterisk and only ASCII characters, so a row with
  an asterisk is read here up to the run of ASCII characters around its first asterisk and by
  RE2 from there (``resume``), and no other row can hold one;
* plate (the ``led`` alternative): a province and a letter, an optional separator, one of the
  four serial forms in the pattern's order, or 使 and six digits; then the tail;
* word: letters, an optional +86 or bracketed area code, digit pieces joined by single spaces
  or dashes, an optional X, the tail.

The loop is written for one grammar: :data:`GRAMMAR_SHA256` is the hash of the source it reads,
and ``_column_text`` uses RE2 for every row when :func:`reads` says the grammar changed (a test
holds the hash to the grammar, so a change is noticed). Character classes come from the plate
module, so its provinces, separators and suffixes are not copied here.

>>> import numpy as np
>>> text = "客户Tel+86 139-1234-5678,京A·12345".encode()
>>> row, byte_start, char_start, offsets, data, resume = tokens(
...     np.array([0, len(text)]), np.frombuffer(text, np.uint8), table())
>>> char_start.tolist(), bytes(data).decode()
([2, 23], 'Tel+86 139-1234-5678京A·12345')
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

import numpy as np
from numba import njit
from numba.extending import register_jitable

from leaktrace.identifiers import plate

GRAMMAR_SHA256 = "a38a86adf53e33960e439ed5bc501f4f4e348e3b5ef4c8ab431ad98aa1b3478b"

# Bits of the class table, by code point (the Basic Multilingual Plane).
LOCAL = 1 << 0  # [A-Za-z0-9_%+\-]   e-mail local part
DOMAIN = 1 << 1  # [A-Za-z0-9\-]     e-mail domain
ALNUM = 1 << 2  # [A-Za-z0-9]
LETTER = 1 << 3  # [A-Za-z]
DIGIT = 1 << 4  # [0-9]
WORD_TAIL = 1 << 5  # [0-9A-Za-z*]
LED_TAIL = 1 << 6  # [0-9A-Za-z@_]
PROVINCE = 1 << 7  # the plate's provinces
AUTHORITY = 1 << 8  # [A-HJ-Za-hj-z]   the letter after the province
SEPARATOR = 1 << 9  # the plate's separators
NEW_ENERGY = 1 << 10  # [A-HJKa-hjk]
SERIAL = 1 << 11  # [A-HJ-NP-Za-hj-np-z0-9]
SUFFIX = 1 << 12  # the plate's suffixes, 港 and 澳
DF = 1 << 13  # [DFdf]
SHI = 1 << 14  # 使


@cache
def reads(source: str) -> bool:
    """Whether this loop reads the grammar ``source`` (its hash is :data:`GRAMMAR_SHA256`)."""
    return hashlib.sha256(source.encode()).hexdigest() == GRAMMAR_SHA256


@cache
def table() -> np.ndarray:
    """The class bits of every code point of the Basic Multilingual Plane."""
    ascii_classes = {
        LOCAL: r"[A-Za-z0-9_%+\-]",
        DOMAIN: r"[A-Za-z0-9\-]",
        ALNUM: "[A-Za-z0-9]",
        LETTER: "[A-Za-z]",
        DIGIT: "[0-9]",
        WORD_TAIL: "[0-9A-Za-z*]",
        LED_TAIL: "[0-9A-Za-z@_]",
        AUTHORITY: "[A-HJ-Za-hj-z]",
        NEW_ENERGY: "[A-HJKa-hjk]",
        SERIAL: "[A-HJ-NP-Za-hj-np-z0-9]",
        DF: "[DFdf]",
    }
    bits = np.zeros(0x10000, dtype=np.uint16)
    for bit, members in ascii_classes.items():
        for code in range(0x80):
            if re.fullmatch(members, chr(code)):
                bits[code] |= bit
    for bit, members in (
        (PROVINCE, plate._ALL_PROVINCES),
        (SEPARATOR, re.sub(r"\\(.)", r"\1", plate._SEPARATORS)),
        (SUFFIX, plate._ALL_SUFFIXES + "港澳"),
        (SHI, "使"),
    ):
        for char in members:
            bits[ord(char)] |= bit
    return bits


@register_jitable
def _code(data, i):
    """The code point of the UTF-8 sequence at ``i`` (above the BMP: 0) and its length."""
    byte = data[i]
    if byte < 0x80:
        return np.int64(byte), 1
    if byte < 0xE0:
        return np.int64(((byte & 0x1F) << 6) | (data[i + 1] & 0x3F)), 2
    if byte < 0xF0:
        code = ((byte & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F)
        return np.int64(code), 3
    return np.int64(0), 4


@register_jitable
def _is(data, i, end, bits, bit):
    """Whether the character at byte ``i`` (before ``end``) is in class ``bit``."""
    if i >= end:
        return False
    code, _ = _code(data, i)
    return (bits[code] & bit) != 0


@register_jitable
def _run(data, i, end, bits, bit):
    """The end of the run of class ``bit`` from ``i`` (ASCII classes only)."""
    while i < end and data[i] < 0x80 and (bits[data[i]] & bit) != 0:
        i += 1
    return i


@register_jitable
def _email(data, p, end, bits):
    """The end of an e-mail-shaped token at ``p``, or -1."""
    i = _run(data, p, end, bits, LOCAL)
    if i == p:
        return -1
    while i + 1 < end and data[i] == 0x2E and _is(data, i + 1, end, bits, LOCAL):
        i = _run(data, i + 1, end, bits, LOCAL)
    if i >= end or data[i] != 0x40:
        return -1
    start = i + 1
    i = _run(data, start, end, bits, DOMAIN)
    if i == start:
        return -1
    labels = 0
    while i + 1 < end and data[i] == 0x2E and _is(data, i + 1, end, bits, ALNUM):
        i = _run(data, i + 2, end, bits, DOMAIN)
        labels += 1
    return i if labels else -1


@register_jitable
def _digits_after(data, i, end, bits):
    """Where the digits of a word start when an optional separator and a digit follow ``i``
    (``[ -]?`` then ``[0-9]``), or -1."""
    if i < end and (data[i] == 0x20 or data[i] == 0x2D):
        return i + 1 if _is(data, i + 1, end, bits, DIGIT) else -1
    return i if _is(data, i, end, bits, DIGIT) else -1


@register_jitable
def _plus86(data, i, end):
    return i + 2 < end and data[i] == 0x2B and data[i + 1] == 0x38 and data[i + 2] == 0x36


@register_jitable
def _word(data, p, end, bits):
    """The end of a word at ``p`` (letters, prefix, pieces, X, tail), or -1."""
    q = _run(data, p, end, bits, LETTER)
    digits = -1
    if _plus86(data, q, end):  # \+86[ -]?
        digits = _digits_after(data, q + 3, end, bits)
    if digits < 0 and q < end and data[q] == 0x28:  # \((?:\+86|0[0-9]{2,3})\)[ -]?
        close = -1
        if _plus86(data, q + 1, end):
            close = q + 4
        elif q + 1 < end and data[q + 1] == 0x30:
            held = _run(data, q + 2, min(end, q + 5), bits, DIGIT) - (q + 2)
            if held == 3 and q + 5 < end and data[q + 5] == 0x29:
                close = q + 5
            elif held >= 2 and q + 4 < end and data[q + 4] == 0x29:
                close = q + 4
        if close >= 0 and close < end and data[close] == 0x29:
            digits = _digits_after(data, close + 1, end, bits)
    if digits < 0 and _is(data, q, end, bits, DIGIT):
        digits = q
    if digits < 0:
        return -1
    i = _run(data, digits, end, bits, DIGIT)
    while _digits_after(data, i, end, bits) == i + 1:  # a single space or dash, then digits
        i = _run(data, i + 1, end, bits, DIGIT)
    if i < end and (data[i] == 0x58 or data[i] == 0x78):
        i += 1
    return _run(data, i, end, bits, WORD_TAIL)


@register_jitable
def _all(data, i, count, end, bits, bit):
    """Whether ``count`` ASCII characters from ``i`` are all in class ``bit``."""
    if i + count > end:
        return False
    return _run(data, i, i + count, bits, bit) == i + count


@register_jitable
def _plate(data, p, end, bits):
    """The end of a plate-like token at ``p`` (core and tail), or -1."""
    code, size = _code(data, p)
    i = p + size
    if (bits[code] & PROVINCE) != 0:
        if not _all(data, i, 1, end, bits, AUTHORITY):
            return -1
        i += 1
        if i < end:
            code, size = _code(data, i)
            if (bits[code] & SEPARATOR) != 0:
                i += size
        new_energy = _all(data, i, 1, end, bits, NEW_ENERGY)
        if (
            new_energy
            and _all(data, i + 1, 1, end, bits, SERIAL)
            and _all(data, i + 2, 4, end, bits, DIGIT)
        ):
            return _run(data, i + 6, end, bits, LED_TAIL)
        if _all(data, i, 5, end, bits, DIGIT) and _all(data, i + 5, 1, end, bits, DF):
            return _run(data, i + 6, end, bits, LED_TAIL)
        if _all(data, i, 4, end, bits, SERIAL) and i + 4 < end:
            code, size = _code(data, i + 4)
            if (bits[code] & SUFFIX) != 0:
                return _run(data, i + 4 + size, end, bits, LED_TAIL)
        if _all(data, i, 5, end, bits, SERIAL):
            return _run(data, i + 5, end, bits, LED_TAIL)
        return -1
    if (bits[code] & SHI) == 0 or not _all(data, i, 3, end, bits, DIGIT):
        return -1
    i += 3
    if i < end:
        code, size = _code(data, i)
        if (bits[code] & SEPARATOR) != 0 and _all(data, i + size, 3, end, bits, DIGIT):
            return _run(data, i + size + 3, end, bits, LED_TAIL)
    if _all(data, i, 3, end, bits, DIGIT):
        return _run(data, i + 3, end, bits, LED_TAIL)
    return -1


@register_jitable
def _next(data, p, end, bits):
    """The first token at or after ``p``: (start, stop, characters before it from ``p``), or
    (``end``, ``end``, characters) when there is none. Kept apart from the loop that stores
    tokens: numba compiles the character loop much tighter on its own."""
    chars = 0
    while p < end:
        byte = data[p]
        stop = -1
        if byte < 0x80:
            kind = bits[byte]
            if (kind & LOCAL) != 0:
                stop = _email(data, p, end, bits)
            if stop < 0 and ((kind & (LETTER | DIGIT)) != 0 or byte == 0x2B or byte == 0x28):
                stop = _word(data, p, end, bits)
            if stop >= 0:
                return p, stop, chars
            if (kind & LETTER) != 0:
                # Neither alternative matches later in the same run of letters either: the
                # e-mail's local part and the word's letters would end where they end from here.
                q = _run(data, p, end, bits, LETTER)
                chars += q - p
                p = q
                continue
            p += 1
        elif byte < 0xE0:
            p += 2
        elif byte < 0xF0:  # provinces and 使 are all three bytes long
            code = ((byte & 0x0F) << 12) | ((data[p + 1] & 0x3F) << 6) | (data[p + 2] & 0x3F)
            if (bits[code] & (PROVINCE | SHI)) != 0:
                stop = _plate(data, p, end, bits)
                if stop >= 0:
                    return p, stop, chars
            p += 3
        else:
            p += 4
        chars += 1
    return end, end, chars


@njit(cache=True, nogil=True)
def tokens(
    offsets: np.ndarray, data: np.ndarray, bits: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The grammar's tokens in every string, up to where a masked value may start in strings
    that hold an asterisk: ``resume`` gives, for those, the byte offset from which RE2 must
    read the rest (-1 for the others, read whole here).

    A masked value holds an asterisk and only ASCII characters (a test holds the grammar to
    that), so none starts before the run of ASCII bytes around the string's first asterisk:
    before it, RE2 chooses the tokens this loop chooses. Tokens that start before the run are
    kept; RE2 resumes where the last of them ends, or at the run.

    Returns (row, byte_start, char_start, token_offsets, token_bytes, resume), as
    :func:`leaktrace.identifiers._token_loops.cut` gives them for RE2's marks.
    """
    count = len(offsets) - 1
    resume = np.full(count, -1, dtype=np.int64)
    capacity = 16
    row = np.empty(capacity, dtype=np.int64)
    byte_start = np.empty(capacity, dtype=np.int64)
    char_start = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    out = np.empty(offsets[-1] - offsets[0], dtype=np.uint8)
    n = 0
    k = 0
    for r in range(count):
        begin = offsets[r]
        end = offsets[r + 1]
        masked_from = end + 1  # no masked value in this string
        for i in range(begin, end):
            if data[i] == 0x2A:
                masked_from = i
                while masked_from > begin and data[masked_from - 1] < 0x80:
                    masked_from -= 1
                break
        p = begin
        chars = 0
        while p < end:
            start, stop, skipped = _next(data, p, end, bits)
            chars += skipped
            if start >= masked_from:
                break
            if start == end:
                break
            if k == capacity:
                capacity *= 2
                row = _grown(row, capacity)
                byte_start = _grown(byte_start, capacity)
                char_start = _grown(char_start, capacity)
                ends = _grown(ends, capacity)
            row[k] = r
            byte_start[k] = start - begin
            char_start[k] = chars
            for i in range(start, stop):
                out[n] = data[i]
                n += 1
                chars += (data[i] & 0xC0) != 0x80
            ends[k] = n
            k += 1
            p = stop
        if masked_from <= end:
            resume[r] = max(p, masked_from) - begin
    token_offsets = np.zeros(k + 1, dtype=np.int64)
    token_offsets[1:] = ends[:k]
    return row[:k], byte_start[:k], char_start[:k], token_offsets, out[:n], resume


@register_jitable
def _grown(values, capacity):
    bigger = np.empty(capacity, dtype=values.dtype)
    bigger[: len(values)] = values
    return bigger


def warm_up() -> None:
    """Load (or compile, the first time on a machine) the loop before workers fork."""
    data = np.frombuffer(b"a1234567", dtype=np.uint8)
    tokens(np.array([0, len(data)], dtype=np.int64), data, table())
