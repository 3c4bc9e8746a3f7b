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

Finding names in free text has no checksum to lean on: :func:`find` scores each surname it meets
by the words around it (姓名, 客户, 联系人 … before; 先生, 女士, 来电 … after), a phone or ID
number next to it, delimiters on both sides, the plausibility of the given-name characters, and
whether the characters form an ordinary word instead (王府井, 高兴, 金额 — jieba's dictionary).
A bare surname with a title (张先生, 李女士) is not a name: it names no one.

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
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from opencc import OpenCC

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, halfwidth
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
    """Score of a character inside a given name: common 0.5, attested 0.25, rare 0."""
    weights = {}
    for char, share, count in _rows("given_chars.tsv"):
        uses = int(count)
        weights[char] = 0.5 if float(share) > 0 or uses >= 20 else (0.25 if uses >= 5 else 0.0)
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
    return frozenset("".join(row[3] for row in _rows("surnames.tsv")))


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
    "和来电称表要求咨询办理申请同意签字确认告知今于在已曾因未持逾系住"
)


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@cache
def _char_t2s() -> dict[int, str]:
    """Character-level traditional → simplified map (keeps offsets; for finding, not values)."""
    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    simple = _t2s().convert("\n".join(chars)).split("\n")
    return {ord(a): b for a, b in zip(chars, simple, strict=True) if a != b and len(b) == 1}


def to_simplified_chars(text: str) -> str:
    """Traditional characters → simplified, one character for one, so offsets stay valid (for
    finding; values go through OpenCC's phrase-aware conversion in :func:`compact`).

    >>> to_simplified_chars("陳美玲 廣東省")
    '陈美玲 广东省'
    """
    return text.translate(_char_t2s())


# ---- single values ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_DOT_RE = re.compile(f"[{DOTS}.]")
_HAN_RE = re.compile(f"[{HAN}]")
_HAN_NAME = re.compile(f"[{HAN}]{{2,4}}")


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
    return "(?:" + "|".join(sorted(COMPOUND_SURNAMES)) + f"|[{singles}])"


MASKED_PATTERN = _surname_alternation() + r"(?:\*{1,3}|\*[" + HAN + "])"


def masked_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are masked names such as ``张*``, ``张**``, ``欧阳*`` or ``张*伟``."""
    folded = _vector.remove(_vector.fold(values), r"\s+")
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
    syllable = "(?:" + "|".join(sorted(_syllables(), key=len, reverse=True)) + ")"
    surname = "(?:" + "|".join(sorted(_surname_pinyin(), key=len, reverse=True)) + ")"
    given = f"{syllable}{{1,2}}"
    return f"(?i)(?:{surname} {given}(?: {given})?|{given}(?: {given})? {surname})"


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid`: Han names by length and surname set (``pc.is_in`` on the first
    one or two characters), minority names by shape, pinyin names by RE2."""
    folded = _vector.fold(values)
    han = _vector.remove(folded, r"\s+")
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
    dotted = _vector.full_match(han, f"[{HAN}]{{1,10}}(?:[{DOTS}.][{HAN}]{{1,10}}){{1,3}}")
    dotted &= (lengths >= 4) & (lengths <= 24)
    pinyin = _vector.full_match(pc.replace_substring_regex(folded, r"\s+", " "), _pinyin_pattern())
    return (all_han & (single_ok | compound_ok)) | dotted | pinyin


# ---- free text -------------------------------------------------------------------------------


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that say the next characters are a name (姓名: 王芳, 客户王芳, 联系人 王芳).
_STRONG_BEFORE = _set(
    "姓名 名字 户名 账户名 客户名 客户 联系人 紧急联系人 持卡人 借款人 贷款人 申请人 共同申请人 "
    "收款人 付款人 汇款人 收件人 寄件人 经办人 代办人 代理人 委托人 受托人 担保人 保证人 抵押人 "
    "出质人 配偶 丈夫 妻子 爱人 父亲 母亲 儿子 女儿 哥哥 姐姐 弟弟 妹妹 法人 法定代表人 负责人 "
    "推荐人 介绍人 开户人 投保人 被保险人 受益人 客户经理 经理 柜员 复核人 审批人 审核人 学生 "
    "家长 患者 业主 租户 房东 员工 职员 户主 同事 朋友 本人 联系 收件 姓名为 名为 叫做"
)
# Verbs and prepositions often followed by a name (与王芳核实, 已电联王芳, 据王芳反映).
_WEAK_BEFORE = _set(
    "致电 电联 通知 告知 提醒 回访 拜访 约见 会见 询问 转告 催收 核实 协助 陪同 委托 "
    "与 和 跟 同 给 向 让 请 叫 找 由 据 替 帮 为 经 致 、 支行 分行 营业部 网点 柜台 今日 今天 "
    "昨日 昨天 明天 上午 下午 晚上 早上 中午"
)
_STRONG_AFTER = _set(
    "先生 女士 小姐 同志 夫妇 本人 来电 致电 来访 到访 来行 到行 名下 之子 之女 之妻 之夫 "
    "老师 同学 经理 医生 律师 会计 主任 行长 师傅"
)
# Words that often follow a name in running text (王芳称, 王芳已还款, 王芳的贷款).
_WEAK_AFTER = _set(
    "称 说 讲 表示 反映 要求 咨询 投诉 申请 办理 同意 承诺 签字 签名 确认 答复 回复 告知 "
    "已 于 在 的 今日 逾期 还款 持 未 因 和 与 及 等 对 向 到 去 来 将 需 要 也 都 是 、 系 想 "
    "打算 准备 希望 需要 提出 提供 提交 反馈 做 带 交 填 签 问 接 打 发 收 "
    "代为 代办 代签 代理 身份证 手机 电话"
)
# A surname followed by one of these is a way of addressing someone, not a name (张先生, 王总,
# 李经理, 王某), or a date after the preposition 于 (于明天).
_NOT_GIVEN_WORDS = _set(
    "先生 女士 小姐 同志 太太 夫人 师傅 阿姨 大爷 大妈 大哥 大姐 老师 医生 律师 会计 老板 经理 "
    "行长 主任 局长 处长 科长 书记 部长 院长 校长 所长 厂长 队长 组长 主管 总监 警官 "
    "总 董 工 某 氏 "
    "今天 明天 昨天 后天 前天 今日 明日 昨日 本周 下周 上周 本月 下月 上月 月底 月初 年底 年初 "
    "当天 次日 近期 上午 下午 晚上 早上 中午 周一 周二 周三 周四 周五 周六 周日"
)
_ROLE_ENDS = frozenset("人主户员客者")
_BEFORE_SIZES = sorted({len(w) for w in _STRONG_BEFORE | _WEAK_BEFORE}, reverse=True)
_AFTER_SIZES = sorted({len(w) for w in _STRONG_AFTER | _WEAK_AFTER}, reverse=True)
_SEPARATORS = frozenset(" :：\t")
# Every character a cue before a name can end with (a quick rejection for most candidates).
_CUE_LAST = {w[-1] for w in _STRONG_BEFORE | _WEAK_BEFORE} | _SEPARATORS | _ROLE_ENDS | {"为", "是"}
# What follows a place or an organization named like a person (黄河路, 王府井大街, 李家村,
# 黄河银行).
_PLACE_AFTER = re.compile(
    r"(?:[路街道巷弄村镇乡县区市省州庄屯湾港桥寺]|大街|大道|小区|花园|公司|集团|银行|支行|分行|"
    r"大学|中学|小学|医院|酒店|宾馆|饭店|公园|广场|大厦|商场|超市)"
)
_NUMBER_AFTER = re.compile(
    r"[\s:：,，;；()（）/、-]{0,3}(?:电话|手机|手机号|联系电话|身份证号?|证件号|tel|TEL)?"
    r"[\s:：]{0,2}(?:\+86)?[0-9]{3}[ -]?[0-9]{4}"
)
_NUMBER_BEFORE = re.compile(r"[0-9Xx][\s:：,，;；()（）/、-]{0,3}$")

# jieba dictionary words at least this frequent count as ordinary words (金额 1292, 周一 327).
WORD_MIN_FREQ = 20
# Score weights and the threshold, set on the benchmark splits of benchmarks/name_models.py.
THRESHOLD = 3.0


@cache
def _words() -> dict[str, float]:
    """2–4-character words of jieba's dictionary → what reading a name across them costs.

    jieba tags thousands of ordinary words as names (明白, 王府, 华为 are ``nr``), but the rarer
    ``nr`` entries are mostly people (王楠 32, 马龙 37, 李娜 438): ordinary words cost 3, ``nr``
    words less the rarer they are.
    """
    import jieba

    text = resources.files(jieba).joinpath("dict.txt").read_text(encoding="utf-8")
    words = {}
    for line in text.splitlines():
        word, freq, tag = line.split(" ", 2)
        count = int(freq)
        if 2 <= len(word) <= 4 and count >= WORD_MIN_FREQ:
            if not tag.startswith("nr") or count >= 1000:
                words[word] = 3.0
            else:
                words[word] = 1.5 if count >= 150 else 0.0
    return words


@cache
def _finder() -> re.Pattern[str]:
    singles = "".join(sorted(SINGLE_SURNAMES))
    compounds = "|".join(sorted(COMPOUND_SURNAMES))
    return re.compile(f"(?:{compounds}|[{singles}])(?=[{HAN}]| [{HAN}](?![{HAN}]))")


def _cue_before(text: str, start: int) -> float:
    """3 after a strong cue (客户, 姓名:, 借款人为, a role such as 权利人, 车主, 用户), 2 after a
    weak one (与, 请, 下午, 支行), 1 after a bare colon (意见:王芳), else 0."""
    if start == 0 or text[start - 1] not in _CUE_LAST:
        return 0.0  # most candidates: no cue can end here
    end = start
    while end > start - 3 and end > 0 and text[end - 1] in _SEPARATORS:
        end -= 1
    copula = end if end == start and end > 0 and text[end - 1] in "为是" else None
    for size in _BEFORE_SIZES:
        word = text[end - size : end] if end >= size else None
        if word in _STRONG_BEFORE:
            return 3.0
        if copula and text[copula - 1 - size : copula - 1] in _STRONG_BEFORE:
            return 3.0  # 借款人为王芳, 户名是王芳
        # A one-character cue must stand alone: 请 in 申请解押 is not 请王芳.
        alone = size > 1 or end < 2 or text[end - 2 : end] not in _words()
        if word in _WEAK_BEFORE and end == start and alone:
            return 2.0
    for at in (end, copula - 1) if copula else (end,):
        # Role nouns: 共有人, 开卡人 (any X人), 车主, 用户, 学员, 顾客, 患者 (dictionary words).
        role = at > 1 and _is_han(text, at - 2) and text[at - 1] in _ROLE_ENDS
        if role and (text[at - 1] == "人" or text[at - 2 : at] in _words()):
            return 3.0
    if end < start and text[end] in ":：":
        return 1.0
    return 0.0


def _cue_after(text: str, end: int) -> float:
    """3 before a strong cue word (先生, 来电), 1.5 before a weak one (称, 的), else 0."""
    if end < len(text) and text[end] == " ":
        end += 1
    for size in _AFTER_SIZES:
        word = text[end : end + size]
        if word in _STRONG_AFTER:
            return 3.0
        if word in _WEAK_AFTER:
            return 1.5
    return 0.0


def _is_han(text: str, index: int) -> bool:
    return 0 <= index < len(text) and "\u3400" <= text[index] <= "\u9fff"


def _boundary(text: str, index: int) -> float:
    """How cleanly a name could end before ``text[index]``: punctuation or a strong cue best, a
    word next, a one-character cue (的, 说) least."""
    if not _is_han(text, index):
        return 1.0
    cue = _cue_after(text, index)
    if cue == 3.0:
        return 1.5
    pair = text[index : index + 2]
    if len(pair) == 2 and pair in _WEAK_AFTER:
        return 1.0
    if _words().get(pair) == 3.0:
        return 0.8
    return 0.4 if cue else 0.0


def _plausible(char: str) -> float:
    return _given_weights().get(char, -0.5)


def _name_end(text: str, given: int) -> int:
    """Where a given name starting at ``given`` ends: one or two characters, whichever reads
    better (王芳来电 → 王芳; 董宇恩来电 → 董宇恩; 李建国核实 → 李建国)."""
    if text[given] == " ":  # 王 芳: forms pad two-character names
        return given + 2
    second = given + 1
    if not _is_han(text, second) or text[second] in _FOLLOWERS or _PLACE_AFTER.match(text, second):
        return second
    two, three = _boundary(text, second), _plausible(text[second]) + _boundary(text, second + 1)
    if three > two or (three == two and text[second] in _given_weights()):
        return second + 1
    return second


def _score(text: str, start: int, given: int, end: int) -> float:
    """How much the text around ``text[start:end]`` says it is a name (THRESHOLD or more)."""
    words = _words()
    score = _cue_before(text, start) + _cue_after(text, end)
    if not _is_han(text, start - 1):
        score += 1.0
    if not _is_han(text, end):
        score += 1.0
    share = SURNAMES.get(text[start:given], 0.0)
    score += 0.5 if share >= 0.2 or given - start == 2 else (-0.5 if share < 0.05 else 0.0)
    for char in text[given:end].strip():
        score += _plausible(char)
    # Ordinary words: the candidate opens one (金额, 王府井), the given name is one (周一 after
    # 于), or the surname closes one (提高, 主张). jieba tags some common words as names (王府),
    # and some names are in its dictionary (李娜): those cost less.
    for size in (4, 3, 2):
        word = text[start : start + size]
        if word in words and start + size > given:
            score -= words[word]
            break
    if end - given == 2 and words.get(text[given:end]) == 3.0:
        score -= 1.0  # 向银行; but given names are words too (建国, 海燕, 浩然)
    if start > 0 and words.get(text[start - 1 : start + 1]) == 3.0:
        score -= 2.5
    if score < THRESHOLD and _is_han(text, end) and words.get(text[end : end + 2]) == 3.0:
        score += 0.5  # a clean word boundary after the name
    if score < THRESHOLD and start > 1 and words.get(text[start - 2 : start]) == 3.0:
        score += 0.5  # and before it: the name is the unknown word between known ones
    if score < THRESHOLD and (
        _NUMBER_AFTER.match(text, end) or _NUMBER_BEFORE.search(text, max(0, start - 6), start)
    ):
        score += 2.0
    return score


def _find_han(text: str) -> Iterator[tuple[int, int]]:
    last_end = 0
    words = _words()
    for match in _finder().finditer(text):
        start, given = match.span()
        if start < last_end or text[given] in _NOT_GIVEN:
            continue
        # Most surname characters sit inside ordinary words (金额, 马上): without a strong cue
        # before them they cannot reach the threshold, so skip the rest of the scoring.
        opening = text[start : given + 1]
        if words.get(opening) == 3.0 and _cue_before(text, start) < 3.0:
            continue
        pair = text[given : given + 2]
        if text[given] in _NOT_GIVEN_WORDS or pair in _NOT_GIVEN_WORDS or pair in _STRONG_BEFORE:
            continue  # 张先生, 王总, 于明天, 由客户
        end = _name_end(text, given)
        if _PLACE_AFTER.match(text, end) and not _cue_after(text, end):
            continue
        score = _score(text, start, given, end)
        if score < THRESHOLD:
            continue
        if given - start == 1 and text[given] in SINGLE_SURNAMES:
            # 由黄萱, 时吴燕: the surname may be a preposition before the real surname.
            later = _name_end(text, given + 1) if _is_han(text, given + 1) else None
            if later and _score(text, given, given + 1, later) > score:
                start, end = given, later
        last_end = end
        yield start, end


# Characters that end a transliterated name in running text (…·阿布拉于周一, …·艾则孜在南京).
_DOT_END = frozenset("于在的已称说将未持想要对也是和与及为自由给向")
_DOTTED_CANDIDATE = re.compile(f"[{HAN}]{{1,8}}[{DOTS}][{HAN}]{{1,10}}(?:[{DOTS}][{HAN}]{{1,10}})?")


def _find_dotted(text: str) -> Iterator[tuple[int, int]]:
    """Transliterated names joined by a middle dot, trimmed of context words glued to them."""
    words = _words()
    for match in _DOTTED_CANDIDATE.finditer(text):
        start, end = match.span()
        first_dot = text.index(next(c for c in match.group() if c in DOTS), start)
        for cut in range(first_dot - 1, start, -1):
            if _cue_before(text, cut) and first_dot - cut >= 2:
                start = cut
                break
        # Without a cue, keep at most four characters before the dot (阿依古丽, 帕尔哈提), and
        # none before a function character (长沙的依明·司马义, 来自买买提·阿布拉).
        start = max(start, first_dot - 4)
        for cut in range(first_dot - 1, start - 1, -1):
            if text[cut] in _DOT_END:
                start = cut + 1
                break
        last_dot = max(text.rfind(d, start, end) for d in DOTS)
        strong = next((c for c in range(last_dot + 2, end) if _cue_after(text, c) == 3.0), end)
        for cut in range(last_dot + 3, strong):
            pair = text[cut : cut + 2]
            if (
                text[cut] in _DOT_END
                or pair in _WEAK_AFTER
                or (words.get(pair) and cut + 2 <= strong)
            ):
                end = cut
                break
        else:
            end = strong
        if end - start >= 4:
            yield start, end


_LATIN_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]+(?![A-Za-z])")
_NOT_PINYIN_NAMES = frozenset({"hong kong", "xi an"})


def _find_pinyin(text: str) -> Iterator[tuple[int, int]]:
    """Two capitalized pinyin words one space apart (Zhang Wei, ZHANG Wei, Wei Zhang)."""
    words = [m for m in _LATIN_WORD.finditer(text) if m.group()[0].isupper()]
    last_end = -1
    for first, second in itertools.pairwise(words):
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


def _drop_overlaps(first: list[tuple[int, int]], second: list[tuple[int, int]]):
    """``first`` plus the spans of ``second`` that overlap none of it (both sorted)."""
    kept = list(first)
    i = 0
    for start, end in second:
        while i < len(first) and first[i][1] <= start:
            i += 1
        if i == len(first) or end <= first[i][0]:
            kept.append((start, end))
    return sorted(kept)


def find(text: str) -> Iterator[Span]:
    """Person names in free text (half-width folded), scored by context; see the module doc."""
    folded = to_simplified_chars(halfwidth(text))
    spans = _drop_overlaps(list(_find_dotted(folded)), list(_find_han(folded)))
    spans = _drop_overlaps(spans, list(_find_pinyin(folded)))
    for start, end in spans:
        raw = text[start:end]
        if raw == folded[start:end] and _HAN_NAME.fullmatch(raw):
            value = raw  # already simplified, no spaces: validate would return it unchanged
        else:
            try:
                value = validate(raw)
            except ValueError:
                continue
        yield Span(NAME, start, end, value)
