"""CN mobile number (手机号码).

Eleven digits starting with 1, in the number ranges that libphonenumber's metadata for region CN
lists as mobile (13x–19x, 14x data-only, 16x, 17x virtual operators, 1740x satellite …). The
pattern is taken from that metadata at import time, so ranges follow the ``phonenumbers`` release.
Brokers write the same number as ``+86 138 1234 5678``, ``0086-13812345678`` or with full-width
digits; all normalize to the bare 11 digits.

https://github.com/google/libphonenumber (resources/PhoneNumberMetadata.xml, territory CN)

>>> validate("+86 138-1234-5678")
'13812345678'
>>> validate("１３８１２３４５６７８")
'13812345678'
>>> mask("13812345678")
'138****5678'
>>> is_valid("12012345678")
False
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all, halfwidth
from leaktrace.law import LegalCategory

NAME = "mobile"
LABEL = "手机号"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "手机",
    "手机号",
    "手机号码",
    "移动电话",
    "电话",
    "联系电话",
    "联系方式",
    "mobile",
    "phone",
    "cell",
    "tel",
    "telephone",
    "contact",
)
PRIORITY = 20
SHAPE = "digits"
# How many [0-9Xx] characters a valid text candidate holds: 11, behind 86/+86 or 0086.
DIGIT_COUNTS = frozenset({11, 13, 15})

NATIONAL_PATTERN = PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
_NATIONAL = re.compile(NATIONAL_PATTERN)
_PREFIX = re.compile(r"^(?:\+86|0086|86(?=1\d{10}$))")
_SEPARATORS = re.compile(r"[\s\-().]")
MASKED_PATTERN = r"1[3-9][0-9][*＊xX]{4}[0-9]{4}"
MASKED_TEXT_PATTERN = r"(?<![0-9])1[3-9][0-9]\*{4}[0-9]{4}(?![0-9])"


def compact(value: str) -> str:
    """Digits only, without separators or the +86 / 0086 country prefix."""
    value = _SEPARATORS.sub("", halfwidth(str(value)).strip())
    return _PREFIX.sub("", value)


def validate(value: str) -> str:
    """The 11-digit number, or raise ``ValidationError``."""
    number = compact(value)
    if not number.isascii() or not number.isdigit():
        raise InvalidFormat()
    if len(number) != 11:
        raise InvalidLength()
    if not _NATIONAL.fullmatch(number):
        raise InvalidComponent("The number is not in a CN mobile range.")
    return number


def is_valid(value: str) -> bool:
    """Whether ``value`` is a CN mobile number in any accepted format."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """Keep the first three and last four digits: ``138****5678``."""
    number = compact(value)
    return number[:3] + "****" + number[-4:] if len(number) >= 8 else "*" * len(number)


def find(text: str) -> Iterator[Span]:
    """Mobile numbers in free text (cross-checked against the other numeric types)."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column.

    Values of eleven ASCII digits (nearly all, in a mobile column) are their own compact form
    and only matched against the ranges; the others are compacted first.
    """
    strings = _vector.as_strings(values)
    plain = _vector.plain_digits(strings, 11)
    if not plain.any():
        return _compacted_valid(strings)
    result = plain & _vector.full_match(strings, NATIONAL_PATTERN)
    others = np.flatnonzero(~plain)
    if others.size:
        result[others] = _compacted_valid(strings.take(pa.array(others)))
    return result


def _compacted_valid(values: pa.Array) -> np.ndarray:
    """Vectorized :func:`is_valid` for values in any form: compacted first, as ``compact``."""
    folded = _vector.remove(_vector.fold(values), r"[\s\-().]")
    folded = _vector.remove(folded, r"^(?:\+86|0086)")
    # A bare 86 is a country code only in front of a full 11-digit number (RE2 has no
    # look-ahead, so the length decides, as _PREFIX does in compact).
    bare = pc.and_(pc.equal(pc.utf8_length(folded), 13), pc.starts_with(folded, "861"))
    folded = pc.if_else(bare, pc.utf8_slice_codeunits(folded, 2), folded)
    return _vector.full_match(folded, NATIONAL_PATTERN)


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked mobile numbers such as ``138****5678``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
