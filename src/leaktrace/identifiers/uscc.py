"""Unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters that every registered organisation in China carries since 2015: the
registering authority (1 digit, 9 = market regulation), the entity type (1 digit), the region of
registration (6 digits, GB/T 2260; 100000 for national registrations), the organisation code
(9 digits or upper-case letters, GB 11714) and a check character; the alphabet has no I, O, Z, S
or V. It identifies an organisation, not a person, but a sole proprietorship (个体工商户, type
``92``) is one person's business. Validation is python-stdnum's ``cn.uscc`` (length, alphabet,
check character).

In free text, an 18-character code made of 17 digits and a final digit or X has the shape of a
resident identity number; :data:`PATTERN` leaves those to the shared numeric candidates, so a
code of that shape is only found by the column path, not in free text.

https://zh.wikipedia.org/wiki/统一社会信用代码
https://openstd.samr.gov.cn/bzgk/gb/ (GB 32100-2015)

>>> validate("91 110000 600037341l")
'91110000600037341L'
>>> mask("91110000600037341L")
'91110000********1L'
>>> is_valid("91110000600037341N")
False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as stdnum_uscc

from leaktrace import checksums
from leaktrace.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from leaktrace.identifiers import Span, _vector, find_all
from leaktrace.law import LegalCategory

NAME = "uscc"
LABEL = "统一社会信用代码"
JRT_CLASS = "C1"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "统一社会信用代码",
    "社会信用代码",
    "信用代码",
    "统一代码",
    "企业代码",
    "纳税人识别号",
    "税号",
    "uscc",
    "credit_code",
    "social_credit_code",
    "unified_social_credit_code",
    "tax_id",
    "taxpayer_id",
)
PRIORITY = 50

_CHAR = "[0-9A-HJ-NP-RTUWXY]"  # GB 32100's alphabet: no I, O, S, V, Z
FORM_PATTERN = rf"[0-9]{{8}}{_CHAR}{{10}}"
# Bounded by ASCII letters and digits (not \b, which does not fire next to CJK); the negative
# look-ahead leaves resident-ID-shaped tokens (17 digits, then a digit or X) to the digit types.
PATTERN = rf"(?<![0-9A-Za-z])(?![0-9]{{17}}[0-9X])[0-9]{{8}}{_CHAR}{{10}}(?![0-9A-Za-z])"
MASKED_PATTERN = rf"[0-9]{{8}}\*{{8}}{_CHAR}{{2}}"

_SEPARATORS = re.compile(r"[ \t\n\r\f\-]")
_SEPARATORS_RE2 = r"[ \t\n\r\f\-]"
_ERRORS: tuple[tuple[type[Exception], type[ValidationError]], ...] = (
    (stdnum_errors.InvalidLength, InvalidLength),
    (stdnum_errors.InvalidChecksum, InvalidChecksum),
    (stdnum_errors.InvalidFormat, InvalidFormat),
    (stdnum_errors.InvalidComponent, InvalidComponent),
)
_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)  # GB 32100: 3^i mod 31
_VALUES = np.full(256, -1, dtype=np.int64)
_VALUES[np.frombuffer(checksums.GB32100_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31)


def compact(value: str) -> str:
    """Width folded (NFKC), spaces and dashes removed, upper-case."""
    value = unicodedata.normalize("NFKC", str(value)).strip()
    return _SEPARATORS.sub("", value).upper()


def validate(value: str) -> str:
    """The 18-character code, or raise ``ValidationError`` (python-stdnum's checks)."""
    number = compact(value)
    try:
        return stdnum_uscc.validate(number)
    except stdnum_errors.ValidationError as error:
        for theirs, ours in _ERRORS:
            if isinstance(error, theirs):
                raise ours() from None
        raise ValidationError() from None


def is_valid(value: str) -> bool:
    """Whether ``value`` is a valid unified social credit code."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """Keep authority, type and region (first eight) and the last two: ``91110000********1L``.

    The organisation code in between is what identifies the organisation.
    """
    number = compact(value)
    if len(number) < 12:
        return "*" * len(number)
    return number[:8] + "*" * (len(number) - 10) + number[-2:]


def find(text: str) -> Iterator[Span]:
    """Unified social credit codes in free text (not those shaped like resident IDs)."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column: an RE2 shape check, then the check character
    for all candidates at once in NumPy (weights 3^i mod 31, as GB 32100 defines them)."""
    folded = pc.utf8_upper(_vector.remove(_vector.fold(values), _SEPARATORS_RE2))
    result = np.zeros(len(folded), dtype=bool)
    rows = np.flatnonzero(_vector.full_match(folded, FORM_PATTERN))
    if rows.size == 0:
        return result
    fixed = folded.take(pa.array(rows)).cast(pa.binary(18))
    codes = np.frombuffer(fixed.buffers()[1], dtype=np.uint8).reshape(-1, 18)
    codes = codes[fixed.offset : fixed.offset + len(fixed)]
    digits = _VALUES[codes]
    expected = (31 - (digits[:, :17] @ _WEIGHTS) % 31) % 31
    result[rows] = digits[:, 17] == expected
    return result


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked codes such as ``91110000********1L``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
