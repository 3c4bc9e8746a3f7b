"""CN motor-vehicle plate number (机动车号牌号码, 车牌号).

GA 36-2018 (机动车号牌) builds a number from the province abbreviation (one character, 京 … 琼),
the issuing authority's letter (A–Z; O is the provincial public-security department's, I is not
used) and a serial in which the letters I and O never appear:

* regular plates (普通号牌): five serial characters, at most two of them letters — 京A12345;
* small new-energy plates (小型新能源汽车): six, the first a letter telling the energy type
  (D pure electric, F other; cities that ran out of numbers went on with A B C E and G H J K),
  the second a letter or digit, the last four digits — 京AD12345 (D/F at position 3);
* large new-energy plates (大型新能源汽车): five digits then D or F — 京A12345D (position 8);
* plates with a trailing character and four serial characters: 警 police, 学 driving school,
  挂 trailer, 领 consulate, 使 embassy; 港 and 澳 only on 粤Z cross-border plates — 粤Z1234港;
* embassy plates led by 使 with a three-digit mission code and a three-digit serial — 使014578.

Military, armed-police (WJ) and emergency (应急) plates are not recognised.

Lists write plates as ``京A·12345``, ``京A 12345``, ``京A-12345``, ``京a12345``, with full-width
letters and digits or with traditional province characters (滬A12345); all normalize to upper
case without separators (DESIGN.md: 京A·12345 → 京A12345).

https://hbba.sacinfo.org.cn/ (GA 36-2018 中华人民共和国机动车号牌, a public-security standard)

>>> validate("京a·１２３４５")
'京A12345'
>>> validate("粤B D12345"), validate("粤B12345F")
('粤BD12345', '粤B12345F')
>>> mask("京A12345")
'京A***45'
>>> is_valid("京A1234O"), is_valid("京AABC12")
(False, False)
>>> [(s.type, s.value) for s in find("车牌号沪A-B1234，车主张三")]
[('plate', '沪AB1234')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all, halfwidth
from leaktrace.law import LegalCategory

NAME = "plate"
LABEL = "车牌号"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "车牌", "车牌号", "车牌号码", "号牌", "号牌号码", "车辆号牌", "牌照", "牌照号", "牌照号码",
    "plate", "plate number", "plate no", "license plate", "licence plate", "hphm",
)  # fmt: skip
PRIORITY = 70

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SUFFIXES = "警学挂领使"
# Traditional forms that turn up in lists from Hong Kong and Taiwan tools or in 繁體 text.
_TRADITIONAL = str.maketrans("滬遼蘇貴陝閩粵魯雲瓊寧贛晉學掛領", "沪辽苏贵陕闽粤鲁云琼宁赣晋学挂领")
_ALL_PROVINCES = PROVINCES + "滬遼蘇貴陝閩粵魯雲瓊寧贛晉"
_ALL_SUFFIXES = SUFFIXES + "學掛領"
_SEPARATORS = "·・•･∙.\\- "


def _canonical(provinces: str, suffixes: str, yue: str) -> str:
    """The full-match pattern of a compacted plate, for a given set of province characters."""
    serial = "[A-HJ-NP-Z0-9]"
    return (
        f"[{provinces}][A-HJ-Z]"
        f"(?:[A-HJK]{serial}[0-9]{{4}}|[0-9]{{5}}[DF]|{serial}{{4}}[{suffixes}]|{serial}{{5}})"
        f"|[{yue}]Z{serial}{{4}}[港澳]|使[0-9]{{6}}"
    )


CANONICAL_PATTERN = _canonical(PROVINCES, SUFFIXES, "粤")
_CANONICAL = re.compile(CANONICAL_PATTERN)
_COLUMN_PATTERN = _canonical(_ALL_PROVINCES, _ALL_SUFFIXES, "粤粵")

# Candidates in (half-width-folded) text: either case, one separator after the authority letter;
# ASCII look-arounds because the plate may sit right next to Chinese text. A plate-like run right
# before "@" or "_" is the local part of an e-mail address or an identifier, not a plate.
_S = "[A-HJ-NP-Za-hj-np-z0-9]"
_SEP = f"[{_SEPARATORS}]?"
PATTERN = (
    rf"(?<![A-Za-z0-9])(?:[{_ALL_PROVINCES}][A-HJ-Za-hj-z]{_SEP}"
    rf"(?:[A-HJKa-hjk]{_S}[0-9]{{4}}|[0-9]{{5}}[DFdf]|{_S}{{4}}[{_ALL_SUFFIXES}港澳]|{_S}{{5}})"
    rf"|使[0-9]{{3}}{_SEP}[0-9]{{3}})(?![A-Za-z0-9@_])"
)
MAX_SERIAL_LETTERS = 2

_STRIP = re.compile(f"[{_SEPARATORS}\\s_]")
_LETTER = re.compile("[A-Z]")


def compact(value: str) -> str:
    """Upper case, half-width, simplified characters, no separators; no validation."""
    return _STRIP.sub("", halfwidth(str(value))).upper().translate(_TRADITIONAL)


def validate(value: str) -> str:
    """The compact plate number, or raise ``ValidationError``."""
    plate = compact(value)
    if len(plate) not in (7, 8):
        raise InvalidLength()
    if not _CANONICAL.fullmatch(plate):
        raise InvalidFormat()
    # The authority letter is one letter; the serial may hold at most two more (GA 36-2018).
    # New-energy and embassy shapes already fix their letters, so one count covers every shape.
    if len(_LETTER.findall(plate)) > 1 + MAX_SERIAL_LETTERS:
        raise InvalidComponent("The serial holds more than two letters.")
    return plate


def is_valid(value: str) -> bool:
    """Whether ``value`` is a CN plate number in any accepted format."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """Keep the first two and last two characters: ``京A***45``."""
    plate = compact(value)
    return plate[:2] + "*" * (len(plate) - 4) + plate[-2:] if len(plate) > 4 else "*" * len(plate)


def find(text: str) -> Iterator[Span]:
    """Plate numbers in free text."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column."""
    folded = pc.utf8_upper(_vector.remove(_vector.fold(values), f"[{_SEPARATORS}\\s_]"))
    valid = _vector.full_match(folded, _COLUMN_PATTERN)
    letters = pc.count_substring_regex(folded, "[A-Z]")
    few_letters = _vector.to_numpy_bool(pc.less_equal(letters, 1 + MAX_SERIAL_LETTERS))
    return valid & few_letters
