"""CN fixed-line numbers: libphonenumber's example and verdicts, formats, column path, free text."""

from __future__ import annotations

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import find_all, fixed_line

# Identifier types with a fixed shape; name and address finders are left out, so these tables do
# not depend on how well those guess.
SHAPED_TYPES = ("email", "resident_id", "mobile", "bank_card", "fixed_line", "uscc", "passport")


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_all(text, SHAPED_TYPES)]


def test_libphonenumber_example_number():
    example = phonenumbers.example_number_for_type("CN", PhoneNumberType.FIXED_LINE)
    national = str(example.national_number)
    assert fixed_line.validate("0" + national) == "0" + national
    assert fixed_line.validate(f"+{example.country_code} {national}") == "0" + national
    formatted = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert fixed_line.validate(formatted) == "0" + national  # "010 1234 5678"
    international = phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    assert fixed_line.validate(international) == "0" + national  # "+86 10 1234 5678"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("010-12345678", "01012345678"),
        ("01012345678", "01012345678"),
        ("(010)12345678", "01012345678"),
        ("(0755)8888 1234", "075588881234"),
        ("（０７５５）８８８８－１２３４", "075588881234"),
        ("+86 10 12345678", "01012345678"),
        ("+86-755-88881234", "075588881234"),
        ("0086-21-62345678", "02162345678"),
        ("+86 (0)10 1234 5678", "01012345678"),
        ("020-8888 1234", "02088881234"),
        ("0898-66123456", "089866123456"),  # 海口
        ("0311-87654321", "031187654321"),  # 石家庄
        ("0571.8888.1234", "057188881234"),
    ],
)
def test_valid(value, expected):
    assert fixed_line.validate(value) == expected
    assert fixed_line.is_valid(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("12345678", InvalidFormat),  # no area code
        ("88881234", InvalidFormat),
        ("400-123-4567", InvalidFormat),  # shared-cost service
        ("4008123123", InvalidFormat),
        ("800-820-8820", InvalidFormat),  # toll-free
        ("0400-123-4567", InvalidComponent),
        ("0800-820-8820", InvalidComponent),
        ("0755-95555", InvalidLength),  # short local service number
        ("010-95555888", InvalidComponent),  # 95… hotline
        ("021-96123456", InvalidComponent),  # 96… local hotline
        ("0755-9555123", InvalidComponent),
        ("013812345678", InvalidLength),  # a mobile with a trunk 0
        ("+86 138 1234 5678", InvalidLength),  # a mobile
        ("0311-8765432", InvalidComponent),  # 石家庄 numbers have eight digits
        ("010-1234567", InvalidComponent),  # 北京 numbers have eight digits
        ("010-123456789", InvalidLength),
        ("0755-123456789", InvalidLength),
        ("010-1234567x", InvalidFormat),
        ("86 10 12345678", InvalidFormat),  # a bare 86 is not taken for the country code
        ("", InvalidFormat),
    ],
)
def test_invalid(value, error):
    with pytest.raises(error):
        fixed_line.validate(value)
    assert not fixed_line.is_valid(value)


national_numbers = st.one_of(
    st.from_regex(r"(?:10|2[0-9])[0-9]{7,8}", fullmatch=True),
    st.from_regex(r"[3-9][0-9]{2}[0-9]{7,8}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(national_numbers)
def test_agrees_with_libphonenumber(national):
    """Ours is libphonenumber's CN fixed-line verdict, less the 95/96 hotlines."""
    parsed = phonenumbers.parse("0" + national, "CN")
    theirs = (
        phonenumbers.is_valid_number(parsed)
        and phonenumbers.number_type(parsed) == PhoneNumberType.FIXED_LINE
        and str(parsed.national_number) == national
    )
    area = 2 if national[0] in "12" else 3
    hotline = national[area : area + 2] in {"95", "96"}
    assert fixed_line.is_valid("0" + national) == (theirs and not hotline)


def test_area_code():
    assert fixed_line.area_code("+86 10 12345678") == "010"
    assert fixed_line.area_code("(0755)8888 1234") == "0755"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("010-12345678", "010-****5678"),
        ("(0755)8888 1234", "0755-****1234"),
        ("0311-87654321", "0311-****4321"),
        ("4008123123", "******3123"),
        ("1234", "****"),
    ],
)
def test_mask(value, expected):
    assert fixed_line.mask(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("010-****5678", True),
        ("0755****1234", True),
        ("0755-***1234", True),
        ("010-12345678", False),
        ("138****5678", False),
        ("400-****5678", False),
        (None, False),
    ],
)
def test_masked_column(value, expected):
    assert fixed_line.masked_column(pa.array([value], pa.string())).tolist() == [expected]


# ---- column path --------------------------------------------------------------------------

TABLE = [
    "010-12345678",
    "(0755)8888 1234",
    "+86 (0)10 1234 5678",
    "0086-21-62345678",
    "（０７５５）８８８８－１２３４",
    "400-123-4567",
    "0755-95555",
    "010-95555888",
    "13812345678",
    "+86 138 1234 5678",
    "12345678",
    "电话010-12345678",
    "",
    None,
]


def test_valid_column_matches_scalar_on_table():
    expected = [value is not None and fixed_line.is_valid(value) for value in TABLE]
    assert sum(expected) == 5
    assert fixed_line.valid_column(pa.array(TABLE, pa.string())).tolist() == expected


def _format(national: str, how: int) -> str:
    area = 2 if national[0] in "12" else 3
    head, tail = national[:area], national[area:]
    forms = [
        f"0{national}",
        f"0{head}-{tail}",
        f"(0{head}){tail[:4]} {tail[4:]}",
        f"+86 {head} {tail}",
        f"0086-{head}-{tail}",
        f"+86 (0){head} {tail}",
        f"{head}{tail}",
        f"0{national}0",
    ]
    return forms[how]


candidates = st.one_of(
    st.builds(_format, national_numbers, st.integers(0, 7)),
    st.text(alphabet="0123456789 -()+８", max_size=18),
    st.none(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, max_size=40))
def test_valid_column_agrees_with_is_valid(values):
    expected = [value is not None and fixed_line.is_valid(value) for value in values]
    assert fixed_line.valid_column(pa.array(values, pa.string())).tolist() == expected


# ---- free text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "办公电话：010-12345678，手机13812345678",
            [("fixed_line", "01012345678"), ("mobile", "13812345678")],
        ),
        ("家庭电话0755-8888 1234。", [("fixed_line", "075588881234")]),
        (
            "联系+86 10 12345678或0086-21-62345678",
            [("fixed_line", "01012345678"), ("fixed_line", "02162345678")],
        ),
        ("座机０２０－８８８８１２３４", [("fixed_line", "02088881234")]),
        ("座机已脱敏 010-****5678", [("fixed_line", "010-****5678")]),
        ("客服热线400-820-8820，招行95555", []),
        ("日期2023-10-01，订单0123456789", []),
    ],
)
def test_find_all_in_chinese_text(text, expected):
    assert found(text) == expected


def test_find_parenthesized_area_code():
    assert [s.value for s in fixed_line.find("电话（0755）8888 1234")] == ["075588881234"]
