"""Unified social credit codes: python-stdnum's 383 codes, corner cases, column path, free text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from leaktrace import checksums
from leaktrace.exceptions import InvalidChecksum, InvalidFormat, InvalidLength
from leaktrace.identifiers import find_all, resident_id, uscc

# Identifier types with a fixed shape; name and address finders are left out, so these tables do
# not depend on how well those guess.
SHAPED_TYPES = ("email", "resident_id", "mobile", "bank_card", "fixed_line", "uscc", "passport")


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_all(text, SHAPED_TYPES)]


STDNUM_CODES = [
    line.strip()
    for line in (Path(__file__).parent / "data" / "uscc_stdnum.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
WITH_LETTERS = [code for code in STDNUM_CODES if not code[:17].isdigit()]
ALL_DIGITS = [code for code in STDNUM_CODES if code[:17].isdigit()]


def _other_check(code: str) -> str:
    """The code with a different, wrong check character."""
    alphabet = checksums.GB32100_ALPHABET
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]


def test_stdnum_codes_are_all_there():
    assert len(STDNUM_CODES) == 383
    assert len(set(STDNUM_CODES)) == 383
    assert WITH_LETTERS and ALL_DIGITS


@pytest.mark.parametrize("code", STDNUM_CODES)
def test_stdnum_codes_are_valid(code):
    assert uscc.validate(code) == code
    assert uscc.validate(code.lower()) == code
    assert not uscc.is_valid(_other_check(code))


def test_stdnum_codes_on_the_column_path():
    column = pa.array(STDNUM_CODES + [_other_check(code) for code in STDNUM_CODES])
    result = uscc.valid_column(column)
    assert result[: len(STDNUM_CODES)].all()
    assert not result[len(STDNUM_CODES) :].any()


# python-stdnum tests/test_cn_uscc.doctest and stdnum/cn/uscc.py corner cases.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("91 110000 600037341L", "91110000600037341L"),
        ("9 1 110000 600037341L", "91110000600037341L"),
        ("91-110000-600037341l", "91110000600037341L"),
        ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),
    ],
)
def test_valid(value, expected):
    assert uscc.validate(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("12345", InvalidLength),
        ("A1110000600037341L", InvalidFormat),
        ("9111000060003IOZSV", InvalidFormat),
        ("91110000600037341N", InvalidChecksum),
        ("91110000600037341", InvalidLength),
        ("91110000600037341LL", InvalidLength),
        ("", InvalidLength),
    ],
)
def test_invalid(value, error):
    with pytest.raises(error):
        uscc.validate(value)
    assert not uscc.is_valid(value)


def test_mask():
    assert uscc.mask("91110000600037341L") == "91110000********1L"
    assert uscc.mask("123") == "***"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91110000********1L", True),
        ("91340600********XD", True),
        ("91110000600037341L", False),
        ("110105********002X", False),  # a masked resident ID
        (None, False),
    ],
)
def test_masked_column(value, expected):
    assert uscc.masked_column(pa.array([value], pa.string())).tolist() == [expected]


# ---- column path --------------------------------------------------------------------------

ALPHABET = checksums.GB32100_ALPHABET + "IOSVZ -x"


def _with_check(body: str) -> str:
    return body + stdnum_uscc.calc_check_digit(body + "0")


candidates = st.one_of(
    st.builds(
        _with_check,
        st.tuples(
            st.text(alphabet="0123456789", min_size=8, max_size=8),
            st.text(alphabet=checksums.GB32100_ALPHABET, min_size=9, max_size=9),
        ).map("".join),
    ),
    st.sampled_from(STDNUM_CODES).map(str.lower),
    st.sampled_from(STDNUM_CODES).map(_other_check),
    st.text(alphabet=ALPHABET, min_size=16, max_size=20),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, max_size=40))
def test_valid_column_agrees_with_is_valid(values):
    expected = [value is not None and uscc.is_valid(value) for value in values]
    assert uscc.valid_column(pa.array(values, pa.string())).tolist() == expected


# ---- free text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("统一社会信用代码：91340600MA2PBM9HXD。", [("uscc", "91340600MA2PBM9HXD")]),
        ("公司91620105L015101280成立", [("uscc", "91620105L015101280")]),
        ("代码9131012056010553X5，", [("uscc", "9131012056010553X5")]),
        ("代码91340600MA2PBM9HXE，", []),  # wrong check character
        ("编号X91340600MA2PBM9HXD", []),  # glued to a letter
        (
            "身份证号:11010519491231002X，企业91310115MA1K3BTP2B",
            [("resident_id", "11010519491231002X"), ("uscc", "91310115MA1K3BTP2B")],
        ),
    ],
)
def test_find_all_in_chinese_text(text, expected):
    assert found(text) == expected


def _id_that_is_also_a_uscc() -> str:
    """A synthetic resident ID whose 18 characters also carry a valid GB 32100 check."""
    for day in range(1, 29):
        for sequence in range(1000):
            body = f"110105199001{day:02d}{sequence:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if stdnum_uscc.is_valid(number):
                return number
    raise AssertionError("no such number")  # pragma: no cover


def test_resident_id_shaped_codes_are_left_to_resident_id():
    number = _id_that_is_also_a_uscc()
    assert resident_id.is_valid(number) and uscc.is_valid(number)
    assert found(f"证件{number}。") == [("resident_id", number)]


def test_all_digit_codes_are_not_claimed_in_text():
    # Deliberate: one random 18-digit order number in 31 passes the GB 32100 check, so in free
    # text an all-digit code is left alone; columns of them are still typed (valid_column).
    code = next(c for c in ALL_DIGITS if not resident_id.is_valid(c))
    assert list(uscc.find(f"代码{code}。")) == []
    assert uscc.is_valid(code)
