"""Person name (姓名): Chinese names, minority names with a middle dot, and pinyin names.

A Han name is a surname (one character, or a compound such as 欧阳, 司马, 诸葛, 上官) followed by
a given name of one or two characters: two to four characters in all. Names of Uyghur and other
minorities are transliterations whose parts are joined by a middle dot (阿依古丽·买买提). Names
are normalized as the design asks: NFKC, no spaces, traditional characters converted to
simplified with OpenCC (陳美玲 → 陈美玲). Pinyin names (``Zhang Wei``, ``ZHANG Wei``,
``Wei Zhang``) are lower-cased, with the surname first when capitals mark it (``ZHANG Wei``).

The surname table (``data/surnames.tsv``) holds the population shares of about 450 surnames from
the Ministry of Public Security household-register statistics as published on the Chinese
Wikipedia (中国姓氏排名), plus compound surnames; ``data/make_names.py`` rebuilds it.

Finding names in free text has no checksum to lean on: :func:`find` scores each surname followed
by one or two Han characters by what bounds it — punctuation, digits or a line end; function words
and verbs (与, 了, 称, 的); role nouns (催收员, 车主); cue words (姓名, 客户 … before; 来电, 名下 …
after); any ordinary word of jieba's dictionary ending right before or starting right after it —
by the plausibility of the given-name characters, and by whether the characters form an ordinary
word or a place instead (王府井, 高兴, 金额, 邵阳). It scores every candidate of a joined column
at once with NumPy (several MB/s). A bare surname with a title (张先生, 李女士) is not a name: it
names no one. Masked names (王*, 欧阳**, 李*明) come as spans with ``masked=True``.

https://zh.wikipedia.org/wiki/中国姓氏排名

>>> validate("陳 美玲")
'陈美玲'
>>> validate("ZHANG Wei")
'zhang wei'
>>> mask("欧阳娜娜"), mask("张伟"), mask("Zhang Wei")
('欧阳**', '张*', 'Z*** Wei')
>>> [(s.start, s.end, s.value) for s in find("客户王芳来电咨询贷款,联系人 欧阳娜娜")]
[(2, 4, '王芳'), (15, 19, '欧阳娜娜')]
>>> list(find("客户很高兴,马上去王府井办理黄金定投"))
[]
>>> [(s.value, s.masked) for s in find("催收员何永刚联系了冯辉,其配偶王*(138****5678)")]
[('何永刚', False), ('冯辉', False), ('王*', True)]
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import unicodedata
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from opencc import OpenCC

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import _HALFWIDTH, Span, _vector, halfwidth
from leaktrace.law import LegalCategory

NAME = "person_name"
LABEL = "姓名"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "姓名",
    "名字",
    "客户姓名",
    "客户名称",
    "户名",
    "账户名",
    "账户名称",
    "持卡人",
    "联系人",
    "借款人",
    "申请人",
    "收件人",
    "name",
    "full_name",
    "fullname",
    "customer_name",
    "cust_name",
    "xm",
    "khxm",
    "khmc",
)
PRIORITY = 80
LOOSE = True

HAN = "\u3400-\u4dbf\u4e00-\u9fff"
DOTS = "·•・‧"
_DATA = resources.files("leaktrace.identifiers").joinpath("data")


def _rows(name: str) -> Iterator[list[str]]:
    for line in _DATA.joinpath(name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


@cache
def load_surnames() -> dict[str, float]:
    """Surname → population share in percent, most common first (compound surnames included)."""
    return {row[0]: float(row[1]) for row in _rows("surnames.tsv")}


@cache
def load_given_chars() -> dict[str, float]:
    """Given-name character → share in percent among common given names (0: plausible, rare)."""
    return {row[0]: float(row[1]) for row in _rows("given_chars.tsv")}


@cache
def _given_weights() -> dict[str, float]:
    """Score of a character inside a given name: 1 for common ones (in the common given names,
    or in 100 or more of jieba's three-character names), less the rarer; absent ones -0.75.

    Characters that jieba knows only as bound morphemes or rarely as words of their own (璇 g,
    晗 27, 珂 nrfg) are literary and name-like: they score at least 0.25, unlike the frequent
    words (上, 年, 卡, 款) that close ordinary phrases.
    """
    return _weights_from(_lexicon())


def _weights_from(lexicon: _Lexicon) -> dict[str, float]:
    """:func:`_given_weights` from a lexicon being built."""
    weights = {}
    for char, share, count in _rows("given_chars.tsv"):
        uses = int(count)
        if char in _TRANSLITERATION and float(share) == 0:
            weights[char] = -0.25
        elif float(share) > 0 or uses >= 100:
            weights[char] = 1.0
        elif uses >= 20:
            weights[char] = 0.25
        else:
            weights[char] = -0.25 if uses >= 5 else -0.75
    for char, (count, tag) in lexicon.chars.items():
        literary = tag in _MORPHEME_TAGS or count < 300
        if literary and weights.get(char, -0.75) < 0.25 and char not in _TRANSLITERATION:
            weights[char] = 0.25
    return weights


@cache
def _surname_pinyin() -> dict[str, frozenset[str]]:
    """Pinyin spelling → surnames, with passport spellings of ü (lv, lyu, lu)."""
    spellings: dict[str, set[str]] = {}
    for row in _rows("surnames.tsv"):
        for reading in row[2].split("|"):
            forms = {reading}
            if "v" in reading:
                forms |= {reading.replace("v", "yu"), reading.replace("v", "u")}
            for form in forms:
                spellings.setdefault(form, set()).add(row[0])
    return {k: frozenset(v) for k, v in spellings.items()}


@cache
def _traditional_surnames() -> frozenset[str]:
    """Traditional forms of the single surnames (陳, 張, 劉, 黃 …)."""
    return frozenset("".join(row[3] for row in _rows("surnames.tsv") if len(row[0]) == 1))


@cache
def _traditional_compounds() -> frozenset[str]:
    """Traditional forms of the compound surnames (歐陽, 司馬, 諸葛 …)."""
    return frozenset(
        form
        for row in _rows("surnames.tsv")
        if len(row[0]) == 2
        for form in row[3].split("|")
        if form
    )


@cache
def _syllables() -> frozenset[str]:
    return frozenset(row[0] for row in _rows("pinyin_syllables.txt"))


SURNAMES: dict[str, float] = load_surnames()
# Characters of common given names and their shares (for generating names); the finder also
# accepts rarer characters attested in jieba's dictionary.
GIVEN_NAME_CHARS: dict[str, float] = {c: s for c, s in load_given_chars().items() if s > 0}
COMPOUND_SURNAMES = frozenset(s for s in SURNAMES if len(s) == 2)
SINGLE_SURNAMES = frozenset(s for s in SURNAMES if len(s) == 1)

# Characters that never start a given name in practice: particles, pronouns, function words.
_NOT_GIVEN = frozenset(
    "的了吗呢吧啊呀么着过是在与及或但而被把将从对往于以也都就还又再很最更已"
    "要会能这那哪谁啥个们您你我他她它此其该每各某些说称讲问去到给让叫跟没不"
)
# Characters that rarely end a three-character name when a name is followed by running text.
_FOLLOWERS = _NOT_GIVEN | frozenset(
    "和来电称表要求咨询办理申请同意签字确认告知今于在已曾因未持逾系住氏上下"
)


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@cache
def _char_t2s() -> dict[int, str]:
    """Character-level traditional → simplified map (keeps offsets; for finding, not values);
    OpenCC takes a while over 20,000 characters: the map is kept in the cache folder."""
    return _vector.stored("char_t2s", [Path(__file__)], _build_char_t2s)


def _build_char_t2s() -> dict[int, str]:
    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    simple = _t2s().convert("\n".join(chars)).split("\n")
    table = {ord(a): b for a, b in zip(chars, simple, strict=True) if a != b and len(b) == 1}
    # 乾 stays 乾 in names and places (乾县, 乾隆), where OpenCC's phrases keep it too: with it the
    # one-for-one conversion agrees with OpenCC on every division name and surname.
    del table[ord("乾")]
    return table


@cache
def _t2s_codes() -> np.ndarray:
    """:func:`_char_t2s` as a lookup array over the Basic Multilingual Plane."""
    table = np.arange(0x10000, dtype=np.uint32)
    for code, simple in _char_t2s().items():
        table[code] = ord(simple)
    return table


def to_simplified_chars(text: str) -> str:
    """Traditional characters → simplified, one character for one, so offsets stay valid (for
    finding; values go through OpenCC's phrase-aware conversion in :func:`compact`).

    Long texts go through a NumPy lookup over their code points: ``str.translate`` with a dict
    costs a failed lookup per character and is ~7x slower on a joined column.

    >>> to_simplified_chars("陳美玲 廣東省")
    '陈美玲 广东省'
    """
    if len(text) < 512:
        return text.translate(_char_t2s())
    return _mapped(text, _t2s_codes())


@cache
def _finding_codes() -> np.ndarray:
    """:func:`folded_for_finding` as one lookup array: half-width, then simplified."""
    simplified = _t2s_codes()
    table = simplified.copy()
    for wide, narrow in _HALFWIDTH.items():
        table[wide] = simplified[narrow]
    return table


# Texts at least this long (a joined column) are read with NumPy over their code points; in a
# shorter one (a cell) NumPy's fixed costs would dominate.
_LONG_TEXT = 512


@lru_cache(maxsize=4)
def code_points(text: str) -> np.ndarray:
    """``text``'s code points, kept for the last few texts: the name and address finders read
    one joined column several times (in each of the text engine's threads)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _mapped(text: str, table: np.ndarray) -> str:
    """``text`` with each character of the Basic Multilingual Plane replaced by ``table``'s."""
    codes = code_points(text)
    mapped = table[np.minimum(codes, 0xFFFF)]
    mapped = np.where(codes > 0xFFFF, codes, mapped)
    if np.array_equal(mapped, codes):
        return text
    return mapped.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


# ---- single values ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_DOT_RE = re.compile(f"[{DOTS}.]")
_HAN_RE = re.compile(f"[{HAN}]")


def compact(value: str) -> str:
    """NFKC, trimmed; Han names without spaces and in simplified characters; pinyin lower-case."""
    value = unicodedata.normalize("NFKC", str(value)).strip()
    if _HAN_RE.search(value):
        value = _DOT_RE.sub("·", _SPACES.sub("", value))
        return value if to_simplified_chars(value) == value else _t2s().convert(value)
    return _SPACES.sub(" ", value).lower()


def _split_pinyin(word: str) -> list[str] | None:
    """Split a lower-case word into pinyin syllables (longest first), or None."""
    syllables = _syllables()
    if not word:
        return []
    for size in range(min(6, len(word)), 0, -1):
        head = word[:size]
        if head in syllables:
            rest = _split_pinyin(word[size:])
            if rest is not None:
                return [head, *rest]
    return None


def _validate_pinyin(value: str) -> str:
    original = unicodedata.normalize("NFKC", str(value)).strip()
    words = _SPACES.split(original)
    if not 2 <= len(words) <= 3 or not all(w.isascii() and w.isalpha() for w in words):
        raise InvalidFormat()
    lower = [w.lower().replace("'", "") for w in words]
    for word in lower:
        syllables = _split_pinyin(word)
        if syllables is None or not 1 <= len(syllables) <= 2:
            raise InvalidComponent("Not a pinyin name.")
    surnames = _surname_pinyin()
    shouted = [i for i, w in enumerate(words) if len(w) > 1 and w.isupper()]
    if len(shouted) == 1 and len(words) > len(shouted) and lower[shouted[0]] in surnames:
        # Capitals mark the surname (ZHANG Wei, Wei ZHANG): put it first.
        lower.insert(0, lower.pop(shouted[0]))
    elif lower[0] not in surnames and lower[-1] not in surnames:
        raise InvalidComponent("No known surname.")
    return " ".join(lower)


def validate(value: str) -> str:
    """The normalized name, or raise ``ValidationError``.

    Han names: a known surname (single or compound) and a one- or two-character given name;
    minority names: Han parts joined by middle dots; pinyin: two or three words of pinyin
    syllables, the first or last a surname.
    """
    name = compact(value)
    if not name:
        raise InvalidLength()
    if name.isascii():
        return _validate_pinyin(value)
    if "·" in name:
        parts = name.split("·")
        if not all(parts) or not all(_HAN_RE.fullmatch(c) for c in name.replace("·", "")):
            raise InvalidFormat()
        if not 4 <= len(name) <= 24 or len(parts) > 4:
            raise InvalidLength()
        return name
    if not all(_HAN_RE.fullmatch(c) for c in name):
        raise InvalidFormat()
    if not 2 <= len(name) <= 4:
        raise InvalidLength()
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else name[:1]
    if surname not in SURNAMES:
        raise InvalidComponent("Unknown surname.")
    given = name[len(surname) :]
    if not 1 <= len(given) <= 2:
        raise InvalidLength()
    if given[0] in _NOT_GIVEN:
        raise InvalidComponent("Not a given name.")
    return name


def is_valid(value: str) -> bool:
    """Whether ``value`` is a plausible person name."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """Keep the surname: ``张*``, ``欧阳**``; pinyin keeps the given name: ``Z*** Wei``."""
    name = compact(value)
    if not name:
        return ""
    if name.isascii():
        try:
            words = validate(value).split()
        except ValueError:
            return "*" * min(len(name), 8)
        return " ".join([words[0][0].upper() + "***", *(w.capitalize() for w in words[1:])])
    if "·" in name:
        return name[0] + "".join("·" if c == "·" else "*" for c in name[1:])
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * (len(name) - keep)


# ---- masked forms ----------------------------------------------------------------------------


def _surname_alternation() -> str:
    """Alternation of every surname, compound first, traditional forms included (re and RE2)."""
    singles = "".join(sorted(SINGLE_SURNAMES | _traditional_surnames()))
    compounds = sorted(COMPOUND_SURNAMES | _traditional_compounds())
    return "(?:" + "|".join(compounds) + f"|[{singles}])"


MASKED_PATTERN = _surname_alternation() + r"(?:\*{1,3}|\*[" + HAN + "])"


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked names such as ``张*``, ``张**``, ``欧阳*`` or ``张*伟``."""
    folded = _vector.remove_spaces(_vector.fold(values))
    return _vector.full_match(folded, MASKED_PATTERN)


# ---- columns ---------------------------------------------------------------------------------


@cache
def _surname_arrays() -> tuple[pa.Array, pa.Array]:
    singles = pa.array(sorted(SINGLE_SURNAMES | _traditional_surnames()))
    compounds = pa.array(sorted(COMPOUND_SURNAMES))
    return singles, compounds


@cache
def _pinyin_pattern() -> str:
    """RE2 pattern of a pinyin name: a surname word and a word of one or two syllables."""
    # Longest first, ties in a fixed order: the same pattern in every process.
    syllable = "(?:" + "|".join(sorted(_syllables(), key=lambda s: (-len(s), s))) + ")"
    surname = "(?:" + "|".join(sorted(_surname_pinyin(), key=lambda s: (-len(s), s))) + ")"
    given = f"{syllable}{{1,2}}"
    return f"(?i)(?:{surname} {given}(?: {given})?|{given}(?: {given})? {surname})"


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid`: Han names by length and surname set (``pc.is_in`` on the first
    one or two characters), minority names by shape, pinyin names by RE2."""
    folded = _vector.fold(values)
    han = _vector.remove_spaces(folded)
    singles, compounds = _surname_arrays()
    lengths = pc.fill_null(pc.utf8_length(han), 0).to_numpy(zero_copy_only=False)
    all_han = _vector.full_match(han, f"[{HAN}]+")
    first = _vector.to_numpy_bool(pc.is_in(pc.utf8_slice_codeunits(han, 0, 1), singles))
    first_two = _vector.to_numpy_bool(pc.is_in(pc.utf8_slice_codeunits(han, 0, 2), compounds))
    not_given = "[" + "".join(sorted(_NOT_GIVEN)) + "]"
    given_ok = ~_vector.to_numpy_bool(
        pc.match_substring_regex(pc.utf8_slice_codeunits(han, 1, 2), not_given)
    )
    single_ok = first & (lengths >= 2) & (lengths <= 3) & given_ok
    compound_ok = first_two & (lengths >= 3) & (lengths <= 4)
    result = all_han & (single_ok | compound_ok)
    # Minority and pinyin names are never all Han: only the other values are matched against
    # their (long) patterns.
    rest = np.flatnonzero(~all_han)
    if rest.size:
        others = pa.array(rest)
        dotted = _vector.full_match(
            han.take(others), f"[{HAN}]{{1,10}}(?:[{DOTS}.][{HAN}]{{1,10}}){{1,3}}"
        )
        dotted &= (lengths[rest] >= 4) & (lengths[rest] <= 24)
        spaced = pc.replace_substring_regex(folded.take(others), r"\s+", " ")
        # The pinyin pattern only for values shaped like one (two or three words of letters):
        # RE2 compiles it again at every call (~5 ms), and a phone or e-mail column has none.
        pinyin = _vector.full_match(spaced, "[A-Za-z]+(?: [A-Za-z]+){1,2}")
        if pinyin.any():
            shaped = np.flatnonzero(pinyin)
            pinyin[shaped] = _vector.full_match(spaced.take(shaped), _pinyin_pattern())
        result[rest] = dotted | pinyin
    return result


# ---- free text -------------------------------------------------------------------------------
#
# A name is a surname and one or two given-name characters, bounded on both sides in general terms
# rather than by listed cue words: a line start, punctuation or a digit; a function word or verb
# (与, 了, 称, 的); a role noun (催收员, 面试者); any ordinary word of jieba's dictionary ending
# right before or starting right after the name, unless the name's edge character forms a more
# frequent word with its neighbour (亲王 in 母亲王芳 loses to 母亲). Strong cue words (客户,
# 联系人, 来电 …) count more. Inside, the surname must not open an ordinary word (金额, 王府, 高兴)
# nor close one (提高), and the given-name characters should be plausible. Scores add up; a name
# needs THRESHOLD. The functions below score one candidate; _score_singles scores all of them
# at once with NumPy.


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that say the next characters are a name (姓名: 王芳, 客户王芳, 联系人 王芳).
_STRONG_BEFORE = _set(
    "姓名 名字 户名 账户名 客户名 客户 联系人 紧急联系人 持卡人 借款人 贷款人 申请人 共同申请人 "
    "收款人 付款人 汇款人 收件人 寄件人 经办人 代办人 代理人 委托人 受托人 担保人 保证人 抵押人 "
    "出质人 配偶 丈夫 妻子 爱人 父亲 母亲 儿子 女儿 哥哥 姐姐 弟弟 妹妹 法人 法定代表人 负责人 "
    "推荐人 介绍人 开户人 投保人 被保险人 受益人 客户经理 经理 柜员 复核人 审批人 审核人 学生 "
    "家长 患者 业主 租户 房东 员工 职员 户主 同事 朋友 本人 联系 收件 姓名为 名为 叫做 邻居 同学 "
    "病人 家属 车主 机主 用户 会员 学员 客人 顾客 坐席 致 支行 分行 营业部 孩子 老公 老婆 媳妇 "
    "女婿 孙子 孙女 外甥 侄子 侄女 舅舅 叔叔 伯伯 姑姑 表哥 表姐 表弟 表妹 堂哥 堂姐 堂弟 堂妹 "
    "岳父 岳母 公公 婆婆 爷爷 奶奶 外公 外婆 医生 主治医生 医师 护士 律师 老师 教练 司机 民警 "
    "会计 出纳 店长 主任 主管 专员 助理 秘书"
)
# Words after a name that say it is one (王芳来电, 王芳名下, 王芳夫妇).
_STRONG_AFTER = _set(
    "来电 致电 来访 到访 来行 到行 名下 之子 之女 之妻 之夫 夫妇 夫妻 本人 同学 同志 家长 一家"
)
# Single characters that end what comes before a name: prepositions, conjunctions, particles and
# verbs that take a person (与王芳, 联系了王芳, 转告王芳, 由王芳).
_LEFT_CHARS = frozenset(
    "与和跟同给向让请叫找由据替帮为被把将对从在于及或是称说问告诉到至令催陪随见约访联系了的等即"
    "致经派送交转欠借付通知醒提示电拨打寄核查询称陪带接上下完过着时归"
)
# Single characters that start what follows a name: particles, adverbs, prepositions and common
# verbs (王芳称, 王芳已, 王芳的, 王芳拒绝 …).
_RIGHT_CHARS = frozenset(
    "称说讲问答的了在于和与及跟同将已也都就还又再要会能想是被把让给对向从到去来等系因未曾没不均"
    "今昨每各拒抱留表回打发收签交填带做找用欠借买卖付退办申提报投咨反并仍却便于以即代持失驾"
    "所现家诉嫌认希怀声先夫个为"
)
# A surname followed by one of these is a way of addressing someone, not a name (张先生, 王总,
# 李经理, 王某), or a date after the preposition 于 (于明天).
_NOT_GIVEN_WORDS = _set(
    "先生 女士 小姐 同志 太太 夫人 师傅 阿姨 大爷 大妈 大哥 大姐 老师 医生 律师 会计 老板 经理 "
    "行长 主任 局长 处长 科长 书记 部长 院长 校长 所长 厂长 队长 组长 主管 总监 警官 同学 "
    "总 董 工 某 氏 "
    "今天 明天 昨天 后天 前天 今日 明日 昨日 本周 下周 上周 本月 下月 上月 月底 月初 年底 年初 "
    "当天 次日 近期 上午 下午 晚上 早上 中午 周一 周二 周三 周四 周五 周六 周日"
)
# Surname characters that are far more often function words or verbs (于是, 由于, 和, 向).
_FUNCTION_SURNAMES = frozenset("于由和向时来但那元公信利经从同把将被给对称及曾")
# A surname character that may be a function word before the real surname (由黄萱, 经查王琳).
_MAYBE_BEFORE = _FUNCTION_SURNAMES | _LEFT_CHARS
# Given names that end in 男 (胜男: "as good as a son"); otherwise 男 and 女 after a name give its
# sex (王芳女, 身份证…).
_MALE_ENDINGS = frozenset({"胜男", "亚男", "若男", "楠男", "振男"})
# What ends a role noun right before a name (共有人王芳, 催收员王芳, 面试者王芳, 维修工王芳,
# 车主王芳); the last three only after a dictionary word (车主, but not 民主).
_ROLE_ENDS = frozenset("人员者工主户客")
_HARD_ROLE_ENDS = "人员者工"
_GENDER = frozenset("男女")
# Characters that end a division or street name: a name does not follow them (广东省高雄市).
_PLACE_BEFORE = frozenset("省市区县州镇乡村路街")
_PLACE_CHARS = frozenset("省市区县州镇乡村路街道巷")
# Characters of transliterated foreign names, frequent in jieba's three-character "names" but not
# in Han given names (易拉宝, 金卡).
_TRANSLITERATION = frozenset("尔斯克特尼拉卡达布里亚格纳塔勒莱姆蒂迪伊萨托瓦索奥巴洛夫基曼埃")
# What follows a place or an organization named like a person (黄河路, 王府井大街, 李家村,
# 黄河银行).
_PLACE_AFTER = re.compile(
    r"(?:[路街道巷弄村镇乡县区市省州庄屯湾港桥寺]|大街|大道|小区|花园|公司|集团|银行|支行|分行|"
    r"大学|中学|小学|医院|酒店|宾馆|饭店|公园|广场|大厦|商场|超市)"
)
_BEFORE_SIZES = sorted({len(w) for w in _STRONG_BEFORE}, reverse=True)
# Every character a strong cue before a name can end with (a quick rejection).
_CUE_LAST = {w[-1] for w in _STRONG_BEFORE} | set(" :\t为是") | _ROLE_ENDS

# jieba dictionary words at least this frequent count as ordinary words (金额 1292, 周一 327).
WORD_MIN_FREQ = 20
# A word after a name must be this many times more frequent than the word the name's last
# character would form with the next one: in 林俊一起来, 起来 is not frequent enough against 一起
# to read the name as 林俊一.
_OUTWEIGH = 3.0
# Ordinary words this frequent (住院 589, 银行 7684) cannot be a given name made of rarer
# characters; rarer ones often are (昊天 24, 浩然 38).
COMMON_WORD_FREQ = 200
# jieba's tags of bound morphemes and rare characters (璇 g, 煜 zg, 珂 nrfg, 珑 x).
_MORPHEME_TAGS = frozenset({"g", "zg", "ng", "nrfg", "x", "tg", "ag", "vg"})
# Rarer words (钱款 8, 解押 3) still count against a name they would open.
RARE_WORD_MIN_FREQ = 3
# Texts shorter than this (a cell, a sentence) take the scalar path: the vectorized one costs
# ~1 ms a call whatever the length.
SHORT_TEXT = 1500
# A name needs this score (set on the dev splits of benchmarks/name_models.py).
THRESHOLD = 4.0


class _Lexicon:
    """What the finder needs from jieba's dictionary, loaded once.

    ``words``: 2–4-character ordinary words → frequency. jieba tags thousands of ordinary words as
    names (明白, 王府, 华为 are ``nr``), but its rarer ``nr`` entries are mostly people (王楠 32,
    李娜 438): ``nr`` words count as ordinary only from 1,000 on; ``people`` holds the rest above
    150, which cost a candidate less.
    """

    def __init__(self) -> None:
        import jieba

        text = resources.files(jieba).joinpath("dict.txt").read_text(encoding="utf-8")
        words: dict[str, int] = {}
        chars: dict[str, tuple[int, str]] = {}
        rare: set[str] = set()
        people: set[str] = set()
        places: set[str] = set()
        for line in text.splitlines():
            word, freq, tag = line.split(" ", 2)
            if len(word) == 1 and "\u4e00" <= word <= "\u9fff":
                chars[word] = (int(freq), tag)
            if not 2 <= len(word) <= 4:
                continue
            count = int(freq)
            if tag.startswith("ns") and count >= WORD_MIN_FREQ:
                places.add(word)
            if count < WORD_MIN_FREQ:
                if count >= RARE_WORD_MIN_FREQ and not tag.startswith("nr"):
                    rare.add(word)
                continue
            if not tag.startswith("nr") or count >= 1000:
                words[word] = count
            elif count >= 150:
                people.add(word)
        self.words = words
        self.chars = chars
        self.rare = frozenset(rare)
        self.people = frozenset(people)
        self.places = frozenset(places)
        # What reading a name across a word that opens it costs (see _opening_word).
        self.cost: dict[str, float] = dict.fromkeys(self.people, -1.0)
        self.cost.update(dict.fromkeys(self.rare, 2.0))
        self.cost.update(dict.fromkeys(words, 3.0))
        from leaktrace.identifiers import address  # imports this module: load it late

        self.divisions = frozenset(f for f in address.division_forms() if len(f) <= 3)
        firsts = SINGLE_SURNAMES | {c[0] for c in COMPOUND_SURNAMES}
        # Two-character words that a surname character opens (金额) or closes (提高): the quick
        # rejections of the candidate loop.
        self.opens = frozenset(w for w in words if len(w) == 2 and w[0] in firsts)
        self.closes = frozenset(w for w in words if len(w) == 2 and w[1] in firsts)


@cache
def _lexicon() -> _Lexicon:
    return _tables()[0]


@cache
def _candidates() -> re.Pattern[str]:
    """A surname character (or a compound's first) before a Han character or a padded one."""
    firsts = "".join(sorted(SINGLE_SURNAMES | {c[0] for c in COMPOUND_SURNAMES}))
    return re.compile(f"[{firsts}](?=[{HAN}]| [{HAN}](?![{HAN}]))")


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff"


def _word_ending(text: str, end: int, words: dict[str, int]) -> int:
    """Frequency of the most frequent ordinary word of 2–4 characters ending at ``end``."""
    best = 0
    for size in (2, 3, 4):
        if end - size < 0:
            break
        best = max(best, words.get(text[end - size : end], 0))
    return best


def _strong_before(text: str, start: int) -> bool:
    """A cue word (客户, 联系人:, 借款人为), a role noun (共有人, 催收员) or a colon before."""
    if start == 0 or text[start - 1] not in _CUE_LAST:
        return False  # most candidates: no cue can end here
    end = start
    while end > 0 and end > start - 3 and text[end - 1] in " :\t":
        end -= 1
    if end < start and text[end] == ":":
        return True
    if end > 0 and text[end - 1] in "为是":  # 借款人为王芳, 户名是王芳
        end -= 1
    for size in _BEFORE_SIZES:
        if end >= size and text[end - size : end] in _STRONG_BEFORE:
            return True
    if end >= 2 and text[end - 1] in _ROLE_ENDS and _is_han(text[end - 2]):
        return text[end - 1] in _HARD_ROLE_ENDS or text[end - 2 : end] in _lexicon().words
    return False


def _left(text: str, start: int, lex: _Lexicon) -> float:
    """How cleanly a name can start at ``start``."""
    if start == 0 or not "\u3400" <= text[start - 1] <= "\u9fff":
        return 2.0
    if _strong_before(text, start):
        return 2.5
    prev = text[start - 1]
    if prev in _PLACE_BEFORE:
        return -2.0
    words = lex.words
    across = words.get(text[start - 1 : start + 1], 0)
    before = _word_ending(text, start, words)
    if before > across:
        return 1.5 if prev in _LEFT_CHARS else 1.0
    if across:
        return -3.0  # the surname closes a word: 提高, 主张
    return 1.5 if prev in _LEFT_CHARS else 0.0


def _right(text: str, end: int, lex: _Lexicon) -> float:
    """How cleanly a name can end before ``end``."""
    if end >= len(text):
        return 2.0
    char = text[end]
    if not "\u3400" <= char <= "\u9fff":
        return 2.0 if char not in DOTS else -3.0
    two = text[end : end + 2]
    if two in _STRONG_AFTER or text[end : end + 3] in _STRONG_AFTER:
        return 2.5
    if char in _GENDER and (end + 1 == len(text) or not _is_han(text[end + 1])):
        return 2.0  # 王芳 女, 身份证…
    words = lex.words
    across = words.get(text[end - 1 : end + 1], 0)
    after = max(words.get(two, 0), words.get(text[end : end + 3], 0))
    if after <= across:
        after = max(after, words.get(text[end : end + 4], 0))
    if after > _OUTWEIGH * across or (char in _RIGHT_CHARS and not across):
        return 1.5 if char in _RIGHT_CHARS else 1.0
    if across:
        return -1.5  # the name's last character opens a word: 王芳明天 read as 王芳明 + 天
    return 0.0


def _given(char: str) -> float:
    return _given_weights().get(char, -0.75)


def _common(text: str, start: int, given: int, lex: _Lexicon) -> float | None:
    """What the surname and the first given character say, the same for a one- or two-character
    given name; None when they cannot start a name."""
    first = text[given]
    if first in _NOT_GIVEN or first in _PLACE_CHARS:
        return None
    opening = text[start : given + 1]
    if opening in lex.places or text[start : given + 2] in lex.places:
        return None  # 苍南, 张家口: a place, whatever cue precedes it
    surname = text[start:given]
    share = SURNAMES.get(surname, 0.0)
    if share >= 0.2:
        score = 0.5
    elif given - start == 2:
        score = 0.0  # rare, but compound surnames seldom open ordinary words
    else:
        score = -0.5 if share < 0.05 else 0.0
    if opening in lex.divisions or text[start : given + 2] in lex.divisions:
        score -= 2.5  # 邵阳, 吕梁, 伊春 (jieba tags them as names)
    if surname in _FUNCTION_SURNAMES:
        score -= 0.5
    return score + _given(first)


def _opening_word(text: str, start: int, given: int, lex: _Lexicon) -> tuple[int, float]:
    """The longest word that starts at ``start`` and reaches into the given name, and what
    reading a name across it costs: ordinary words 3, rarer ones 2, jieba's "names" -1 (1.5 as
    the whole name, 3 as a part of one: 李娜, but also 许可)."""
    cost = lex.cost
    for size in (4, 3, 2):
        if start + size > given:
            found = cost.get(text[start : start + size])
            if found is not None:
                return start + size, found
    return 0, 0.0


def _best(
    text: str, start: int, given: int, lex: _Lexicon, *, opening: bool = False
) -> tuple[float, int]:
    """The best score and end of a name whose given name starts at ``given``; ``opening``: an
    ordinary word opens on the surname, so only a three-character name is read, at a lower cost
    (王子轩)."""
    if text[given] == " ":  # 王 芳: forms pad two-character names
        common = _common(text, start, given + 1, lex)
        if common is None or text[given + 1] in _NOT_GIVEN:
            return -9.0, given
        return _left(text, start, lex) + common + _right(text, given + 2, lex), given + 2
    common = _common(text, start, given, lex)
    if common is None:
        return -9.0, given
    word_end, word_cost = _opening_word(text, start, given, lex)
    base = _left(text, start, lex) + common
    best, best_end = -9.0, given
    for end in (given + 1, given + 2):
        if end > len(text):
            break
        if end == given + 2:
            last = text[given + 1]
            if not "\u3400" <= last <= "\u9fff" or last in _FOLLOWERS or last in _PLACE_CHARS:
                break
            if last in _GENDER and text[given:end] not in _MALE_ENDINGS:
                break
            score = base + _given(last) + 0.25  # most given names have two characters
            if last in _RIGHT_CHARS:
                score -= 1.25  # 李飞为共同借款人: the shorter name, unless the text says otherwise
            pair = lex.words.get(text[given:end], 0)
            if pair and not (_given(text[given]) == 1 and _given(last) == 1):
                # 向银行, 万住院; but given names are words too (建国, 海燕), rarer ones often
                # literary (昊天 24, 浩然 38)
                score -= 2.5 if pair >= COMMON_WORD_FREQ else 1.0
        else:
            score = base
        if opening and end == given + 1:
            continue
        if word_end:
            if word_cost < 0:
                score -= 1.5 if word_end == end else 3.0
            else:
                score -= word_cost - opening
        if _PLACE_AFTER.match(text, end):
            continue
        score += _right(text, end, lex)
        if score > best:
            best, best_end = score, end
    return best, best_end


# ---- the same scoring over every candidate at once -------------------------------------------
#
# The functions above score one candidate; a joined column holds hundreds of thousands of them.
# _Vectors computes the same scores for every single-surname candidate with NumPy: the text's code
# points in an array, character classes as bit flags, and words of 2–4 characters looked up as
# 64-bit keys (four 16-bit code points) in sorted arrays. Python then walks only the names found,
# compound surnames and padded names (王 芳), which keep the scalar path.

# Character classes as bit flags (one lookup gives every class of a character).
_HAN_F, _SURNAME_F, _NOT_GIVEN_F, _FOLLOWER_F, _RIGHT_F, _LEFT_F = (1 << i for i in range(6))
_PLACE_CHAR_F, _PLACE_BEFORE_F, _GENDER_F, _DOT_F = (1 << i for i in range(6, 10))
_PLACE_AFTER_F, _SKIP_F, _ROLE_HARD_F, _ROLE_SOFT_F = (1 << i for i in range(10, 14))
_COPULA_F, _TITLE_F, _CUE_F, _COMPOUND_F, _MAYBE_F = (1 << i for i in range(14, 19))
_PAD = 5  # zero code points on each side, so every offset used below stays inside the array
_PLACE_AFTER_CHARS = "路街道巷弄村镇乡县区市省州庄屯湾港桥寺"
_PLACE_AFTER_WORDS = (
    "大街 大道 小区 花园 公司 集团 银行 支行 分行 大学 中学 小学 医院 酒店 宾馆 饭店 公园 广场 "
    "大厦 商场 超市"
)


def _key(word: str) -> int:
    """Four 16-bit code points as one integer (``_keys_at`` builds the same from the text)."""
    return int.from_bytes(word.encode("utf-16-be", "surrogatepass"), "big")


class _Keys:
    """Words of one length as 64-bit keys, with a value each."""

    def __init__(self, items: dict[str, float], dtype: str = "float32") -> None:
        pairs = sorted((_key(w), v) for w, v in items.items())
        self.keys = np.array([k for k, _ in pairs] or [0], dtype=np.uint64)
        self.values = np.array([v for _, v in pairs] or [0], dtype=dtype)
        self.index = _vector.KeyIndex(self.keys)

    def get(self, query: np.ndarray) -> np.ndarray:
        """The value of each key in ``query``, 0 where it is not a word."""
        rows = self.index.find(query)
        return np.where(rows >= 0, self.values[rows], 0)


# Bits of what a word is besides ordinary (one lookup answers them all).
_PLACE_W, _DIVISION_W, _STRONG_AFTER_W, _TITLE_W, _PLACE_AFTER_W, _MALE_W = (
    1 << i for i in range(6)
)


class _Table:
    """Every word of one length the scoring asks about, as sorted 64-bit keys, with its frequency
    as an ordinary word, its cost as a word opening a name, and bits for the other sets."""

    def __init__(self, words: list[str], lex: _Lexicon, sets: dict[int, frozenset[str]]) -> None:
        words = sorted(set(words)) or [""]
        size = len(words[0])
        if len("".join(words).encode("utf-16-le", "surrogatepass")) != 2 * size * len(words):
            words = [w for w in words if w.isascii() or max(w) <= "\uffff"] or [""]
        units = np.frombuffer("".join(words).encode("utf-16-be", "surrogatepass"), dtype=">u2")
        keys = np.zeros(len(words), dtype=np.uint64)
        for column in units.reshape(len(words), -1).T if size else ():
            keys = (keys << np.uint64(16)) | column.astype(np.uint64)
        order = np.argsort(keys, kind="stable")
        ordered = [words[i] for i in order]
        self.keys = keys[order]
        self.freq = np.array([lex.words.get(w, 0) for w in ordered], dtype=np.float32)
        self.cost = np.array([lex.cost.get(w, 0) for w in ordered], dtype=np.float32)
        bits = np.zeros(len(ordered), dtype=np.uint32)
        row = {word: i for i, word in enumerate(ordered)}
        for bit, members in sets.items():
            for word in members:
                if len(word) == size:
                    bits[row[word]] |= bit
        self.bits = bits
        self.index = _vector.KeyIndex(self.keys)

    def find(self, query: np.ndarray) -> np.ndarray:
        """The row of each key in ``query``, or -1."""
        return self.index.find(query)

    def frequency(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self.freq[rows], 0)

    def costs(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self.cost[rows], 0)

    def has(self, rows: np.ndarray, bit: int) -> np.ndarray:
        return (rows >= 0) & ((self.bits[rows] & bit) != 0)


def _by_length(words, value=1.0, lengths=(1, 2, 3, 4)) -> dict[int, _Keys]:
    """``words`` (an iterable, or a dict of values) grouped by length as :class:`_Keys`."""
    values = words if isinstance(words, dict) else dict.fromkeys(words, value)
    return {n: _Keys({w: v for w, v in values.items() if len(w) == n}) for n in lengths}


class _Vectors:
    """The tables of the vectorized scoring, built once from the lexicon and the sets above."""

    def __init__(self, lex: _Lexicon) -> None:
        flags = np.zeros(0x10000, dtype=np.uint32)
        flags[0x3400:0xA000] |= _HAN_F
        for chars, flag in (
            (SINGLE_SURNAMES, _SURNAME_F),
            (_NOT_GIVEN, _NOT_GIVEN_F),
            (_FOLLOWERS, _FOLLOWER_F),
            (_RIGHT_CHARS, _RIGHT_F),
            (_LEFT_CHARS, _LEFT_F),
            (_PLACE_CHARS, _PLACE_CHAR_F),
            (_PLACE_BEFORE, _PLACE_BEFORE_F),
            (_GENDER, _GENDER_F),
            (DOTS, _DOT_F),
            (_PLACE_AFTER_CHARS, _PLACE_AFTER_F),
            (" :\t", _SKIP_F),
            (_HARD_ROLE_ENDS, _ROLE_HARD_F),
            ("主户客", _ROLE_SOFT_F),
            ("为是", _COPULA_F),
            ((w for w in _NOT_GIVEN_WORDS if len(w) == 1), _TITLE_F),
            (_CUE_LAST, _CUE_F),
            ({c[0] for c in COMPOUND_SURNAMES}, _COMPOUND_F),
            (_MAYBE_BEFORE, _MAYBE_F),
        ):
            for char in chars:
                flags[ord(char)] |= flag
        self.flags = flags
        self.given = np.full(0x10000, -0.75, dtype=np.float32)
        for char, weight in _weights_from(lex).items():
            self.given[ord(char)] = weight
        self.surname = np.zeros(0x10000, dtype=np.float32)
        for name in SINGLE_SURNAMES:
            share = SURNAMES[name]
            score = 0.5 if share >= 0.2 else (-0.5 if share < 0.05 else 0.0)
            self.surname[ord(name)] = score - (0.5 if name in _FUNCTION_SURNAMES else 0.0)
        sets = {
            _PLACE_W: lex.places,
            _DIVISION_W: lex.divisions,
            _STRONG_AFTER_W: _STRONG_AFTER,
            _TITLE_W: frozenset(w for w in _NOT_GIVEN_WORDS if len(w) == 2),
            _PLACE_AFTER_W: _set(_PLACE_AFTER_WORDS),
            _MALE_W: _MALE_ENDINGS,
        }
        by_size: dict[int, list[str]] = {2: [], 3: [], 4: []}
        for group in (lex.words, lex.cost, *sets.values()):
            for word in group:
                if len(word) in by_size:
                    by_size[len(word)].append(word)
        self.tables = {size: _Table(words, lex, sets) for size, words in by_size.items()}
        # Keys hold four characters: a longer cue (法定代表人) is matched by its last four.
        self.strong_before = _by_length({w[-4:] for w in _STRONG_BEFORE}, lengths=(1, 2, 3, 4))
        self.compounds = _by_length(COMPOUND_SURNAMES)[2]


@cache
def _vectors() -> _Vectors:
    return _tables()[1]


@cache
def _tables() -> tuple[_Lexicon, _Vectors]:
    """The lexicon and the scoring tables, built once and kept in the cache folder."""

    def build() -> tuple[_Lexicon, _Vectors]:
        lexicon = _Lexicon()
        return lexicon, _Vectors(lexicon)

    return _vector.stored("person_name", _table_sources(), build)


def _table_sources() -> list:
    """What the lexicon and tables are built from: jieba's dictionary (found without importing
    jieba, which takes a while), the data files, and the code of this module and the address
    module (division names)."""
    jieba = importlib.util.find_spec("jieba")
    folder = Path(next(iter(jieba.submodule_search_locations)))
    return [
        folder / "dict.txt",
        _DATA.joinpath("surnames.tsv"),
        _DATA.joinpath("given_chars.tsv"),
        _DATA.joinpath("address_divisions.tsv"),
        Path(__file__),
        Path(__file__).with_name("address.py"),
    ]


class _FlagAt:
    """``flag[i]``: the character classes at index ``i`` of a text's code points, looked up
    where asked rather than for every character of the text."""

    def __init__(self, flags: np.ndarray, codes: np.ndarray) -> None:
        self.flags, self.codes = flags, codes

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self.flags[self.codes[index]]


@cache
def _opener_table() -> np.ndarray:
    """Which code points may open a name: surnames and the first characters of compounds."""
    return (_vectors().flags & (_SURNAME_F | _COMPOUND_F)) != 0


def _keys_at(codes: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    """The 64-bit keys of the ``size`` characters starting at each index of ``at``."""
    key = codes[at].astype(np.uint64)
    for offset in range(1, size):
        key = (key << np.uint64(16)) | codes[at + offset]
    return key


class _Scored:
    """What the vectorized pass found: names of single surnames (starts, ends, and which start
    with a character that may be a function word before the real surname), and where compound
    surnames and padded names (王 芳) start, for the scalar path."""

    def __init__(self, starts, ends, doubtful, special) -> None:
        self.starts, self.ends, self.doubtful, self.special = starts, ends, doubtful, special


def _score_singles(text: str) -> _Scored:
    """Score every single-surname candidate of ``text`` at once (see :class:`_Vectors`)."""
    vec = _vectors()
    raw = code_points(text)
    codes = np.zeros(len(raw) + 2 * _PAD, dtype=np.uint16)
    codes[_PAD:-_PAD] = np.minimum(raw, 0xFFFF)
    flag = _FlagAt(vec.flags, codes)
    # Only surname characters (and first characters of compound surnames) open a candidate.
    openers = np.flatnonzero(_opener_table()[codes])
    opener_flags = flag[openers]
    compound = openers[(opener_flags & _COMPOUND_F) != 0]
    compound = compound[vec.compounds.get(_keys_at(codes, compound, 2)) > 0]
    surname = openers[(opener_flags & _SURNAME_F) != 0]
    padded = surname[codes[surname + 1] == ord(" ")]
    padded = padded[((flag[padded + 2] & _HAN_F) != 0) & ((flag[padded + 3] & _HAN_F) == 0)]
    special = np.union1d(compound, padded) - _PAD
    at = surname[(flag[surname + 1] & _HAN_F) != 0]
    nothing = np.zeros(0, dtype=np.intp)
    if not len(at):
        return _Scored(nothing, nothing, nothing, special)

    tables = vec.tables
    memo: dict[tuple[int, int], np.ndarray] = {}

    def f(offset: int) -> np.ndarray:
        return flag[at + offset]

    def rows(offset: int, size: int) -> np.ndarray:
        """Table rows of the ``size`` characters at each candidate + ``offset`` (memoized until
        the candidates change)."""
        found = memo.get((offset, size))
        if found is None:
            found = memo[offset, size] = tables[size].find(_keys_at(codes, at + offset, size))
        return found

    def word(offset: int, size: int) -> np.ndarray:
        return tables[size].frequency(rows(offset, size))

    def word_before(which: np.ndarray) -> np.ndarray:
        """The most frequent word of 2–4 characters ending before the candidates ``which``."""
        ends = at[which]
        found = [
            tables[n].frequency(tables[n].find(_keys_at(codes, ends - n, n))) for n in (2, 3, 4)
        ]
        return np.maximum(np.maximum(found[0], found[1]), found[2])

    def narrow(keep: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
        for key in list(memo):
            memo[key] = memo[key][keep]
        return [a[keep] for a in arrays]

    # Quick rejections first, so the lookups below run on a fraction of the candidates: a title
    # or a date after the surname (张先生, 于明天), a word closing on it (提高), the given name's
    # first character impossible.
    at = at[(f(1) & (_TITLE_F | _NOT_GIVEN_F | _PLACE_CHAR_F)) == 0]
    (at,) = narrow(~tables[2].has(rows(1, 2), _TITLE_W), at)
    across = word(-1, 2)

    # Strong cues before the name: skip up to three spaces or colons (a colon is a cue itself),
    # a copula (借款人为), then a cue word of 1–4 characters or a role noun (催收员, 车主). Only
    # where the character before can end a cue.
    strong = np.zeros(len(at), dtype=bool)
    maybe = np.flatnonzero((f(-1) & _CUE_F) != 0)
    if len(maybe):
        end = at[maybe]
        colon = np.zeros(len(end), dtype=bool)
        for _ in range(3):
            skip = (flag[end - 1] & _SKIP_F) != 0
            colon |= skip & (codes[end - 1] == ord(":"))
            end = np.where(skip, end - 1, end)
        end = np.where((flag[end - 1] & _COPULA_F) != 0, end - 1, end)
        cue = colon
        for size in range(1, 5):
            cue |= vec.strong_before[size].get(_keys_at(codes, end - size, size)) > 0
        role_char = flag[end - 1]
        role = (flag[end - 2] & _HAN_F) != 0
        soft = tables[2].frequency(tables[2].find(_keys_at(codes, end - 2, 2))) > 0
        hard = (role_char & _ROLE_HARD_F) != 0
        cue |= role & (hard | (((role_char & _ROLE_SOFT_F) != 0) & soft))
        strong[maybe] = cue
    # A word closing on the surname (提高), or an ordinary word opening on it (金额, 马上), unless
    # a cue says it is a name (车主张建国, 客户高峰), or a three-character name of common given-name
    # characters follows (王子轩, 黄海涛).
    # The word ending before the surname only matters against a word across it (and, below, for
    # the left score): it is looked up where it is needed.
    before = np.zeros(len(at), dtype=np.float32)
    closing = np.flatnonzero((across > 0) & ~strong)
    before[closing] = word_before(closing)
    keep = ~((across > 0) & (before <= across) & ~strong)
    opens = (word(0, 2) > 0) & ~strong
    common_three = (vec.given[codes[at + 1]] == 1) & (vec.given[codes[at + 2]] == 1)
    keep &= ~opens | common_three
    at, across, before, strong, opens = narrow(keep, at, across, before, strong, opens)
    if not len(at):
        return _Scored(nothing, nothing, nothing, special)

    prev = f(-1)
    left_char = (prev & _LEFT_F) != 0
    open_left = (across == 0) & ~strong & ~left_char & ((prev & _PLACE_BEFORE_F) == 0)
    open_left = np.flatnonzero(open_left & ((prev & _HAN_F) != 0))
    before[open_left] = word_before(open_left)
    left = np.where(
        before > across,
        np.where(left_char, 1.5, 1.0),
        np.where(across > 0, -3.0, np.where(left_char, 1.5, 0.0)),
    )
    left = np.where((prev & _PLACE_BEFORE_F) != 0, -2.0, left)
    left = np.where(strong, 2.5, left)
    left = np.where((prev & _HAN_F) == 0, 2.0, left)

    ok = (f(1) & (_NOT_GIVEN_F | _PLACE_CHAR_F)) == 0
    ok &= ~tables[2].has(rows(0, 2), _PLACE_W) & ~tables[3].has(rows(0, 3), _PLACE_W)
    division = tables[2].has(rows(0, 2), _DIVISION_W) | tables[3].has(rows(0, 3), _DIVISION_W)
    given1 = vec.given[codes[at + 1]]
    base = left + vec.surname[codes[at]] + given1 - 2.5 * division

    # The longest word opening at the surname and what it costs (see _opening_word).
    word_end = np.zeros(len(at), dtype=np.intp)
    word_cost = np.zeros(len(at), dtype=np.float32)
    for size in (2, 3, 4):  # longest last, so it wins
        cost = tables[size].costs(rows(0, size))
        word_end = np.where(cost != 0, at + size, word_end)
        word_cost = np.where(cost != 0, cost, word_cost)

    def opening_penalty(end: np.ndarray) -> np.ndarray:
        people = np.where(word_end == end, 1.5, 3.0)
        return np.where(word_end == 0, 0.0, np.where(word_cost < 0, people, word_cost))

    def right(offset: int) -> np.ndarray:
        end = at + offset
        char = flag[end]
        across = word(offset - 1, 2)
        after = np.maximum(np.maximum(word(offset, 2), word(offset, 3)), word(offset, 4))
        is_right = (char & _RIGHT_F) != 0
        score = np.where(
            (after > _OUTWEIGH * across) | (is_right & (across == 0)),
            np.where(is_right, 1.5, 1.0),
            np.where(across > 0, -1.5, 0.0),
        )
        gender = ((char & _GENDER_F) != 0) & ((flag[end + 1] & _HAN_F) == 0)
        score = np.where(gender, 2.0, score)
        strong = tables[2].has(rows(offset, 2), _STRONG_AFTER_W)
        strong |= tables[3].has(rows(offset, 3), _STRONG_AFTER_W)
        score = np.where(strong, 2.5, score)
        return np.where((char & _HAN_F) == 0, np.where((char & _DOT_F) != 0, -3.0, 2.0), score)

    def place_after(offset: int) -> np.ndarray:
        return ((f(offset) & _PLACE_AFTER_F) != 0) | tables[2].has(rows(offset, 2), _PLACE_AFTER_W)

    end1, end2 = at + 2, at + 3
    one = base - opening_penalty(end1) + right(2)
    one = np.where(place_after(2) | opens, -9.0, one)
    last = f(2)
    given2 = vec.given[codes[at + 2]]
    two = base + given2 + 0.25 - 1.25 * ((last & _RIGHT_F) != 0)
    pair_word = word(1, 2)
    both_common = (given1 == 1) & (given2 == 1)
    two -= np.where(pair_word >= COMMON_WORD_FREQ, 2.5, 1.0) * ((pair_word > 0) & ~both_common)
    two += -opening_penalty(end2) + right(3) + (opens & (word_cost > 0))
    valid_two = ((last & _HAN_F) != 0) & ((last & (_FOLLOWER_F | _PLACE_CHAR_F)) == 0)
    male = tables[2].has(rows(1, 2), _MALE_W)
    valid_two &= ((last & _GENDER_F) == 0) | male
    valid_two &= ~place_after(3)
    two = np.where(valid_two, two, -9.0)
    best = np.maximum(one, two)
    accepted = ok & (best >= THRESHOLD)
    ends = np.where(two > one, end2, end1)[accepted]
    at = at[accepted]
    doubtful = ((flag[at] & _MAYBE_F) != 0) & ((flag[at + 1] & _SURNAME_F) != 0)
    doubtful &= (flag[at + 2] & _HAN_F) != 0
    return _Scored(at - _PAD, ends - _PAD, np.flatnonzero(doubtful), special)


def _find_han(text: str) -> list[tuple[int, int]]:
    """Han names: the vectorized scores for single surnames, the scalar path for the rest."""
    starts, ends = _han_spans(text)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _han_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_find_han` as (starts, ends) arrays; Python runs only for the few compound
    surnames, padded names and doubtful starts, and for overlapping names."""
    if len(text) < SHORT_TEXT:
        return _as_arrays(list(_find_han_scalar(text)))
    scored = _score_singles(text)
    starts, ends = scored.starts.astype(np.int64), scored.ends.astype(np.int64)
    doubtful = set(starts[scored.doubtful].tolist())
    lex = _lexicon()
    special = []
    compound_starts = []
    for start in scored.special.tolist():  # compound surnames, padded names
        if text[start : start + 2] in COMPOUND_SURNAMES:
            compound_starts.append(start)  # read as a compound only, as the scalar loop does
        given = start + 2 if text[start : start + 2] in COMPOUND_SURNAMES else start + 1
        if given >= len(text) or not (_is_han(text[given]) or text[given] == " "):
            continue
        if text[given] in _NOT_GIVEN_WORDS or text[given : given + 2] in _NOT_GIVEN_WORDS:
            continue
        score, end = _best(text, start, given, lex)
        if score >= THRESHOLD:
            special.append((start, end))
    if compound_starts or special:
        # A special reading replaces a single-surname one at the same start.
        drop = np.isin(starts, np.array(compound_starts + [s for s, _ in special], np.int64))
        extra_starts, extra_ends = _as_arrays(special)
        starts = np.concatenate((starts[~drop], extra_starts))
        ends = np.concatenate((ends[~drop], extra_ends))
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
    if not doubtful and not np.any(starts[1:] < ends[:-1]):
        return starts, ends
    refused = np.zeros(len(starts), dtype=bool)
    for k in np.flatnonzero(np.isin(starts, np.array(sorted(doubtful), np.int64))).tolist():
        # 由黄萱, 和王芳: the surname may be a function word before the real surname (asked of
        # every doubtful start, also those an earlier name covers: the few extra reads are
        # cheaper than a Python loop over every name).
        start = int(starts[k])
        given = start + 1
        later, _later_end = _best(text, given, given + 1, lex)
        refused[k] = later >= THRESHOLD and SURNAMES[text[given]] >= SURNAMES.get(text[start], 0)
    from leaktrace.identifiers._span_loops import first_disjoint  # numba: on first use

    kept = first_disjoint(starts, ends, refused)
    return starts[kept], ends[kept]


def _as_arrays(spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of a list of spans."""
    pairs = np.array(spans, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _find_han_scalar(text: str) -> Iterator[tuple[int, int]]:
    """The scalar twin of :func:`_find_han` (for tests: both must find the same names)."""
    lex = _lexicon()
    opens, closes, words = lex.opens, lex.closes, lex.words
    singles, compounds = SINGLE_SURNAMES, COMPOUND_SURNAMES
    last_end = 0
    for match in _candidates().finditer(text):
        start = match.start()
        if start < last_end:
            continue
        pair = text[start : start + 2]
        opening = False
        if pair in compounds:
            given = start + 2
            if given >= len(text) or not (_is_han(text[given]) or text[given] == " "):
                continue
        elif text[start] in singles:
            given = start + 1
            strong = _strong_before(text, start)
            opening = pair in opens and not strong  # 金额, 马上, 高兴 (but 客户高峰)
            if opening and not (
                _given(text[given]) == 1 and given + 1 < len(text) and _given(text[given + 1]) == 1
            ):
                continue
            closing = start and text[start - 1 : start + 1] in closes and not strong
            if closing and _word_ending(text, start, words) <= words[text[start - 1 : start + 1]]:
                continue  # 提高, 主张
        else:
            continue
        if text[given] in _NOT_GIVEN_WORDS or text[given : given + 2] in _NOT_GIVEN_WORDS:
            continue  # 张先生, 王总, 于明天
        score, end = _best(text, start, given, lex, opening=opening)
        if score < THRESHOLD:
            continue
        if (
            given == start + 1
            and text[start] in _MAYBE_BEFORE
            and text[given] in singles
            and given + 1 < len(text)
            and _is_han(text[given + 1])
        ):
            # 由黄萱, 和王芳: the surname may be a function word before the real surname.
            later, _later_end = _best(text, given, given + 1, lex)
            if later >= THRESHOLD and SURNAMES[text[given]] >= SURNAMES.get(text[start], 0):
                continue
        last_end = end
        yield start, end


# Characters that end a transliterated name in running text (…·阿布拉于周一, …·艾则孜在南京).
_DOT_END = frozenset("于在的已称说将未持想要对也是和与及为自由给向")
_DOTTED_CANDIDATE = re.compile(f"[{HAN}]{{1,8}}[{DOTS}][{HAN}]{{1,10}}(?:[{DOTS}][{HAN}]{{1,10}})?")


def _dot_positions(text: str) -> list[int]:
    """Where the middle dots are, in order: ``str.find`` per dot skips the text between them
    several times as fast as ``re`` over a joined column of Chinese text."""
    positions = []
    for dot in DOTS:
        at = text.find(dot)
        while at >= 0:
            positions.append(at)
            at = text.find(dot, at + 1)
    positions.sort()
    return positions


def _find_dotted(text: str) -> Iterator[tuple[int, int]]:
    """Transliterated names joined by a middle dot, trimmed of context words glued to them."""
    words, rare = _lexicon().words, _lexicon().rare
    last_end = 0
    for dot in _dot_positions(text):
        if dot < last_end:
            continue
        begin = dot
        while begin > max(0, dot - 8) and _is_han(text[begin - 1]):
            begin -= 1
        match = _DOTTED_CANDIDATE.match(text, begin)
        if match is None:
            continue
        start, end = match.span()
        last_end = end
        first_dot = dot
        for cut in range(first_dot - 1, start, -1):
            # A cue or an ordinary word before the name (表弟吐尔逊·热合曼).
            if first_dot - cut >= 2 and (
                _strong_before(text, cut)
                or _word_ending(text, cut, words)
                or (cut == start + 1 and text[start] in _LEFT_CHARS)
            ):
                start = cut
                break
        # Without a cue, keep at most four characters before the dot (阿依古丽, 帕尔哈提), and
        # none before a function character (长沙的依明·司马义, 来自买买提·阿布拉).
        start = max(start, first_dot - 4)
        for cut in range(first_dot - 1, start - 1, -1):
            if text[cut] in _DOT_END:
                start = cut + 1
                break
        if first_dot - start == 4 and text[start] in _LEFT_CHARS:
            start += 1  # 经查买买提·…
        if text[end - 1] in _GENDER and (end == len(text) or not _is_han(text[end])):
            end -= 1  # …·司马义女, 身份证…
        last_dot = max(text.rfind(d, start, end) for d in DOTS)
        strong = next(
            (c for c in range(last_dot + 2, end) if text[c : c + 2] in _STRONG_AFTER), end
        )
        for cut in range(last_dot + 3, strong):
            pair = text[cut : cut + 2]
            if text[cut] in _DOT_END or ((pair in words or pair in rare) and cut + 2 <= strong):
                end = cut
                break
        else:
            end = strong
        if end - start >= 4:
            yield start, end


def _star_runs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of asterisks: ``str.find`` skips the text between them about
    2.5 times as fast as ``re`` over a joined column of Chinese text."""
    start = text.find("*")
    while start >= 0:
        end = start + 1
        while end < len(text) and text[end] == "*":
            end += 1
        yield start, end
        start = text.find("*", end)


def _name_star_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of the runs of one to three asterisks after the first character, as a
    masked name holds them (masked numbers hold longer runs: most of a joined column's)."""
    if len(text) < _LONG_TEXT:
        return [(start, end) for start, end in _star_runs(text) if start and end - start <= 3]
    stars = np.flatnonzero(code_points(text) == ord("*"))
    if not stars.size:
        return []
    breaks = np.flatnonzero(np.diff(stars) != 1) + 1
    starts = stars[np.concatenate(([0], breaks))]
    ends = stars[np.concatenate((breaks - 1, [stars.size - 1]))] + 1
    short = (starts > 0) & (ends - starts <= 3)
    return list(zip(starts[short].tolist(), ends[short].tolist(), strict=True))


def _find_masked(text: str) -> Iterator[tuple[int, int]]:
    """Masked names (王*, 张**, 欧阳*, 李*明) before which no word closes on the surname."""
    if "*" not in text:
        return
    words = _lexicon().words
    for start, end in _name_star_runs(text):
        if text[start - 2 : start] in COMPOUND_SURNAMES:
            begin = start - 2
        elif text[start - 1] in SINGLE_SURNAMES:
            begin = start - 1
            if begin and _is_han(text[begin - 1]):
                across = words.get(text[begin - 1 : start], 0)
                if across and _word_ending(text, begin, words) <= across:
                    continue  # 黄金*
        else:
            continue
        if end < len(text) and end - start == 1 and _is_han(text[end]):
            follow = text[end]
            clean = end + 1 == len(text) or not _is_han(text[end + 1])
            if (
                follow not in _RIGHT_CHARS
                and follow not in _FOLLOWERS
                and (clean or (_given(follow) > 0 and _right(text, end + 1, _lexicon()) > 0))
            ):
                end += 1  # 李*明
        elif end < len(text) and text[end].isalnum() and not _is_han(text[end]):
            continue  # 王*3, a formula or an identifier
        yield begin, end


# A capitalized Latin word (the letter before it is checked in Python: a pattern that opens with a
# look-behind loses re's fast scan for its first character).
_LATIN_WORD = re.compile(r"[A-Z][A-Za-z]*(?![A-Za-z])")
_LATIN_RUN = re.compile(r"[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)+")
_NOT_PINYIN_NAMES = frozenset({"hong kong", "xi an"})


def _find_pinyin(text: str) -> Iterator[tuple[int, int]]:
    """Two capitalized pinyin words one space apart (Zhang Wei, ZHANG Wei, Wei Zhang)."""
    last_end = -1
    for first, second in _word_pairs(text):
        if first.start() < last_end or second.start() != first.end() + 1:
            continue
        if text[first.end()] != " ":
            continue
        candidate = text[first.start() : second.end()]
        if candidate.lower() in _NOT_PINYIN_NAMES:
            continue
        try:
            _validate_pinyin(candidate)
        except ValueError:
            continue
        last_end = second.end()
        yield first.start(), second.end()


def _word_pairs(text: str) -> Iterator[tuple[re.Match[str], re.Match[str]]]:
    """Consecutive capitalized words not glued to a letter before them, looked for only in runs
    of capitalized words one space apart (a joined column holds few; words alone, many)."""
    for run in _latin_runs(text):
        words = [
            m
            for m in _LATIN_WORD.finditer(text, run.start(), run.end())
            if not m.start()
            or not text[m.start() - 1].isascii()
            or not text[m.start() - 1].isalpha()
        ]
        yield from itertools.pairwise(words)


def _latin_runs(text: str) -> Iterator[re.Match[str]]:
    """The matches of ``_LATIN_RUN`` in ``text``. In a long text, only its lines with a letter,
    a space and a capital in a row (which every run holds, and no run crosses a line) are read:
    ``re`` steps through the Chinese text between them character by character."""
    if len(text) < _LONG_TEXT:
        yield from _LATIN_RUN.finditer(text)
        return
    codes = code_points(text)
    capital = (codes >= ord("A")) & (codes <= ord("Z"))
    letter = capital | ((codes >= ord("a")) & (codes <= ord("z")))
    joints = np.flatnonzero((codes[1:-1] == ord(" ")) & letter[:-2] & capital[2:]) + 1
    if not joints.size:
        return
    newlines = np.flatnonzero(codes == ord("\n"))
    lines = _vector.distinct(np.searchsorted(newlines, joints))
    bounds = np.concatenate(([-1], newlines, [len(text)]))
    for start, end in zip((bounds[lines] + 1).tolist(), bounds[lines + 1].tolist(), strict=True):
        yield from _LATIN_RUN.finditer(text, start, end)


def _drop_overlaps(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``first`` plus the spans of ``second`` that overlap none of it, sorted by start (both
    sorted; ``first`` holds no overlapping spans, so the last span starting before a span of
    ``second`` ends reaches furthest)."""
    first_starts, first_ends = first
    second_starts, second_ends = second
    if not len(second_starts) or not len(first_starts):
        return first if len(first_starts) else second
    before = np.searchsorted(first_starts, second_ends, side="left")
    reach = np.maximum.accumulate(first_ends)
    clear = (before == 0) | (reach[np.maximum(before - 1, 0)] <= second_starts)
    starts = np.concatenate((first_starts, second_starts[clear]))
    ends = np.concatenate((first_ends, second_ends[clear]))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


# Full-width forms: the scanner folds them before calling find, so usually there are none.
_WIDE = re.compile("[\uff01-\uff5e\u3000]")


# What a found span's value is: the Han characters themselves (converted one for one), the masked
# form, or what validate makes of the original text (dotted, pinyin and padded names).
_HAN_VALUE, _MASKED_VALUE, _VALIDATED = 0, 1, 2


def find_offsets(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the names :func:`find` yields, as NumPy arrays (no Python object per
    name: the scanner counts names of a whole joined column this way)."""
    _folded, starts, ends, _kinds = _found(text)
    return starts, ends


@lru_cache(maxsize=4)
def folded_for_finding(text: str) -> str:
    """``text`` half-width and in simplified characters, one for one (offsets stay valid): what
    the name and address finders read. The last few are kept, as both read the same column
    (in each of the text engine's threads)."""
    if len(text) >= _LONG_TEXT:  # one pass over the code points, as to_simplified_chars does
        return _mapped(text, _finding_codes())
    return to_simplified_chars(halfwidth(text) if _WIDE.search(text) else text)


def _found(text: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """The folded text and (starts, ends, value kinds) of the names in ``text``."""
    folded = folded_for_finding(text)
    dotted = _as_arrays(list(_find_dotted(folded)))
    masked = _as_arrays(list(_find_masked(folded)))
    pinyin = _as_arrays(list(_find_pinyin(folded)))
    starts, ends = _drop_overlaps(_drop_overlaps(dotted, _han_spans(folded)), masked)
    starts, ends = _drop_overlaps((starts, ends), pinyin)
    kinds = np.full(len(starts), _HAN_VALUE, dtype=np.int8)
    if not len(starts):
        return folded, starts, ends, kinds
    kinds[np.isin(starts, np.concatenate((dotted[0], pinyin[0])))] = _VALIDATED
    if " " in folded:  # padded names (王 芳) are validated too
        spaces = np.flatnonzero(code_points(folded) == 32)
        holds = np.searchsorted(spaces, ends) > np.searchsorted(spaces, starts)
        kinds[holds] = _VALIDATED
    for i in np.flatnonzero(np.isin(starts, masked[0])).tolist():
        if "*" in folded[starts[i] : ends[i]]:
            kinds[i] = _MASKED_VALUE
    checked = np.flatnonzero(kinds == _VALIDATED)
    if checked.size:
        valid = np.array([is_valid(text[starts[i] : ends[i]]) for i in checked.tolist()])
        keep = np.ones(len(starts), dtype=bool)
        keep[checked[~valid]] = False
        starts, ends, kinds = starts[keep], ends[keep], kinds[keep]
    return folded, starts, ends, kinds


def find(text: str) -> Iterator[Span]:
    """Person names in free text (half-width folded), scored by context; see the module doc.

    Masked names (王*, 欧阳**, 李*明) come as spans with ``masked=True`` and the masked form as
    their value.
    """
    folded, starts, ends, kinds = _found(text)
    for start, end, kind in zip(starts.tolist(), ends.tolist(), kinds.tolist(), strict=True):
        if kind == _HAN_VALUE:
            # A Han name, its characters converted one for one (see to_simplified_chars).
            yield Span(NAME, start, end, folded[start:end])
        elif kind == _MASKED_VALUE:
            yield Span(NAME, start, end, folded[start:end], masked=True)
        else:
            yield Span(NAME, start, end, validate(text[start:end]))
