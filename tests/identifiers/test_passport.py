"""CN passport numbers: accepted forms, column path, free text."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.exceptions import InvalidFormat, InvalidLength
from leaktrace.identifiers import find_all, passport

# Identifier types with a fixed shape; name and address finders are left out, so these tables do
# not depend on how well those guess.
SHAPED_TYPES = ("email", "resident_id", "mobile", "bank_card", "fixed_line", "uscc", "passport")


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_all(text, SHAPED_TYPES)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("E12345678", "E12345678"),
        ("EA1234567", "EA1234567"),
        ("EF1260892", "EF1260892"),
        ("EZ0000001", "EZ0000001"),
        ("G12345678", "G12345678"),
        ("PE1234567", "PE1234567"),
        ("SE1234567", "SE1234567"),
        ("DE1234567", "DE1234567"),
        ("P1234567", "P1234567"),
        ("P.1234567", "P1234567"),
        ("S.1234567", "S1234567"),
        ("S12345678", "S12345678"),
        ("D1234567", "D1234567"),
        ("e12345678", "E12345678"),
        ("ｅａ１２３４５６７", "EA1234567"),
        (" E 1234 5678 ", "E12345678"),
    ],
)
def test_valid(value, expected):
    assert passport.validate(value) == expected
    assert passport.is_valid(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("EI1234567", InvalidFormat),  # I and O are not used
        ("EO1234567", InvalidFormat),
        ("E1234567", InvalidFormat),
        ("E123456789", InvalidLength),
        ("EA12345678", InvalidLength),
        ("G1234567", InvalidFormat),
        ("K12345678", InvalidFormat),  # Hong Kong SAR passport
        ("MA1234567", InvalidFormat),  # Macao SAR passport
        ("141234567", InvalidFormat),  # 1990s all-digit passport
        ("D12345678", InvalidFormat),
        ("P12345678", InvalidFormat),
        ("SE12345678", InvalidLength),
        ("C12345678", InvalidFormat),  # exit-entry permit, not a passport
        ("E1234567X", InvalidFormat),
        ("", InvalidLength),
    ],
)
def test_invalid(value, error):
    with pytest.raises(error):
        passport.validate(value)
    assert not passport.is_valid(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("E12345678", "E1****678"),
        ("EA1234567", "EA****567"),
        ("P1234567", "P1***567"),
        ("E12", "***"),
    ],
)
def test_mask(value, expected):
    assert passport.mask(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("E1****678", True),
        ("EA****567", True),
        ("P1***567", True),
        ("E12345678", False),
        ("138****5678", False),
        (None, False),
    ],
)
def test_masked_column(value, expected):
    assert passport.masked_column(pa.array([value], pa.string())).tolist() == [expected]


candidates = st.one_of(
    st.from_regex(r"[ A-Ga-gPSpsZ.\-]{0,2}[0-9 ]{6,9}", fullmatch=True),
    st.from_regex(r"[EeGg][A-Z0-9][0-9]{7}", fullmatch=True),
    st.text(alphabet="EGPSDIOA0123456789 .-ｅ１", max_size=12),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, max_size=40))
def test_valid_column_agrees_with_is_valid(values):
    expected = [value is not None and passport.is_valid(value) for value in values]
    assert passport.valid_column(pa.array(values, pa.string())).tolist() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("护照号E12345678，有效期至2030年", [("passport", "E12345678")]),
        ("护照EA1234567。", [("passport", "EA1234567")]),
        (
            "旧护照G12345678与新护照EB7654321",
            [("passport", "G12345678"), ("passport", "EB7654321")],
        ),
        ("公务护照SE1234567", [("passport", "SE1234567")]),
        ("护照号：Ｅ１２３４５６７８", [("passport", "E12345678")]),
        ("型号S1234567的产品", []),  # column-only form
        ("护照号e12345678", []),  # lower case is not taken from free text
        ("编号ABE12345678", []),
        ("E123456789", []),
        ("E12345678A", []),
    ],
)
def test_find_all_in_chinese_text(text, expected):
    assert found(text) == expected


def test_find_keeps_offsets():
    text = "护照号：Ｅ１２３４５６７８。"
    (span,) = passport.find(text)
    assert text[span.start : span.end] == "Ｅ１２３４５６７８"
