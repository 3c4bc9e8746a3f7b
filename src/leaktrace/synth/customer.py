"""Synthetic customers (合成客户数据) of a bank, insurer, lender or education agency.

Every test, benchmark and demo of leaktrace runs on data made here; no real person's record is
ever needed. Values have the shapes and pass the checks that real ones do: resident ID numbers
carry a real GB/T 2260 region code (python-stdnum's table), the row's birth date and gender
digit, and a GB 11643-1999 check character; mobiles fall in the CN mobile ranges of
libphonenumber's metadata; bank cards carry UnionPay prefixes of large banks and a Luhn check
digit; plates (GA 36-2018) carry the province and city letters of the customer's address; names
follow published surname frequencies and era-typical given-name characters.

Generation is column-wise (NumPy draws, Arrow kernels for the strings) in fixed blocks of
``BLOCK_ROWS`` rows, each column drawing from a stream seeded by ``(seed, kind, block, column)``:
the same seed gives the same rows from :func:`customers`, from :func:`customer_batches` at any
batch size and from :func:`write_customers`, and ten million rows stream to Parquet in bounded
memory. Mobiles, bank
cards and policy numbers are unique within a data set (a keyed permutation of the row number);
resident ID numbers are drawn, so about 17 in a million repeat (1,700 in ten million), as
data-entry errors make them repeat in real registers. A smaller ``n`` gives the first rows of a
larger one, and ``columns=`` gives the same values as the full table.

:func:`remarks` writes free-text 备注 for customer rows and returns with each text its ground
truth: which identifier sits where. Positions come from how each text was assembled, never from
leaktrace's own finders, so the scanner can be evaluated against them honestly.

Branches, staff, loan applications and access logs live in :mod:`leaktrace.synth.institution`
and :mod:`leaktrace.synth.access`.

https://openstd.samr.gov.cn/bzgk/gb/ (GB 11643-1999, GB/T 2260, GA 36-2018)

>>> table = customers(3, seed=7)
>>> table.column_names[:6]
['customer_id', 'name', 'gender', 'birth_date', 'id_number', 'mobile']
>>> table["customer_id"].to_pylist()
['C00000001', 'C00000002', 'C00000003']
>>> customers(3, seed=7).equals(table)
True
>>> note = remark({"name": "王芳", "mobile": "13912345678"}, seed=3)
>>> [note.text[s.start:s.end] for s in note.spans] == [s.surface for s in note.spans]
True
"""

from __future__ import annotations

import datetime
import math
import random
import re
import string
import zlib
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from itertools import accumulate
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import checksums
from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import _vector

KINDS = ("bank", "insurer", "lender", "education")
AS_OF = datetime.date(2024, 12, 31)
BLOCK_ROWS = 1 << 15
INSTITUTIONS = {
    "bank": "示范银行",
    "insurer": "示范人寿",
    "lender": "示范消费金融",
    "education": "示范教育",
}

# Ground-truth span types, named as the identifier registry names its modules.
PERSON_NAME = "person_name"
MOBILE = "mobile"
RESIDENT_ID = "resident_id"
BANK_CARD = "bank_card"
EMAIL = "email"
PLATE = "plate"
ADDRESS = "address"

COLUMN_LABELS = {
    "customer_id": "客户号",
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "id_number": "身份证号",
    "mobile": "手机号",
    "email": "邮箱",
    "province": "省份",
    "city": "城市",
    "address": "地址",
    "hukou": "户籍",
    "income_form": "收入形式",
    "social_security": "本地社保",
    "property": "名下房产",
    "car_model": "车型",
    "car_color": "车身颜色",
    "plate": "车牌号",
    "branch_code": "网点代码",
    "branch_name": "网点名称",
    "open_date": "开户日期",
    "card_number": "银行卡号",
    "credit_limit": "信用卡额度",
    "loan_balance": "贷款余额",
    "products": "持有产品",
    "policy_number": "保单号",
    "insurance_type": "险种",
    "premium": "年缴保费",
    "loan_amount": "借款金额",
    "overdue_days": "逾期天数",
    "student_name": "学生姓名",
    "school": "学校",
    "grade": "年级",
    "parent_name": "家长姓名",
    "parent_mobile": "家长电话",
    "remark": "备注",
}

_MONEY = pa.decimal128(15, 2)
_REPEATING = frozenset({"gender", "province", "city", "hukou", "income_form", "social_security",
                        "property", "car_model", "car_color", "branch_code", "branch_name",
                        "products", "insurance_type", "school", "grade"})  # fmt: skip
_PERSON_FIELDS = [
    ("customer_id", pa.string()),
    ("name", pa.string()),
    ("gender", pa.string()),
    ("birth_date", pa.date32()),
    ("id_number", pa.string()),
    ("mobile", pa.string()),
    ("email", pa.string()),
    ("province", pa.string()),
    ("city", pa.string()),
    ("address", pa.string()),
    ("hukou", pa.string()),
    ("income_form", pa.string()),
    ("social_security", pa.bool_()),
    ("property", pa.bool_()),
    ("car_model", pa.string()),
    ("car_color", pa.string()),
    ("plate", pa.string()),
]
_KIND_FIELDS = {
    "bank": [
        ("branch_code", pa.string()),
        ("branch_name", pa.string()),
        ("open_date", pa.date32()),
        ("card_number", pa.string()),
        ("credit_limit", _MONEY),
        ("loan_balance", _MONEY),
        ("products", pa.string()),
    ],
    "insurer": [
        ("branch_code", pa.string()),
        ("branch_name", pa.string()),
        ("open_date", pa.date32()),
        ("policy_number", pa.string()),
        ("insurance_type", pa.string()),
        ("premium", _MONEY),
    ],
    "lender": [
        ("open_date", pa.date32()),
        ("card_number", pa.string()),
        ("loan_amount", _MONEY),
        ("loan_balance", _MONEY),
        ("overdue_days", pa.int32()),
    ],
}
_STUDENT_FIELDS = [
    ("customer_id", pa.string()),
    ("student_name", pa.string()),
    ("gender", pa.string()),
    ("birth_date", pa.date32()),
    ("id_number", pa.string()),
    ("school", pa.string()),
    ("grade", pa.string()),
    ("parent_name", pa.string()),
    ("parent_mobile", pa.string()),
    ("province", pa.string()),
    ("city", pa.string()),
    ("address", pa.string()),
    ("open_date", pa.date32()),
]

# Census 2020 population by age group (millions); the 15-19 and 80-84 groups are cut to the
# years inside 18-80. Adult customers are drawn from this shape.
_ADULT_AGES = (
    (18, 20, 29.1),
    (20, 25, 75.0),
    (25, 30, 91.9),
    (30, 35, 124.1),
    (35, 40, 99.0),
    (40, 45, 93.0),
    (45, 50, 114.2),
    (50, 55, 121.2),
    (55, 60, 101.4),
    (60, 65, 73.4),
    (65, 70, 74.0),
    (70, 75, 49.6),
    (75, 80, 31.3),
    (80, 81, 4.1),
)
_ERA_BOUNDS = (1965, 1995)  # given-name fashions: old, mid, new
_SINGLE_CHAR_SHARE = np.array([0.28, 0.33, 0.12])  # one-character given names by era

# Mobile prefixes by operator, weighted so that China Mobile ~57 %, Unicom ~21 %, Telecom ~20 %,
# broadcast (192) and virtual operators the rest. All lie in libphonenumber's CN mobile ranges.
_MOBILE_PREFIXES = {
    134: 3, 135: 5, 136: 5, 137: 5, 138: 7, 139: 7, 147: 1, 150: 3, 151: 3, 152: 2, 157: 1,
    158: 3, 159: 3, 172: 0.5, 178: 1, 182: 2, 183: 1.5, 184: 0.5, 187: 2, 188: 2, 195: 0.5,
    197: 0.3, 198: 1,
    130: 3, 131: 2.5, 132: 2, 145: 0.5, 155: 2, 156: 2, 166: 1, 175: 0.5, 176: 1, 185: 2,
    186: 3, 196: 0.5,
    133: 2.5, 153: 2, 173: 1, 177: 1.5, 180: 2, 181: 2, 189: 3, 190: 0.5, 191: 1, 193: 0.5,
    199: 2,
    192: 0.5,
    162: 0.1, 165: 0.1, 167: 0.1, 170: 0.3, 171: 0.2,
}  # fmt: skip

_ROAD_BASES = (
    "人民", "解放", "中山", "建设", "和平", "新华", "胜利", "长江", "黄河", "文化", "光明", "健康",
    "朝阳", "幸福", "迎宾", "滨河", "东风", "青年", "花园", "工业", "北京", "南京", "上海", "延安",
    "友谊", "团结", "红旗", "振兴", "复兴", "金山", "学府", "科技", "创业", "紫荆", "银河", "世纪",
    "体育", "公园", "新村", "春风", "凤凰", "长安", "育才", "府前", "环城", "滨江",
)  # fmt: skip
_ROAD_TYPES = (("路", 60), ("街", 15), ("大道", 12), ("大街", 8), ("巷", 5))
_ROAD_DIRECTIONS = (("", 75), ("东", 5), ("西", 5), ("南", 5), ("北", 5), ("中", 5))
_ESTATE_HEADS = (
    "阳光", "锦绣", "幸福", "金色", "翠湖", "碧水", "万科", "绿地", "紫金", "东方", "世纪",
    "明珠", "怡景", "枫林", "丽景", "和谐", "春晖", "滨江", "星河", "御景", "龙湖", "保利",
    "金地", "天鹅湖", "香榭", "玫瑰", "橡树湾", "海棠", "雅居", "书香", "康乐", "长城", "电力",
    "铁路", "教师", "邮电",
)  # fmt: skip
_ESTATE_TAILS = (
    "花园", "家园", "小区", "新村", "苑", "公寓", "名苑", "华庭", "雅苑", "新城", "府", "里",
    "嘉园", "佳苑",
)  # fmt: skip

_CAR_MODELS = (  # (model, new-energy, weight)
    ("大众朗逸", False, 6), ("日产轩逸", False, 6), ("丰田卡罗拉", False, 4),
    ("本田雅阁", False, 3), ("丰田凯美瑞", False, 3), ("别克英朗", False, 3),
    ("大众速腾", False, 3), ("大众帕萨特", False, 2), ("本田思域", False, 2), ("哈弗H6", False, 4),
    ("长安CS75", False, 3), ("吉利帝豪", False, 3), ("吉利星越L", False, 1),
    ("奇瑞瑞虎8", False, 1), ("传祺GS4", False, 1), ("宝马3系", False, 2), ("宝马5系", False, 1),
    ("奔驰C级", False, 2), ("奔驰E级", False, 1), ("奥迪A4L", False, 2), ("奥迪A6L", False, 1),
    ("红旗H5", False, 1), ("五菱宏光", False, 2), ("别克GL8", False, 1), ("比亚迪秦PLUS", True, 4),
    ("比亚迪宋PLUS", True, 3), ("比亚迪汉", True, 2), ("比亚迪元PLUS", True, 2),
    ("特斯拉Model 3", True, 2), ("特斯拉Model Y", True, 3), ("五菱宏光MINIEV", True, 3),
    ("理想L7", True, 1), ("问界M7", True, 1), ("小鹏P7", True, 1), ("蔚来ES6", True, 1),
    ("广汽埃安S", True, 1),
)  # fmt: skip
_CAR_COLORS = (
    ("白色", 35), ("黑色", 25), ("灰色", 12), ("银色", 10), ("蓝色", 7), ("红色", 6), ("棕色", 2),
    ("香槟色", 2), ("绿色", 1),
)  # fmt: skip
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used on plates

_EMAIL_DOMAINS = (  # (domain, weight)
    ("qq.com", 22), ("163.com", 25), ("126.com", 12), ("sina.com", 6), ("gmail.com", 8),
    ("hotmail.com", 5), ("foxmail.com", 6), ("outlook.com", 5), ("yeah.net", 3), ("sohu.com", 3),
    ("139.com", 3), ("aliyun.com", 2),
)  # fmt: skip
_PRODUCTS = ("借记卡", "信用卡", "个人贷款", "理财", "基金", "代理保险", "手机银行", "代发工资")
_INSURANCE_TYPES = (  # (type, share, median annual premium in yuan, spread)
    ("车险", 30, 4200, 0.35),
    ("医疗险", 20, 900, 0.6),
    ("意外险", 15, 220, 0.5),
    ("重疾险", 15, 7800, 0.6),
    ("寿险", 8, 12000, 0.7),
    ("年金险", 7, 30000, 0.8),
    ("少儿险", 5, 3500, 0.6),
)
_LOAN_AMOUNTS = (3000, 5000, 8000, 10000, 20000, 30000, 50000, 80000, 100000, 200000)
_LOAN_AMOUNT_WEIGHTS = (6, 12, 6, 18, 16, 14, 14, 5, 7, 2)
_GRADES = ("一年级", "二年级", "三年级", "四年级", "五年级", "六年级",
           "初一", "初二", "初三", "高一", "高二", "高三")  # fmt: skip
_GRADE_WEIGHTS = (9, 9, 9, 9, 9, 9, 9, 9, 10, 6, 6, 6)
_PRIMARY_NAMES = ("实验小学", "第一小学", "第二小学", "第三小学", "中心小学", "育才小学",
                  "阳光小学", "外国语小学", "师范附属小学")  # fmt: skip
_SECONDARY_NAMES = ("第一中学", "第二中学", "第三中学", "第四中学", "第五中学", "第七中学",
                    "第十二中学", "实验中学", "外国语学校", "育才中学")  # fmt: skip


# ---- reference tables --------------------------------------------------------------------


def _read_tsv(name: str) -> list[dict[str, str]]:
    """Rows of a TSV file in ``leaktrace/data`` (``#`` lines are provenance notes)."""
    text = resources.files("leaktrace").joinpath("data", name).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def _normalized(weights: Iterable[float]) -> np.ndarray:
    array = np.asarray(list(weights), dtype=np.float64)
    return array / array.sum()


def _strip_suffix(name: str, suffixes: str) -> str:
    return name[:-1] if len(name) > 2 and name[-1] in suffixes else name


# County-level entries of the region table that are groupings, not places.
_PLACEHOLDERS = frozenset({"市辖区", "县", "市", "省直辖行政单位", "省直辖县级行政单位",
                           "自治区直辖县级行政单位"})  # fmt: skip
_VALIDITY = re.compile(r"^\[(\d*)-(\d*)\]")


def _county_history(text: str) -> list[tuple[int, int, str]]:
    """``"[-1991]东郊区,[1992-]东丽区"`` → ``[(0, 1991, "东郊区"), (1992, 9999, "东丽区")]``."""
    history = []
    for part in text.split(","):
        match = _VALIDITY.match(part)
        if match:
            start, end = int(match[1] or 0), int(match[2] or 9999)
            history.append((start, end, part[match.end() :]))
        else:
            history.append((0, 9999, part))
    return history


@dataclass(frozen=True)
class _Tables:
    surnames: pa.Array
    surname_pinyin: pa.Array
    surname_p: np.ndarray
    given: pa.Array
    given_pinyin: pa.Array
    given_p: np.ndarray  # (6, k): male old/mid/new, female old/mid/new
    province_codes: tuple[str, ...]
    province_names: tuple[str, ...]
    province_p: np.ndarray
    # districts (for addresses), grouped by province
    district_codes: np.ndarray
    district_start: np.ndarray
    district_count: np.ndarray
    district_full: pa.Array  # 浙江省杭州市西湖区
    district_short: pa.Array  # 杭州市西湖区
    district_city: pa.Array
    district_rows: tuple[dict[str, str], ...]
    district_region: np.ndarray  # index into the region table
    plate_heads: pa.Array  # 浙A, 浙B, … grouped by district
    plate_start: np.ndarray
    plate_count: np.ndarray
    # county-level region codes (for resident IDs and hukou), grouped by province
    region_codes: np.ndarray
    region_from: np.ndarray
    region_to: np.ndarray
    region_start: np.ndarray
    region_count: np.ndarray
    region_hukou: pa.Array
    # bank card prefixes
    bin_value: np.ndarray
    bin_length: np.ndarray
    bin_p: np.ndarray


def _load_regions(
    province_codes: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """County-level codes of python-stdnum's GB/T 2260 table, with the years each was in use."""
    from stdnum import numdb

    names: dict[str, list[tuple[int, int, str]]] = {}
    for length, low, high, props, children in numdb.get("cn/loc").prefixes:
        if length != 2:
            continue
        for province in range(int(low), int(high) + 1):
            names[f"{province:02d}0000"] = [(0, 9999, props["province"])]
            for child_length, child_low, child_high, child_props, _ in children:
                if child_length != 4:
                    continue
                for county in range(int(child_low), int(child_high) + 1):
                    names[f"{province:02d}{county:04d}"] = _county_history(child_props["county"])

    def latest(code: str) -> str:
        history = names.get(code)
        return max(history)[2] if history else ""

    rows = []
    for rank, province in enumerate(province_codes):
        for code, history in names.items():
            if not code.startswith(province) or code.endswith("00"):
                continue
            if all(name in _PLACEHOLDERS for _, _, name in history):
                continue
            current = [name for start, end, name in history if end == 9999]
            county = current[-1] if current else max(history)[2]
            prefecture = latest(code[:4] + "00")
            if prefecture in _PLACEHOLDERS or prefecture == latest(province + "0000"):
                prefecture = ""
            hukou = latest(province + "0000") + prefecture + county
            first = min(start for start, _, _ in history)
            last = max(end for _, end, _ in history)
            rows.append((rank, int(code), first, last, hukou))
    rows.sort()
    ranks = np.array([row[0] for row in rows])
    counts = np.bincount(ranks, minlength=len(province_codes))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (
        np.array([row[1] for row in rows], dtype=np.int64),
        np.array([row[2] for row in rows], dtype=np.int32),
        np.array([row[3] for row in rows], dtype=np.int32),
        starts,
        counts,
        [row[4] for row in rows],
    )


@cache
def _tables() -> _Tables:
    surnames = _read_tsv("surnames.tsv")
    given = _read_tsv("given_names.tsv")
    provinces = _read_tsv("provinces.tsv")
    province_codes = tuple(row["code"] for row in provinces)
    rank = {code: i for i, code in enumerate(province_codes)}

    districts = sorted(_read_tsv("districts.tsv"), key=lambda row: rank[row["code"][:2]])
    district_province = np.array([rank[row["code"][:2]] for row in districts])
    counts = np.bincount(district_province, minlength=len(provinces))
    full, short, heads, head_start, head_count = [], [], [], [], []
    for row in districts:
        city = "" if row["city"] == row["province"] else row["city"]
        full.append(row["province"] + city + row["district"])
        short.append((city or row["province"]) + row["district"])
        plate = provinces[rank[row["code"][:2]]]["plate"]
        head_start.append(len(heads))
        head_count.append(len(row["plate_letters"]))
        heads.extend(plate + letter for letter in row["plate_letters"])

    # Reading stdnum's database took 0.26 s of every export's first decoys: kept in the cache
    # folder, read again when stdnum's file, the provinces or this module change.
    sources = [
        resources.files("stdnum").joinpath("cn/loc.dat"),
        resources.files("leaktrace").joinpath("data", "provinces.tsv"),
        Path(__file__),
    ]
    regions = _vector.stored("synth-regions", sources, lambda: _load_regions(province_codes))
    codes, first, last, region_start, region_count, hukou = regions
    region_index = {int(code): i for i, code in enumerate(codes)}
    bins = _read_tsv("card_bins.tsv")
    given_columns = ("m_old", "m_mid", "m_new", "f_old", "f_mid", "f_new")
    return _Tables(
        surnames=pa.array([row["surname"] for row in surnames]),
        surname_pinyin=pa.array([row["pinyin"] for row in surnames]),
        surname_p=_normalized(float(row["share"]) for row in surnames),
        given=pa.array([row["char"] for row in given]),
        given_pinyin=pa.array([row["pinyin"] for row in given]),
        given_p=np.stack([_normalized(float(row[c]) for row in given) for c in given_columns]),
        province_codes=province_codes,
        province_names=tuple(row["name"] for row in provinces),
        province_p=_normalized(float(row["population"]) for row in provinces),
        district_codes=np.array([int(row["code"]) for row in districts]),
        district_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        district_count=counts,
        district_full=pa.array(full),
        district_short=pa.array(short),
        district_city=pa.array([row["city"] for row in districts]),
        district_rows=tuple(districts),
        district_region=np.array([region_index[int(row["code"])] for row in districts]),
        plate_heads=pa.array(heads),
        plate_start=np.array(head_start),
        plate_count=np.array(head_count),
        region_codes=codes,
        region_from=first,
        region_to=last,
        region_start=region_start,
        region_count=region_count,
        region_hukou=pa.array(hukou),
        bin_value=np.array([int(row["bin"]) for row in bins], dtype=np.int64),
        bin_length=np.array([int(row["length"]) for row in bins]),
        bin_p=_normalized(float(row["weight"]) for row in bins),
    )


def surname_shares() -> dict[str, float]:
    """The surname table the generator draws from: surname → share of the population (sums to 1).

    >>> shares = surname_shares()
    >>> max(shares, key=shares.get)
    '王'
    """
    tables = _tables()
    return dict(zip(tables.surnames.to_pylist(), tables.surname_p.tolist(), strict=True))


# ---- column building blocks ----------------------------------------------------------------


# "0000" .. "9999" as bytes, one row each (arithmetic, not 10,000 Python strings at import).
_DIGIT_QUADS = (48 + np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1]) % 10).astype(
    np.uint8
)
_DIGIT_QUADS_32 = _DIGIT_QUADS.view(np.uint32).ravel()  # one 4-byte gather per quad


def _ascii_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as an (n, width) matrix of ASCII digit bytes, zero-padded; four
    digits per division and table lookup (int64 division is the slow part)."""
    values = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((values.size, width), dtype=np.uint8)
    end = width
    while end > 0:
        quad = _DIGIT_QUADS_32[values % 10_000].view(np.uint8).reshape(-1, 4)
        begin = max(0, end - 4)
        out[:, begin:end] = quad[:, 4 - (end - begin) :]
        values //= 10_000
        end = begin
    return out


def _fixed_strings(matrix: np.ndarray) -> pa.Array:
    """Each row of an (n, width) ASCII byte matrix as one string (no copy through Python)."""
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _ragged_strings(matrix: np.ndarray, lengths: np.ndarray, right: bool = False) -> pa.Array:
    """Strings of ``lengths[i]`` bytes from row i of an ASCII matrix (left- or right-aligned)."""
    rows, width = matrix.shape
    columns = np.arange(width)
    keep = columns >= width - lengths[:, None] if right else columns < lengths[:, None]
    data = np.ascontiguousarray(matrix, dtype=np.uint8)[keep]
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _pick(pool: pa.Array | Sequence[str | None], index: np.ndarray) -> pa.Array:
    if not isinstance(pool, pa.Array):
        pool = pa.array(pool, pa.string())
    return pool.take(pa.array(np.asarray(index, dtype=np.int64)))


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; null parts are left out."""
    return pc.binary_join_element_wise(*parts, "", null_handling="skip")


def _only(values: pa.Array, keep: np.ndarray) -> pa.Array:
    """``values`` where ``keep``, null elsewhere."""
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


class _Alias:
    """Walker's alias table: weighted draws in constant time (a binary search over a cumulative
    table costs ~100 ns a draw, five times this)."""

    def __init__(self, weights: Sequence[float]) -> None:
        size = len(weights)
        scaled = np.asarray(weights, dtype=np.float64) * size / math.fsum(weights)
        self.probability = np.ones(size)
        self.alias = np.arange(size)
        small = [i for i in range(size) if scaled[i] < 1]
        large = [i for i in range(size) if scaled[i] >= 1]
        while small and large:
            low, high = small.pop(), large.pop()
            self.probability[low] = scaled[low]
            self.alias[low] = high
            scaled[high] -= 1 - scaled[low]
            (small if scaled[high] < 1 else large).append(high)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        u = rng.random(size) * len(self.alias)
        index = u.astype(np.int64)
        return np.where(u - index < self.probability[index], index, self.alias[index])


class _GroupedAlias:
    """Alias tables for several weightings of the same items, drawn with one weighting per row."""

    def __init__(self, weights: np.ndarray) -> None:
        tables = [_Alias(row.tolist()) for row in weights]
        self.probability = np.stack([table.probability for table in tables])
        self.alias = np.stack([table.alias for table in tables])

    def draw(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        u = rng.random(group.size) * self.alias.shape[1]
        index = u.astype(np.int64)
        keep = u - index < self.probability[group, index]
        return np.where(keep, index, self.alias[group, index])


@cache
def _alias(weights: tuple[float, ...]) -> _Alias:
    return _Alias(weights)


def _choice(rng: np.random.Generator, p: np.ndarray | Sequence[float], size: int) -> np.ndarray:
    """``size`` draws of indices into ``p`` with probabilities proportional to ``p``."""
    return _alias(tuple(np.asarray(p, dtype=np.float64).tolist())).draw(rng, size)


def _money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Amounts in fen as ``decimal128(15, 2)`` yuan, built from the integer buffers."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high word
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
    return pa.Array.from_buffers(_MONEY, cents.size, [bitmap, pa.py_buffer(words)])


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype="datetime64[D]"), pa.date32())


def _days(day: datetime.date) -> int:
    return (day - datetime.date(1970, 1, 1)).days


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


_CALENDAR_START = datetime.date(1900, 1, 1)
_CALENDAR_DAYS = 200 * 366


@cache
def _calendar() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of every date from 1900 for 200 years, indexed by day number."""
    stamp = np.datetime64(_CALENDAR_START) + np.arange(_CALENDAR_DAYS)
    months = stamp.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    return (
        years.astype(np.int64) + 1970,
        (months - years).astype(np.int64) + 1,
        (stamp - months).astype(np.int64) + 1,
    )


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day (int64 arrays) of day numbers counted from 1970-01-01."""
    offset = np.asarray(days, dtype=np.int64) - _days(_CALENDAR_START)
    year, month, day = _calendar()
    return year[offset], month[offset], day[offset]


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a cheap, well-spread 64-bit hash (uint64 arithmetic wraps)."""
    z = values ^ (values >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _permute(index: np.ndarray, domain: int, key: np.ndarray) -> np.ndarray:
    """A keyed bijection of ``[0, domain)`` applied to ``index``: a Feistel network over the
    smallest bit width that holds ``domain`` (unbalanced when the width is odd), cycle-walked
    back into range. Distinct row numbers give distinct values, so these never repeat."""
    bits = max(2, int(domain - 1).bit_length())
    widths = (bits - bits // 2, bits // 2)  # (high, low); they swap every round
    values = np.asarray(index, dtype=np.uint64).copy()
    out = np.empty_like(values)
    todo = np.arange(values.size)
    while todo.size:
        high_width, low_width = widths
        high = values[todo] >> np.uint64(low_width)
        low = values[todo] & np.uint64((1 << low_width) - 1)
        for round_key in key:  # an even number of rounds brings the widths back
            mixed = _mix(low ^ round_key) & np.uint64((1 << high_width) - 1)
            high, low = low, high ^ mixed
            high_width, low_width = low_width, high_width
        walked = (high << np.uint64(low_width)) | low
        inside = walked < np.uint64(domain)
        out[todo[inside]] = walked[inside]
        values[todo[~inside]] = walked[~inside]
        todo = todo[~inside]
    return out.astype(np.int64)


_PURPOSES = {"mobile": 1, "parent_mobile": 2, "card": 3, "policy": 4}


def _keys(seed: int, kind: str, purpose: str) -> np.ndarray:
    """Round keys of the permutation that numbers ``purpose`` (unique per data set)."""
    entropy = [seed, 0x5EED, KINDS.index(kind), _PURPOSES[purpose]]
    return np.random.SeedSequence(entropy).generate_state(4, np.uint64)


# ---- fields --------------------------------------------------------------------------------


def _birth_days(
    rng: np.random.Generator, size: int, as_of: datetime.date, groups: Sequence[tuple]
) -> np.ndarray:
    """Birth dates (days since 1970) so that the age on ``as_of`` follows ``groups``."""
    weights = _normalized(group[2] for group in groups)
    low = np.array([_days(_years_before(as_of, group[1])) + 1 for group in groups])
    high = np.array([_days(_years_before(as_of, group[0])) for group in groups])
    group = _choice(rng, weights, size)
    span = high[group] - low[group] + 1
    return low[group] + (rng.random(size) * span).astype(np.int64)


@dataclass
class _Names:
    names: pa.Array
    surnames: np.ndarray  # index into the surname table
    given: np.ndarray  # index into _given_pools(): one character, or a pair


@cache
def _given_pools() -> tuple[pa.Array, pa.Array]:
    """Given names and their pinyin: the k single characters, then all k*k pairs."""
    tables = _tables()
    chars = tables.given.to_pylist()
    pinyin = tables.given_pinyin.to_pylist()
    names = chars + [a + b for a in chars for b in chars]
    spelled = pinyin + [a + b for a in pinyin for b in pinyin]
    return pa.array(names), pa.array(spelled)


def _names(
    rng: np.random.Generator,
    male: np.ndarray,
    years: np.ndarray,
    surnames: np.ndarray | None = None,
) -> _Names:
    """Full names: a surname by frequency, one or two given-name characters by gender and era."""
    tables = _tables()
    size = male.size
    if surnames is None:
        surnames = _choice(rng, tables.surname_p, size)
    era = np.digitize(years, _ERA_BOUNDS)
    group = np.where(male, 0, 3) + era
    chars = _given_alias()
    first = chars.draw(rng, group)
    second = chars.draw(rng, group)
    two = rng.random(size) >= _SINGLE_CHAR_SHARE[era]
    # A doubled character (婷婷, 丹丹) is a girl's name; otherwise keep the first character only.
    two &= (first != second) | (~male & (rng.random(size) < 0.5))
    count = len(tables.given)
    given = np.where(two, count + first * count + second, first)
    names = _join(_pick(tables.surnames, surnames), _pick(_given_pools()[0], given))
    return _Names(names=names, surnames=surnames, given=given)


@cache
def _given_alias() -> _GroupedAlias:
    return _GroupedAlias(_tables().given_p)


def _homes(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Province (by population) and district of residence."""
    tables = _tables()
    province = _choice(rng, tables.province_p, size)
    district = tables.district_start[province] + (
        rng.random(size) * tables.district_count[province]
    ).astype(np.int64)
    return province, district


@cache
def _address_pools() -> tuple[pa.Array, ...]:
    """Address parts pre-combined so that an address is five takes and one join: district
    (with or without the province), road, house number, estate, and building/unit/room in the
    estate layouts. A null entry closes the road and estate pools (the part is left out)."""
    tables = _tables()
    rooms = [floor * 100 + door for floor in range(1, 34) for door in range(1, 5)]
    roads = [b + d + t for b in _ROAD_BASES for d, _ in _ROAD_DIRECTIONS for t, _ in _ROAD_TYPES]
    estates = [h + t for h in _ESTATE_HEADS for t in _ESTATE_TAILS]
    flats = [
        *(f"{b}栋{u}单元{r}室" for b in range(1, 31) for u in range(1, 7) for r in rooms),
        *(f"{b}号楼{r}" for b in range(1, 31) for r in rooms),
        *(f"{b}-{u}-{r}" for b in range(1, 31) for u in range(1, 7) for r in rooms),
        None,
    ]
    return (
        pa.concat_arrays([tables.district_full, tables.district_short]),
        pa.array([*roads, None], pa.string()),
        pa.array([*(f"{i}号" for i in range(1, 1000)), None], pa.string()),
        pa.array([*estates, None], pa.string()),
        pa.array(flats, pa.string()),
    )


_FLAT_LAYOUTS = np.array([0, 30 * 6 * 132, -1, 30 * 6 * 132 + 30 * 132])  # offsets in flats


def _addresses(rng: np.random.Generator, district: np.ndarray) -> pa.Array:
    """省市区 + road + number + estate/building/unit/room, in four common layouts:
    0 ``…路12号阳光花园3栋2单元1502室``, 1 ``…路12号阳光花园3号楼1502``, 2 ``…路12号``,
    3 ``…阳光花园3-2-1502``. One in five leaves out the province."""
    heads, roads, numbers, estates, flats = _address_pools()
    size = district.size
    layout = _choice(rng, (50, 25, 10, 15), size)
    road = (
        rng.integers(0, len(_ROAD_BASES), size) * (len(_ROAD_DIRECTIONS) * len(_ROAD_TYPES))
        + _choice(rng, _weights(_ROAD_DIRECTIONS), size) * len(_ROAD_TYPES)
        + _choice(rng, _weights(_ROAD_TYPES), size)
    )
    number = (np.exp(rng.random(size) * math.log(999))).astype(np.int64) - 1
    building = rng.integers(0, 30, size)
    unit = rng.integers(0, 6, size)
    room = rng.integers(0, 132, size)
    flat = np.where(
        layout == 1,
        _FLAT_LAYOUTS[1] + building * 132 + room,
        _FLAT_LAYOUTS[layout] + (building * 6 + unit) * 132 + room,
    )
    no_road = layout == 3
    no_estate = layout == 2
    short = rng.random(size) < 0.2
    return _join(
        _pick(heads, district + short * len(_tables().district_rows)),
        _pick(roads, np.where(no_road, len(roads) - 1, road)),
        _pick(numbers, np.where(no_road, len(numbers) - 1, number)),
        _pick(
            estates, np.where(no_estate, len(estates) - 1, rng.integers(0, len(estates) - 1, size))
        ),
        _pick(flats, np.where(no_estate, len(flats) - 1, flat)),
    )


def _weights(pairs: Sequence[tuple[object, float]]) -> np.ndarray:
    return _normalized(weight for _, weight in pairs)


def _resident_ids(
    rng: np.random.Generator,
    male: np.ndarray,
    birth: np.ndarray,
    province: np.ndarray,
    home_district: np.ndarray,
    as_of: datetime.date,
) -> tuple[pa.Array, np.ndarray]:
    """18-character resident ID numbers and the region-table index of each.

    Most people hold an ID of their home province, half of those of their very district. The
    region code must have been in use when the number was assigned: at birth, or in 1985 when
    numbers were first assigned to people born earlier (python-stdnum checks the birth year,
    which rejects many real numbers of older people; see PEERS.md).
    """
    tables = _tables()
    size = male.size
    year = _ymd(birth)[0]
    assigned = np.minimum(np.maximum(year, _FIRST_ASSIGNED), as_of.year)
    native = rng.random(size) < 0.72
    id_province = np.where(native, province, _choice(rng, tables.province_p, size))
    region = np.full(size, -1, dtype=np.int64)
    local = native & (rng.random(size) < 0.5)
    candidate = tables.district_region[home_district]
    usable = (tables.region_from[candidate] <= assigned) & (assigned <= tables.region_to[candidate])
    region[local & usable] = candidate[local & usable]
    todo = np.flatnonzero(region < 0)
    starts, counts, codes = _regions_in_use(as_of.year)
    cell = id_province[todo], assigned[todo] - _FIRST_ASSIGNED
    pick = (rng.random(todo.size) * counts[cell]).astype(np.int64)
    region[todo] = codes[starts[cell] + pick]
    sequence = rng.integers(0, 500, size) * 2 + male  # odd for men, even for women
    regions, region_sum, dates, date_sum, sequences, sequence_sum = _id_parts()
    day = birth - _days(_CALENDAR_START)
    out = np.empty((size, 18), dtype=np.uint8)
    out[:, :6] = np.take(regions, region, axis=0)  # take() is 4x faster than fancy indexing
    out[:, 6:14] = np.take(dates, day, axis=0)
    out[:, 14:17] = np.take(sequences, sequence, axis=0)
    out[:, 17] = _GB11643_CHARS[(region_sum[region] + date_sum[day] + sequence_sum[sequence]) % 11]
    return _fixed_strings(out), region


_FIRST_ASSIGNED = 1985  # numbers were first assigned to everyone born earlier


@cache
def _regions_in_use(last_year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each province and year from 1985 to ``last_year``, the region-table indices of the
    codes in use that year (as offsets and counts into one index array). Where a province had
    none yet (海南 before 1988, 重庆 before 1997) it gets the codes in use at any later time."""
    tables = _tables()
    years = range(_FIRST_ASSIGNED, last_year + 1)
    starts = np.zeros((len(tables.province_codes), len(years)), dtype=np.int64)
    counts = np.zeros_like(starts)
    chosen: list[np.ndarray] = []
    total = 0
    for p in range(len(tables.province_codes)):
        own = np.arange(tables.region_start[p], tables.region_start[p] + tables.region_count[p])
        for y, year in enumerate(years):
            used = own[(tables.region_from[own] <= year) & (year <= tables.region_to[own])]
            if not used.size:
                used = own[tables.region_to[own] >= year]
            starts[p, y], counts[p, y] = total, used.size
            chosen.append(used)
            total += used.size
    return starts, counts, np.concatenate(chosen)


@cache
def _id_parts() -> tuple[np.ndarray, ...]:
    """The pieces of a resident ID number as ASCII bytes (region codes, every date of the
    calendar, sequence numbers), each with its part of the GB 11643 weighted sum, so that a
    number is three lookups."""
    year, month, day = _calendar()
    pieces = (
        _ascii_digits(_tables().region_codes, 6),
        _ascii_digits(year * 10_000 + month * 100 + day, 8),
        _ascii_digits(np.arange(1000), 3),
    )
    out: list[np.ndarray] = []
    position = 0
    for piece in pieces:
        width = piece.shape[1]
        weights = _GB11643_WEIGHTS[position : position + width]
        out += [piece, (piece.astype(np.int64) - 48) @ weights]
        position += width
    return tuple(out)


# Check characters are computed here from tables; leaktrace.checksums has the validators
# (scalar and matrix) the tests hold them against, but no vectorised form that computes a check
# character, and trying every candidate through a validator costs ten passes.
_GB11643_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_GB11643_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int16)


def _luhn_sums(digits: np.ndarray, doubled_last: bool) -> np.ndarray:
    """Luhn contributions of rows of digits (0-9) whose last digit is (or is not) doubled."""
    doubled = np.zeros(digits.shape[1], dtype=bool)
    doubled[-1 if doubled_last else -2 :: -2] = True
    return _LUHN_DOUBLED[digits[:, doubled]].sum(axis=1) + digits[:, ~doubled].sum(axis=1)


@cache
def _card_parts() -> tuple[np.ndarray, ...]:
    """Bank card pieces as ASCII bytes with their Luhn contributions. Digits at an odd distance
    from the check digit are doubled: the prefix ends at distance 10 on 16-digit cards and 13
    on 19-digit ones, the three filler digits of 19-digit cards end at 10, and the nine-digit
    body (one digit, then two groups of four) has its groups end at 5 and 1 and starts at 9."""
    tables = _tables()
    prefixes = _ascii_digits(tables.bin_value, 6)
    prefix_sum = np.where(
        tables.bin_length == 19,
        _luhn_sums(prefixes - 48, doubled_last=True),
        _luhn_sums(prefixes - 48, doubled_last=False),
    )
    fillers = _ascii_digits(np.arange(1000), 3)
    return (
        prefixes,
        prefix_sum,
        fillers,
        _luhn_sums(fillers - 48, doubled_last=False),
        _luhn_sums(_ascii_digits(np.arange(10_000), 4) - 48, doubled_last=True),
    )


def _mobiles(rng: np.random.Generator, index: np.ndarray, key: np.ndarray) -> pa.Array:
    """A prefix by operator share and eight digits that are a permutation of the row number."""
    prefixes = np.array(list(_MOBILE_PREFIXES), dtype=np.int64)
    prefix = prefixes[_choice(rng, _normalized(_MOBILE_PREFIXES.values()), index.size)]
    return _fixed_strings(_ascii_digits(prefix * 10**8 + _permute(index, 10**8, key), 11))


def _cards(rng: np.random.Generator, index: np.ndarray, key: np.ndarray) -> pa.Array:
    """UnionPay debit cards: prefix, three random digits on 19-digit cards, a unique nine-digit
    body and the Luhn check digit."""
    tables = _tables()
    prefixes, prefix_sum, fillers, filler_sum, quad_sum = _card_parts()
    size = index.size
    bank = _choice(rng, tables.bin_p, size)
    long = tables.bin_length[bank] == 19
    filler = rng.integers(0, 1000, size)
    body = _permute(index, 10**9, key)
    high, low = body // 10_000, body % 10_000
    total = (
        prefix_sum[bank]
        + np.where(long, filler_sum[filler], 0)
        + _LUHN_DOUBLED[high // 10_000]
        + quad_sum[high % 10_000]
        + quad_sum[low]
    )
    check = ((10 - total % 10) % 10 + 48).astype(np.uint8)
    matrix = np.concatenate(
        [
            np.take(prefixes, bank, axis=0),
            np.take(fillers, filler, axis=0),
            _ascii_digits(body, 9),
            check[:, None],
        ],
        axis=1,
    )
    keep = np.ones(matrix.shape, dtype=bool)
    keep[:, 6:9] = long[:, None]  # 16-digit cards have no filler
    lengths = np.where(long, 19, 16)
    offsets = np.zeros(size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = matrix[keep]
    return pa.Array.from_buffers(
        pa.string(), size, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


_PLATE_LETTER_BYTES = np.frombuffer(_PLATE_LETTERS.encode(), dtype=np.uint8)


def _plates(rng: np.random.Generator, district: np.ndarray, new_energy: np.ndarray) -> pa.Array:
    """Plates of the home city: 浙A12345, 浙A3B456, 浙AB1234; new-energy 浙AD12345 / 浙A12345F."""
    tables = _tables()
    size = district.size
    first = rng.random(size) < 0.5  # the city's first letter is the most common
    letter = np.where(first, 0, (rng.random(size) * tables.plate_count[district]).astype(np.int64))
    head = _pick(tables.plate_heads, tables.plate_start[district] + letter)
    tail = _ascii_digits(rng.integers(0, 10**6, size), 6)
    letters = _PLATE_LETTER_BYTES[rng.integers(0, len(_PLATE_LETTERS), (size, 2))]
    column = np.arange(6)
    # Ordinary (five characters): all digits, one letter in the first places, or two leading.
    style = np.where(new_energy, 0, _choice(rng, (55, 35, 10), size))
    position = _choice(rng, (40, 25, 15, 10, 10), size)
    position = np.where(style == 1, position, np.where(style == 2, 0, -1))
    tail = np.where(column == position[:, None], letters[:, :1], tail)
    # New energy (six): small cars D (electric) or F, then a letter or digit, then four digits;
    # one in ten is a large vehicle, five digits and then D or F.
    small = new_energy & (rng.random(size) < 0.9)
    large = new_energy & ~small
    energy = np.where(rng.random(size) < 0.3, ord("F"), ord("D")).astype(np.uint8)[:, None]
    tail = np.where(
        (small[:, None] & (column == 0)) | (large[:, None] & (column == 5)), energy, tail
    )
    second = (style == 2) | (small & (rng.random(size) < 0.3))
    tail = np.where(second[:, None] & (column == 1), letters[:, 1:], tail)
    return _join(head, _ragged_strings(tail, np.where(new_energy, 6, 5)))


@cache
def _email_pools() -> tuple[pa.Array, pa.Array, pa.Array]:
    """Pinyin pieces of e-mail local parts: first parts (surnames, then given names), second
    parts (given names, surnames, given-name initials) and suffixes ("", 1900-2029, 00-99,
    1-9999)."""
    tables = _tables()
    chars = tables.given_pinyin.to_pylist()
    given = _given_pools()[1].to_pylist()
    surnames = tables.surname_pinyin.to_pylist()
    initials = [c[0] for c in chars] + [a[0] + b[0] for a in chars for b in chars]
    suffixes = ["", *map(str, range(1900, 2030)), *(f"{i:02d}" for i in range(100))]
    suffixes += map(str, range(1, 10_000))
    return pa.array(surnames + given), pa.array(given + surnames + initials), pa.array(suffixes)


def _scatter(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """``values`` (one per True in ``mask``, in order) spread over ``mask``, null elsewhere."""
    return pc.replace_with_mask(pa.nulls(mask.size, values.type), pa.array(mask), values)


def _emails(
    rng: np.random.Generator,
    names: _Names,
    years: np.ndarray,
    mobiles: pa.Array,
    share: float,
) -> pa.Array:
    """E-mail for ``share`` of the rows. Local parts: pinyin of the name (wangfang, fangwang,
    wang.fang, wangf, with a birth year, two digits or a number), a QQ number at qq.com, the
    mobile number, or random letters and digits."""
    has = rng.random(years.size) < share
    rows = np.flatnonzero(has)
    count = rows.size
    style = _choice(rng, (50, 28, 8, 14), count)
    domain = np.where(style == 1, 0, _choice(rng, _weights(_EMAIL_DOMAINS), count))
    parts, order = [], []
    for kind in range(4):
        which = np.flatnonzero(style == kind)
        order.append(which)
        size = which.size
        if kind == 0:
            surnames = names.surnames[rows[which]]
            given = names.given[rows[which]]
            first_pool, second_pool, suffix_pool = _email_pools()
            form = rng.integers(0, 4, size)  # wangfang, fangwang, wang.fang, wangf
            surname_count, given_count = len(_tables().surnames), len(_given_pools()[1])
            first = np.where(form == 1, surname_count + given, surnames)
            second = np.select(
                [form == 1, form == 3],
                [given_count + surnames, given_count + surname_count + given],
                given,
            )
            year = years[rows[which]]
            suffix = np.select(
                [rng.random(size) < 0.35, rng.random(size) < 0.4, rng.random(size) < 0.4],
                [0, 1 + year - 1900, 131 + year % 100],
                231 + rng.integers(0, 9999, size),
            )
            dot = pa.array(np.where(form == 2, ".", ""))
            parts.append(
                _join(_pick(first_pool, first), dot, _pick(second_pool, second),
                      _pick(suffix_pool, suffix))
            )  # fmt: skip
        elif kind == 1:  # QQ numbers, 6-10 digits
            digits = _ascii_digits(rng.integers(10**9, 10**10, size), 10)
            parts.append(_ragged_strings(digits, _choice(rng, (3, 10, 20, 35, 32), size) + 6))
        elif kind == 2:
            parts.append(mobiles.take(pa.array(rows[which])))
        else:
            alphabet = np.frombuffer(string.ascii_lowercase.encode() + b"0123456789_", np.uint8)
            chars = alphabet[rng.integers(0, 26, (size, 10))]  # starts with a letter
            chars[:, 3:] = alphabet[rng.integers(0, len(alphabet), (size, 7))]
            parts.append(_ragged_strings(chars, rng.integers(6, 11, size)))
    inverse = np.empty(count, dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(count)
    local = pa.concat_arrays(parts).take(pa.array(inverse))
    domains = pa.array(["@" + d for d, _ in _EMAIL_DOMAINS])
    return _scatter(_join(local, _pick(domains, domain)), has)


def _open_days(
    rng: np.random.Generator, birth: np.ndarray, as_of: datetime.date, earliest: datetime.date
) -> np.ndarray:
    """Account opening: after the 18th birthday and ``earliest``, skewed to recent years."""
    low = np.maximum(birth + 6575, _days(earliest))
    high = _days(as_of)
    return low + (np.sqrt(rng.random(birth.size)) * (high - low)).astype(np.int64)


@cache
def _branches(kind: str, institution: str) -> pa.Array:
    """Branch names, three outlets per district of the address table."""
    tables = _tables()
    names = []
    for row in tables.district_rows:
        city = _strip_suffix(row["city"], "市")
        district = _strip_suffix(row["district"], "区市县")
        code = int(row["code"])
        roads = [_ROAD_BASES[(code * 7 + outlet * 13) % len(_ROAD_BASES)] for outlet in (1, 2)]
        if kind == "bank":
            outlets = [f"{city}{district}支行", f"{city}{roads[0]}路支行", f"{city}{roads[1]}支行"]
        else:
            outlets = [
                f"{city}中心支公司",
                f"{city}{district}营销服务部",
                f"{city}{roads[0]}营销服务部",
            ]
        names.extend(institution + outlet for outlet in outlets)
    return pa.array(names)


def _lognormal_cents(
    rng: np.random.Generator, median: float | np.ndarray, sigma: float | np.ndarray, size: int
) -> np.ndarray:
    return np.round(np.exp(rng.normal(np.log(median), sigma, size)) * 100).astype(np.int64)


# ---- kinds ---------------------------------------------------------------------------------


def _stream_code(name: str) -> int:
    return zlib.crc32(name.encode())


class _Block:
    """One block of rows. Draws that several columns share (gender, birth date, home, names)
    are made once; every column draws from a random stream of its own, so generating only some
    columns gives exactly the values the full table has."""

    def __init__(
        self,
        seed: int,
        kind: str,
        block: int,
        index: np.ndarray,
        as_of: datetime.date,
        institution: str,
    ) -> None:
        self.seed = seed
        self.kind = kind
        self.block = block
        self.index = index
        self.size = index.size
        self.as_of = as_of
        self.institution = institution
        self.student = kind == "education"

    def rng(self, stream: str) -> np.random.Generator:
        entropy = [self.seed, KINDS.index(self.kind), self.block, _stream_code(stream)]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def column(self, name: str) -> pa.Array:
        return getattr(self, f"col_{name}")()

    # shared draws

    @cached_property
    def male(self) -> np.ndarray:
        return self.rng("gender").random(self.size) < (0.52 if self.student else 0.51)

    @cached_property
    def grade(self) -> np.ndarray:
        return _choice(self.rng("grade"), _GRADE_WEIGHTS, self.size)

    @cached_property
    def birth(self) -> np.ndarray:
        rng = self.rng("birth")
        if not self.student:
            return _birth_days(rng, self.size, self.as_of, _ADULT_AGES)
        # School years start on 1 September: grade g (0 = 一年级) was born Sep Y-7-g .. Aug Y-6-g.
        school_year = self.as_of.year if self.as_of.month >= 9 else self.as_of.year - 1
        start = np.array([_days(datetime.date(school_year - 7 - g, 9, 1)) for g in range(12)])
        end = np.array([_days(datetime.date(school_year - 6 - g, 8, 31)) for g in range(12)])
        span = end[self.grade] - start[self.grade] + 1
        return start[self.grade] + (rng.random(self.size) * span).astype(np.int64)

    @cached_property
    def year(self) -> np.ndarray:
        return _ymd(self.birth)[0]

    @cached_property
    def names(self) -> _Names:
        return _names(self.rng("name"), self.male, self.year)

    @cached_property
    def home(self) -> tuple[np.ndarray, np.ndarray]:
        return _homes(self.rng("home"), self.size)

    @cached_property
    def resident_ids(self) -> tuple[pa.Array, np.ndarray]:
        province, district = self.home
        return _resident_ids(self.rng("id"), self.male, self.birth, province, district, self.as_of)

    @cached_property
    def mobiles(self) -> pa.Array:
        return _mobiles(self.rng("mobile"), self.index, _keys(self.seed, self.kind, "mobile"))

    @cached_property
    def cars(self) -> tuple[np.ndarray, np.ndarray]:
        """Who has a car (insurer customers more often), and its model."""
        rng = self.rng("car")
        has_car = rng.random(self.size) < {"insurer": 0.45, "lender": 0.4}.get(self.kind, 0.35)
        return has_car, _choice(rng, [w for _, _, w in _CAR_MODELS], self.size)

    @cached_property
    def salaried(self) -> np.ndarray:
        return self.rng("income_form").random(self.size) < 0.6

    @cached_property
    def opened(self) -> np.ndarray:
        rng = self.rng("open_date")
        if self.student:  # enrolled within the last three years
            return _days(self.as_of) - (rng.random(self.size) * 3 * 365).astype(np.int64)
        earliest = {"bank": 1995, "insurer": 2005, "lender": 2015}[self.kind]
        return _open_days(rng, self.birth, self.as_of, datetime.date(earliest, 1, 1))

    @cached_property
    def loans(self) -> tuple[np.ndarray, np.ndarray]:
        """Bank: who has a loan and its balance in fen. Lender: amount and balance in fen."""
        rng = self.rng("loans")
        size = self.size
        if self.kind == "bank":
            has_loan = rng.random(size) < 0.3
            balance = np.where(
                rng.random(size) < 0.4,  # mortgages, else consumer and business loans
                _lognormal_cents(rng, 450_000, 0.6, size),
                _lognormal_cents(rng, 60_000, 1.0, size),
            )
            return has_loan, np.clip(balance, 50_000, 800_000_000)
        round_amount = np.array(_LOAN_AMOUNTS)[_choice(rng, _LOAN_AMOUNT_WEIGHTS, size)]
        odd_amount = np.clip(
            np.round(np.exp(rng.normal(math.log(30000), 0.8, size)), -2), 1000, 3e5
        )
        amount = np.where(rng.random(size) < 0.7, round_amount, odd_amount).astype(np.int64) * 100
        repaid = rng.random(size) < 0.15
        balance = np.where(repaid, 0, (amount * rng.uniform(0.05, 1.0, size)).astype(np.int64))
        return amount, balance

    @cached_property
    def has_credit_card(self) -> np.ndarray:
        return self.rng("credit_card").random(self.size) < 0.55

    @cached_property
    def insurance(self) -> np.ndarray:
        rng = self.rng("insurance_type")
        kind = _choice(rng, [t[1] for t in _INSURANCE_TYPES], self.size)
        # Car insurance needs a car; most car owners among the customers hold it.
        has_car = self.cars[0]
        kind = np.where(has_car & (rng.random(self.size) < 0.6), 0, kind)
        return np.where(~has_car & (kind == 0), 1, kind)

    @cached_property
    def branch(self) -> np.ndarray:
        return _choice(self.rng("branch"), [60, 25, 15], self.size)

    # columns shared by every kind

    def col_customer_id(self) -> pa.Array:
        prefix = np.full((self.size, 1), ord("C"), dtype=np.uint8)
        return _fixed_strings(np.concatenate([prefix, _ascii_digits(self.index + 1, 8)], axis=1))

    def col_name(self) -> pa.Array:
        return self.names.names

    col_student_name = col_name

    def col_gender(self) -> pa.Array:
        return _pick(_GENDERS, self.male.astype(np.int64))

    def col_birth_date(self) -> pa.Array:
        return _dates(self.birth)

    def col_id_number(self) -> pa.Array:
        return self.resident_ids[0]

    def col_mobile(self) -> pa.Array:
        return self.mobiles

    def col_email(self) -> pa.Array:
        share = 0.35 if self.kind == "bank" else 0.25
        return _emails(self.rng("email"), self.names, self.year, self.mobiles, share)

    def col_province(self) -> pa.Array:
        return _pick(list(_tables().province_names), self.home[0])

    def col_city(self) -> pa.Array:
        return _pick(_tables().district_city, self.home[1])

    def col_address(self) -> pa.Array:
        return _addresses(self.rng("address"), self.home[1])

    def col_hukou(self) -> pa.Array:
        return _pick(_tables().region_hukou, self.resident_ids[1])

    def col_income_form(self) -> pa.Array:
        return _pick(_INCOME_FORMS, self.salaried.astype(np.int64))

    def col_social_security(self) -> pa.Array:
        return pa.array(self.rng("social_security").random(self.size) < 0.68)

    def col_property(self) -> pa.Array:
        return pa.array(self.rng("property").random(self.size) < 0.45)

    def col_car_model(self) -> pa.Array:
        has_car, model = self.cars
        return _only(_pick([m for m, _, _ in _CAR_MODELS], model), has_car)

    def col_car_color(self) -> pa.Array:
        color = _choice(self.rng("car_color"), _weights(_CAR_COLORS), self.size)
        return _only(_pick([c for c, _ in _CAR_COLORS], color), self.cars[0])

    def col_plate(self) -> pa.Array:
        has_car, model = self.cars
        owners = np.flatnonzero(has_car)
        new_energy = np.array([nev for _, nev, _ in _CAR_MODELS])[model[owners]]
        return _scatter(_plates(self.rng("plate"), self.home[1][owners], new_energy), has_car)

    def col_open_date(self) -> pa.Array:
        return _dates(self.opened)

    def col_branch_code(self) -> pa.Array:
        codes = _tables().district_codes[self.home[1]] * 100 + self.branch + 1
        return _fixed_strings(_ascii_digits(codes, 8))

    def col_branch_name(self) -> pa.Array:
        return _pick(_branches(self.kind, self.institution), self.home[1] * 3 + self.branch)

    def col_card_number(self) -> pa.Array:
        return _cards(self.rng("card_number"), self.index, _keys(self.seed, self.kind, "card"))

    def col_loan_balance(self) -> pa.Array:
        if self.kind == "bank":
            has_loan, balance = self.loans
            return _money(balance, has_loan)
        return _money(self.loans[1])

    # bank

    def col_credit_limit(self) -> pa.Array:
        rng = self.rng("credit_limit")
        limit = np.clip(np.exp(rng.normal(math.log(20000), 0.8, self.size)), 2000, 500_000)
        step = np.where(rng.random(self.size) < 0.7, 1000, 100)
        limit = np.maximum(np.round(limit / step) * step, step).astype(np.int64)
        return _money(limit * 100, self.has_credit_card)

    def col_products(self) -> pa.Array:
        rng = self.rng("products")
        size = self.size
        held = np.stack(
            [
                rng.random(size) < 0.97,  # 借记卡
                self.has_credit_card,
                self.loans[0],
                rng.random(size) < 0.22,  # 理财
                rng.random(size) < 0.12,  # 基金
                rng.random(size) < 0.08,  # 代理保险
                rng.random(size) < 0.72,  # 手机银行
                self.salaried,  # 代发工资
            ],
            axis=1,
        )
        return _pick(_product_sets(), held.astype(np.int64) @ (1 << np.arange(len(_PRODUCTS))))

    # insurer

    def col_policy_number(self) -> pa.Array:
        year = _ymd(self.opened)[0]
        province = np.array([int(c) for c in _tables().province_codes])[self.home[0]]
        serial = _permute(self.index, 10**10, _keys(self.seed, self.kind, "policy"))
        letter = np.full((self.size, 1), ord("P"), dtype=np.uint8)
        digits = _ascii_digits((year * 100 + province) * 10**10 + serial, 16)
        return _fixed_strings(np.concatenate([letter, digits], axis=1))

    def col_insurance_type(self) -> pa.Array:
        return _pick([t[0] for t in _INSURANCE_TYPES], self.insurance)

    def col_premium(self) -> pa.Array:
        median = np.array([t[2] for t in _INSURANCE_TYPES], dtype=np.float64)[self.insurance]
        spread = np.array([t[3] for t in _INSURANCE_TYPES])[self.insurance]
        cents = _lognormal_cents(self.rng("premium"), median, spread, self.size)
        return _money(np.maximum(cents, 5_000))

    # lender

    def col_loan_amount(self) -> pa.Array:
        return _money(self.loans[0])

    def col_overdue_days(self) -> pa.Array:
        rng = self.rng("overdue_days")
        overdue = (rng.random(self.size) < 0.18) & (self.loans[1] > 0)
        days = np.minimum(np.exp(rng.random(self.size) * math.log(720)), 720).astype(np.int32)
        return pa.array(np.where(overdue, days, 0).astype(np.int32))

    # education: the parent, a father sharing the child's surname, a mother mostly not

    @cached_property
    def parent(self) -> _Names:
        rng = self.rng("parent")
        father = rng.random(self.size) < 0.45
        birth = self.birth - (rng.uniform(22, 40, self.size) * 365.25).astype(np.int64)
        own = _choice(rng, _tables().surname_p, self.size)
        mother = np.where(rng.random(self.size) < 0.08, self.names.surnames, own)
        surnames = np.where(father, self.names.surnames, mother)
        return _names(rng, father, _ymd(birth)[0], surnames)

    def col_parent_name(self) -> pa.Array:
        return self.parent.names

    def col_parent_mobile(self) -> pa.Array:
        return _mobiles(
            self.rng("parent_mobile"), self.index, _keys(self.seed, self.kind, "parent_mobile")
        )

    def col_grade(self) -> pa.Array:
        return _pick(_GRADES, self.grade)

    def col_school(self) -> pa.Array:
        rng = self.rng("school")
        district = self.home[1]
        primary = pa.array(self.grade < 6)
        return _join(
            pc.if_else(
                primary,
                _pick(_short_names("district"), district),
                _pick(_short_names("city"), district),
            ),
            pc.if_else(
                primary,
                _pick(_PRIMARY_NAMES, rng.integers(0, len(_PRIMARY_NAMES), self.size)),
                _pick(_SECONDARY_NAMES, rng.integers(0, len(_SECONDARY_NAMES), self.size)),
            ),
        )


_GENDERS = pa.array(["女", "男"])
_INCOME_FORMS = pa.array(["现金", "代发"])


@cache
def _product_sets() -> pa.Array:
    """Every combination of ``_PRODUCTS`` as a 、-separated list, indexed by bit mask."""
    size = 1 << len(_PRODUCTS)
    return pa.array(
        ["、".join(p for bit, p in enumerate(_PRODUCTS) if mask >> bit & 1) for mask in range(size)]
    )


@cache
def _short_names(level: str) -> pa.Array:
    """District (西湖区 → 西湖) or city (杭州市 → 杭州) names without their suffix, per district."""
    suffixes = "区市县" if level == "district" else "市"
    return pa.array([_strip_suffix(row[level], suffixes) for row in _tables().district_rows])


# ---- public API ----------------------------------------------------------------------------


def customer_schema(
    kind: str = "bank", *, remarks: bool = False, columns: Sequence[str] | None = None
) -> pa.Schema:
    """The columns :func:`customers` returns for ``kind`` (all, or those named in ``columns``,
    in table order).

    >>> customer_schema("education").names[:3]
    ['customer_id', 'student_name', 'gender']
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown institution kind {kind!r}; choose one of {', '.join(KINDS)}.")
    fields = _STUDENT_FIELDS if kind == "education" else _PERSON_FIELDS + _KIND_FIELDS[kind]
    fields = [*fields, ("remark", pa.string())]
    if columns is not None:
        known = {name for name, _ in fields}
        unknown = [name for name in columns if name not in known]
        if unknown:
            raise ConfigError(f"No column {', '.join(unknown)} for kind {kind!r}.")
        wanted = set(columns) | ({"remark"} if remarks else set())
    else:
        wanted = {name for name, _ in fields if name != "remark" or remarks}
    return pa.schema([field for field in fields if field[0] in wanted])


def customer_batches(
    n: int,
    seed: int = 0,
    *,
    kind: str = "bank",
    batch_rows: int = 100_000,
    columns: Sequence[str] | None = None,
    as_of: datetime.date = AS_OF,
    institution: str | None = None,
    remarks: bool = False,
) -> Iterator[pa.RecordBatch]:
    """``n`` synthetic customers as record batches of ``batch_rows`` rows (the last may be
    shorter); memory stays bounded by a batch plus one generation block.

    ``columns`` keeps only the named columns (their values are those of the full table).
    ``remarks`` adds a free-text 备注 column (:func:`remarks` gives its ground truth); it is
    written row by row in Python, so it is much slower than the other columns.

    >>> [b.num_rows for b in customer_batches(5, seed=1, batch_rows=2)]
    [2, 2, 1]
    """
    schema = customer_schema(kind, remarks=remarks, columns=columns)
    if n < 0 or batch_rows < 1 or seed < 0:
        raise ConfigError("Row count and seed must be non-negative and the batch size positive.")
    limit = 99_000_000  # ids have eight digits; mobiles are a permutation of 10^8 per prefix
    if n > limit:
        raise ConfigError(f"At most {limit:,} synthetic customers per data set.")
    institution = institution or INSTITUTIONS[kind]
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for block in range(-(-n // BLOCK_ROWS)):
        # Blocks are always drawn whole and the last one cut, so that a smaller n gives the
        # first rows of a larger one.
        start = block * BLOCK_ROWS
        index = np.arange(start, start + BLOCK_ROWS, dtype=np.int64)
        rows = _Block(seed, kind, block, index, as_of, institution)
        kept = min(BLOCK_ROWS, n - start)
        pending.append(_record_batch(rows, schema, kept))
        pending_rows += kept
        while pending_rows >= batch_rows:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, batch_rows).combine_chunks().to_batches()[0]
            pending = table.slice(batch_rows).to_batches()
            pending_rows -= batch_rows
    if pending_rows:
        yield pa.Table.from_batches(pending, schema).combine_chunks().to_batches()[0]


def _record_batch(rows: _Block, schema: pa.Schema, kept: int) -> pa.RecordBatch:
    columns = {name: rows.column(name)[:kept] for name in schema.names if name != "remark"}
    if "remark" in schema.names:
        # The columns remarks may mention, whether or not the output keeps them.
        names = [n for n in _REMARK_COLUMNS if n in customer_schema(rows.kind).names]
        source = pa.table({name: rows.column(name)[:kept] for name in names})
        notes = _remarks(source, rows.seed)
        columns["remark"] = pa.array([note.text for note in notes], pa.string())
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def customers(
    n: int,
    seed: int = 0,
    *,
    kind: str = "bank",
    columns: Sequence[str] | None = None,
    as_of: datetime.date = AS_OF,
    institution: str | None = None,
    remarks: bool = False,
) -> pa.Table:
    """``n`` synthetic customers of an institution of ``kind`` as one table.

    >>> customers(2, seed=1, kind="lender").column_names[-3:]
    ['loan_amount', 'loan_balance', 'overdue_days']
    >>> customers(2, seed=1, columns=["mobile", "name"]).column_names
    ['name', 'mobile']
    """
    batches = customer_batches(
        n,
        seed,
        kind=kind,
        batch_rows=BLOCK_ROWS,
        columns=columns,
        as_of=as_of,
        institution=institution,
        remarks=remarks,
    )
    return pa.Table.from_batches(
        list(batches), customer_schema(kind, remarks=remarks, columns=columns)
    )


def write_customers(
    path: str | Path,
    n: int,
    seed: int = 0,
    *,
    kind: str = "bank",
    format: str | None = None,
    batch_rows: int = 100_000,
    columns: Sequence[str] | None = None,
    as_of: datetime.date = AS_OF,
    institution: str | None = None,
    remarks: bool = False,
    header: str = "en",
    progress: Callable[[int], object] | None = None,
) -> Path:
    """Stream ``n`` synthetic customers to a CSV (UTF-8) or Parquet (zstd) file.

    ``format`` is ``"csv"`` or ``"parquet"``, by default taken from the file's suffix; ``header``
    ``"zh"`` writes Chinese column names (``COLUMN_LABELS``) as exported registers often have.
    ``progress`` is called with the number of rows of each batch written.
    """
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    path = Path(path)
    chosen = (format or path.suffix.lstrip(".")).lower()
    chosen = {"pq": "parquet", "txt": "csv"}.get(chosen, chosen)
    if chosen not in ("csv", "parquet"):
        raise ConfigError(f"Cannot tell the output format of {path.name}; use .csv or .parquet.")
    if header not in ("en", "zh"):
        raise ConfigError("The header must be 'en' or 'zh'.")
    schema = customer_schema(kind, remarks=remarks, columns=columns)
    # Dictionary pages only where values repeat: trying them on names and numbers costs time.
    repeating = [field.name in _REPEATING for field in schema]
    if header == "zh":
        schema = pa.schema([field.with_name(COLUMN_LABELS[field.name]) for field in schema])
    batches = customer_batches(
        n,
        seed,
        kind=kind,
        batch_rows=batch_rows,
        columns=columns,
        as_of=as_of,
        institution=institution,
        remarks=remarks,
    )
    # Written beside the target and renamed at the end: an interrupted run leaves no half file.
    partial = path.with_name(f".{path.name}.partial")
    try:
        if chosen == "csv":
            writer = pa_csv.CSVWriter(partial, schema)
        else:
            dictionary = [
                field.name for field, repeats in zip(schema, repeating, strict=True) if repeats
            ]
            writer = pq.ParquetWriter(
                partial, schema, compression="zstd", use_dictionary=dictionary
            )
        with writer:
            for batch in batches:
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                if progress is not None:
                    progress(batch.num_rows)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


# ---- remarks with ground truth -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Truth:
    """Where one identifier sits in a remark (Python string offsets, ``end`` exclusive).

    ``value`` is the canonical form (11-digit mobile, 18-character ID with upper-case X, card
    digits, lower-case e-mail, plate without separators, simplified-character name or
    address); for a masked form (``138****5678``, ``王*``, ``王先生``) it is the masked text as
    written in half-width simplified characters, and ``masked`` is True. ``surface`` is the text
    exactly as it appears.
    """

    type: str
    start: int
    end: int
    value: str
    surface: str
    masked: bool = False


@dataclass(frozen=True, slots=True)
class Remark:
    """A free-text 备注 and the identifiers in it."""

    text: str
    spans: tuple[Truth, ...]


_REMARK_COLUMNS = ("customer_id", "name", "student_name", "mobile", "parent_mobile", "id_number",
                   "card_number", "email", "plate", "car_model", "address", "parent_name",
                   "grade")  # fmt: skip
_TRUTH_TYPE = pa.struct(
    [
        ("type", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("value", pa.string()),
        ("masked", pa.bool_()),
    ]
)

# Templates: {slot} is filled per row. Identifier slots (labelled in the ground truth): name,
# name_m (masked), mobile, mobile_m, other_mobile, id, id_m, card, card_m, email, plate,
# address, staff, staff2, relative, parent. The rest are context, some built to look like
# identifiers without being one (order and tracking numbers, 400 numbers, dates, amounts,
# words that begin with a surname character).
_WITH_IDENTIFIERS = (
    "客户{name}来电咨询{biz}，手机{mobile}",
    "已核实身份证{id}",
    "已核实客户身份，身份证号：{id}，联系电话：{mobile}",
    "{name}，{id}，{mobile}",
    "客户{name}申请{biz}，经办人{staff}，材料齐全",
    "回访客户{name_m}，电话{mobile_m}，客户表示{reply}",
    "客户要求将账单寄至{address}",
    "收件地址变更为{address}，收件人{name}，电话{mobile}",
    "还款账户{card}于{date}扣款失败，已短信提醒",
    "客户卡号{card_m}挂失，新卡已寄出",
    "电子账单发送至{email}",
    "客户邮箱由{email}变更，已重新验证",
    "车辆{plate}（{car}）办理抵押登记，车主{name}",
    "{plate} {car} 车险到期提醒已发送",
    "客户{name}（{id}）名下车辆{plate}",
    "紧急联系人：{relative}，电话{other_mobile}",
    "配偶{relative}，手机号{other_mobile}，已核实",
    "TEL:{mobile} 客户称{reply}",
    "客户于{date}到{branch}办理{biz}，身份证{id}，卡号{card}",
    "{staff}跟进：{name}有{product}意向，预计{amount}左右",
    "联系不上客户，手机{mobile}停机，备用号码{other_mobile}",
    "身份证号码{id_m}，手机尾号{tail4}，已发送验证码",
    "经办：{staff}；复核：{staff2}",
    "客户{name}反映{date}接到陌生来电，对方能报出其身份证号，已登记",
    "转{staff}处理，客户手机{mobile}",
    "客户微信同号{mobile}",
    "客户{name}，身份证{id}，住址{address}",
    "贷款逾期{days}天，已电话联系{name}（{mobile}），承诺{date}前还款",
    "代扣卡号：{card}；户名：{name}",
    "客户称邮箱{email}被盗，暂停向该邮箱发送账单",
    "客户{name_m}投诉营销电话过多，要求将{mobile}加入免打扰名单",
    "Mobile: {mobile}; Email: {email}",
    "联系人{relative}/{other_mobile}/{address}",
    "已与{name}确认，开户证件号{id}无误",
    "客户{name}的信用卡{card_m}额度调整为{amount}",
    "{name} 手机:{mobile} 身份证:{id} 卡号:{card} 车牌:{plate}",
    "客户{name}由{staff}推荐，{phrase}",
    "{date} {time} {name}来电，{reply}，回拨{mobile}",
    "sjh{mobile} sfz{id}",
    "客户Tel{mobile}，{reply}",
    "联系方式：{mobile}/{other_mobile}",
    "客户{name}{mobile}，{phrase}",
    "{name}{id}申请{biz}",
)
_EDUCATION = (
    "家长{parent}来电询问{name}的课程安排，电话{mobile}",
    "学生{name}，{grade}，家长{parent}，{mobile}",
    "{parent}（{name}家长）预约试听，联系方式{mobile}",
    "{name}同学续费{amount}，家长{parent}已确认",
)
_WITHOUT_IDENTIFIERS = (
    "客户来电咨询信用卡分期手续费，已解释",
    "已提醒客户按时还款",
    "资料齐全，待审批",
    "客户对服务表示满意",
    "材料已归档，原件已退还客户",
    "客户暂无{product}需求，三个月后再回访",
    "系统升级期间客户无法登录手机银行，已指导清除缓存",
    "客户询问{biz}利率，已告知当前执行利率{rate}%",
    "客户要求注销账户，已告知需本人持证件到柜台办理",
    "营销未成功",
    "电话无人接听，{date}再联系",
    "客户表示近期资金紧张，申请延期还款{days}天",
    "{phrase}",
    "无",
    "订单号{order}已退款{amount}",
    "请客户拨打客服热线{hotline}咨询",
    "合同编号{contract}，贷款金额{amount}，期限{months}个月",
    "交易流水号{order}，金额{amount}，{date} {time}",
    "快递单号{tracking}，材料已寄出",
    "卡号尾号{tail4}的账户{date}有一笔{amount}的消费",
    "工单{ticket}已关闭，{phrase}",
    "还款日为每月{day}日，最低还款额{amount}",
    "投诉编号{order}，已转{department}处理",
    "客户{phrase}，约{date}面谈",
    "{date}已电话回访，{reply}",
    "客户称在{hotline}客服处已登记，流水号{order}",
)

_BUSINESS = ("贷款", "信用卡分期", "房贷提前还款", "理财产品", "大额存单", "车贷", "账户解冻",
             "信用卡提额", "定期存款", "基金定投", "ETC办理", "社保卡激活")  # fmt: skip
_REPLIES = ("暂不需要", "考虑一下", "已在他行办理", "下月再联系", "对利率不满意", "同意办理",
            "不方便接听", "需与家人商量")  # fmt: skip
_PHRASES = (  # words beginning with or holding surname characters; no name among them
    "客户很高兴", "周末不方便接听", "询问黄金积存业务", "王府井网点排队较长", "马上办理",
    "钱包丢失，补办银行卡", "任何时间均可联系", "于是申请延期", "严格按流程办理", "曾经逾期一次",
    "康复出院后再办理", "路过网点顺便咨询", "夏天再来办理", "高速ETC扣费异常", "石油公司代发工资",
    "林业局单位员工", "安全提示已告知", "常用号码未变更", "程序已走完", "文件已签字",
    "方便时上门核实", "许多材料需补充", "白天上班不便接听", "金额已核对无误", "江边网点已撤并",
    "孔雀城小区业主团购", "龙头企业员工", "黄河路网点办理", "宋体打印的合同", "谢谢配合",
)  # fmt: skip
_DEPARTMENTS = ("消保部", "信用卡中心", "个贷部", "运营部", "风险管理部")
_HOTLINES = ("95588", "95533", "95599", "95566", "95555", "95559", "95508", "95528")


class _Writer:
    """Writes one remark for a row; ``rnd`` is seeded from (seed, customer id)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.staff = _staff_names(seed)
        self.prefixes = list(_MOBILE_PREFIXES)
        self.prefix_cum = list(accumulate(_MOBILE_PREFIXES.values()))

    def write(self, facts: Mapping[str, object], rnd: random.Random) -> Remark:
        available = {key for key, value in facts.items() if value}
        has_identifier = rnd.random() < 0.6
        if has_identifier:
            pool = _WITH_IDENTIFIERS
            if "parent" in available and rnd.random() < 0.5:
                pool = _EDUCATION
        else:
            pool = _WITHOUT_IDENTIFIERS
        for _ in range(20):
            template = rnd.choice(pool)
            if _needs(template) <= available:
                break
        else:
            template = rnd.choice(_WITHOUT_IDENTIFIERS[:4])
        pieces: list[tuple[str, tuple[str, str, bool] | None]] = []
        for literal, slot, _, _ in string.Formatter().parse(template):
            if literal:
                pieces.append((literal, None))
            if slot is not None:
                pieces.append(self.slot(slot, facts, rnd))
        return _assemble(pieces, rnd)

    def slot(
        self, slot: str, facts: Mapping[str, object], rnd: random.Random
    ) -> tuple[str, tuple[str, str, bool] | None]:
        """(surface text, (type, canonical value, masked) or None for context)."""
        name = str(facts.get("name") or "")
        if slot in ("name", "parent", "relative", "staff", "staff2"):
            if slot == "name":
                person = name
            elif slot == "parent":
                person = str(facts["parent"])
            elif slot == "relative":
                person = self.random_name(rnd)
            else:
                person = self.staff[rnd.randrange(len(self.staff))]
            return person, (PERSON_NAME, person, False)
        if slot == "name_m":
            if rnd.random() < 0.5:
                masked = name[0] + "*" * (len(name) - 1)
            else:
                masked = name[0] + rnd.choice(("先生", "女士", "某", "某某"))
            return masked, (PERSON_NAME, masked, True)
        if slot in ("mobile", "other_mobile"):
            number = str(facts["mobile"]) if slot == "mobile" else self.random_mobile(rnd)
            return _mobile_form(number, rnd), (MOBILE, number, False)
        if slot == "mobile_m":
            number = str(facts["mobile"])
            masked = number[:3] + "****" + number[-4:]
            return masked, (MOBILE, masked, True)
        if slot == "id":
            number = str(facts["id"])
            return _id_form(number, rnd), (RESIDENT_ID, number, False)
        if slot == "id_m":
            number = str(facts["id"])
            head, tail = rnd.choice(((6, 4), (4, 4), (3, 4), (6, 2), (1, 1)))
            masked = number[:head] + "*" * (18 - head - tail) + number[18 - tail :]
            return masked, (RESIDENT_ID, masked, True)
        if slot == "card":
            number = str(facts["card"])
            return _card_form(number, rnd), (BANK_CARD, number, False)
        if slot == "card_m":
            number = str(facts["card"])
            if rnd.random() < 0.5:
                masked = number[:6] + "*" * (len(number) - 10) + number[-4:]
            else:
                masked = " ".join(["****"] * ((len(number) - 4) // 4) + [number[-4:]])
                masked = number[:4] + masked[4:]
            return masked, (BANK_CARD, masked, True)
        if slot == "email":
            email = str(facts["email"])
            surface = email.upper() if rnd.random() < 0.05 else email
            return surface, (EMAIL, email.lower(), False)
        if slot == "plate":
            plate = str(facts["plate"])
            return _plate_form(plate, rnd), (PLATE, plate, False)
        if slot == "address":
            address = str(facts["address"])
            return address, (ADDRESS, address, False)
        return _context(slot, facts, rnd), None

    def random_name(self, rnd: random.Random) -> str:
        surnames, surname_cum, chars, given_cum = _scalar_pools()
        cum = given_cum[rnd.randrange(6)]
        count = 1 if rnd.random() < 0.25 else 2
        given = "".join(rnd.choices(chars, cum_weights=cum, k=count))
        return rnd.choices(surnames, cum_weights=surname_cum)[0] + given

    def random_mobile(self, rnd: random.Random) -> str:
        prefix = self.prefixes[bisect(self.prefix_cum, rnd.random() * self.prefix_cum[-1])]
        return f"{prefix}{rnd.randrange(10**8):08d}"


_SLOT = re.compile(r"\{(\w+)\}")
_FACT_OF_SLOT = {
    "name": "name", "name_m": "name", "mobile": "mobile", "mobile_m": "mobile", "id": "id",
    "id_m": "id", "card": "card", "card_m": "card", "email": "email", "plate": "plate",
    "car": "plate", "address": "address", "parent": "parent", "grade": "grade",
    "tail4": "mobile",
}  # fmt: skip


@cache
def _needs(template: str) -> frozenset[str]:
    return frozenset(_FACT_OF_SLOT[s] for s in _SLOT.findall(template) if s in _FACT_OF_SLOT)


def _mobile_form(number: str, rnd: random.Random) -> str:
    form = rnd.random()
    if form < 0.6:
        return number
    if form < 0.7:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if form < 0.8:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if form < 0.9:
        return "+86 " + number if rnd.random() < 0.5 else "+86" + number
    if form < 0.93:
        return "0086-" + number
    if form < 0.96:
        return "(+86)" + number
    return f"{number[:3]}-{number[3:]}"


def _id_form(number: str, rnd: random.Random) -> str:
    form = rnd.random()
    if form < 0.8:
        return number.lower() if number[-1] == "X" and rnd.random() < 0.3 else number
    if form < 0.87:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if form < 0.9:
        return " ".join(number[i : i + 4] for i in range(0, 18, 4))
    if form < 0.95 and number[6:8] == "19":  # first-generation 15-digit form
        return number[:6] + number[8:17]
    return number


def _card_form(number: str, rnd: random.Random) -> str:
    form = rnd.random()
    if form < 0.7:
        return number
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return ("-" if form < 0.75 else " ").join(groups)


def _plate_form(plate: str, rnd: random.Random) -> str:
    form = rnd.random()
    if form < 0.6:
        return plate
    if form < 0.8:
        return plate[:2] + "·" + plate[2:]
    if form < 0.9:
        return plate[:2] + " " + plate[2:]
    return plate[:1] + plate[1:].lower()


def _digits(rnd: random.Random, count: int) -> str:
    return "".join(rnd.choice(string.digits) for _ in range(count))


def _no_check_digit(digits: str) -> str:
    """Change the last digit until ``digits`` passes neither Luhn nor, at 18 digits, GB 11643:
    a look-alike must not be a valid card or ID even to a scanner that ignores the region."""
    while checksums.luhn_is_valid(digits) or (
        len(digits) == 18 and checksums.gb11643_check_char(digits[:17]) == digits[17]
    ):
        digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    return digits


def _context(slot: str, facts: Mapping[str, object], rnd: random.Random) -> str:
    """Context slots. Number-like ones are kept from being valid identifiers: order numbers
    start 20/30/90 (no such province) and fail Luhn and GB 11643; tracking numbers have 12-13
    digits."""
    year = rnd.choice((2022, 2023, 2024))
    month, day = rnd.randint(1, 12), rnd.randint(1, 28)
    if slot == "date":
        return rnd.choice(
            (f"{year}-{month:02d}-{day:02d}", f"{year}年{month}月{day}日", f"{year}/{month}/{day}",
             f"{month}月{day}日", f"{year}{month:02d}{day:02d}")
        )  # fmt: skip
    if slot == "time":
        return f"{rnd.randint(8, 20):02d}:{rnd.randint(0, 59):02d}"
    if slot == "amount":
        value = round(math.exp(rnd.uniform(math.log(50), math.log(500_000))), 2)
        return rnd.choice(
            (
                f"{value:,.2f}元",
                f"¥{int(value):,}",
                f"{value / 10000:.1f}万元",
                f"人民币{int(value)}元",
            )
        )
    if slot == "order":
        length = rnd.randint(16, 22)
        head = rnd.choice(("20", "30", "90")) + f"{year % 100:02d}{month:02d}{day:02d}"
        return _no_check_digit(head + _digits(rnd, length - len(head)))
    if slot == "tracking":
        return rnd.choice(("SF" + _digits(rnd, 12), "7" + _digits(rnd, 12), "9" + _digits(rnd, 11)))
    if slot == "contract":
        return f"HT{year}{month:02d}{day:02d}{_digits(rnd, 4)}"
    if slot == "ticket":
        return f"GD{year}{_digits(rnd, 6)}"
    if slot == "hotline":
        if rnd.random() < 0.5:
            return rnd.choice(_HOTLINES)
        number = "400" + _digits(rnd, 7)
        return rnd.choice((number, f"{number[:3]}-{number[3:6]}-{number[6:]}"))
    if slot == "tail4":
        return str(facts.get("card") or facts["mobile"])[-4:]
    if slot == "car":
        return str(facts.get("car") or "")
    if slot == "grade":
        return str(facts["grade"])
    if slot == "days":
        return str(rnd.randint(1, 90))
    if slot == "months":
        return str(rnd.choice((6, 12, 24, 36)))
    if slot == "day":
        return str(rnd.randint(1, 28))
    if slot == "rate":
        return f"{rnd.uniform(2.5, 6.5):.2f}"
    choices = {
        "biz": _BUSINESS,
        "product": _BUSINESS,
        "reply": _REPLIES,
        "phrase": _PHRASES,
        "department": _DEPARTMENTS,
        "branch": ("本行营业部", "城东支行", "城西支行", "高新区支行", "开发区支行"),
    }
    return rnd.choice(choices[slot])


_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@cache
def _s2t():  # OpenCC ships no type hints
    from opencc import OpenCC

    return OpenCC("s2t")


@lru_cache(maxsize=8192)
def _traditional(text: str) -> str:
    """Traditional characters (OpenCC s2t); template text repeats, so most calls are cached."""
    return _s2t().convert(text)


def _assemble(pieces: list[tuple[str, tuple[str, str, bool] | None]], rnd: random.Random) -> Remark:
    """Join the pieces, optionally in traditional characters or with full-width digits, and
    record where each identifier piece landed."""
    traditional = rnd.random() < 0.12
    full_width = rnd.random() < 0.07
    text: list[str] = []
    spans: list[Truth] = []
    position = 0
    for surface, truth in pieces:
        if traditional:
            surface = _traditional(surface)
        if full_width and any(c.isdigit() for c in surface):
            surface = "".join(c.translate(_FULL_WIDTH) if c.isdigit() else c for c in surface)
        if truth is not None:
            kind, value, masked = truth
            spans.append(Truth(kind, position, position + len(surface), value, surface, masked))
        text.append(surface)
        position += len(surface)
    return Remark("".join(text), tuple(spans))


@cache
def _staff_names(seed: int) -> tuple[str, ...]:
    """A fixed pool of staff names for a seed (they appear as 经办人, 推荐人 …)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x57AFF]))
    male = rng.random(80) < 0.5
    years = rng.integers(1965, 2002, 80)
    return tuple(_names(rng, male, years).names.to_pylist())


@cache
def _scalar_pools() -> tuple[list[str], list[float], list[str], list[list[float]]]:
    """The name tables as cumulative weights for ``random.choices`` (one name at a time)."""
    tables = _tables()
    return (
        tables.surnames.to_pylist(),
        list(accumulate(tables.surname_p.tolist())),
        tables.given.to_pylist(),
        [list(accumulate(row.tolist())) for row in tables.given_p],
    )


def _facts(row: Mapping[str, object]) -> dict[str, object]:
    """What the templates may mention, from a customer row of any kind."""
    return {
        "name": row.get("name") or row.get("student_name"),
        "mobile": row.get("mobile") or row.get("parent_mobile"),
        "id": row.get("id_number"),
        "card": row.get("card_number"),
        "email": row.get("email"),
        "plate": row.get("plate"),
        "car": row.get("car_model"),
        "address": row.get("address"),
        "parent": row.get("parent_name"),
        "grade": row.get("grade"),
    }


def remark(row: Mapping[str, object], seed: int = 0) -> Remark:
    """One free-text remark about a customer row (a mapping of :func:`customers` columns),
    with the ground truth of every identifier in it.

    The remark depends only on ``seed`` and the row, so the same customer gets the same remark
    in any table. About 40 % of remarks name no identifier; some hold look-alikes.

    >>> note = remark({"customer_id": "C1", "name": "王芳", "mobile": "13912345678"}, seed=5)
    >>> all(note.text[s.start:s.end] == s.surface for s in note.spans)
    True
    """
    facts = _facts(row)
    rnd = random.Random(f"{seed}:{row.get('customer_id', '')}:{facts['name']}")
    return _Writer(seed).write(facts, rnd)


def remarks(table: pa.Table, seed: int = 0) -> list[Remark]:
    """A remark for every row of a customer table, as :func:`remark` gives it."""
    return _remarks(table, seed)


def _remarks(table: pa.Table, seed: int) -> list[Remark]:
    writer = _Writer(seed)
    wanted = [name for name in _REMARK_COLUMNS if name in table.column_names]
    columns = [table.column(name).to_pylist() for name in wanted]
    notes = []
    for values in zip(*columns, strict=True):
        row = dict(zip(wanted, values, strict=True))
        facts = _facts(row)
        rnd = random.Random(f"{seed}:{row.get('customer_id', '')}:{facts['name']}")
        notes.append(writer.write(facts, rnd))
    return notes


def remarks_table(table: pa.Table, seed: int = 0) -> pa.Table:
    """``customer_id``, ``remark`` and ``truth`` (a list of spans) for every row: a labelled set
    for evaluating free-text scanning, storable as Parquet or JSON lines.

    >>> remarks_table(customers(2, seed=1)).column_names
    ['customer_id', 'remark', 'truth']
    """
    notes = _remarks(table, seed)
    truth = [
        [
            {"type": s.type, "start": s.start, "end": s.end, "value": s.value, "masked": s.masked}
            for s in note.spans
        ]
        for note in notes
    ]
    return pa.table(
        {
            "customer_id": table.column("customer_id"),
            "remark": pa.array([note.text for note in notes]),
            "truth": pa.array(truth, pa.list_(_TRUTH_TYPE)),
        }
    )
