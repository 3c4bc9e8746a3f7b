"""CN plate numbers (GA 36-2018): shapes, normalization, masking, finding in text, the column path.

Every plate here is made up; the shapes follow the standard, the serials are arbitrary.
"""

from __future__ import annotations

import csv
from importlib import resources

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import find_all, plate

# Pattern and digit types only: finders of names and addresses are tested on their own.
TYPES = ["email", "mobile", "plate"]

VALID = [
    # regular: province, authority letter, five serial characters
    ("京A12345", "京A12345"),
    ("京A·12345", "京A12345"),
    ("京A 12345", "京A12345"),
    ("京A-12345", "京A12345"),
    ("京A・12345", "京A12345"),
    ("京a12345", "京A12345"),
    ("京Ａ·１２３４５", "京A12345"),  # full-width letter and digits
    ("沪ab1234", "沪AB1234"),
    ("琼B1A2B3", "琼B1A2B3"),  # two letters in the serial, the most allowed
    ("京O12345", "京O12345"),  # O is a provincial public-security authority letter
    ("滬A12345", "沪A12345"),  # traditional province character
    # small new-energy: D (pure electric) or F first, then letter or digit, then four digits
    ("粤BD12345", "粤BD12345"),
    ("粤B·F12345", "粤BF12345"),
    ("粤BDA1234", "粤BDA1234"),
    ("粤bd12345", "粤BD12345"),
    ("沪AA12345", "沪AA12345"),  # letters extended beyond D/F once a city ran out
    ("沪AK12345", "沪AK12345"),
    # large new-energy: five digits then D or F
    ("粤B12345D", "粤B12345D"),
    ("粤B12345F", "粤B12345F"),
    ("粤B·12345f", "粤B12345F"),
    # four serial characters and a trailing character
    ("京A1234警", "京A1234警"),
    ("京O·1234警", "京O1234警"),
    ("京A1234学", "京A1234学"),
    ("京A1234學", "京A1234学"),
    ("冀A1234挂", "冀A1234挂"),
    ("沪A1234领", "沪A1234领"),
    ("京A1234使", "京A1234使"),
    ("粤Z1234港", "粤Z1234港"),
    ("粤Z·1234澳", "粤Z1234澳"),
    ("粵Z1234港", "粤Z1234港"),
    # embassy: 使, mission code, serial
    ("使014578", "使014578"),
    ("使014·578", "使014578"),
]

INVALID = [
    ("", InvalidLength),
    ("京A1234", InvalidLength),
    ("京A1234567", InvalidLength),
    ("京A12345678", InvalidLength),
    ("京I12345", InvalidFormat),  # I is never an authority letter
    ("京A1234I", InvalidFormat),  # nor in a serial
    ("京A1234O", InvalidFormat),
    ("台A12345", InvalidFormat),  # not a mainland province abbreviation
    ("A123456", InvalidFormat),
    ("京112345", InvalidFormat),
    ("京AL12345", InvalidFormat),  # small new-energy letter outside A–K
    ("京AI12345", InvalidFormat),
    ("京AD1234A", InvalidFormat),  # small new-energy ends in four digits
    ("京A1234AD", InvalidFormat),  # large new-energy: five digits first
    ("京A12345E", InvalidFormat),  # large new-energy: D or F last
    ("京A12345警", InvalidFormat),  # police plates have four serial characters
    ("京B1234港", InvalidFormat),  # cross-border plates are 粤Z only
    ("粤B1234澳", InvalidFormat),
    ("使01457", InvalidLength),
    ("京AABC12", InvalidComponent),  # three letters in the serial
    ("京ABCD12", InvalidComponent),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_valid(value, expected):
    assert plate.validate(value) == expected
    assert plate.is_valid(value)


@pytest.mark.parametrize(("value", "error"), INVALID)
def test_invalid(value, error):
    with pytest.raises(error):
        plate.validate(value)
    assert not plate.is_valid(value)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("京A12345", "京A***45"),
        ("京A·12345", "京A***45"),
        ("粤BD12345", "粤B****45"),
        ("粤Z1234港", "粤Z***4港"),
        ("使014578", "使0***78"),
        ("京A", "**"),
    ],
)
def test_mask(value, masked):
    assert plate.mask(value) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("车牌号京A·12345，车型大众", [("plate", 3, 11, "京A12345")]),
        ("车牌:京a12345号", [("plate", 3, 10, "京A12345")]),
        ("车牌：京Ａ·１２３４５", [("plate", 3, 11, "京A12345")]),  # full-width, offsets kept
        (
            "新能源粤B D12345和粤B12345F",
            [("plate", 3, 12, "粤BD12345"), ("plate", 13, 21, "粤B12345F")],
        ),
        ("港澳车粤Z1234港入境", [("plate", 3, 10, "粤Z1234港")]),
        ("使馆车使014·578", [("plate", 3, 11, "使014578")]),
        ("滬A12345", [("plate", 0, 7, "沪A12345")]),
        (
            "手机13812345678车牌粤B12345F",
            [("mobile", 2, 13, "13812345678"), ("plate", 15, 23, "粤B12345F")],
        ),
        # Not plates: too long, too many letters, I/O in the serial, wrong 港 issuer.
        ("订单京A12345678", []),
        ("云SERVER部署", []),
        ("最新abc12版本", []),
        ("京A1234O", []),
        ("京B1234港", []),
        # A plate-like run before @ belongs to an e-mail address.
        ("京A12345@qq.com", [("email", 1, 14, "a12345@qq.com")]),
    ],
)
def test_find_all(text, expected):
    spans = find_all(text, TYPES)
    assert [(s.type, s.start, s.end, s.value) for s in spans] == expected


def test_find_only_plates():
    assert [s.value for s in plate.find("手机13812345678车牌京A12345")] == ["京A12345"]


def test_column_matches_scalar():
    values = [v for v, _ in VALID] + [v for v, _ in INVALID] + [None]
    expected = [plate.is_valid(v) if v is not None else False for v in values]
    assert plate.valid_column(pa.array(values)).tolist() == expected
    chunked = pa.chunked_array([values[:7], values[7:]])
    assert plate.valid_column(chunked).tolist() == expected


def test_provinces_agree_with_reference_table():
    """The plate abbreviations match the province table in leaktrace's data, if it ships."""
    table = resources.files("leaktrace") / "data" / "provinces.tsv"
    if not table.is_file():
        pytest.skip("no province table")
    lines = [line for line in table.read_text("utf-8").splitlines() if not line.startswith("#")]
    abbreviations = {row["plate"] for row in csv.DictReader(lines, delimiter="\t")}
    assert abbreviations == set(plate.PROVINCES)


_SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@st.composite
def regular_plates(draw):
    """Province, authority letter, five serial characters with at most two letters."""
    province = draw(st.sampled_from(plate.PROVINCES))
    authority = draw(st.sampled_from("ABCDEFGHJKLMNOPQRSTUVWXYZ"))
    letters = draw(st.integers(0, 2))
    positions = draw(st.permutations(range(5)))[:letters]
    serial = [
        draw(st.sampled_from(_LETTERS)) if i in positions else draw(st.sampled_from("0123456789"))
        for i in range(5)
    ]
    return province + authority + "".join(serial)


@st.composite
def written_forms(draw, plates):
    """A plate as a broker might write it: separator, case, full width."""
    value = draw(plates)
    separator = draw(st.sampled_from(["", "·", " ", "-", "・"]))
    written = value[:2] + separator + value[2:]
    if draw(st.booleans()):
        written = written.lower()
    if draw(st.booleans()):
        written = "".join(
            chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in written
        )
    return value, written


@given(written_forms(regular_plates()))
def test_written_forms_normalize(pair):
    value, written = pair
    assert plate.validate(written) == value
    assert plate.valid_column(pa.array([written])).tolist() == [True]


@given(written_forms(regular_plates()), st.sampled_from(["车牌", "车主张三 ", "。", ""]))
def test_found_in_text(pair, before):
    value, written = pair
    spans = find_all(before + written + "，谢谢", TYPES)
    assert [(s.type, s.start, s.end, s.value) for s in spans] == [
        ("plate", len(before), len(before) + len(written), value)
    ]


@given(
    st.sampled_from(plate.PROVINCES),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"),
    st.sampled_from("DF"),
    st.sampled_from(_SERIAL),
    st.integers(0, 9999),
)
def test_new_energy_energy_letter_position(province, authority, energy, second, number):
    small = f"{province}{authority}{energy}{second}{number:04d}"
    large = f"{province}{authority}{number:04d}{second if second.isdigit() else '0'}{energy}"
    assert plate.validate(small) == small
    assert plate.validate(large) == large
    # The energy letter anywhere else makes an 8-character plate invalid.
    assert not plate.is_valid(f"{province}{authority}{number:04d}{energy}{energy}")
