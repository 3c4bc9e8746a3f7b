"""Check-digit algorithms, written once for every identifier that needs them.

Each algorithm has a scalar form for one value and a vectorized form over a NumPy matrix of
digit codes (one row per value), used when a whole column is validated at once; Luhn and GB 11643
also have compiled loops over a column's bytes for large columns (:func:`compiled`).

* Luhn (ISO/IEC 7812-1): bank cards.
* ISO 7064 MOD 11-2 as used by GB 11643-1999: resident identity numbers.
* GB 32100-2015: unified social credit codes.

>>> luhn_is_valid("6222021234567890127")
False
>>> gb11643_check_char("11010519491231002")
'X'
>>> gb32100_check_char("91350100M000100Y4")
'3'
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from leaktrace._compiled import Loops

_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int16)  # 2d, digits summed
_GB11643_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_GB11643_CHARS = "10X98765432"

GB32100_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_GB32100_VALUE = {c: i for i, c in enumerate(GB32100_ALPHABET)}


def luhn_checksum(digits: str) -> int:
    """Return the Luhn sum of ``digits`` modulo 10 (0 means valid)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10


def luhn_is_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check.

    >>> luhn_is_valid("4111111111111111")
    True
    """
    return luhn_checksum(digits) == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that, appended to ``payload``, makes it pass the Luhn check.

    >>> luhn_check_digit("411111111111111")
    '1'
    """
    return str((10 - luhn_checksum(payload + "0")) % 10)


def gb11643_check_char(first17: str) -> str:
    """The check character (0-9 or X) of a resident identity number's first 17 digits."""
    total = sum((ord(c) - 48) * w for c, w in zip(first17, _GB11643_WEIGHTS.tolist(), strict=True))
    return _GB11643_CHARS[total % 11]


def gb32100_check_char(first17: str) -> str:
    """The check character of a unified social credit code's first 17 characters.

    Raises KeyError for a character outside the GB 32100 alphabet.
    """
    total = sum(_GB32100_VALUE[c] * w for c, w in zip(first17, _GB32100_WEIGHTS, strict=True))
    return GB32100_ALPHABET[(31 - total % 31) % 31]


# ---- vectorized forms -------------------------------------------------------------------


def digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """View an array of ASCII byte strings (dtype ``S{width}``) as a (n, width) int8 digit matrix.

    Characters that are not digits come out outside 0..9; callers mask those rows.
    """
    fixed = np.asarray(values, dtype=f"S{width}")
    return np.frombuffer(fixed.tobytes(), dtype=np.uint8).reshape(-1, width).astype(np.int16) - 48


def gb11643_valid_matrix(matrix: np.ndarray) -> np.ndarray:
    """Rows of an (n, 18) matrix from :func:`digit_matrix` that carry a valid GB 11643 check.

    The last column holds the check character; 'X' arrives as ord('X') - 48 == 40.
    """
    body = matrix[:, :17]
    ok = ((body >= 0) & (body <= 9)).all(axis=1)
    expected = (body.astype(np.int64) @ _GB11643_WEIGHTS) % 11
    expected_code = (
        np.frombuffer(_GB11643_CHARS.encode(), dtype=np.uint8).astype(np.int16)[expected] - 48
    )
    last = matrix[:, 17]
    last = np.where(last == ord("x") - 48, ord("X") - 48, last)
    return ok & (last == expected_code)


def luhn_valid_matrix(matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows of a right-aligned, zero-left-padded (n, w) digit matrix that pass the Luhn check.

    ``lengths`` gives each row's real digit count; padding zeros do not change the Luhn sum.
    """
    width = matrix.shape[1]
    ok = ((matrix >= 0) & (matrix <= 9)).all(axis=1) & (lengths > 0)
    doubled = np.zeros(width, dtype=bool)
    doubled[width - 2 :: -2] = True  # every second digit counted from the right
    # A table lookup and np.where instead of in-place updates through a boolean column index,
    # which copied the matrix three times (6× slower over a million cards).
    digits = np.clip(matrix, 0, 9)
    values = np.where(doubled, _LUHN_DOUBLED[digits], digits)
    return ok & (values.sum(axis=1) % 10 == 0)


# Below this many values, a column is checked by the NumPy matrices unless the compiled loops
# are loaded.
COMPILED_FROM = 4096
_LOOPS = Loops("leaktrace._checksum_loops")


def compiled_wanted(count: int) -> bool:
    """Whether ``count`` values are worth the compiled loops, numba's first load (~0.5 s)
    included: a large column, or the loops loaded already (:mod:`leaktrace._compiled`)."""
    return _LOOPS.wanted(count, COMPILED_FROM)


def compiled() -> ModuleType:
    """The compiled column checks (:mod:`leaktrace._checksum_loops`), imported on first use:
    numba's import is paid only by commands that check large columns (:func:`compiled_wanted`)."""
    return _LOOPS.module()
