"""Resident identity numbers: python-stdnum's vectors, synthetic numbers, column path, free text."""

from __future__ import annotations

import datetime
import random
import re
import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from leaktrace.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from leaktrace.identifiers import bank_card, find_all, resident_id

# Identifier types with a fixed shape; name and address finders are left out, so these tables do
# not depend on how well those guess.
SHAPED_TYPES = ("email", "resident_id", "mobile", "bank_card", "fixed_line", "uscc", "passport")


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_all(text, SHAPED_TYPES)]


def make_id(region: str, born: str, sequence: str = "001") -> str:
    """A synthetic number; the check character comes from python-stdnum, not from our code."""
    body = region + born + sequence
    return body + ric.calc_check_digit(body + "0")


TODAY = datetime.date.today()
FUTURE = make_id("110105", (TODAY + datetime.timedelta(days=400)).strftime("%Y%m%d"))
TOMORROW = make_id("110105", (TODAY + datetime.timedelta(days=1)).strftime("%Y%m%d"))
ENDS_IN_DIGIT = make_id("440113", "19850704", "123")
assert ENDS_IN_DIGIT[-1].isdigit()


# python-stdnum tests/test_cn_ric.doctest and stdnum/cn/ric.py, with what stdnum itself says.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("360426199101010071", "360426199101010071"),
        ("44011320141005001x", "44011320141005001X"),
        ("412723199010050012", "412723199010050012"),
        ("110102199101010078", "110102199101010078"),
        ("120110198012010073", "120110198012010073"),  # 东郊区, before 1991
        ("120110199212010072", "120110199212010072"),  # 东丽区, after 1991
    ],
)
def test_stdnum_valid_vectors(value, expected):
    assert resident_id.validate(value) == expected
    assert ric.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "110111198012010078",  # 房山区 code from 1986 on, person born 1980
        "110201199312010077",  # county code retired before 1993
    ],
)
def test_region_is_a_soft_check_unlike_stdnum(value):
    """Real registers hold numbers whose region code did not exist in the birth year."""
    assert not ric.is_valid(value)
    assert resident_id.is_valid(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("990426199112010074", InvalidComponent),  # stdnum: unknown birth place
        ("T60426199101010078", InvalidFormat),  # stdnum: invalid format
        ("360426199113010079", InvalidComponent),  # stdnum: month 13
        ("36042619910102009X", InvalidChecksum),  # stdnum: invalid checksum
    ],
)
def test_stdnum_invalid_vectors(value, error):
    with pytest.raises(error):
        resident_id.validate(value)


def test_gb11643_example():
    # The example in GB 11643-1999 itself.
    assert resident_id.validate("11010519491231002X") == "11010519491231002X"
    assert resident_id.birth_date("11010519491231002X") == datetime.date(1949, 12, 31)
    assert resident_id.gender("11010519491231002X") == "F"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
        ("110105-19491231-002X", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("110105491231002", "11010519491231002X"),  # first-generation, 15 digits
        (make_id("310101", "20000229"), make_id("310101", "20000229")),  # leap day
        (make_id("110105", "18900101"), make_id("110105", "18900101")),  # earliest
        (make_id("110105", TODAY.strftime("%Y%m%d")), make_id("110105", TODAY.strftime("%Y%m%d"))),
        (make_id("110103", "19800101"), make_id("110103", "19800101")),  # 崇文区, merged 2010
        (make_id("810000", "19900101"), make_id("810000", "19900101")),  # HK residence permit
        (make_id("830000", "19900101"), make_id("830000", "19900101")),  # TW residence permit
    ],
)
def test_valid(value, expected):
    assert resident_id.validate(value) == expected
    assert resident_id.is_valid(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (make_id("110105", "19900230"), InvalidComponent),  # 30 February
        (make_id("110105", "19000229"), InvalidComponent),  # 1900 is not a leap year
        (make_id("110105", "19901301"), InvalidComponent),
        (make_id("110105", "19900100"), InvalidComponent),
        (make_id("110105", "18891231"), InvalidComponent),  # before 1890
        (FUTURE, InvalidComponent),
        (TOMORROW, InvalidComponent),
        (make_id("990105", "19900101"), InvalidComponent),  # no province 99
        (make_id("100105", "19900101"), InvalidComponent),  # no province 10
        (make_id("840000", "19900101"), InvalidComponent),  # no province 84
        (make_id("119999", "19900101"), InvalidComponent),  # province 11, unknown region
        (make_id("110199", "19900101"), InvalidComponent),
        ("110105900230002", InvalidComponent),  # 15 digits, impossible date
        ("990105491231002", InvalidComponent),  # 15 digits, unknown region
        ("11010519491231002Y", InvalidFormat),
        ("X1010519491231002X", InvalidFormat),
        ("1101051949123100X2", InvalidFormat),
        ("01010519491231002X", InvalidFormat),
        ("11010519491231002", InvalidLength),
        ("11010519491231002X1", InvalidLength),
        ("110105194912310020", InvalidChecksum),
        ("11010519491231003X", InvalidChecksum),
        ("11010519491231002X\u3002", InvalidLength),
        ("", InvalidLength),
    ],
)
def test_invalid(value, error):
    with pytest.raises(error):
        resident_id.validate(value)
    assert not resident_id.is_valid(value)


def test_errors_do_not_carry_the_number():
    with pytest.raises(ValidationError) as caught:
        resident_id.validate("110105194912310020")
    assert "110105" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "F"),
        (make_id("110105", "19900101", "011"), "M"),
        (make_id("110105", "19900101", "010"), "F"),
    ],
)
def test_gender(value, expected):
    assert resident_id.gender(value) == expected


def test_birth_date_of_first_generation_number():
    assert resident_id.birth_date("110105491231002") == datetime.date(1949, 12, 31)
    with pytest.raises(ValidationError):
        resident_id.birth_date("110105194912310020")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "110105********002X"),
        ("11010519491231002x", "110105********002X"),
        ("110105491231002", "110105******002"),
        ("1234", "****"),
    ],
)
def test_mask(value, expected):
    assert resident_id.mask(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110105********002X", True),
        ("1101**********123X", True),
        ("110105********1234", True),
        ("110***********123x", True),
        ("1****************X", True),
        ("１１０１０５＊＊＊＊＊＊＊＊００２Ｘ", True),
        ("11010519491231002X", False),
        ("110105*******002X", False),  # 17 characters
        ("010105********002X", False),
        ("138****5678", False),
        ("11010519****1231002X", False),
        (None, False),
    ],
)
def test_masked_column(value, expected):
    assert resident_id.masked_column(pa.array([value], pa.string())).tolist() == [expected]
    assert resident_id.masked_column(pa.array([resident_id.mask("11010519491231002X")]))[0]


def test_regions_come_from_stdnum():
    codes = resident_id.regions()
    assert len(codes) > 3000
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert {"110105", "440113", "360426", "120110", "810000", "820000", "830000"} <= codes
    assert resident_id.provinces() >= {"11", "31", "44", "65", "81", "82", "83"}
    assert not resident_id.provinces() & {"00", "10", "20", "99"}


# ---- column path --------------------------------------------------------------------------

TABLE = [
    "11010519491231002X",
    "11010519491231002x",
    "110105 1949 1231 002X",
    "１１０１０５１９４９１２３１００２ｘ",
    "110105491231002",
    "110105491231003",
    "360426199101010071",
    "110111198012010078",
    "990426199112010074",
    "360426199113010079",
    "36042619910102009X",
    "T60426199101010078",
    make_id("110105", "19900230"),
    make_id("110105", "19000229"),  # 1900 was no leap year
    make_id("110105", "20000229"),  # 2000 was one
    make_id("110105", "19960229"),
    make_id("110105", "19970229"),
    make_id("110105", "18891231"),
    make_id("110105", "18900101"),
    FUTURE,
    TOMORROW,
    make_id("119999", "19900101"),
    "13812345678",
    "6222021234567890128",
    "身份证11010519491231002X",
    "11010519491231002X\t",
    "\u300011010519491231002X",
    "",
    None,
]


@pytest.mark.parametrize("compiled", [False, True])
def test_valid_column_matches_scalar_on_table(compiled, checksum_path):
    checksum_path(compiled)
    expected = [value is not None and resident_id.is_valid(value) for value in TABLE]
    assert sum(expected) == 13  # the table is not all rejects
    assert resident_id.valid_column(pa.array(TABLE, pa.string())).tolist() == expected
    chunked = pa.chunked_array([TABLE[:7], TABLE[7:]], pa.large_string())
    assert resident_id.valid_column(chunked).tolist() == expected
    sliced = pa.array(["x", *TABLE], pa.string()).slice(1)
    assert resident_id.valid_column(sliced).tolist() == expected


def test_valid_column_on_integers():
    column = pa.array([110105194912310021, 360426199101010071, None], pa.int64())
    assert resident_id.valid_column(column).tolist() == [False, True, False]


REGION_SAMPLE = [*sorted(resident_id.regions())[::97], "990426", "119999", "000000", "830000"]
_FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def _variant(number: str, how: int) -> str:
    if how == 0:
        return number
    if how == 1:
        return number.lower()
    if how == 2:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if how == 3:
        return number.translate(_FULL_WIDTH)
    if how == 4 and number[6:8] == "19":
        return number[:6] + number[8:17]  # the first-generation form
    if how == 5:
        return number[:-1] + ("0" if number[-1] != "0" else "1")  # wrong check character
    if how == 6:
        return number[:17]
    return "-" + number


candidates = st.one_of(
    st.builds(
        _variant,
        st.builds(
            make_id,
            st.sampled_from(REGION_SAMPLE),
            st.dates(datetime.date(1880, 1, 1), datetime.date(2200, 1, 1)).map(
                lambda d: d.strftime("%Y%m%d")
            ),
            st.integers(0, 999).map("{:03d}".format),
        ),
        st.integers(0, 7),
    ),
    st.text(alphabet="0123456789Xx -１ｘ身", max_size=20),
    st.none(),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(candidates, max_size=40), st.booleans())
def test_valid_column_agrees_with_is_valid(checksum_path, values, compiled):
    """Both ways of checking a column (compiled loop, NumPy matrices) agree with ``is_valid``."""
    checksum_path(compiled)
    expected = [value is not None and resident_id.is_valid(value) for value in values]
    assert resident_id.valid_column(pa.array(values, pa.string())).tolist() == expected


# ---- free text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "身份证号:11010519491231002X,卡号6222 0212 3456 7890 128",
            [("resident_id", "11010519491231002X"), ("bank_card", "6222021234567890128")],
        ),
        ("客户身份证11010519491231002x已核验", [("resident_id", "11010519491231002X")]),
        ("证件：１１０１０５１９４９１２３１００２Ｘ。", [("resident_id", "11010519491231002X")]),
        ("老证号110105491231002，", [("resident_id", "11010519491231002X")]),
        (
            f"身份证 {ENDS_IN_DIGIT} 13812345678",
            [("resident_id", ENDS_IN_DIGIT), ("mobile", "13812345678")],
        ),
        (
            "11010519491231002X 13812345678",
            [("resident_id", "11010519491231002X"), ("mobile", "13812345678")],
        ),
        ("旧记录 110105********002X 已脱敏", [("resident_id", "110105********002X")]),
        # A key glued to the number (sfz, Tel, 编号A) does not hide it.
        ("编号A11010519491231002X", [("resident_id", "11010519491231002X")]),
        ("110105194912310020", []),  # wrong check character
        (f"出生于未来 {FUTURE}", []),
    ],
)
def test_find_all_in_chinese_text(text, expected):
    assert found(text) == expected


def test_find_keeps_offsets_of_full_width_text():
    text = "证件：１１０１０５１９４９１２３１００２ｘ。"
    (span,) = resident_id.find(text)
    assert (span.start, span.end) == (3, 21)
    assert text[span.start : span.end] == "１１０１０５１９４９１２３１００２ｘ"


def test_find_marks_masked_values():
    (span,) = resident_id.find("身份证1101**********123X")
    assert span.masked and span.value == "1101**********123X"


def test_luhn_passing_ids_stay_ids():
    """About one valid ID in ten passes the Luhn check; the ID type has the higher priority."""
    rng = random.Random(11643)
    regions = sorted(resident_id.regions())
    numbers = []
    for _ in range(3000):
        born = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(25_000))
        numbers.append(
            make_id(rng.choice(regions), born.strftime("%Y%m%d"), f"{rng.randrange(1000):03d}")
        )
    luhn_passing = [n for n in numbers if n.isdigit() and luhn.is_valid(n)]
    assert 0.07 < len(luhn_passing) / len(numbers) < 0.13
    assert any(bank_card.is_valid(n) for n in luhn_passing)  # 甘肃 (62…) ones look like cards
    text = "；".join(luhn_passing)
    assert found(text) == [("resident_id", n) for n in luhn_passing]


FORMS = st.one_of(
    st.text("0123456789", min_size=14, max_size=19),
    st.builds(
        str.__add__, st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0X x")
    ),
    st.builds(str.__add__, st.text("0123456789", min_size=14, max_size=14), st.sampled_from("1X")),
    st.text("0123456789Xx １", max_size=19),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FORMS, max_size=20))
def test_compiled_form_is_the_pattern(values):
    """The compiled pass tells the compact form as ``_FORM_ANY`` does (nulls are not in it)."""
    form, _ = resident_id._compiled_forms(pa.array(values, pa.string()))
    pattern = re.compile(resident_id._FORM_ANY)
    assert form.tolist() == [v is not None and pattern.fullmatch(v) is not None for v in values]


def test_small_columns_are_checked_without_numba():
    """Checking a few IDs and cards does not import numba (~0.5 s): the compiled checks are for
    large columns."""
    code = (
        "import sys, pyarrow as pa\n"
        "from leaktrace.identifiers import bank_card, resident_id\n"
        "assert resident_id.valid_column(pa.array(['11010519491231002X'])).tolist() == [True]\n"
        "assert bank_card.valid_column(pa.array(['6222021234567890128'])).tolist() == [True]\n"
        "print('numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
