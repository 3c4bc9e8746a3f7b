"""Sensitive attributes: classification, header matching, value checks, column classification."""

from __future__ import annotations

import datetime
import re

import pyarrow as pa
import pytest

from leaktrace import attributes
from leaktrace.attributes import ATTRIBUTES, classify_column, header_hint, match_header, value_share
from leaktrace.law import LegalCategory

# (name, JR/T 0171-2020 class, GB/T 35273-2020 sensitive, legal category): the classification
# the legal tally and the scan report rely on.
CLASSIFICATION = [
    ("loan_balance", "C2", True, LegalCategory.CREDIT),
    ("credit_limit", "C2", True, LegalCategory.CREDIT),
    ("credit_record", "C2", True, LegalCategory.CREDIT),
    ("income", "C2", True, LegalCategory.PROPERTY),
    ("property", "C2", True, LegalCategory.PROPERTY),
    ("vehicle", "C2", True, LegalCategory.PROPERTY),
    ("insurance", "C2", True, LegalCategory.PROPERTY),
    ("social_security", "C2", True, LegalCategory.OTHER),
    ("hukou", "C2", False, LegalCategory.OTHER),
    ("birth_date", "C2", False, LegalCategory.OTHER),
    ("age", "C1", False, LegalCategory.OTHER),
    ("gender", "C1", False, LegalCategory.OTHER),
    ("transaction", "C2", True, LegalCategory.TRANSACTION),
    ("credential", "C3", True, LegalCategory.PROPERTY),
    ("health", "C2", True, LegalCategory.HEALTH),
    ("whereabouts", "C2", True, LegalCategory.WHEREABOUTS),
    ("lodging", "C2", True, LegalCategory.LODGING),
]


@pytest.mark.parametrize(("name", "jrt", "sensitive", "category"), CLASSIFICATION)
def test_classification(name, jrt, sensitive, category):
    attribute = ATTRIBUTES[name]
    assert (attribute.jrt_class, attribute.sensitive, attribute.category) == (
        jrt,
        sensitive,
        category,
    )


def test_every_attribute_is_classified():
    assert set(ATTRIBUTES) == {name for name, *_ in CLASSIFICATION}


@pytest.mark.parametrize("attribute", list(ATTRIBUTES.values()), ids=lambda a: a.name)
def test_contract(attribute):
    assert re.fullmatch(r"[a-z_]+", attribute.name)
    assert attribute.label and attribute.headers
    # Every header word of an attribute leads back to it when it is the whole header.
    for word in attribute.headers:
        assert match_header(word.removeprefix("="))[0] == (attribute, 1.0), word
    # Names never collide with identifier types: header_hint ranks both by name.
    from leaktrace import identifiers

    assert attribute.name not in identifiers.registry()


@pytest.mark.parametrize("attribute", list(ATTRIBUTES.values()), ids=lambda a: a.name)
def test_value_pattern_runs_on_junk(attribute):
    junk = pa.array(["", " ", "€", "\x00", "a" * 500, "张", None], pa.string())
    result = attribute.valid_column(junk)
    assert result.dtype == bool and result.shape == (7,)
    assert not result[-1]  # null


# ---- headers -------------------------------------------------------------------------------

HEADERS = [
    ("贷款余额", "loan_balance"),
    ("贷款余额(元)", "loan_balance"),
    ("Loan Balance", "loan_balance"),
    ("loan_balance", "loan_balance"),
    ("LoanBalance", "loan_balance"),
    ("借款金额", "loan_balance"),
    ("房贷余额", "loan_balance"),
    ("授信額度", "credit_limit"),  # traditional characters
    ("信用卡额度", "credit_limit"),
    ("信用卡額度（萬元）", "credit_limit"),
    ("Credit Limit", "credit_limit"),
    ("征信", "credit_record"),
    ("徵信記錄", "credit_record"),
    ("信用记录", "credit_record"),
    ("逾期次数", "credit_record"),
    ("月收入", "income"),
    ("年收入", "income"),
    ("收入形式", "income"),
    ("monthly_income", "income"),
    ("名下房产", "property"),
    ("房产", "property"),
    ("车型", "vehicle"),
    ("车辆颜色", "vehicle"),
    ("车颜色", "vehicle"),
    ("购车时间", "vehicle"),
    ("车贷余额", "vehicle"),
    ("维修记录", "vehicle"),
    ("名下车产", "vehicle"),
    ("保单号", "insurance"),
    ("保险记录", "insurance"),
    ("险种", "insurance"),
    ("本地社保缴费记录", "social_security"),
    ("公积金", "social_security"),
    ("养老保险", "social_security"),
    ("户籍", "hukou"),
    ("户籍所在地", "hukou"),
    ("籍贯", "hukou"),
    ("户口所在地", "hukou"),
    ("出生日期", "birth_date"),
    ("生日", "birth_date"),
    ("Date of Birth", "birth_date"),
    ("DOB", "birth_date"),
    ("csrq", "birth_date"),
    ("年龄", "age"),
    ("客户年龄(岁)", "age"),
    ("Age", "age"),
    ("nl", "age"),
    ("性别", "gender"),
    ("Sex", "gender"),
    ("XB", "gender"),
    ("交易记录", "transaction"),
    ("交易流水", "transaction"),
    ("转账记录", "transaction"),
    ("密码", "credential"),
    ("交易密码", "credential"),
    ("CVV2", "credential"),
    ("cardCvv", "credential"),
    ("有效期", "credential"),
    ("短信验证码", "credential"),
    ("病历", "health"),
    ("健康状况", "health"),
    ("行踪轨迹", "whereabouts"),
    ("定位", "whereabouts"),
    ("GPS坐标", "whereabouts"),
    ("住宿记录", "lodging"),
    ("入住时间", "lodging"),
    ("Hotel", "lodging"),
]


@pytest.mark.parametrize(("header", "expected"), HEADERS)
def test_match_header(header, expected):
    ranked = match_header(header)
    assert ranked and ranked[0][0].name == expected
    assert all(0 < score <= 1 for _, score in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


@pytest.mark.parametrize(
    ("header", "not_expected"),
    [
        ("mortgage", "age"),  # ASCII words match whole words only
        ("Usage", "age"),
        ("agent", "age"),
        ("cardNo", "vehicle"),
        ("pinyin", "credential"),
        ("证件有效期", "credential"),  # 有效期 counts only as the whole header
        ("备注", None),
        ("", None),
    ],
)
def test_match_header_rejects(header, not_expected):
    names = [a.name for a, _ in match_header(header)]
    if not_expected is None:
        assert names == []
    else:
        assert not_expected not in names


def test_exact_header_beats_contained():
    (exact,) = match_header("贷款余额")
    (contained,) = match_header("客户贷款余额")
    assert exact == (ATTRIBUTES["loan_balance"], 1.0)
    assert contained[0] is ATTRIBUTES["loan_balance"] and 0.5 < contained[1] < 1.0
    # A longer word covering more of the header scores higher.
    assert dict(header_hint("客户贷款余额信息"))["loan_balance"] < contained[1]


@pytest.mark.parametrize(
    ("header", "first"),
    [
        ("客户手机号", "mobile"),
        ("手机号码", "mobile"),
        ("邮箱", "email"),
        ("E-mail", "email"),
        ("电子邮件地址", "email"),
        ("车牌号", "plate"),
        ("車牌號碼", "plate"),
        ("号牌号码(hphm)", "plate"),
        ("信用卡额度", "credit_limit"),
        ("出生日期", "birth_date"),
    ],
)
def test_header_hint_ranks_identifiers_and_attributes(header, first):
    ranked = header_hint(header)
    assert ranked[0][0] == first
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_header_hint_is_cached_and_stable():
    assert header_hint("贷款余额") == header_hint("贷款余额") == [("loan_balance", 1.0)]
    assert header_hint("") == []


# ---- values --------------------------------------------------------------------------------

VALUES = [
    (
        "loan_balance",
        ["120000", "1,200,000.50", "¥35000", "35万", "3.5万元", "２０００元"],
        ["abc"],
    ),
    ("credit_limit", ["50000", "5w", "10k", "5000-8000", "1万以上"], ["高", "2023-01-01"]),
    ("credit_record", ["良好", "逾期", "无逾期", "有", "当前逾期2次", "白户", "3"], ["excellent"]),
    (
        "income",
        ["代发", "现金", "银行代发", "现金发放", "8000", "5000-8000/月", "月入8000"],
        ["自由职业者"],
    ),
    ("property", ["有", "无", "2套", "全款房", "按揭", "商品房"], ["蓝色"]),
    ("vehicle", ["大众朗逸", "白色", "黑", "2018-05-01", "有", "宝马X5", "更换刹车片"], ["abc"]),
    ("insurance", ["车险", "重疾险", "平安人寿", "有", "P2023000012345"], ["张三"]),
    ("social_security", ["有", "已缴", "连续12个月", "3年", "5000"], ["abc"]),
    (
        "hukou",
        ["广东", "广东省深圳市", "苏州", "深圳", "本地", "外地户口", "农业户口"],
        ["abc", "2"],
    ),
    (
        "birth_date",
        ["1990-01-02", "1990/1/2", "19900102", "1990年1月2日", "1990年1月", "1990.01.02"],
        ["2990-01-01", "1990-13-01", "35", "1990-01-32"],
    ),
    ("age", ["0", "35", "61岁", "18周岁", "120", "35.0"], ["121", "-1", "abc", "1990"]),
    ("gender", ["男", "女", "M", "f", "Male", "FEMALE", "女性", "先生"], ["男女", "x", "1"]),
    ("transaction", ["1500.00", "转账", "工资代发", "2023-01-02 10:11:12"], ["abc"]),
    ("credential", ["123", "12/25", "1225", "******"], ["hunter2"]),
    ("health", ["高血压", "糖尿病", "健康", "无"], ["abc"]),
    ("whereabouts", ["39.9042,116.4074", "116.40741", "北京市朝阳区"], ["abc", "12"]),
    ("lodging", ["如家酒店", "2023-01-02 22:00", "8201房"], ["abc"]),
]


@pytest.mark.parametrize(("name", "good", "bad"), VALUES)
def test_valid_column(name, good, bad):
    result = ATTRIBUTES[name].valid_column(pa.array(good + bad))
    assert result.tolist() == [True] * len(good) + [False] * len(bad)


@pytest.mark.parametrize(
    ("name", "values", "share"),
    [
        ("age", ["35", "61岁", "abc", None], 2 / 3),
        # Placeholders (-, 未知, 无) are left out unless the attribute takes them.
        ("loan_balance", ["120000", "-", "未知", "无", "abc", ""], 1 / 2),
        ("credit_record", ["良好", "无", "-"], 1.0),
        ("gender", ["男", "女", "男", "女"], 1.0),
        ("gender", ["-", "", None], None),
    ],
)
def test_value_share(name, values, share):
    result = value_share(name, pa.array(values, pa.string()))
    assert result == (pytest.approx(share) if share is not None else None)


def test_value_share_takes_attributes_and_chunks():
    chunked = pa.chunked_array([["男", "女"], ["x", "女"]])
    assert value_share(ATTRIBUTES["gender"], chunked) == 0.75


def test_typed_columns_are_read_as_text():
    dates = pa.array([datetime.date(1990, 1, 2), datetime.date(1985, 12, 31)])
    assert value_share("birth_date", dates) == 1.0
    stamps = pa.array([datetime.datetime(1990, 1, 2, 3, 4, 5)])
    assert value_share("birth_date", stamps) == 1.0
    assert value_share("age", pa.array([35, 61, 150], pa.int64())) == pytest.approx(2 / 3)
    assert value_share("loan_balance", pa.array([1200.5, 35000.0])) == 1.0


# ---- columns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "values", "expected"),
    [
        ("贷款余额", ["120000", "35,000.50", "无"], "loan_balance"),
        ("授信額度", ["50000", "80000"], "credit_limit"),
        ("性别", ["男", "女"], "gender"),
        ("col7", ["男", "女", "男", "女", "男"], "gender"),  # gender needs no header
        ("col7", ["35", "61", "42"], None),  # ages do
        ("备注", ["客户来电咨询", "已回访"], None),
        ("收入形式", ["代发", "现金", "代发"], "income"),
        ("户籍", ["广东省", "四川", "本地"], "hukou"),
        ("征信", ["良好", "逾期", "良好"], "credit_record"),
        ("车贷余额", ["35000", "0"], "vehicle"),
        ("年龄", pa.array([35, 61], pa.int64()), "age"),
        ("出生日期", pa.array([datetime.date(1990, 1, 2)]), "birth_date"),
        ("入住时间", ["2023-01-02 22:00"], "lodging"),
        ("密码", ["a1b2c3", "hunter2"], "credential"),  # no value fits, the header decides
        ("客户手机号", ["13812345678"], None),  # an identifier header, not an attribute
    ],
)
def test_classify_column(header, values, expected):
    column = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    result = classify_column(header, column)
    if expected is None:
        assert result is None
    else:
        attribute, score = result
        assert attribute.name == expected
        assert attributes.MIN_SCORE <= score <= 1


def test_values_temper_the_header():
    fitting = classify_column("年龄", pa.array(["35", "61"]))
    unfitting = classify_column("年龄", pa.array(["abc", "def"]))
    assert fitting == (ATTRIBUTES["age"], 1.0)
    assert unfitting[0] is ATTRIBUTES["age"]
    assert unfitting[1] == pytest.approx(attributes.VALUE_FLOOR)


def test_values_choose_between_headers():
    # 车贷余额 names the vehicle exactly and loan balance not at all; values fit both.
    attribute, _ = classify_column("车贷余额", pa.array(["35000"]))
    assert attribute.name == "vehicle"
    # A header that suggests two attributes goes to the one whose values fit.
    attribute, _ = classify_column("信用卡额度及逾期", pa.array(["良好", "逾期", "良好"]))
    assert attribute.name == "credit_record"


def test_empty_column_relies_on_the_header():
    attribute, score = classify_column("贷款余额", pa.array([None, ""], pa.string()))
    assert attribute.name == "loan_balance"
    assert score == pytest.approx(attributes.VALUE_FLOOR + (1 - attributes.VALUE_FLOOR) / 2)
