"""CN resident identity number (公民身份号码 / 居民身份证号码, GB 11643-1999).

Eighteen characters: a six-digit administrative region code (GB/T 2260), the birth date as
``YYYYMMDD``, a three-digit sequence number (odd for men, even for women) and a check character
(ISO 7064 MOD 11-2, ``0``–``9`` or ``X``). First-generation cards issued before 2004 carry a
15-digit number without century or check character; it converts to 18 characters by inserting
``19`` before the two-digit year and appending the check character, which is the canonical form
here.

What is checked: the check character; the birth date is a real calendar date, not in the future
and not before 1890; the first two digits are a province-level code; the six-digit region code
appears in python-stdnum's region table (``stdnum/cn/loc.dat``) for *any* year. python-stdnum's
own ``cn.ric`` also requires the region to have existed in the birth year; real registers hold
numbers whose region was renamed or merged before or after that, so the year is not checked here.
Residence permits of Hong Kong, Macao and Taiwan residents (港澳台居民居住证, since 2018) use the
same format with regions 810000, 820000 and 830000 and are accepted too.

https://zh.wikipedia.org/wiki/中华人民共和国公民身份号码
https://openstd.samr.gov.cn/bzgk/gb/ (GB 11643-1999)

>>> validate("11010519491231002x")
'11010519491231002X'
>>> validate("110105491231002")
'11010519491231002X'
>>> mask("11010519491231002X")
'110105********002X'
>>> birth_date("11010519491231002X")
datetime.date(1949, 12, 31)
>>> gender("11010519491231002X")
'F'
>>> is_valid("11010519900230002X")
False
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import numdb

from leaktrace import checksums
from leaktrace.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all
from leaktrace.law import LegalCategory

NAME = "resident_id"
LABEL = "身份证号"
JRT_CLASS = "C2"
SENSITIVE = True
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "身份证",
    "身份证号",
    "身份证号码",
    "公民身份号码",
    "证件号",
    "证件号码",
    "sfz",
    "sfzh",
    "sfzhm",
    "zjhm",
    "idcard",
    "id_card",
    "idno",
    "id_no",
    "id_number",
    "idnumber",
    "identity",
    "identity_no",
    "cert_no",
    "certno",
)
PRIORITY = 10
SHAPE = "digits"
# How many [0-9Xx] characters a valid text candidate holds (separators aside).
DIGIT_COUNTS = frozenset({15, 18})

EARLIEST_BIRTH = datetime.date(1890, 1, 1)
# Residence permits for Taiwan residents; python-stdnum's table predates them (81/82 are there).
EXTRA_REGIONS = frozenset({"830000"})

_SEPARATORS = re.compile(r"[ \t\n\r\f\-]")
_FORM_18 = re.compile(r"[1-9][0-9]{16}[0-9X]")
_FORM_15 = re.compile(r"[1-9][0-9]{14}")
_FORM_ANY = r"[1-9][0-9]{14}(?:[0-9]{2}[0-9X])?"


def _masked_forms() -> str:
    # Keep 1–6 leading and 1–4 trailing characters of the 18 and hide the rest, which always
    # covers the whole birth date: 110105********002X, 1101**********123X …
    forms = [
        f"[1-9][0-9]{{{head - 1}}}\\*{{{18 - head - tail}}}[0-9]{{{tail - 1}}}[0-9Xx]"
        for head in range(6, 0, -1)
        for tail in range(4, 0, -1)
    ]
    return "(?:" + "|".join(forms) + ")"


MASKED_PATTERN = _masked_forms()
MASKED_TEXT_PATTERN = rf"(?<![0-9A-Za-z*]){MASKED_PATTERN}(?![0-9A-Za-z*])"


@cache
def regions() -> frozenset[str]:
    """Every six-digit region code python-stdnum knows, for any year, plus ``EXTRA_REGIONS``.

    Read through stdnum's own number-database API (``numdb.get("cn/loc")``), whose entries are a
    two-digit province with four-digit county children.

    >>> {"110105", "110103", "830000"} <= regions()  # 110103 (崇文区) was merged in 2010
    True
    >>> "990426" in regions()
    False

    Reading the database takes ~70 ms, which every command that checks an ID paid: the codes
    are kept in the cache folder (:func:`leaktrace.identifiers._vector.stored`), read again
    when stdnum's file or this module changes.
    """
    database = resources.files("stdnum").joinpath("cn/loc.dat")
    return _vector.stored("cn-regions", [database, Path(__file__)], _read_regions)


def _read_regions() -> frozenset[str]:
    def expand(low: str, high: str) -> Iterator[str]:
        for code in range(int(low), int(high) + 1):
            yield str(code).zfill(len(low))

    codes = set(EXTRA_REGIONS)
    for length, low, high, _props, children in numdb.get("cn/loc").prefixes:
        if length != 2:
            continue
        for province in expand(low, high):
            for child_length, child_low, child_high, _child_props, _ in children:
                if child_length == 4:
                    codes.update(province + county for county in expand(child_low, child_high))
    return frozenset(codes)


@cache
def provinces() -> frozenset[str]:
    """The two-digit province-level codes (11 北京 … 65 新疆, 71 台湾, 81 香港, 82 澳门, 83)."""
    return frozenset(code[:2] for code in regions())


@cache
def _region_table() -> np.ndarray:
    # A bool per possible six-digit code: one NumPy gather replaces a set lookup per value.
    table = np.zeros(1_000_000, dtype=bool)
    table[np.array(sorted(int(code) for code in regions()))] = True
    return table


def compact(value: str) -> str:
    """Fold width (NFKC), drop spaces and dashes, upper-case the check character."""
    value = unicodedata.normalize("NFKC", str(value)).strip()
    return _SEPARATORS.sub("", value).upper()


def _to_18(number: str) -> str:
    """A 15-digit first-generation number as 18 characters (19YY, computed check character)."""
    body = number[:6] + "19" + number[6:]
    return body + checksums.gb11643_check_char(body)


def validate(value: str) -> str:
    """The 18-character number (15-digit numbers converted), or raise ``ValidationError``."""
    number = compact(value)
    if len(number) == 15:
        if not _FORM_15.fullmatch(number):
            raise InvalidFormat()
        number = _to_18(number)
    elif len(number) != 18:
        raise InvalidLength()
    elif not _FORM_18.fullmatch(number):
        raise InvalidFormat()
    elif checksums.gb11643_check_char(number[:17]) != number[17]:
        raise InvalidChecksum()
    try:
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidComponent("The birth date is not a calendar date.") from None
    if not EARLIEST_BIRTH <= born <= datetime.date.today():
        raise InvalidComponent("The birth date is out of range.")
    if number[:2] not in provinces():
        raise InvalidComponent("The province code is not assigned.")
    if number[:6] not in regions():
        raise InvalidComponent("The region code is not known.")
    return number


def is_valid(value: str) -> bool:
    """Whether ``value`` is a valid resident identity number (18 or 15 digits)."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def birth_date(value: str) -> datetime.date:
    """The birth date a valid number carries; raises ``ValidationError`` for an invalid one."""
    number = validate(value)
    return datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender(value: str) -> str:
    """``"M"`` or ``"F"``: the parity of the sequence number's last digit (odd for men)."""
    return "M" if int(validate(value)[16]) % 2 else "F"


def mask(value: str) -> str:
    """Keep the region (first six) and the last four characters: ``110105********002X``.

    The birth date, which with the region narrows a person down most, is hidden entirely; a
    15-digit number keeps only its three-digit sequence number at the end.
    """
    number = compact(value)
    if len(number) < 12:
        return "*" * len(number)
    tail = 4 if len(number) >= 18 else 3
    return number[:6] + "*" * (len(number) - 6 - tail) + number[-tail:]


def find(text: str) -> Iterator[Span]:
    """Resident identity numbers in free text (cross-checked against the other numeric types)."""
    return iter(find_all(text, [NAME]))


def _number(matrix: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The decimal number held in columns ``start:stop`` of a digit matrix, per row."""
    weights = 10 ** np.arange(stop - start - 1, -1, -1, dtype=np.int64)
    return matrix[:, start:stop].astype(np.int64) @ weights


def _valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0], dtype=np.int64)
    in_month = days[np.clip(month, 0, 13)] + (leap & (month == 2))
    ymd = year * 10_000 + month * 100 + day
    earliest, latest = _ymd(EARLIEST_BIRTH), _ymd(datetime.date.today())
    return (
        (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= in_month)
        & (ymd >= earliest)
        & (ymd <= latest)
    )


_CHECK_CHARS = np.frombuffer(checksums._GB11643_CHARS.encode(), dtype=np.uint8)


def _ymd(day: datetime.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _valid_forms(strings: pa.Array, form: np.ndarray | None = None) -> np.ndarray:
    """Which values of an already compacted column are valid numbers: the compiled loop
    (:func:`_compiled_forms`) for a large column, else NumPy.

    ``form`` may pass in the result of matching ``_FORM_ANY`` when the caller already has it.
    """
    if checksums.compiled_wanted(len(strings)):
        return _compiled_forms(strings)[1]
    if form is None:
        form = _vector.full_match(strings, _FORM_ANY)
    result = np.zeros(len(strings), dtype=bool)
    rows = np.flatnonzero(form)
    if rows.size == 0:
        return result
    candidates = strings.take(pa.array(rows))
    lengths = pc.binary_length(candidates).to_numpy(zero_copy_only=False)
    long_rows = np.flatnonzero(lengths == 18)
    short_rows = np.flatnonzero(lengths == 15)
    # One (n, 18) digit matrix for both generations: a 15-digit number gets "19" before its
    # two-digit year and a placeholder check character; the check is only tested on 18 digits,
    # as a first-generation number has none.
    if short_rows.size == 0:
        matrix = _vector.fixed_width_bytes(candidates, 18).astype(np.int16)
    else:
        matrix = np.empty((rows.size, 18), dtype=np.int16)
        matrix[long_rows] = _vector.fixed_width_bytes(candidates.take(pa.array(long_rows)), 18)
        short = _vector.fixed_width_bytes(candidates.take(pa.array(short_rows)), 15)
        matrix[short_rows, :6] = short[:, :6]
        matrix[short_rows, 6:8] = (ord("1"), ord("9"))
        matrix[short_rows, 8:17] = short[:, 6:]
        matrix[short_rows, 17] = ord("0")
    matrix -= 48
    checked = checksums.gb11643_valid_matrix(matrix)
    checked[short_rows] = True
    dated = _valid_dates(_number(matrix, 6, 10), _number(matrix, 10, 12), _number(matrix, 12, 14))
    placed = _region_table()[_number(matrix, 0, 6)]
    result[rows] = checked & dated & placed
    return result


def _compiled_forms(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(whether in compact form, whether valid) of every value, by one compiled pass
    (:func:`leaktrace._checksum_loops.resident_valid`); nulls are neither."""
    offsets, data = _vector.buffers(strings)
    earliest, latest = (_ymd(day) for day in (EARLIEST_BIRTH, datetime.date.today()))
    form, valid = checksums.compiled().resident_valid(
        offsets, data, checksums._GB11643_WEIGHTS, _CHECK_CHARS, _region_table(), earliest, latest
    )
    if strings.null_count:
        present = _vector.to_numpy_bool(pc.is_valid(strings))
        form, valid = form & present, valid & present
    return form, valid


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column: one compiled pass (a large column) or Arrow
    regex kernels, then NumPy arithmetic.

    Values already in compact form (nearly all, in a real ID column) are checked as they are;
    only the others go through width folding, separator removal and upper-casing.
    """
    strings = _vector.as_strings(values)
    if checksums.compiled_wanted(len(strings)):
        form, result = _compiled_forms(strings)
    else:
        form = _vector.full_match(strings, _FORM_ANY)
        result = _valid_forms(strings, form)
    # A value that is not in compact form yet and holds a character other than digits and X
    # may still compact to a valid number; digits-and-X values compact to themselves.
    others = np.flatnonzero(~form)
    if others.size:
        rest = strings.take(pa.array(others))
        dirty = _vector.to_numpy_bool(pc.match_substring_regex(rest, "[^0-9X]"))
        rows = others[dirty]
        if rows.size:
            cleaned = _vector.fold(rest.filter(pa.array(dirty)))
            cleaned = pc.utf8_upper(_vector.drop_separators(cleaned))
            result[rows] = _valid_forms(cleaned)
    return result


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked resident identity numbers such as ``110105********002X``."""
    return _vector.full_match(_vector.fold(values), MASKED_PATTERN)
