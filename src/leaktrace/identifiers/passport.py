"""CN passport number (护照号码).

Nine characters on current passports, a letter for the type and a sequence number, with no
check digit of its own (the one in the machine-readable zone is not part of the number):

=====================================  ================================  ==========
passport                               form                              example
=====================================  ================================  ==========
ordinary e-passport, 2012–2017         E + 8 digits                      E12345678
ordinary e-passport, since April 2017  E + letter (not I, O) + 7 digits  EA1234567
ordinary passport before 2012          G + 8 digits                      G12345678
official e-passports                   PE, SE, DE + 7 digits             SE1234567
official passports before those        P, S, D + 7 digits; S + 8 digits  P1234567
=====================================  ================================  ==========

``P.1234567``-style dots and lower case are accepted and normalized away. Not accepted: the
all-digit passports of the 1990s (14/15 + 7 digits, long expired and indistinguishable from any
nine-digit number) and the Hong Kong (K…) and Macao (MA…) SAR passports. In free text,
:data:`PATTERN` only finds the E, G, PE, SE and DE forms in upper case: a bare P, S or D and seven
digits is too often a product or order code, so those are recognised in columns only.

https://zh.wikipedia.org/wiki/中华人民共和国护照

>>> validate("e12345678")
'E12345678'
>>> validate("P.1234567")
'P1234567'
>>> mask("E12345678")
'E1****678'
>>> is_valid("EI1234567")
False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.exceptions import InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all
from leaktrace.law import LegalCategory

NAME = "passport"
LABEL = "护照号"
JRT_CLASS = "C2"
SENSITIVE = True
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "护照",
    "护照号",
    "护照号码",
    "护照编号",
    "passport",
    "passport_no",
    "passport_number",
    "passportno",
    "hzhm",
)
PRIORITY = 60

# Forms that are found in free text as well as in columns.
_TEXT_FORMS = r"E[0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|G[0-9]{8}|[PSD]E[0-9]{7}"
FORM_PATTERN = rf"{_TEXT_FORMS}|[PSD][0-9]{{7}}|S[0-9]{{8}}"
PATTERN = rf"(?<![0-9A-Za-z])(?:{_TEXT_FORMS})(?![0-9A-Za-z])"
MASKED_PATTERN = r"[DEGPS][0-9A-Z]\*{3,4}[0-9]{3}"

_FORM = re.compile(FORM_PATTERN)
_SEPARATORS = re.compile(r"[ \t\n\r\f\-.]")
_SEPARATORS_RE2 = r"[ \t\n\r\f\-.]"


def compact(value: str) -> str:
    """Width folded (NFKC), spaces, dashes and dots removed, upper-case."""
    value = unicodedata.normalize("NFKC", str(value)).strip()
    return _SEPARATORS.sub("", value).upper()


def validate(value: str) -> str:
    """The passport number, or raise ``ValidationError``."""
    number = compact(value)
    if not 8 <= len(number) <= 9:
        raise InvalidLength()
    if not _FORM.fullmatch(number):
        raise InvalidFormat("The value is not in a CN passport number form.")
    return number


def is_valid(value: str) -> bool:
    """Whether ``value`` is a CN passport number in an accepted form."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """Keep the first two and the last three characters: ``E1****678``."""
    number = compact(value)
    if len(number) < 7:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 5) + number[-3:]


def find(text: str) -> Iterator[Span]:
    """Passport numbers in free text (the E, G, PE, SE and DE forms)."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column (Arrow's RE2 kernels only)."""
    folded = pc.utf8_upper(_vector.remove(_vector.fold(values), _SEPARATORS_RE2))
    return _vector.full_match(folded, FORM_PATTERN)


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked passport numbers such as ``E1****678``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
