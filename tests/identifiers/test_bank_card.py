"""Bank card numbers: public test cards, synthetic cards, column path, free text, cross-type."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from leaktrace import checksums
from leaktrace.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import bank_card, find_all, resident_id

# Identifier types with a fixed shape; name and address finders are left out, so these tables do
# not depend on how well those guess.
SHAPED_TYPES = ("email", "resident_id", "mobile", "bank_card", "fixed_line", "uscc", "passport")


def found(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_all(text, SHAPED_TYPES)]


def make_card(payload: str) -> str:
    """A synthetic card; the check digit comes from python-stdnum, not from our code."""
    return payload + luhn.calc_check_digit(payload)


# Test card numbers published by payment processors for their sandboxes (no real accounts).
PUBLIC_TEST_CARDS = [
    ("4111111111111111", True),  # Visa
    ("4012888888881881", True),  # Visa
    ("5555555555554444", True),  # Mastercard
    ("5105105105105100", True),  # Mastercard
    ("3530111333300000", True),  # JCB
    ("3566002020360505", True),  # JCB
    ("378282246310005", True),  # American Express
    ("371449635398431", True),  # American Express
    ("6200000000000005", True),  # UnionPay
    ("6205500000000000004", True),  # UnionPay, 19 digits
    ("6250941006528599", True),  # UnionPay
    ("6011111111111117", False),  # Discover: not issued in CN
    ("6011000990139424", False),  # Discover
    ("30569309025904", False),  # Diners Club, 14 digits
    ("2223003122003222", False),  # Mastercard 2-series: left out on purpose
    ("4222222222222", False),  # Visa, 13 digits
]


@pytest.mark.parametrize(("value", "expected"), PUBLIC_TEST_CARDS)
def test_public_test_cards(value, expected):
    assert luhn.is_valid(value)
    assert bank_card.is_valid(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222 0212 3456 7890 128", "6222021234567890128"),
        ("6222-0212-3456-7890-128", "6222021234567890128"),
        ("６２２２０２１２３４５６７８９０１２８", "6222021234567890128"),
        (" 6222021234567890128\t", "6222021234567890128"),
        (make_card("622848001234567"), make_card("622848001234567")),  # 16 digits
        (make_card("6228480012345678"), make_card("6228480012345678")),  # 17
        (make_card("62284800123456789"), make_card("62284800123456789")),  # 18
        (make_card("438088001234567"), make_card("438088001234567")),  # Visa
        (make_card("552599001234567"), make_card("552599001234567")),  # Mastercard
        (make_card("356833001234567"), make_card("356833001234567")),  # JCB
        (make_card("37703301234567"), make_card("37703301234567")),  # Amex, 15 digits
    ],
)
def test_valid(value, expected):
    assert bank_card.validate(value) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("6222021234567890127", InvalidChecksum),
        ("62284800123456", InvalidLength),  # 14 digits
        (make_card("62284800123456"), InvalidComponent),  # 15-digit UnionPay
        (make_card("6228480012345678901"), InvalidLength),  # 20 digits
        (make_card("43808800123456789"), InvalidComponent),  # Visa, 18 digits
        (make_card("502599001234567"), InvalidComponent),  # 50: not Mastercard
        (make_card("560599001234567"), InvalidComponent),  # 56: not Mastercard
        (make_card("352733001234567"), InvalidComponent),  # 3527: below JCB
        (make_card("359033001234567"), InvalidComponent),  # 3590: above JCB
        (make_card("377033012345678"), InvalidComponent),  # Amex, 16 digits
        (make_card("955880012345678901"), InvalidComponent),  # old domestic 9558…
        (make_card("222300312200322"), InvalidComponent),
        ("6222 0212 3456 7890 12x", InvalidFormat),
        ("6222.0212.3456.7890.128", InvalidFormat),
        ("卡号6222021234567890128", InvalidFormat),
        ("", InvalidFormat),
    ],
)
def test_invalid(value, error):
    with pytest.raises(error):
        bank_card.validate(value)
    assert not bank_card.is_valid(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222021234567890128", "6222 **** **** 0128"),
        ("6222 0212 3456 7890 128", "6222 **** **** 0128"),
        ("4111111111111111", "4111 **** **** 1111"),
        ("12345", "*****"),
    ],
)
def test_mask(value, expected):
    assert bank_card.mask(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222 **** **** 0128", True),
        ("6222********0128", True),
        ("622202*********0128", True),
        ("6222****0128", True),
        ("6222-****-****-0128", True),
        ("６２２２＊＊＊＊０１２８", True),
        ("6222021234567890128", False),
        ("6222**0128", False),
        ("138****5678", False),
        ("**** **** **** 0128", False),
        (None, False),
    ],
)
def test_masked_column(value, expected):
    assert bank_card.masked_column(pa.array([value], pa.string())).tolist() == [expected]


# ---- column path --------------------------------------------------------------------------

TABLE = [
    *[value for value, _ in PUBLIC_TEST_CARDS],
    "6222 0212 3456 7890 128",
    "６２２２０２１２３４５６７８９０１２８",
    "6222021234567890127",
    "卡号6222021234567890128",
    "11010519491231002X",
    "13812345678",
    "",
    None,
]


@pytest.mark.parametrize("compiled", [False, True])
def test_valid_column_matches_scalar_on_table(compiled, checksum_path):
    checksum_path(compiled)
    expected = [value is not None and bank_card.is_valid(value) for value in TABLE]
    assert sum(expected) == 13
    assert bank_card.valid_column(pa.array(TABLE, pa.string())).tolist() == expected
    chunked = pa.chunked_array([TABLE[:5], TABLE[5:]], pa.large_string())
    assert bank_card.valid_column(chunked).tolist() == expected


def test_valid_column_on_integers():
    column = pa.array([6222021234567890128, 6222021234567890127, None], pa.uint64())
    assert bank_card.valid_column(column).tolist() == [True, False, False]


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _variant(number: str, how: int) -> str:
    if how == 1:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    if how == 2:
        return number.translate(_FULL_WIDTH)
    if how == 3:
        return number[:-1] + str((int(number[-1]) + 1) % 10)
    return number


cards = st.builds(
    _variant,
    st.builds(
        make_card,
        st.tuples(
            st.sampled_from(["62", "4", "51", "55", "50", "3528", "3589", "3590", "34", "37", "9"]),
            st.text(alphabet="0123456789", min_size=11, max_size=18),
        ).map("".join),
    ),
    st.integers(0, 3),
)
candidates = st.one_of(cards, st.text(alphabet="0123456789 -６x卡", max_size=22), st.none())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(candidates, max_size=40), st.booleans())
def test_valid_column_agrees_with_is_valid(checksum_path, values, compiled):
    """Both ways of checking a column (compiled Luhn, NumPy matrix) agree with ``is_valid``."""
    checksum_path(compiled)
    expected = [value is not None and bank_card.is_valid(value) for value in values]
    assert bank_card.valid_column(pa.array(values, pa.string())).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=19), min_size=1))
def test_luhn_matrix_agrees_with_stdnum(numbers):
    """checksums.luhn_valid_matrix (column path) against python-stdnum's luhn (scalar path)."""
    padded = np.array([n.zfill(19).encode() for n in numbers], dtype="S19")
    matrix = checksums.digit_matrix(padded, 19)
    lengths = np.array([len(n) for n in numbers])
    assert checksums.luhn_valid_matrix(matrix, lengths).tolist() == [
        luhn.is_valid(n) for n in numbers
    ]


# ---- free text and other types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "身份证号:11010519491231002X,卡号6222 0212 3456 7890 128",
            [("resident_id", "11010519491231002X"), ("bank_card", "6222021234567890128")],
        ),
        (
            "收款卡号６２２２０２１２３４５６７８９０１２８，请核对",
            [("bank_card", "6222021234567890128")],
        ),
        ("尾号为6222-0212-3456-7890-128的卡", [("bank_card", "6222021234567890128")]),
        ("卡4111 1111 1111 1111额度5万", [("bank_card", "4111111111111111")]),
        (
            "6200000000000005 13812345678",
            [("bank_card", "6200000000000005"), ("mobile", "13812345678")],
        ),
        ("掩码6222 **** **** 0128已发", [("bank_card", "6222 **** **** 0128")]),
        ("订单号6011111111111117", []),  # passes Luhn, but not a card issued in CN
        ("卡号6222021234567890127", []),  # fails Luhn
    ],
)
def test_find_all_in_chinese_text(text, expected):
    assert found(text) == expected


def test_find_keeps_offsets():
    text = "卡号6222 0212 3456 7890 128。"
    (span,) = bank_card.find(text)
    assert text[span.start : span.end] == "6222 0212 3456 7890 128"
    assert not span.masked


def _luhn_passing_gansu_id() -> str:
    """A synthetic resident ID from 甘肃 (62…) that also passes Luhn, like a UnionPay card."""
    for sequence in range(1000):
        body = f"62010219900101{sequence:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number.isdigit() and luhn.is_valid(number):
            return number
    raise AssertionError("no such number")  # pragma: no cover


def test_resident_id_wins_over_card():
    number = _luhn_passing_gansu_id()
    assert resident_id.is_valid(number)
    assert bank_card.is_valid(number)  # on its own, it is a plausible 18-digit UnionPay card
    assert resident_id.PRIORITY < bank_card.PRIORITY
    assert found(f"证件号{number}，") == [("resident_id", number)]
    assert list(bank_card.find(f"证件号{number}，")) == []


def test_compiled_luhn_refuses_empty_and_non_digit_values():
    """The compiled Luhn check (``_checksum_loops.luhn_valid``) holds only digits valid: the
    empty string's sum is 0, a multiple of ten, but it is no card."""
    data = np.frombuffer(b"0000" + b"6222021234567890128" + b"62x2", np.uint8)
    offsets = np.array([0, 0, 4, 23, 27])
    rows = np.arange(4)
    loops = checksums.compiled()
    assert loops.luhn_valid(offsets, data, rows, checksums._LUHN_DOUBLED).tolist() == [
        False, True, True, False
    ]  # fmt: skip
