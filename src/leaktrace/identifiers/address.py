"""Postal address (地址): a Chinese address that starts with an administrative division.

A mainland address runs from the largest division to the smallest: province (省, 自治区,
municipality), city (市, 地区, 自治州, 盟), county (区, 县, 县级市, 旗), then town, street, number,
building and room (镇/街道, 路/街, 号, 栋/幢, 单元, 室). People drop the suffixes (浙江杭州西湖区),
start at the city or the district (朝阳区建国路88号) and write traditional characters (廣東省).
The divisions come from GB/T 2260 codes as shipped by the ``cpca`` packages
(``data/address_divisions.tsv``, rebuilt by ``data/make_divisions.py``).

A value is an address when it starts with two divisions (北京市朝阳区, 浙江杭州), or one followed
by a street part with a number, a building or a village (朝阳区建国路88号, 杭州文三路90号); in
free text the divisions must reach a county (在江苏苏州工作 names a place, not an address). A lone
place name (北京, 常州) is a location, not an address. Values are normalized as NFKC, simplified
characters, no spaces; :func:`parse` gives the canonical (province, city, county) so that the
variants 北京市朝阳区 and 北京朝阳区 compare equal.

https://www.mca.gov.cn/n156/n186/index.html (administrative division codes)

>>> validate("廣東省 深圳市南山區科技園")
'广东省深圳市南山区科技园'
>>> parse("浙江杭州西湖区文三路90号")
('浙江省', '杭州市', '西湖区')
>>> mask("北京市朝阳区建国路88号")
'北京市朝阳区****'
>>> [(s.start, s.end, s.value) for s in find("客户住址:北京市朝阳区建国路88号,电话13812345678")]
[(5, 17, '北京市朝阳区建国路88号')]
>>> list(find("客户从常州调到北京工作"))
[]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from opencc import OpenCC

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector
from leaktrace.identifiers.person_name import code_points, folded_for_finding, to_simplified_chars
from leaktrace.law import LegalCategory

NAME = "address"
LABEL = "地址"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "地址",
    "住址",
    "家庭地址",
    "家庭住址",
    "联系地址",
    "通讯地址",
    "通信地址",
    "居住地址",
    "现住址",
    "户籍地址",
    "户籍地",
    "单位地址",
    "收货地址",
    "邮寄地址",
    "详细地址",
    "address",
    "addr",
    "home_address",
    "dz",
    "jtzz",
)
PRIORITY = 90
LOOSE = True
NEEDS_HAN = True

HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# GB/T 2260: code, level, name
DIVISIONS = resources.files("leaktrace.identifiers").joinpath("data", "address_divisions.tsv")

# Ethnic names inside autonomous-prefecture names, dropped in everyday use
# (延边朝鲜族自治州 → 延边).
_ETHNIC = re.compile(
    r"(?:朝鲜|土家|苗|藏|羌|彝|布依|侗|哈尼|壮|傣|白|景颇|傈僳|回|蒙古|柯尔克孜|哈萨克)族?$"
)


@dataclass(frozen=True, slots=True)
class Division:
    """One administrative division: its 6-digit code, level (1 province, 2 city, 3 county)."""

    code: str
    level: int
    name: str

    @property
    def prefix(self) -> str:
        """The code digits its sub-divisions share (44 for 广东省, 4403 for 深圳市)."""
        return self.code[: 2 * self.level]


@cache
def divisions() -> list[Division]:
    """Every division in the table (old names of merged districts included)."""
    rows = DIVISIONS.read_text(encoding="utf-8").splitlines()
    return [Division(c, int(lv), n) for c, lv, n in (r.split("\t") for r in rows if r[:1] != "#")]


@cache
def _by_code() -> dict[str, Division]:
    return {d.code: d for d in divisions()}


def _short_forms(division: Division) -> set[str]:
    """Names people write for a division besides its full name."""
    name = division.name
    forms = set()
    if division.level == 1:
        short = re.sub(r"(?:省|市|特别行政区|(?:壮族|回族|维吾尔)?自治区)$", "", name)
        forms.add(short)
    elif division.level == 2:
        if name.endswith(("市", "地区")):
            forms.add(name.removesuffix("市").removesuffix("地区"))
        elif name.endswith("自治州"):
            short = name.removesuffix("自治州")
            while _ETHNIC.search(short) and len(_ETHNIC.sub("", short)) >= 2:
                short = _ETHNIC.sub("", short)
            forms.add(short)
    elif name.endswith("市"):  # county-level cities: 昆山市 → 昆山
        forms.add(name.removesuffix("市"))
    return {f for f in forms if len(f) >= 2 and f != name}


@cache
def _aliases() -> dict[str, tuple[Division, ...]]:
    """Every written form → the divisions it may mean."""
    table: dict[str, list[Division]] = {}
    for division in divisions():
        for form in {division.name, *_short_forms(division)}:
            table.setdefault(form, []).append(division)
    return {form: tuple(found) for form, found in table.items()}


def division_forms() -> frozenset[str]:
    """Every written form of a division name (广东省, 广东, 邵阳, 朝阳区 …)."""
    return frozenset(_aliases())


@cache
def _openings() -> dict[str, tuple[int, ...]]:
    """First two characters of every division form → the lengths of the forms, longest first.

    Finding a division by these and dict lookups costs a fraction of a regex alternation of the
    forms (even built as a trie): ``re`` tries the thousand first characters of its top
    alternation one by one at every position where it stops.
    """
    lengths: dict[str, set[int]] = {}
    for form in _aliases():
        lengths.setdefault(form[:2], set()).add(len(form))
    return {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}


def _division_at(text: str, start: int) -> str | None:
    """The longest division form at ``start``, or None."""
    sizes = _openings().get(text[start : start + 2])
    if sizes:
        aliases = _aliases()
        for size in sizes:
            form = text[start : start + size]
            if len(form) == size and form in aliases:
                return form
    return None


@cache
def _opening_keys() -> tuple[np.ndarray, np.ndarray]:
    """The openings as sorted 32-bit keys (two 16-bit code points), and which characters start
    one or come second in one (bits 1 and 2 of a lookup table over the Basic Multilingual
    Plane)."""
    keys = np.array(sorted((ord(k[0]) << 16) | ord(k[1]) for k in _openings()), dtype=np.uint32)
    places = np.zeros(0x10000, dtype=np.uint8)
    places[[ord(k[0]) for k in _openings()]] |= 1
    places[[ord(k[1]) for k in _openings()]] |= 2
    return keys, places


@cache
def _opening_index() -> _vector.KeyIndex:
    return _vector.KeyIndex(_opening_keys()[0].astype(np.uint64))


def _division_starts(text: str) -> list[int]:
    """Every position where a division form may start (its first two characters open one)."""
    if len(text) < 200:  # a cell or a sentence: NumPy's fixed cost would dominate
        openings = _openings()
        return [i for i in range(len(text) - 1) if text[i : i + 2] in openings]
    _keys, places = _opening_keys()
    codes = np.minimum(code_points(text), 0xFFFF)  # read by the name finder too
    place = places[codes]
    # A character that opens a form, before one that can come second: only those are looked up.
    at = np.flatnonzero((place[:-1] & 1) & (place[1:] >> 1))
    pairs = (codes[at].astype(np.uint64) << np.uint64(16)) | codes[at + 1]
    return at[_opening_index().find(pairs) >= 0].tolist()


# ---- chains of divisions ---------------------------------------------------------------------


def _consistent(parents: tuple[Division, ...], child: Division) -> bool:
    return any(child.level > p.level and child.code.startswith(p.prefix) for p in parents)


def _chain(text: str, start: int) -> tuple[int, list[tuple[Division, ...]]]:
    """Consecutive division names from ``start``: where they end and what each may mean."""
    aliases = _aliases()
    form = _division_at(text, start)
    if form is None:
        return start, []
    chain = [aliases[form]]
    end = start + len(form)
    while True:
        form = _division_at(text, end)
        gap = 0
        if form is None and text[end : end + 1] == " ":  # 上海市 浦东新区 …
            form, gap = _division_at(text, end + 1), 1
        if form is None:
            break
        extended = _extend(chain[-1], form)
        if extended is None:
            break
        chain[-1], options = extended
        chain.append(options)
        end += gap + len(form)
    return end, chain


@lru_cache(maxsize=1 << 16)
def _extend(
    parents: tuple[Division, ...], form: str
) -> tuple[tuple[Division, ...], tuple[Division, ...]] | None:
    """What ``form`` may mean below ``parents``, and the parents it leaves possible; None when
    it cannot follow them. Addresses repeat the same chains: the answers are kept."""
    options = tuple(d for d in _aliases()[form] if _consistent(parents, d))
    if not options:
        return None
    return tuple(p for p in parents if any(_consistent((p,), d) for d in options)), options


# ---- the street part -------------------------------------------------------------------------

_BODY = re.compile(f"[{HAN}0-9A-Za-z\\-#()（）]{{1,80}}")
# Words that end the street part: what follows is not the address any more.
_STOP = re.compile(
    r"电话|手机|联系|身份证|证件|姓名|客户|邮编|备注|收件人|收货人|先生|女士|小姐|邮箱|微信|"
    r"QQ|qq|tel|Tel|TEL|工作|上班|居住|附近|旁边|对面|的"
)
_UNIT = re.compile(
    r"(?:号楼|号院|单元|小区|社区|花园|公寓|大厦|广场|中心|胡同|开发区|工业区|园区|"
    r"[路街道巷弄里号栋幢座楼层室户村组镇乡苑园庄屯院舍])"
    r"(?:[0-9]+(?:-[0-9]+)*[A-Za-z]?(?![0-9A-Za-z]))?"
)
_PROVINCE_SUFFIXES = ("省", "市", "自治区", "特别行政区")
# A street part that pins a place down: a number, a building, a room, a village or a group.
_PRECISE = re.compile(r"[0-9号室栋幢楼层村组]|单元|小区")


@cache
def _province_names() -> frozenset[str]:
    """Full names of provinces and municipalities (广东省, 北京市, 内蒙古自治区)."""
    return frozenset(
        form
        for form, found in _aliases().items()
        if form.endswith(_PROVINCE_SUFFIXES) and any(d.level == 1 for d in found)
    )


@cache
def _province_forms() -> re.Pattern[str]:
    """Where a full province name may start: the names, and any longer form that opens with one
    (the longest form there decides, as :func:`_division_at` reads it)."""
    names = tuple(_province_names())
    forms = {form for form in _aliases() if form.startswith(names)}
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def _body_end(text: str, start: int) -> tuple[int, bool]:
    """Where the street part after the divisions ends, and whether it is precise."""
    at = start + 1 if text[start : start + 1] == " " else start
    match = _BODY.match(text, at)
    if not match:
        return start, False
    body = match.group()
    stop = _STOP.search(body)
    if stop:
        body = body[: stop.start()]
    # A second address glued on (…88号上海市浦东新区…) starts at a full province name (a short
    # one may be a street: 山西路).
    later = 1
    while (found := _province_forms().search(body, later, len(body))) is not None:
        later = found.start()
        if later >= len(body) - 2:
            break
        if _division_at(body, later) in _province_names():
            body = body[:later]
            break
        later += 1
    units = list(_UNIT.finditer(body))
    if not units:
        return start, False
    end = units[-1].end()  # the last unit ends the address
    return at + end, bool(_PRECISE.search(body, 0, end))


def _span_at(
    text: str, start: int, *, in_text: bool = False
) -> tuple[int, list[tuple[Division, ...]]] | None:
    """The address starting at ``start``, if there is one: its end and its division chain.

    A value needs two divisions or one and a precise street part. In running text two divisions
    are often just a place (在江苏苏州工作), so there the chain must reach a county (北京市朝阳区)
    unless a precise street part follows.
    """
    chain_end, chain = _chain(text, start)
    if not chain:
        return None
    end, precise = _body_end(text, chain_end)
    if precise and end > chain_end:
        return end, chain
    if len(chain) >= 2 and (not in_text or any(d.level == 3 for d in chain[-1])):
        return max(end, chain_end), chain
    return None


# ---- single values ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_COUNTRY = re.compile(r"^(?:中华人民共和国|中国)")


@cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def compact(value: str) -> str:
    """NFKC, no whitespace, simplified characters."""
    value = _SPACES.sub("", unicodedata.normalize("NFKC", str(value)))
    if to_simplified_chars(value) == value:
        return value  # nothing traditional: skip OpenCC's slower phrase conversion
    return _t2s().convert(value)


def validate(value: str) -> str:
    """The normalized address, or raise ``ValidationError``: it must start (after an optional
    中国) with a division chain or a division and a precise street part."""
    address = compact(value)
    if len(address) < 4:
        raise InvalidLength()
    if not re.match(f"[{HAN}]", address):
        raise InvalidFormat()
    start = _COUNTRY.match(address)
    if _span_at(address, start.end() if start else 0) is None:
        raise InvalidComponent("No recognizable province, city or district.")
    return address


def is_valid(value: str) -> bool:
    """Whether ``value`` is a recognizable Chinese postal address."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def parse(value: str) -> tuple[str | None, str | None, str | None]:
    """The full names of (province, city, county) an address names, None where unknown.

    Municipalities are their own city (北京市, 北京市, 朝阳区). A district named without its
    province is resolved only when its name is unique (朝阳区 alone is in Beijing and Changchun).

    >>> parse("北京朝阳区建国路88号") == parse("北京市朝阳区")
    True
    >>> parse("朝阳区建国路88号")
    (None, None, '朝阳区')
    """
    address = compact(value)
    start = _COUNTRY.match(address)
    _end, chain = _chain(address, start.end() if start else 0)
    levels: dict[int, str | None] = {1: None, 2: None, 3: None}
    by_code = _by_code()
    for options in chain:
        # A name can mean two levels (恩施: the prefecture or its seat): take the larger.
        level = min(d.level for d in options)
        chosen = {d for d in options if d.level == level}
        if len({d.name for d in chosen}) == 1 and levels[level] is None:
            levels[level] = next(iter(chosen)).name
        if len({d.code for d in chosen}) == 1:
            # An unambiguous division names its parents too.
            code = next(iter(chosen)).code
            for parent_level, parent_code in ((1, code[:2] + "0000"), (2, code[:4] + "00")):
                parent = by_code.get(parent_code)
                if parent_level < level and parent and levels[parent_level] is None:
                    levels[parent_level] = parent.name
    if levels[1] and levels[2] is None and levels[1].endswith("市") and levels[3]:
        levels[2] = levels[1]  # municipalities: 北京市 is its own city
    return levels[1], levels[2], levels[3]


def mask(value: str) -> str:
    """Keep the divisions, hide the rest: ``北京市朝阳区****``."""
    address = compact(value)
    start = _COUNTRY.match(address)
    offset = start.end() if start else 0
    end, chain = _chain(address, offset)
    if not chain:
        return "****" if address else ""
    return address[offset:end] + ("****" if end < len(address) else "")


# ---- free text -------------------------------------------------------------------------------


_WIDE = re.compile("[\uff01-\uff5e\u3000]")


def find(text: str) -> Iterator[Span]:
    """Addresses in free text (half-width folded): from a division name over the street part,
    stopping at punctuation, whitespace or a context word (电话, 联系人 …)."""
    folded = folded_for_finding(text)
    position = 0
    for start in _division_starts(folded):
        if start < position:
            continue
        found = _span_at(folded, start, in_text=True)
        if found is None:
            continue
        end = found[0]
        piece = folded[start:end]
        if len(piece) >= 4 and not _SPACES.search(piece):
            # What validate returns, but with the one-for-one conversion: OpenCC's phrase-aware
            # one costs ~0.2 ms a value and agrees on every division name.
            value = piece
        else:
            try:
                value = validate(text[start:end])
            except ValueError:
                continue
        yield Span(NAME, start, end, value)
        position = end


# ---- columns ---------------------------------------------------------------------------------


@cache
def _column_aliases() -> tuple[pa.Array, tuple[int, ...]]:
    """Every division form, simplified and traditional, and the lengths they come in (OpenCC's
    conversion of the forms is kept in the cache folder)."""
    sources = [Path(__file__), DIVISIONS]
    every = _vector.stored("address_forms", sources, _every_form)
    return pa.array(every, pa.string()), tuple(sorted({len(f) for f in every}))


def _every_form() -> list[str]:
    forms = sorted(_aliases())
    traditional = OpenCC("s2t").convert("\n".join(forms)).split("\n")
    return sorted(set(forms) | set(traditional))


_COLUMN_COUNTRY = r"^(?:中华人民共和国|中華人民共和國|中国|中國)"
_COLUMN_PRECISE = "[0-9号號室栋棟幢楼樓层層村组組]|单元|單元|小区|小區"


@cache
def _column_openings() -> tuple[pa.Array, np.ndarray]:
    """The first two characters of every form in :func:`_column_aliases`, and which lengths the
    forms that open with them come in (a boolean matrix: opening × length)."""
    aliases, lengths = _column_aliases()
    forms = aliases.to_pylist()
    heads = sorted({form[:2] for form in forms})
    row = {head: i for i, head in enumerate(heads)}
    admits = np.zeros((len(heads), max(lengths) + 1), dtype=bool)
    for form in forms:
        admits[row[form[:2]], len(form)] = True
    return pa.array(heads, pa.string()), admits


def _starts_with_division(
    values: pa.Array, done: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """For each alias length k, the rows whose values start with a division name of k
    characters, skipping rows already ``done`` (a mask the caller may update between lengths).
    Every form has at least two characters: a value is sliced at length k only when a form of
    that length opens with its first two characters, so most values meet only the lengths of
    their own province or city."""
    aliases, lengths = _column_aliases()
    heads, admits = _column_openings()
    at = pc.index_in(pc.utf8_slice_codeunits(values, 0, 2), heads)
    at = np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    opened = np.flatnonzero(at >= 0)
    for k in lengths:
        rows = opened[admits[at[opened], k]]
        if done is not None:
            rows = rows[~done[rows]]
        if not rows.size:
            continue
        head = pc.utf8_slice_codeunits(values.take(pa.array(rows)), 0, k)
        rows = rows[_vector.to_numpy_bool(pc.is_in(head, aliases))]
        if rows.size:
            yield k, rows


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid`: a division name at the start (found by slicing the column at
    each name length and looking the slices up), then a second division or a precise street part.
    Division chains are not cross-checked as :func:`validate` does."""
    folded = _vector.remove(_vector.remove_spaces(_vector.fold(values)), _COLUMN_COUNTRY)
    result = np.zeros(len(folded), dtype=bool)
    # A value is valid at the first length that makes it so: longer ones are not tried for it.
    for k, rows in _starts_with_division(folded, done=result):
        rest = pc.utf8_slice_codeunits(folded.take(pa.array(rows)), k)
        second = _vector.to_numpy_bool(pc.match_substring_regex(rest, _COLUMN_PRECISE))
        unsure = np.flatnonzero(~second)
        if unsure.size:
            found = np.zeros(unsure.size, dtype=bool)
            for _k, again in _starts_with_division(rest.take(pa.array(unsure)), done=found):
                found[again] = True
            second[unsure[found]] = True
        result[rows[second]] = True
    long_enough = _vector.to_numpy_bool(pc.greater_equal(pc.utf8_length(folded), 4))
    return result & long_enough
