"""Check digits of whole columns in one compiled pass: Luhn for bank cards, GB 11643 with the
birth date and region for resident identity numbers.

:mod:`leaktrace.checksums` checks a column through a NumPy matrix of digits (one row per value),
a dozen passes over the matrix; on a 65,536-row column these loops take a tenth of that. They
are compiled by numba (``cache=True``), which costs ~0.5 s to import: the identifier modules use
them for large columns or once these loops are loaded, the matrices otherwise
(:func:`leaktrace.checksums.compiled_wanted`), and tests hold the two to the same answers. The
algorithms' constants come from ``checksums``.

>>> import numpy as np
>>> from leaktrace import checksums
>>> cards = b"62220212345678901284111111111111111"
>>> luhn_valid(np.array([0, 19, 35]), np.frombuffer(cards, np.uint8), np.array([0, 1]),
...            checksums._LUHN_DOUBLED).tolist()
[True, True]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def luhn_valid(
    offsets: np.ndarray, data: np.ndarray, rows: np.ndarray, doubled: np.ndarray
) -> np.ndarray:
    """Whether each string ``rows[k]`` (ASCII digits) passes the Luhn check; ``doubled[d]`` is
    the digit sum of 2d."""
    result = np.zeros(len(rows), dtype=np.bool_)
    for k in range(len(rows)):
        begin = offsets[rows[k]]
        end = offsets[rows[k] + 1]
        total = 0
        second = False
        ok = end > begin
        for i in range(end - 1, begin - 1, -1):
            digit = np.int64(data[i]) - 48
            if digit < 0 or digit > 9:
                ok = False
                break
            total += doubled[digit] if second else digit
            second = not second
        result[k] = ok and total % 10 == 0
    return result


@njit(cache=True, nogil=True)
def resident_valid(
    offsets: np.ndarray,
    data: np.ndarray,
    weights: np.ndarray,
    check_chars: np.ndarray,
    regions: np.ndarray,
    earliest: int,
    latest: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per string: whether it is in compact form (15 digits, or 17 digits and a digit or ``X``;
    no leading zero), and whether it also carries a valid GB 11643 check character (18 only),
    birth date (``earliest`` ≤ YYYYMMDD ≤ ``latest``; a 15-digit number's year is 19YY) and
    region (``regions[first six digits]``)."""
    count = len(offsets) - 1
    form = np.zeros(count, dtype=np.bool_)
    result = np.zeros(count, dtype=np.bool_)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    digits = np.zeros(18, dtype=np.int64)
    for k in range(count):
        begin = offsets[k]
        size = offsets[k + 1] - begin
        if size != 15 and size != 18:
            continue
        shaped = data[begin] != 0x30
        for j in range(size):
            byte = data[begin + j]
            if not (0x30 <= byte <= 0x39 or (byte == 0x58 and j == 17)):
                shaped = False
                break
        if not shaped:
            continue
        form[k] = True
        if size == 18:
            for j in range(18):
                digits[j] = np.int64(data[begin + j]) - 48
            total = 0
            for j in range(17):
                total += digits[j] * weights[j]
            if np.int64(check_chars[total % 11]) - 48 != digits[17]:
                continue
        else:  # 15 digits: the year without its century, no check character
            for j in range(6):
                digits[j] = np.int64(data[begin + j]) - 48
            digits[6] = 1
            digits[7] = 9
            for j in range(6, 15):
                digits[j + 2] = np.int64(data[begin + j]) - 48
        year = digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]
        month = digits[10] * 10 + digits[11]
        day = digits[12] * 10 + digits[13]
        if month < 1 or month > 12 or day < 1:
            continue
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if day > days[month] + (1 if leap and month == 2 else 0):
            continue
        ymd = year * 10_000 + month * 100 + day
        if ymd < earliest or ymd > latest:
            continue
        region = 0
        for j in range(6):
            region = region * 10 + digits[j]
        result[k] = regions[region]
    return form, result


def warm_up() -> None:
    """Load (or compile, the first time on a machine) the loops before workers fork."""
    offsets = np.array([0, 15], dtype=np.int64)
    data = np.frombuffer(b"110105491231002", dtype=np.uint8)
    rows = np.zeros(1, dtype=np.int64)
    luhn_valid(offsets, data, rows, np.arange(10, dtype=np.int64))
    resident_valid(offsets, data, np.ones(17, np.int64), data[:11], np.ones(1_000_000, bool), 0, 1)
