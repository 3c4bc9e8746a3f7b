"""Person names: values, masks, columns and names in free text (all names synthetic)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leaktrace.exceptions import ValidationError
from leaktrace.identifiers import _span_loops, find_all, person_name

VALID = [
    ("王芳", "王芳"),
    ("王 芳", "王芳"),
    ("　张伟　", "张伟"),
    ("陳美玲", "陈美玲"),
    ("劉建國", "刘建国"),
    ("欧阳娜娜", "欧阳娜娜"),
    ("司马一诺", "司马一诺"),
    ("诸葛建军", "诸葛建军"),
    ("上官秀英", "上官秀英"),
    ("阿依古丽·买买提", "阿依古丽·买买提"),
    ("阿依古丽•买买提", "阿依古丽·买买提"),
    ("阿依古麗・買買提", "阿依古丽·买买提"),
    ("Zhang Wei", "zhang wei"),
    ("ZHANG Wei", "zhang wei"),
    ("Wei ZHANG", "zhang wei"),
    ("Wei Zhang", "wei zhang"),
    ("ＺＨＡＮＧ　Ｗｅｉ", "zhang wei"),
    ("Ouyang Nana", "ouyang nana"),
    ("Li Xiaoming", "li xiaoming"),
]
INVALID = [
    "",
    "张",
    "张三李四五",
    "北京市",
    "的确",
    "王的",
    "13812345678",
    "Hello World",
    "Zhang",
    "zhang wei xiao ming",
    "a" * 500,
    "王芳1",
    "·买买提",
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_validate(value, expected):
    assert person_name.validate(value) == expected
    assert person_name.is_valid(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid(value):
    assert not person_name.is_valid(value)
    with pytest.raises(ValidationError):
        person_name.validate(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张伟", "张*"),
        ("王建国", "王**"),
        ("欧阳娜娜", "欧阳**"),
        ("陳美玲", "陈**"),
        ("阿依古丽·买买提", "阿***·***"),
        ("Zhang Wei", "Z*** Wei"),
        ("ZHANG Xiaoming", "Z*** Xiaoming"),
        ("", ""),
    ],
)
def test_mask(value, expected):
    assert person_name.mask(value) == expected


def test_surname_table():
    surnames = person_name.load_surnames()
    assert surnames is person_name.SURNAMES
    assert list(surnames)[:3] == ["王", "李", "张"]
    assert 90 < sum(surnames.values()) < 100  # percent of the population
    assert {"欧阳", "司马", "诸葛", "上官"} <= person_name.COMPOUND_SURNAMES
    assert all(share > 0 for share in surnames.values())
    assert person_name.GIVEN_NAME_CHARS["伟"] > 0
    # Among the hundred most common surnames; Faker's table lacks them or misprints 于.
    assert all(surnames[s] >= 0.2 for s in ("肖", "付", "闫", "于"))


# (text, [(start, end, value)]) — names in remarks, and sentences whose surname characters sit
# inside ordinary words.
FIND = [
    ("客户王芳来电咨询贷款", [(2, 4, "王芳")]),
    ("姓名:王芳 电话:139-1234-5678", [(3, 5, "王芳")]),
    ("姓名：王 芳", [(3, 6, "王芳")]),
    ("联系人 欧阳娜娜", [(4, 8, "欧阳娜娜")]),
    ("张伟先生来电,要求提额", [(0, 2, "张伟")]),
    ("陳美玲 台北", [(0, 3, "陈美玲")]),
    ("借款人:李建国,身份证号码已核实", [(4, 7, "李建国")]),
    ("刘海燕来电投诉扣费", [(0, 3, "刘海燕")]),
    ("客户董宇恩来电咨询", [(2, 5, "董宇恩")]),
    ("王磊 13912345678", [(0, 2, "王磊")]),
    ("委托孙丽代为办理销户", [(2, 4, "孙丽")]),
    ("收款人：司马一诺", [(4, 8, "司马一诺")]),
    ("客户王芳住北京市朝阳区", [(2, 4, "王芳")]),
    ("客户阿依古丽·买买提来电", [(2, 10, "阿依古丽·买买提")]),
    ("Customer Zhang Wei called", [(9, 18, "zhang wei")]),
    ("VIP客户 ZHANG Wei (13912345678)", [(6, 15, "zhang wei")]),
    ("面签时由黄萱代签", [(4, 6, "黄萱")]),
    ("房产证权利人王秀英,共有人刘洋", [(6, 9, "王秀英"), (13, 15, "刘洋")]),
    # Cue words nobody listed: a name is bounded by punctuation, function words, role nouns and
    # ordinary words of the dictionary (联系不上, 催收员, 面试者, 维修工, 车主, 医生).
    ("联系不上刘洋,电话18407224704停机", [(4, 6, "刘洋")]),
    ("催收员何永刚联系了冯辉", [(3, 6, "何永刚"), (9, 11, "冯辉")]),
    ("面试者李昕,应聘柜员", [(3, 5, "李昕")]),
    ("维修工王彤上门", [(3, 5, "王彤")]),
    ("主治医生黄德建议复查", [(4, 6, "黄德")]),
    ("王红霞家的孩子王杏沐在我校就读", [(0, 3, "王红霞"), (7, 10, "王杏沐")]),
    ("经查王琳名下无其他贷款", [(2, 4, "王琳")]),
    ("紧急联系人马洁15470125807", [(5, 7, "马洁")]),  # 人马 is a word, 联系人 a cue
    ("车主张建国驾驶证即将到期", [(2, 5, "张建国")]),  # 主张 is a word, 车主 a cue
    ("林俊和同事张丹一起来办卡", [(0, 2, "林俊"), (5, 7, "张丹")]),
    ("胡子轩同意分期", [(0, 3, "胡子轩")]),  # 胡子 opens a common given name
    ("新开户:杨家豪,310104196604145333", [(4, 7, "杨家豪")]),
    ("于骁女,身份证号310104199004051564", [(0, 2, "于骁")]),
    # A surname with a title names no one.
    ("张先生来电", []),
    ("李女士 13912345678", []),
    ("王总同意放款", []),
    ("李经理已审批", []),
    # Surname characters inside ordinary words.
    ("客户在王府井支行办理业务", []),
    ("客户很高兴,已办理黄金定投", []),
    ("本月还款金额不足,请马上补缴", []),
    ("客户从张家口调到常州工作", []),
    ("周一提交文件,方便的话请告知何时来网点", []),
    ("钱款已到账,余额无误", []),
    ("于是客户决定提前还款", []),
    ("客户于明天还款", []),
    ("本次业务由客户经理受理", []),
    ("全额还款后可申请解押", []),
    ("住在黄河路18号", []),
    ("孟夏时节客户活动策划", []),
    ("丁克家庭理财规划", []),
    ("许可证已过期", []),
    ("何时来网点办理", []),
    ("联系人:陈竹 地址:湖南邵阳大祥区碧桂园27号楼1502", [(4, 6, "陈竹")]),
    ("Hong Kong branch", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), FIND)
def test_find(text, expected):
    found = [(s.start, s.end, s.value) for s in person_name.find(text)]
    assert found == expected
    assert all(s.type == "person_name" and not s.masked for s in person_name.find(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户王*(138****5678)投诉", [(2, 4, "王*")]),
        ("与客户张**确认", [(3, 6, "张**")]),
        ("客戶歐陽**已完成回訪", [(2, 6, "欧阳**")]),
        ("李*明 177****7222", [(0, 3, "李*明")]),
        ("王*均已签字", [(0, 2, "王*")]),  # 均 is an adverb, not the given name
        ("客户王*兴(150****2637)", [(2, 5, "王*兴")]),
        ("黄金**", []),  # the surname closes a word
        ("王*3", []),
        ("138****5678", []),
    ],
)
def test_find_masked(text, expected):
    found = list(person_name.find(text))
    assert [(s.start, s.end, s.value) for s in found] == expected
    assert all(s.masked for s in found)


def test_vectorized_and_scalar_scores_agree():
    """The NumPy pass over every candidate gives the names the one-candidate scoring gives."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    try:
        import name_models
    finally:
        sys.path.pop(0)
    lines = [text for text, _, _ in name_models.build_v2(600, "dev2", seed=3) if "·" not in text]
    text = person_name.to_simplified_chars("\n".join(lines))
    found = person_name._find_han(text)
    assert len(found) > 300
    assert found == list(person_name._find_han_scalar(text))


def test_to_simplified_chars_long_and_short_agree():
    text = "陳美玲住廣東省深圳市南山區,聯繫電話13912345678。乾縣" * 40
    assert len(text) > 512  # the NumPy path
    expected = "".join(person_name.to_simplified_chars(c) for c in text)
    assert person_name.to_simplified_chars(text) == expected
    assert "乾县" in expected  # OpenCC keeps 乾 in place names; so does the table


@settings(max_examples=30, deadline=None)
@given(st.text(st.sampled_from("陳美玲廣東省王芳\u3000１３８ＡＢ，@ a\U0001f600"), min_size=520))
def test_folded_for_finding_long_and_short_agree(text):
    """Long texts are folded by one lookup: half-width, then simplified, as short ones are."""
    expected = "".join(person_name.folded_for_finding(c) for c in text)
    assert person_name.folded_for_finding(text) == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["王*", "**", "*", "138****5678", "\n", "Zhang Wei", "ZHANG Wei ", "A", " ", "b",
             "Hong Kong", "客户", "李*明", "x A B", "。"]
        ),
        max_size=120,
    )
)  # fmt: skip
@example(["王*", "**", "。", "x A B", "\n", "Zhang Wei"])  # three asterisks; runs after a letter
def test_star_and_latin_runs_long_and_short_agree(pieces):
    """Long texts find asterisk runs and capitalized-word runs with NumPy, short ones with str
    and re over the whole text: the same runs."""
    for text in ("".join(pieces), "客户" * 256 + "".join(pieces)):
        expected = [(start, end) for start, end in person_name._star_runs(text)]
        assert person_name._name_star_runs(text) == [
            (start, end) for start, end in expected if start and end - start <= 3
        ]
        assert [m.span() for m in person_name._latin_runs(text)] == [
            m.span() for m in person_name._LATIN_RUN.finditer(text)
        ]


def test_find_traditional_keeps_offsets():
    text = "聯繫人 賀志強,電話13912345678"
    [span] = person_name.find(text)
    assert (span.start, span.end, span.value) == (4, 7, "贺志强")
    assert text[span.start : span.end] == "賀志強"


def test_find_full_width_text():
    # find_all folds full-width forms without moving offsets; person_name.find does the same.
    text = "姓名：王芳　电话：１３９１２３４５６７８"
    assert [(s.start, s.end, s.value) for s in person_name.find(text)] == [(3, 5, "王芳")]


def test_find_all_gives_names_and_numbers():
    spans = find_all("姓名:王芳 电话:139-1234-5678")
    assert [(s.type, s.value) for s in spans] == [
        ("person_name", "王芳"),
        ("mobile", "13912345678"),
    ]


def test_find_does_not_cross_lines():
    # The scanner joins cells with newlines; a name never spans two cells.
    text = "客户王\n芳来电"
    assert all("\n" not in text[s.start : s.end] for s in person_name.find(text))


def test_valid_column_matches_is_valid():
    values = [v for v, _ in VALID] + INVALID + ["黄金", "王府井", "张 伟", None]
    expected = np.array([v is not None and person_name.is_valid(v) for v in values])
    result = person_name.valid_column(pa.array(values, pa.string()))
    assert result.dtype == bool
    assert result.tolist() == expected.tolist()


def test_valid_column_accepts_chunked_arrays():
    column = pa.chunked_array([["张伟", "北京"], ["欧阳娜娜"]])
    assert person_name.valid_column(column).tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张*", True),
        ("张**", True),
        ("欧阳*", True),
        ("張*", True),
        ("歐陽*", True),
        ("歐陽**", True),
        ("諸葛*亮", True),
        ("张*伟", True),
        ("张＊", True),
        ("张三", False),
        ("**", False),
        ("138****5678", False),
        ("张***伟", False),
    ],
)
def test_masked_column(value, masked):
    assert person_name.masked_column(pa.array([value])).tolist() == [masked]


@settings(max_examples=200, deadline=None)
@given(
    surname=st.sampled_from(sorted(person_name.SURNAMES)),
    given_name=st.text(
        alphabet=sorted(c for c, share in person_name.GIVEN_NAME_CHARS.items() if share > 0),
        min_size=1,
        max_size=2,
    ),
)
@example(surname="欧", given_name="阳一")  # 欧阳 is a surname: 欧阳*, not 欧**
def test_generated_names_round_trip(surname, given_name):
    name = surname + given_name
    assert person_name.validate(name) == name
    masked = person_name.mask(name)
    # The surname kept is the longest that starts the name and leaves a given name (a compound
    # surname such as 欧阳 or 司马 whole, when the given name's first character completes it).
    kept = max(
        (s for s in person_name.SURNAMES if name.startswith(s) and len(s) < len(name)), key=len
    )
    assert len(kept) >= len(surname)
    assert masked.startswith(kept) and len(masked) == len(name)
    assert set(masked[len(kept) :]) == {"*"}


def test_benchmark_figures_hold():
    """The rules keep the precision and recall measured by benchmarks/name_models.py."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    try:
        import name_models
    finally:
        sys.path.pop(0)
    corpus = name_models.build(400, "all", seed=11)
    score, _errors = name_models.evaluate(name_models.rules_finder(), corpus)
    assert score.precision >= 0.95
    assert score.recall >= 0.9
    # The second suite, on joined text as the scanner calls it (masked names included).
    corpus = name_models.build_v2(400, "dev2", seed=11)
    texts, gold = [t for t, _, _ in corpus], [names for _, names, _ in corpus]
    score, _errors = name_models.evaluate_joined(name_models._spans(person_name), texts, gold)
    assert score.precision >= 0.97
    assert score.recall >= 0.93


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 6), st.booleans()), max_size=20))
def test_first_disjoint_keeps_what_a_loop_over_the_spans_keeps(spans):
    """The compiled pass (``_span_loops.first_disjoint``) keeps the spans the Python loop it
    replaced kept: in start order, each one not refused that starts at or after the last kept
    span's end."""
    spans.sort(key=lambda span: span[0])
    starts = np.array([s for s, _, _ in spans], np.int64)
    ends = np.array([s + n for s, n, _ in spans], np.int64)
    refused = np.array([r for _, _, r in spans], bool)
    expected, last_end = [], 0
    for start, end, no in zip(starts.tolist(), ends.tolist(), refused.tolist(), strict=True):
        keep = start >= last_end and not no
        expected.append(keep)
        last_end = end if keep else last_end
    assert _span_loops.first_disjoint(starts, ends, refused).tolist() == expected
