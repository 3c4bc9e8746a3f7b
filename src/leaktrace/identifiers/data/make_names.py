"""Rebuild the person-name tables beside this script: ``surnames.tsv``, ``given_chars.tsv`` and
``pinyin_syllables.txt``.

Sources (all public aggregate statistics or package data, no personal records):

* single surnames and their population shares: Faker's ``zh_CN`` person provider, which takes
  them from the Chinese Wikipedia page 中国姓氏排名 (Ministry of Public Security household
  register figures); surnames common in Taiwan that the mainland list lacks come from Faker's
  ``zh_TW`` provider, converted with OpenCC, with a token share;
* compound surnames (复姓): the classical 百家姓 list, with rough order-of-magnitude shares
  (the register publishes no figures for them; 欧阳 is the only one above 0.05 %);
* given-name characters: the common given names in Faker's ``zh_CN`` and ``zh_TW`` providers and
  the most common names registered in recent years (share among those names), and how many
  three-character ``nr`` entries of jieba's dictionary (surname + two characters) use the
  character in the given name; characters seen fewer than three times there and absent from
  those lists are left out;
* pinyin: pypinyin's readings (all heteronyms, tone marks dropped);
* traditional forms of single surnames (陳, 張, 劉): the characters OpenCC's t2s maps to them;
  of compound surnames (歐陽, 諸葛): OpenCC's s2t, s2tw and s2hk forms, ``|``-separated.

Needs the build-time packages faker, opencc-python-reimplemented, jieba and pypinyin::

    python src/leaktrace/identifiers/data/make_names.py
"""

from __future__ import annotations

import collections
from pathlib import Path

HERE = Path(__file__).parent

# 百家姓 compound surnames with rough population shares in percent. Only 欧阳 (~1 million
# bearers) is common; the rest have thousands to tens of thousands of bearers.
COMPOUND_SURNAMES = {
    "欧阳": 0.07,
    "上官": 0.004,
    "皇甫": 0.004,
    "司马": 0.003,
    "诸葛": 0.003,
    "东方": 0.002,
    "令狐": 0.002,
    "司徒": 0.002,
    "慕容": 0.001,
    "尉迟": 0.001,
    "公孙": 0.001,
    "长孙": 0.001,
    "宇文": 0.001,
    "夏侯": 0.001,
    "轩辕": 0.001,
    "钟离": 0.001,
    "端木": 0.001,
    "独孤": 0.001,
    "南宫": 0.001,
    "西门": 0.001,
    "呼延": 0.001,
    "申屠": 0.001,
    "澹台": 0.0005,
    "公冶": 0.0005,
    "太史": 0.0005,
    "濮阳": 0.0005,
    "淳于": 0.0005,
    "单于": 0.0005,
    "闻人": 0.0005,
    "赫连": 0.0005,
    "拓跋": 0.0005,
    "万俟": 0.0005,
    "百里": 0.0005,
    "东郭": 0.0005,
    "司空": 0.0005,
    "鲜于": 0.0005,
    "仲孙": 0.0005,
    "公羊": 0.0005,
    "左丘": 0.0005,
    "乐正": 0.0005,
    "第五": 0.0005,
    "巫马": 0.0005,
    "漆雕": 0.0005,
    "公西": 0.0005,
    "段干": 0.0005,
    "张简": 0.001,
    "范姜": 0.001,
}

# Common mainland surnames that Faker's table lacks or misprints. The register statistics rank
# 肖, 付 and 闫 among the hundred most common surnames; Faker lists only their variant forms 萧,
# 傅 and 阎 (separate surnames that registers also hold), so each gets the share of its variant's
# row. 于 ranks about thirtieth (Faker's 0.0074 % is off by two orders of magnitude).
SURNAME_FIXES = {"肖": 0.56, "付": 0.4, "闫": 0.27, "于": 0.6}

# The most common given names registered in recent years (the Ministry of Public Security's annual
# 全国姓名报告, top ten of each sex, 2010s to 2023): Faker's lists hold older names, so characters
# of these (汐, 沐, 宸, 熙, 诺) would otherwise count as rare.
POPULAR_GIVEN_NAMES = str.split(
    "奕辰 宇轩 浩宇 亦辰 宇辰 子墨 宇航 浩然 梓豪 梓睿 沐宸 沐辰 茗泽 宇泽 奕泽 沐阳 子轩 梓轩 "
    "博文 子豪 俊熙 一诺 依诺 欣怡 梓涵 语桐 欣妍 可欣 语汐 雨桐 梦瑶 若汐 艺涵 苡沫 子涵 诗涵 "
    "梓萱 雨涵 思涵 紫涵"
)

# Readings that differ as surnames and that pypinyin's heteronyms may not list first.
SURNAME_READINGS = {"万俟": ["moqi"], "长孙": ["zhangsun"], "单于": ["chanyu"], "尉迟": ["yuchi"]}


def _pinyin(word: str) -> list[str]:
    from pypinyin import Style, pinyin

    if word in SURNAME_READINGS:
        return SURNAME_READINGS[word]
    readings = pinyin(word, style=Style.NORMAL, heteronym=True)
    if len(word) == 1:
        return sorted(set(readings[0]))
    return ["".join(r[0] for r in readings)]


def surnames() -> dict[str, float]:
    """Surname → share in percent."""
    from faker.providers.person.zh_CN import Provider as Mainland
    from faker.providers.person.zh_TW import Provider as Taiwan
    from opencc import OpenCC

    t2s = OpenCC("t2s")
    shares = dict(Mainland.last_names)
    for name in Taiwan.last_names:
        simple = t2s.convert(name)
        # 龎 converts to the rare variant 厐; 龐 (庞) is already listed.
        if simple not in shares and simple != "厐":
            shares[simple] = 0.001
    shares.update(SURNAME_FIXES)
    for name, share in COMPOUND_SURNAMES.items():
        shares.setdefault(name, share)
    return dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))


def given_chars(surname_set: set[str]) -> dict[str, tuple[float, int]]:
    """Given-name character → (share in percent among common given names, jieba name count)."""
    import jieba
    from faker.providers.person.zh_CN import Provider as Mainland
    from faker.providers.person.zh_TW import Provider as Taiwan
    from opencc import OpenCC

    t2s = OpenCC("t2s")
    weights: collections.Counter[str] = collections.Counter()
    for name in Mainland.first_names:
        for char in name:
            weights[char] += 1.0 / len(Mainland.first_names)
    for name in POPULAR_GIVEN_NAMES:
        for char in name:
            weights[char] += 1.0 / len(Mainland.first_names)
    taiwan_total = sum(Taiwan.first_names.values())
    for name, share in Taiwan.first_names.items():
        for char in t2s.convert(name):
            weights[char] += share / taiwan_total
    total = sum(weights.values())
    chars = {char: round(100 * w / total, 4) for char, w in weights.items()}
    seen: collections.Counter[str] = collections.Counter()
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    with dictionary.open(encoding="utf-8") as lines:
        for line in lines:
            word, _freq, tag = line.split()
            if tag == "nr" and len(word) == 3 and word[0] in surname_set:
                seen.update(word[1:])
    table = {c: (share, seen[c]) for c, share in chars.items()}
    for char, count in seen.items():
        if count >= 3 and "\u4e00" <= char <= "\u9fff":
            table.setdefault(char, (0.0, count))
    return dict(sorted(table.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0])))


def syllables() -> list[str]:
    """Every toneless pinyin syllable pypinyin knows, plus the passport spellings of ü."""
    from pypinyin import Style, pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    found: set[str] = set()
    for codepoint in pinyin_dict:
        for reading in pinyin(chr(codepoint), style=Style.NORMAL, heteronym=True)[0]:
            if reading.isascii() and reading.isalpha() and (len(reading) > 1 or reading in "aeo"):
                found.add(reading)
    found.update({"lyu", "nyu", "lue", "nue"})
    return sorted(found)


def traditional_forms() -> dict[str, str]:
    """Simplified character → the traditional characters OpenCC's t2s turns into it."""
    from opencc import OpenCC

    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    simple = OpenCC("t2s").convert("\n".join(chars)).split("\n")
    forms: dict[str, str] = {}
    for trad, simp in zip(chars, simple, strict=True):
        if trad != simp and len(simp) == 1:
            forms[simp] = forms.get(simp, "") + trad
    return forms


def main() -> None:
    from opencc import OpenCC

    names = surnames()
    traditional = traditional_forms()
    to_traditional = [OpenCC(config) for config in ("s2t", "s2tw", "s2hk")]
    with (HERE / "surnames.tsv").open("w", encoding="utf-8") as out:
        out.write("# surname\tshare_percent\tpinyin\ttraditional  (generated by make_names.py)\n")
        for name, share in names.items():
            if len(name) == 1:
                trad = traditional.get(name, "")
            else:
                forms = {c.convert(name) for c in to_traditional} - {name}
                trad = "|".join(sorted(forms))
            out.write(f"{name}\t{share:g}\t{'|'.join(_pinyin(name))}\t{trad}\n")
    single = {name for name in names if len(name) == 1}
    with (HERE / "given_chars.tsv").open("w", encoding="utf-8") as out:
        out.write("# char\tshare_percent\tjieba_names  (generated by make_names.py)\n")
        for char, (share, count) in given_chars(single).items():
            out.write(f"{char}\t{share:g}\t{count}\n")
    with (HERE / "pinyin_syllables.txt").open("w", encoding="utf-8") as out:
        out.write("# toneless pinyin syllables (generated by make_names.py)\n")
        out.write("\n".join(syllables()) + "\n")


if __name__ == "__main__":
    main()
