"""CN fixed-line telephone number (固定电话).

A trunk prefix ``0``, an area code of two digits (10 北京, 2x: 20 广州 … 29 西安) or three digits
(others, 311 石家庄 … 999), and a subscriber number of seven or eight digits. The ranges are those
libphonenumber's metadata for region CN lists as fixed-line, taken at import time, so they follow
the ``phonenumbers`` release. Brokers write ``010-12345678``, ``(0755)8888 1234``,
``+86 10 12345678`` or ``0086-21-...``; all normalize to the national digits with the trunk
prefix, ``01012345678``. Without a country code the leading 0 is required: a bare eight-digit
subscriber number says too little to be attributed. Service numbers are excluded: 400/800 numbers
(not fixed-line at all), the short local service numbers libphonenumber lists (10095, 12345 …,
fewer than seven subscriber digits) and numbers whose subscriber part starts with 95 or 96
(business hotlines), which belong to businesses, not persons.

https://github.com/google/libphonenumber (resources/PhoneNumberMetadata.xml, territory CN)

>>> validate("(010)1234-5678")
'01012345678'
>>> validate("+86 755 8888 1234")
'075588881234'
>>> mask("01012345678")
'010-****5678'
>>> is_valid("400-123-4567")
False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all
from leaktrace.law import LegalCategory

NAME = "fixed_line"
LABEL = "固定电话"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "座机",
    "固话",
    "固定电话",
    "电话",
    "联系电话",
    "办公电话",
    "单位电话",
    "家庭电话",
    "住宅电话",
    "landline",
    "tel",
    "telephone",
    "phone",
    "office_phone",
    "home_phone",
)
PRIORITY = 40
SHAPE = "digits"
# How many [0-9Xx] characters a valid text candidate holds: 0 and 9–11 national digits, or
# the national digits behind +86, +860, 0086 or 00860 (which compact replaces by one 0).
DIGIT_COUNTS = frozenset(range(10, 17))

NATIONAL_PATTERN = PhoneMetadata.metadata_for_region("CN").fixed_line.national_number_pattern
_NATIONAL = re.compile(NATIONAL_PATTERN)
# National numbers: a two-digit area code (1x, 2x) or a three-digit one, and seven or eight
# subscriber digits. libphonenumber's pattern also admits short local service numbers.
LENGTHS_PATTERN = r"[12][0-9]{8,9}|[3-9][0-9]{9,10}"
_LENGTHS = re.compile(LENGTHS_PATTERN)
# A subscriber part starting with 95 or 96 is a business hotline (95555…, 96xxx local lines).
SERVICE_PATTERN = r"(?:[12][0-9]|[3-9][0-9]{2})9[56][0-9]*"
_SERVICE = re.compile(SERVICE_PATTERN)
_SEPARATORS = re.compile(r"[ \t\n\r\f\-().]")
_SEPARATORS_RE2 = r"[ \t\n\r\f\-().]"
_COUNTRY = re.compile(r"(?:\+|00)86")
_COUNTRY_RE2 = r"^(?:\+|00)860?"

MASKED_PATTERN = r"0(?:[12][0-9]|[3-9][0-9]{2})-?\*{3,4}[0-9]{4}"
MASKED_TEXT_PATTERN = rf"(?<![0-9A-Za-z*]){MASKED_PATTERN}(?![0-9A-Za-z*])"


def compact(value: str) -> str:
    """Digits with the trunk prefix 0: separators and parentheses dropped, +86 / 0086 replaced.

    A ``(0)`` after the country code, as in ``+86 (0)10 …``, is not doubled.
    """
    value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(value)).strip())
    country = _COUNTRY.match(value)
    if country:
        rest = value[country.end() :]
        value = rest if rest.startswith("0") else "0" + rest
    return value


def validate(value: str) -> str:
    """The number as trunk prefix, area code and subscriber digits, or raise ``ValidationError``."""
    number = compact(value)
    if not number.isascii() or not number.isdigit():
        raise InvalidFormat()
    if not number.startswith("0"):
        raise InvalidFormat("The number has no area code.")
    national = number[1:]
    if not _LENGTHS.fullmatch(national):
        raise InvalidLength("The area code and subscriber number have the wrong lengths.")
    if not _NATIONAL.fullmatch(national):
        raise InvalidComponent("The number is not in a CN fixed-line range.")
    if _SERVICE.fullmatch(national):
        raise InvalidComponent("The number is a service line.")
    return number


def is_valid(value: str) -> bool:
    """Whether ``value`` is a CN fixed-line number in any accepted format."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def area_code(value: str) -> str:
    """The area code with its trunk prefix (``010``, ``0755``) of a valid number.

    >>> area_code("+86 755 8888 1234")
    '0755'
    """
    number = validate(value)
    return number[:3] if number[1] in "12" else number[:4]


def mask(value: str) -> str:
    """Keep the area code and the last four digits: ``010-****5678``."""
    number = compact(value)
    if len(number) < 10 or not number.isascii() or not number.isdigit():
        return "*" * len(number)
    if not number.startswith("0"):
        return "*" * (len(number) - 4) + number[-4:]
    area = number[:3] if number[1] in "12" else number[:4]
    return f"{area}-****{number[-4:]}"


def find(text: str) -> Iterator[Span]:
    """Fixed-line numbers in free text (cross-checked against the other numeric types)."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column (Arrow's RE2 kernels only)."""
    folded = _vector.remove(_vector.fold(values), _SEPARATORS_RE2)
    folded = pc.replace_substring_regex(folded, _COUNTRY_RE2, "0")
    sized = _vector.full_match(folded, f"0(?:{LENGTHS_PATTERN})")
    national = _vector.full_match(folded, f"0(?:{NATIONAL_PATTERN})")
    service = _vector.full_match(folded, f"0(?:{SERVICE_PATTERN})")
    return sized & national & ~service


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked fixed-line numbers such as ``010-****5678``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
