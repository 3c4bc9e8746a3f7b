"""Sensitive attributes (敏感属性): what a record says about a customer besides identifiers.

Leaked lists carry up to 13 dimensions besides name and number (field notes: age, hukou, income
form, social security, property, car, insurance, credit-card limit, loan balance, credit record;
for car-loan buyers model, colour, purchase date, repair record and car-loan balance). None of
these identifies a person, but each makes a record more sensitive and decides how the record
counts in the legal tally. Each :class:`Attribute` carries:

* its class under JR/T 0171-2020 (个人金融信息保护技术规范, §4.2): C3 for authentication data
  (passwords, card verification codes, card expiry), C2 for information that shows a person's
  financial situation (property, loans, credit, transactions), C1 for the rest;
* whether GB/T 35273-2020 (信息安全技术 个人信息安全规范, Annex B) counts it as sensitive personal
  information (property, credit, transaction and health information, whereabouts, lodging);
* its :class:`~leaktrace.law.LegalCategory` under 法释〔2017〕10号 art. 5 (50 records for
  whereabouts, credit and property information; 500 for lodging, health and transactions);
* the words that announce it in a column header, and a check of what its values look like.

A header is normalized before it is compared (NFKC, traditional → simplified with OpenCC,
lower case, no spaces, underscores or bracketed units) and ASCII words match whole words only
(``age`` is not in ``mortgage``). :func:`header_hint` ranks identifier types and attributes
together, so the column classifier asks one place what a header suggests.

https://std.samr.gov.cn/ (JR/T 0171-2020 and GB/T 35273-2020 are listed there)
https://www.court.gov.cn/ (法释〔2017〕10号, the 2017 interpretation on art. 253-1)

>>> [(a.name, s) for a, s in match_header("授信額度（元）")]
[('credit_limit', 1.0)]
>>> [(a.name, round(s, 2)) for a, s in match_header("Customer Loan Balance")]
[('loan_balance', 0.73)]
>>> [(name, round(score, 2)) for name, score in header_hint("客户手机号")][:1]
[('mobile', 0.74)]
>>> import pyarrow as pa
>>> attribute, score = classify_column("性别", pa.array(["男", "女", "男", None]))
>>> attribute.name, attribute.category.value, score
('gender', 'other', 1.0)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from opencc import OpenCC

from leaktrace import identifiers
from leaktrace.identifiers import _vector
from leaktrace.law import LegalCategory

# Score of a header that contains a word but is not that word: 0.5 plus up to 0.4 for the share
# of the header the word covers. An exact header scores 1.
CONTAINS_BASE = 0.5
CONTAINS_SPAN = 0.4
# Values temper a header's score between 0.6× (no value fits) and 1× (all fit); an attribute
# whose values are not distinctive counts as half fitting.
VALUE_FLOOR = 0.6
# An attribute with ``values_alone`` may be named from its values when the header says nothing,
# if at least this share fits; it then scores half that share.
VALUES_ALONE_SHARE = 0.8
MIN_SCORE = 0.3


@dataclass(frozen=True, slots=True)
class Attribute:
    """A kind of sensitive information that is not an identifier (balance, income, gender …).

    ``value_pattern`` is an RE2 pattern that a typical value (NFKC-folded, trimmed, lower case)
    matches in full, or None when values say nothing (free text such as a password).
    ``values_alone``: the values are distinctive enough to name the attribute without a header.
    A header word written ``=word`` counts only when it is the whole header (有效期 is a card's
    expiry, 证件有效期 is not).
    """

    name: str
    label: str
    headers: tuple[str, ...]
    jrt_class: str
    sensitive: bool
    category: LegalCategory
    value_pattern: str | None = None
    values_alone: bool = False

    def valid_column(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Which values look like this attribute (all False when values are not checked)."""
        folded = _fold(values)
        if self.value_pattern is None:
            return np.zeros(len(folded), dtype=bool)
        return _vector.full_match(folded, self.value_pattern)


# ---- value shapes (RE2, over NFKC-folded lower-case text) --------------------------------

_NUMBER = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_UNIT = r"(?:元|万元|万|千元|千|百万|亿|w|k|rmb|cny)"
_AMOUNT = rf"(?:[¥$]|rmb|cny)?\s*{_NUMBER}\s*{_UNIT}?"
_PER = r"(?:\s*(?:/|每)\s*(?:月|年|month|year))?"
_AMOUNTS = rf"{_AMOUNT}(?:\s*[-~至到]\s*{_AMOUNT})?\s*(?:以上|以下|左右|以内)?{_PER}"
_DATE = (
    r"(?:19|20)[0-9]{2}"
    r"(?:[-/.年]\s*(?:0?[1-9]|1[0-2])(?:[-/.月]\s*(?:0?[1-9]|[12][0-9]|3[01])日?)?月?"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])?)"
    r"(?:[ t]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)
_YES_NO = r"有|无|是|否|没有|y|n|yes|no|true|false|[01]|√|×"
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|"
    "湖北|湖南|广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|香港|澳门|台湾"
)
# Big cities whose names lack a 市/州 ending, as hukou columns often write them bare.
_CITIES = (
    "深圳|成都|武汉|西安|南京|长沙|沈阳|大连|青岛|厦门|宁波|无锡|东莞|佛山|合肥|昆明|济南|哈尔滨|"
    "长春|石家庄|太原|南昌|南宁|贵阳|兰州|西宁|银川|乌鲁木齐|拉萨|呼和浩特|海口|三亚|珠海|汕头|"
    "烟台|潍坊|临沂|保定|唐山|邯郸|洛阳|南阳|襄阳|宜昌|岳阳|常德|绵阳|南充|遵义|曲靖|桂林|柳州"
)
_CAR_BRANDS = (
    "大众|丰田|本田|日产|别克|雪佛兰|福特|现代|起亚|奥迪|宝马|奔驰|比亚迪|吉利|长城|哈弗|长安|奇瑞|"
    "五菱|宝骏|荣威|名爵|马自达|斯柯达|标致|雪铁龙|沃尔沃|特斯拉|蔚来|理想|小鹏|红旗|传祺|凯迪拉克|"
    "路虎|保时捷|雷克萨斯|英菲尼迪|jeep|bmw|benz|audi|tesla|toyota|honda|nissan|buick|ford|"
    "volkswagen|byd"
)
_COLOURS = r"(?:白|黑|红|银|灰|蓝|绿|黄|金|棕|紫|橙|粉|香槟|咖啡)色?"
# Placeholders that mean "no value"; they are left out of a share unless the attribute's own
# pattern takes them (无 is a real answer to 有无房产).
MISSING_PATTERN = r"-+|/|\\|—+|无|空|未知|不详|暂无|未填|null|none|nan|n/?a"


def _any(*words: str) -> str:
    return ".*(?:" + "|".join(words) + ").*"


_ATTRIBUTES = (
    Attribute(
        "loan_balance", "贷款余额",
        ("贷款余额", "借款余额", "贷款金额", "借款金额", "剩余本金", "未还本金", "待还金额", "欠款",
         "欠款金额", "房贷余额", "贷款", "借款", "loan balance", "outstanding balance",
         "outstanding principal", "loan amount", "loan"),
        "C2", True, LegalCategory.CREDIT, _AMOUNTS,
    ),
    Attribute(
        "credit_limit", "信用卡额度",
        ("信用卡额度", "授信额度", "信用额度", "额度", "授信金额", "可用额度", "卡额度", "固定额度",
         "credit limit", "credit line", "card limit"),
        "C2", True, LegalCategory.CREDIT, _AMOUNTS,
    ),
    Attribute(
        "credit_record", "征信记录",
        ("征信", "征信记录", "征信情况", "信用记录", "信用情况", "信用状况", "信用报告", "逾期",
         "逾期记录", "逾期次数", "逾期情况", "五级分类", "credit record", "credit history",
         "credit report", "credit status", "overdue"),
        "C2", True, LegalCategory.CREDIT,
        rf"{_YES_NO}|好|差|优|良|中|优秀|良好|正常|一般|较好|较差|不良|[0-9]{{1,3}}\s*次?|"
        + _any("逾期", "良好", "不良", "正常", "结清", "呆账", "关注", "次级", "可疑", "损失",
               "黑名单", "白户", "黑户", "花户", "失信", "记录", "征信", "查询"),
    ),
    Attribute(
        "income", "收入",
        ("收入", "月收入", "年收入", "收入形式", "收入情况", "收入水平", "工资", "月薪", "年薪",
         "薪资", "薪水", "工资发放形式", "发薪方式", "代发", "income", "monthly income",
         "annual income", "salary", "wage", "wages"),
        "C2", True, LegalCategory.PROPERTY,
        rf"(?:月|年)?(?:收入|入|薪)?\s*{_AMOUNTS}|"
        + _any("代发", "现金", "转账", "打卡", "工资", "自营", "经营", "私营", "个体", "固定",
               "无收入", "退休金", "养老金"),
    ),
    Attribute(
        "property", "房产",
        ("房产", "名下房产", "房产信息", "房产情况", "有无房产", "房屋", "住房", "住房情况",
         "不动产", "资产", "财产", "存款", "存款余额", "账户余额", "property", "real estate",
         "house", "housing", "assets", "deposit"),
        "C2", True, LegalCategory.PROPERTY,
        rf"{_YES_NO}|{_AMOUNTS}|"
        + _any("房", "楼", "套", "别墅", "公寓", "商铺", "住宅", "全款", "按揭", "产权", "不动产",
               "小区", "花园"),
    ),
    Attribute(
        "vehicle", "车辆",
        ("车辆", "车辆信息", "车产", "名下车产", "有无车辆", "车型", "车辆型号", "品牌型号",
         "车辆品牌", "车辆颜色", "车颜色", "车身颜色", "购车时间", "购车日期", "车贷余额", "车贷",
         "维修记录", "保养记录", "car", "vehicle", "car model", "vehicle model", "car color",
         "car colour", "vehicle color"),
        "C2", True, LegalCategory.PROPERTY,
        rf"{_YES_NO}|{_DATE}|{_AMOUNTS}|{_COLOURS}|"
        + _any("色", "车", "款", "型", "轿", "suv", "mpv", "维修", "保养", "事故", "钣金", "喷漆",
               "更换", _CAR_BRANDS),
    ),
    Attribute(
        "insurance", "保险",
        ("保单号", "保单", "保单号码", "保险", "保险记录", "保险信息", "个人保险记录", "险种",
         "保险类型", "保险公司", "投保", "投保记录", "保额", "保费", "理赔", "理赔记录",
         "insurance", "policy", "policy no", "policy number", "premium", "insurance claim"),
        "C2", True, LegalCategory.PROPERTY,
        rf"{_YES_NO}|{_AMOUNTS}|[a-z0-9-]{{8,32}}|"
        + _any("险", "保", "寿", "意外", "医疗", "重疾", "健康", "理赔", "年金", "人保", "平安",
               "太平洋", "国寿", "泰康", "友邦"),
    ),
    Attribute(
        "social_security", "社保",
        ("社保", "社保缴费", "社保记录", "社保缴纳", "本地社保", "社会保险", "社保基数", "公积金",
         "住房公积金", "公积金缴存", "公积金缴纳", "养老保险", "医保", "social security",
         "social insurance", "provident fund", "housing fund", "pension"),
        "C2", True, LegalCategory.OTHER,
        rf"{_YES_NO}|(?:连续)?\s*[0-9]{{1,3}}\s*(?:个月|月|年)|{_AMOUNTS}|"
        + _any("缴", "交", "停", "断", "正常", "参保", "本地", "外地", "职工", "居民", "城乡"),
    ),
    Attribute(
        "hukou", "户籍",
        ("户籍", "户籍所在地", "户籍地", "户口", "户口所在地", "户口性质", "户籍类型", "户籍省份",
         "籍贯", "出生地", "hukou", "household registration", "native place", "place of origin",
         "hjszd"),
        "C2", False, LegalCategory.OTHER,
        _any(_PROVINCES, _CITIES)
        + r"|.{1,12}(?:省|市|县|区|州|盟|旗|镇|乡|村)"
        + r"|(?:本地|外地|本市|外市|本省|外省|农业|非农业|非农|城镇|农村|居民)(?:户口|户籍|人口)?",
    ),
    Attribute(
        "birth_date", "出生日期",
        ("出生日期", "出生年月", "出生年月日", "出生时间", "出生", "生日", "birthday", "birth date",
         "birthdate", "date of birth", "dob", "csrq"),
        "C2", False, LegalCategory.OTHER, _DATE,
    ),
    Attribute(
        "age", "年龄",
        ("年龄", "岁数", "周岁", "age", "nl"),
        "C1", False, LegalCategory.OTHER,
        r"(?:[0-9]|[1-9][0-9]|1[01][0-9]|120)(?:\.0+)?\s*(?:岁|周岁)?",
    ),
    Attribute(
        "gender", "性别",
        ("性别", "sex", "gender", "xb"),
        "C1", False, LegalCategory.OTHER,
        r"男|女|男性|女性|m|f|male|female|先生|女士", values_alone=True,
    ),
    Attribute(
        "transaction", "交易记录",
        ("交易记录", "交易流水", "交易明细", "交易金额", "交易", "流水", "银行流水", "转账",
         "转账记录", "消费记录", "收支明细", "transaction", "transactions", "transaction amount",
         "payment", "transfer", "statement"),
        "C2", True, LegalCategory.TRANSACTION,
        rf"{_AMOUNTS}|{_DATE}|"
        + _any("转账", "转入", "转出", "消费", "支付", "取现", "取款", "存入", "收款", "付款",
               "退款", "还款", "代发", "工资", "汇款", "入账", "出账", "扣款", "充值", "提现"),
    ),
    # JR/T 0171 puts SMS codes and one-time passwords in C2 (用户鉴别辅助信息) unless they alone
    # authenticate; a leaked list's 验证码 column is grouped with passwords here, on the safe side.
    Attribute(
        "credential", "密码与验证信息",
        ("密码", "登录密码", "交易密码", "支付密码", "查询密码", "取款密码", "cvv", "cvv2", "cvn",
         "cvn2", "安全码", "卡验证码", "=有效期", "卡有效期", "验证码", "短信验证码", "动态口令",
         "password", "passwd", "pwd", "pin", "security code", "expiry", "expiry date",
         "expiration date", "valid thru", "otp", "verification code"),
        "C3", True, LegalCategory.PROPERTY,
        r"[0-9]{3,8}|(?:0[1-9]|1[0-2])\s*/?\s*(?:20)?[0-9]{2}|(?:20)?[0-9]{2}\s*/\s*(?:0[1-9]|1[0-2])"
        r"|\*{3,}|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|\$2[aby]?\$.{50,60}",
    ),
    Attribute(
        "health", "健康信息",
        ("病历", "病史", "既往病史", "健康", "健康状况", "健康信息", "疾病", "诊断", "诊断结果",
         "就诊记录", "体检", "体检报告", "过敏史", "用药", "health", "medical", "medical record",
         "medical history", "diagnosis", "disease"),
        "C2", True, LegalCategory.HEALTH,
        rf"{_YES_NO}|"
        + _any("病", "症", "炎", "癌", "瘤", "糖尿", "血压", "血糖", "心脏", "健康", "良好", "正常",
               "过敏", "手术", "住院", "骨折", "孕", "残", "抑郁", "阳性", "阴性", "体检", "诊"),
    ),
    Attribute(
        "whereabouts", "行踪轨迹",
        ("行踪", "轨迹", "行踪轨迹", "活动轨迹", "行程", "出行记录", "定位", "位置", "所在位置",
         "经纬度", "坐标", "gps", "location", "trajectory", "latitude", "longitude", "lat", "lng",
         "lon"),
        "C2", True, LegalCategory.WHEREABOUTS,
        r"[+-]?[0-9]{1,3}\.[0-9]{3,}\s*[,;\s]\s*[+-]?[0-9]{1,3}\.[0-9]{3,}|[+-]?[0-9]{1,3}\.[0-9]{4,}"
        rf"|{_DATE}|"
        + _any("省", "市", "区", "县", "镇", "乡", "村", "路", "街", "道", "号", "站", "机场",
               "酒店", "小区", "大厦", "广场", "公园", "医院", "学校"),
    ),
    Attribute(
        "lodging", "住宿信息",
        ("住宿", "住宿记录", "住宿信息", "入住", "入住记录", "入住时间", "入住酒店", "退房时间",
         "开房记录", "酒店", "宾馆", "hotel", "lodging", "check in", "check-in", "checkin"),
        "C2", True, LegalCategory.LODGING,
        rf"{_DATE}|[0-9]{{3,5}}\s*(?:房|室|号房)?|"
        + _any("酒店", "宾馆", "旅馆", "饭店", "招待所", "客栈", "民宿", "公寓", "旅社", "hotel",
               "inn"),
    ),
)  # fmt: skip

ATTRIBUTES: dict[str, Attribute] = {a.name: a for a in _ATTRIBUTES}


# ---- headers ------------------------------------------------------------------------------

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|<[^>]*>|《[^》]*》")
_NOISE = re.compile(r"[\s_\-./\\:;,|#*'\"?!]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN = re.compile(r"[a-z]+|[0-9]+")


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def _prepare(header: str) -> str:
    """NFKC, traditional → simplified, bracketed units (``(元)``) dropped unless that is all."""
    text = _t2s().convert(unicodedata.normalize("NFKC", str(header)))
    bare = _BRACKETS.sub("", text)
    return bare if bare.strip() else text


def normalize_header(header: str) -> str:
    """A header as compared: NFKC, simplified, lower case, no spaces, underscores or units.

    >>> normalize_header(" 授信額度（萬元） "), normalize_header("Loan_Balance")
    ('授信额度', 'loanbalance')
    """
    return _NOISE.sub("", _prepare(header).lower())


def _tokens(header: str) -> tuple[str, ...]:
    """ASCII words of a header, split at camelCase, letter–digit and any other boundary."""
    return tuple(_TOKEN.findall(_CAMEL.sub(" ", _prepare(header)).lower()))


@dataclass(frozen=True, slots=True)
class _Word:
    target: str
    text: str  # normalized
    ascii: bool
    exact: bool  # counts only as the whole header


def _index(targets: dict[str, tuple[str, ...]]) -> tuple[_Word, ...]:
    words = []
    for target, headers in targets.items():
        for header in headers:
            text = normalize_header(header.removeprefix("="))
            if text:
                words.append(_Word(target, text, text.isascii(), header.startswith("=")))
    return tuple(words)


@cache
def _attribute_index() -> tuple[_Word, ...]:
    return _index({a.name: a.headers for a in _ATTRIBUTES})


@cache
def _identifier_index() -> tuple[_Word, ...]:
    return _index({m.NAME: tuple(m.HEADERS) for m in identifiers.registry().values()})


def _score(words: tuple[_Word, ...], header: str) -> dict[str, float]:
    """Best score per target: 1 for an exact header, less the less of the header a word covers."""
    text = normalize_header(header)
    scores: dict[str, float] = {}
    if not text:
        return scores
    tokens = _tokens(header)
    # Every run of consecutive ASCII words, joined: "e mail address" offers "email", "mailaddress".
    runs = {"".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}
    for word in words:
        if word.text == text:
            score = 1.0
        elif word.exact:
            continue
        elif (word.text in runs) if word.ascii else (word.text in text):
            score = CONTAINS_BASE + CONTAINS_SPAN * len(word.text) / len(text)
        else:
            continue
        if score > scores.get(word.target, 0.0):
            scores[word.target] = score
    return scores


@lru_cache(maxsize=4096)
def _header_scores(header: str) -> tuple[tuple[str, float], ...]:
    """Attribute scores then identifier scores, each ranked; cached per header."""
    attribute = _score(_attribute_index(), header)
    identifier = _score(_identifier_index(), header)
    ranked = [(n, s, 0) for n, s in identifier.items()] + [(n, s, 1) for n, s in attribute.items()]
    # On a tie an identifier type goes first: 户籍地址 is an address before it is a hukou.
    ranked.sort(key=lambda item: (-item[1], item[2]))
    return tuple((name, score) for name, score, _ in ranked)


def match_header(header: str) -> list[tuple[Attribute, float]]:
    """Attributes a column header suggests, best first, with a score in (0, 1].

    >>> [(a.name, round(s, 2)) for a, s in match_header("车贷余额")]
    [('vehicle', 1.0)]
    """
    ranked = [(ATTRIBUTES[n], s) for n, s in _header_scores(str(header)) if n in ATTRIBUTES]
    return ranked


def header_hint(header: str) -> list[tuple[str, float]]:
    """Identifier types (by ``NAME``) and attributes (by name) a header suggests, best first.

    Identifier words come from each identifier module's ``HEADERS``; attribute words from
    :data:`ATTRIBUTES`. Called once per column, the answer is cached per header.

    >>> header_hint("Plate No.")[0]
    ('plate', 1.0)
    """
    return list(_header_scores(str(header)))


# ---- values -------------------------------------------------------------------------------


def _fold(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.utf8_lower(_vector.fold(values))


def _share(attribute: Attribute, folded: pa.Array) -> float | None:
    """Share of folded values that fit, placeholders (``-``, ``未知``) left out unless they fit."""
    if attribute.value_pattern is None:
        return None
    present = pc.fill_null(pc.greater(pc.utf8_length(folded), 0), False)
    fits = _vector.full_match(folded, attribute.value_pattern)
    missing = _vector.full_match(folded, MISSING_PATTERN)
    counted = _vector.to_numpy_bool(present) & (fits | ~missing)
    total = int(counted.sum())
    return float((fits & counted).sum() / total) if total else None


def value_share(attribute: Attribute | str, values: pa.Array | pa.ChunkedArray) -> float | None:
    """Share of a column's non-empty values that look like ``attribute``.

    None when the attribute's values are not checked or the column holds only blanks and
    placeholders.

    >>> value_share("age", pa.array(["35", "61岁", "-", "abc", None]))
    0.6666666666666666
    """
    if isinstance(attribute, str):
        attribute = ATTRIBUTES[attribute]
    return _share(attribute, _fold(values))


def classify_column(
    header: str, values: pa.Array | pa.ChunkedArray
) -> tuple[Attribute, float] | None:
    """The attribute a column most likely holds, with a score in (0, 1], or None.

    The header proposes (see :func:`match_header`); the values temper each proposal between
    ``VALUE_FLOOR`` × and 1× its header score by the share that fits. Without a header word an
    attribute with distinctive values (gender) can still be named from them, at half their share.
    Run on a sample: every proposed attribute costs one RE2 pass over the values.
    """
    folded = _fold(values)
    proposals = {a.name: s for a, s in match_header(header)}
    for attribute in _ATTRIBUTES:
        if attribute.values_alone:
            proposals.setdefault(attribute.name, 0.0)
    best: tuple[Attribute, float] | None = None
    for name, header_score in proposals.items():
        attribute = ATTRIBUTES[name]
        share = _share(attribute, folded)
        if header_score > 0:
            fit = 0.5 if share is None else share
            score = header_score * (VALUE_FLOOR + (1 - VALUE_FLOOR) * fit)
        elif share is not None and share >= VALUES_ALONE_SHARE:
            score = 0.5 * share
        else:
            continue
        if best is None or score > best[1]:
            best = (attribute, score)
    return best if best is not None and best[1] >= MIN_SCORE else None
