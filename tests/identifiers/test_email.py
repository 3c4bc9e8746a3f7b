"""E-mail addresses: syntax, normalization, masking, finding in Chinese text, the column path."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import email, find_all

# Pattern and digit types only: finders of names and addresses are tested on their own.
TYPES = ["email", "mobile", "plate"]

VALID = [
    ("zhang.wei@example.com", "zhang.wei@example.com"),
    ("Zhang.Wei@Example.COM", "zhang.wei@example.com"),
    ("  user_01@qq.com ", "user_01@qq.com"),
    ("13812345678@163.com", "13812345678@163.com"),
    ("test.user@126.com", "test.user@126.com"),
    ("a+tag@sina.com", "a+tag@sina.com"),
    ("x%y@sohu.com", "x%y@sohu.com"),
    ("foo-bar@foxmail.com", "foo-bar@foxmail.com"),
    ("user@139.com", "user@139.com"),
    ("user@mail.sina.com.cn", "user@mail.sina.com.cn"),
    ("user@my-mail.example.org", "user@my-mail.example.org"),
    ("user@example.xn--fiqs8s", "user@example.xn--fiqs8s"),  # .中国 in punycode
    ("ｕｓｅｒ＠ｑｑ．ｃｏｍ", "user@qq.com"),  # full-width
    ("mailto:User@QQ.com", "user@qq.com"),
    ("user @ qq.com", "user@qq.com"),
    ("a" * 64 + "@qq.com", "a" * 64 + "@qq.com"),
    ("a@b.cn", "a@b.cn"),
]

INVALID = [
    ("", InvalidFormat),
    ("user", InvalidFormat),
    ("user@", InvalidFormat),
    ("@qq.com", InvalidFormat),
    ("a@b@qq.com", InvalidFormat),
    ("us..er@qq.com", InvalidFormat),
    (".user@qq.com", InvalidFormat),
    ("user.@qq.com", InvalidFormat),
    ('"quoted"@qq.com', InvalidFormat),
    ("用户@qq.com", InvalidFormat),
    ("user@例子.com", InvalidFormat),
    ("a" * 65 + "@qq.com", InvalidLength),
    ("a@" + ".".join([c * 60 for c in "bcdef"]) + ".com", InvalidLength),
    ("user@qq", InvalidComponent),
    ("user@localhost", InvalidComponent),
    ("user@qq..com", InvalidComponent),
    ("user@-qq.com", InvalidComponent),
    ("user@qq-.com", InvalidComponent),
    ("user@qq.c", InvalidComponent),
    ("user@qq.123", InvalidComponent),
    ("user@[192.0.2.1]", InvalidComponent),
    ("user@" + "b" * 64 + ".com", InvalidComponent),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_valid(value, expected):
    assert email.validate(value) == expected
    assert email.is_valid(value)


@pytest.mark.parametrize(("value", "error"), INVALID)
def test_invalid(value, error):
    with pytest.raises(error):
        email.validate(value)
    assert not email.is_valid(value)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("mei_lin0006@qq.com", "m***6@qq.com"),
        ("13812345678@163.com", "1***8@163.com"),
        ("AB@qq.com", "a***@qq.com"),
        ("a@qq.com", "a***@qq.com"),
        ("abc@qq.com", "a***c@qq.com"),
        ("no-at-sign", "**********"),
    ],
)
def test_mask(value, masked):
    assert email.mask(value) == masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese right before the address stays outside it (Presidio's \w glues it on).
        ("发送至mei_lin0006@qq.com", [("email", 3, 21, "mei_lin0006@qq.com")]),
        ("联系zhang.wei@example.com。谢谢", [("email", 2, 23, "zhang.wei@example.com")]),
        # A sentence's full stop ends the address; a dot followed by a label continues it.
        ("邮箱user@qq.com.谢谢", [("email", 2, 13, "user@qq.com")]),
        ("邮箱user@mail.qq.com.cn,", [("email", 2, 21, "user@mail.qq.com.cn")]),
        # A mailbox named after a mobile number is one address, not a mobile number.
        ("13812345678@163.com", [("email", 0, 19, "13812345678@163.com")]),
        (
            "手机13812345678，邮箱13812345678@163.com",
            [("mobile", 2, 13, "13812345678"), ("email", 16, 35, "13812345678@163.com")],
        ),
        # Full-width forms fold without moving offsets.
        ("邮箱：ＵＳＥＲ＠ＱＱ．ＣＯＭ", [("email", 3, 14, "user@qq.com")]),
        (
            "请发到a1@qq.com或b2@126.com",
            [("email", 3, 12, "a1@qq.com"), ("email", 13, 23, "b2@126.com")],
        ),
        ("email:USER@QQ.COM", [("email", 6, 17, "user@qq.com")]),
        ("user@qq中文", []),
        ("地址a@b.c不全", []),
        ("user@@qq.com", []),
        ("无邮箱", []),
    ],
)
def test_find_all(text, expected):
    spans = find_all(text, TYPES)
    assert [(s.type, s.start, s.end, s.value) for s in spans] == expected
    for span in spans:
        if span.type == "email":
            assert email.validate(text[span.start : span.end]) == span.value


def test_find_only_emails():
    text = "手机13812345678 邮箱a1@qq.com"
    assert [s.value for s in email.find(text)] == ["a1@qq.com"]


def test_column_matches_scalar():
    values = [v for v, _ in VALID] + [v for v, _ in INVALID] + [None]
    expected = [email.is_valid(v) if v is not None else False for v in values]
    assert email.valid_column(pa.array(values)).tolist() == expected
    chunked = pa.chunked_array([values[:5], values[5:]])
    assert email.valid_column(chunked).tolist() == expected


_ATOM = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_%+-", min_size=1, max_size=12
)
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_TLD = st.sampled_from(["com", "cn", "net", "org", "xn--fiqs8s"])
_ADDRESSES = st.builds(
    lambda atoms, labels, tld: ".".join(atoms) + "@" + ".".join([*labels, tld]),
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(_LABEL, min_size=1, max_size=3),
    _TLD,
)
_CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=4)


@given(_ADDRESSES, _CJK, _CJK)
def test_found_between_chinese_text(address, before, after):
    text = before + address + after
    spans = find_all(text, TYPES)
    assert [(s.type, s.start, s.end, s.value) for s in spans] == [
        ("email", len(before), len(before) + len(address), address.lower())
    ]


@given(_ADDRESSES)
def test_validate_is_idempotent_and_lower_case(address):
    normalized = email.validate(address)
    assert normalized == address.lower()
    assert email.validate(normalized) == normalized
