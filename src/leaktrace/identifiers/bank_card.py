"""Bank card number (银行卡号), as issued in China.

A payment card number (ISO/IEC 7812) is an issuer identification number, an account number and a
Luhn check digit. Cards issued in China are mostly UnionPay (银联, 62…, 16 to 19 digits); banks
also issue Visa, Mastercard, JCB and American Express cards. To keep the false positives of a
bare Luhn check (one random digit string in ten) low, only these prefixes and lengths count:

=======================  ==============  ========
scheme                   prefix          digits
=======================  ==============  ========
UnionPay                 62              16–19
Visa                     4               16
Mastercard               51–55           16
JCB                      3528–3589       16
American Express         34, 37          15
=======================  ==============  ========

Mastercard's 2221–2720 range is left out on purpose: 16-digit order and serial numbers that start
with a year (2023…) would pass one time in ten. Old domestic cards outside these ranges (95588…)
are not recognised. About one valid 18-digit resident identity number in ten also passes the Luhn
check; those starting with 62 (甘肃) would pass here too, and the resident ID type wins, as it has
the higher priority.

https://en.wikipedia.org/wiki/Payment_card_number

>>> validate("6222 0212 3456 7890 128")
'6222021234567890128'
>>> mask("6222021234567890128")
'6222 **** **** 0128'
>>> is_valid("6222021234567890127")
False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import luhn

from leaktrace import checksums
from leaktrace.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all
from leaktrace.law import LegalCategory

NAME = "bank_card"
LABEL = "银行卡号"
JRT_CLASS = "C2"
SENSITIVE = True
CATEGORY = LegalCategory.PROPERTY
HEADERS = (
    "卡号",
    "银行卡",
    "银行卡号",
    "借记卡",
    "信用卡",
    "信用卡号",
    "账号",
    "帐号",
    "银行账号",
    "银行帐号",
    "收款账号",
    "card",
    "card_no",
    "cardno",
    "card_number",
    "bank_card",
    "bankcard",
    "account",
    "account_no",
    "acct",
    "acct_no",
    "pan",
)
PRIORITY = 30
SHAPE = "digits"
# How many [0-9Xx] characters a valid text candidate holds (separators aside).
DIGIT_COUNTS = frozenset(range(15, 20))

# Issuer prefix and length per scheme, as in the table above (RE2 and Python re alike).
ISSUER_PATTERN = (
    r"62[0-9]{14,17}|4[0-9]{15}|5[1-5][0-9]{14}|35(?:2[89]|[3-8][0-9])[0-9]{12}|3[47][0-9]{13}"
)
_ISSUER = re.compile(ISSUER_PATTERN)
_SEPARATORS = re.compile(r"[ \t\n\r\f\-]")
_WIDTH = 19

# What is kept of a masked card: the first four or six digits and the last four, with at least
# four asterisks between, in one run or in groups (6222 **** **** 0128, 622202******0128).
MASKED_PATTERN = r"[3-6][0-9]{3}(?:[0-9]{2})?[ -]?\*{4,}(?:[ -]\*{1,4})*[ -]?[0-9]{4}"
MASKED_TEXT_PATTERN = rf"(?<![0-9A-Za-z*]){MASKED_PATTERN}(?![0-9A-Za-z*])"


def compact(value: str) -> str:
    """Digits only: width folded (NFKC), spaces and dashes removed."""
    value = unicodedata.normalize("NFKC", str(value)).strip()
    return _SEPARATORS.sub("", value)


def validate(value: str) -> str:
    """The card number as bare digits, or raise ``ValidationError``."""
    number = compact(value)
    if not number.isascii() or not number.isdigit():
        raise InvalidFormat()
    if not 15 <= len(number) <= _WIDTH:
        raise InvalidLength()
    if not _ISSUER.fullmatch(number):
        raise InvalidComponent("The issuer prefix or length is not one of a card issued in CN.")
    if not luhn.is_valid(number):
        raise InvalidChecksum()
    return number


def is_valid(value: str) -> bool:
    """Whether ``value`` is a bank card number in any accepted format."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """The first four and last four digits in groups: ``6222 **** **** 0128``.

    The shape does not depend on the card's length, so it is not given away either.
    """
    number = compact(value)
    if len(number) < 12:
        return "*" * len(number)
    return f"{number[:4]} **** **** {number[-4:]}"


def find(text: str) -> Iterator[Span]:
    """Bank card numbers in free text (cross-checked against the other numeric types)."""
    return iter(find_all(text, [NAME]))


def _valid_forms(strings: pa.Array, form: np.ndarray | None = None) -> np.ndarray:
    """Which values of an already compacted column are valid card numbers: the compiled Luhn
    check (:func:`leaktrace._checksum_loops.luhn_valid`) for a large column, else NumPy.

    ``form`` may pass in the result of matching ``ISSUER_PATTERN`` when the caller has it.
    """
    if form is None:
        form = _vector.full_match(strings, ISSUER_PATTERN)
    result = np.zeros(len(strings), dtype=bool)
    rows = np.flatnonzero(form)
    if rows.size == 0:
        return result
    if checksums.compiled_wanted(rows.size):
        offsets, data = _vector.buffers(strings)
        loops = checksums.compiled()
        result[rows] = loops.luhn_valid(offsets, data, rows, checksums._LUHN_DOUBLED)
        return result
    candidates = strings.take(pa.array(rows))
    lengths = pc.binary_length(candidates).to_numpy(zero_copy_only=False)
    # Leading zeros leave the Luhn sum unchanged, so every candidate is padded to one width.
    padded = pc.utf8_lpad(candidates, _WIDTH, "0")
    matrix = _vector.fixed_width_bytes(padded, _WIDTH).astype(np.int16) - 48
    result[rows] = checksums.luhn_valid_matrix(matrix, lengths)
    return result


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column: Arrow regex kernels, then a NumPy Luhn check.

    Values already in compact form are checked as they are; only the others are folded first.
    """
    strings = _vector.as_strings(values)
    form = _vector.full_match(strings, ISSUER_PATTERN)
    result = _valid_forms(strings, form)
    # Only a value holding something other than digits can compact to a different string.
    others = np.flatnonzero(~form)
    if others.size:
        rest = strings.take(pa.array(others))
        dirty = _vector.to_numpy_bool(pc.match_substring_regex(rest, "[^0-9]"))
        if dirty.any():
            cleaned = _vector.drop_separators(_vector.fold(rest.filter(pa.array(dirty))))
            result[others[dirty]] = _valid_forms(cleaned)
    return result


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked card numbers such as ``6222 **** **** 0128``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
