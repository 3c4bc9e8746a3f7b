"""Identifier types: one module per type, one small uniform API, and a registry.

Every module in this package (other than those starting with ``_``) describes one type of
personal information and exposes the same names, as python-stdnum's modules do:

=================  ==========================================================================
``NAME``           registry key, e.g. ``"mobile"``
``LABEL``          the Chinese label shown to users, e.g. ``"手机号"``
``JRT_CLASS``      class under JR/T 0171-2020 (``"C3"``, ``"C2"`` or ``"C1"``)
``SENSITIVE``      whether GB/T 35273-2020 counts it as sensitive personal information
``CATEGORY``       its :class:`leaktrace.law.LegalCategory` for the 253-1 tally
``HEADERS``        lower-case words that hint at the type in a column header
``PRIORITY``       lower wins when two types claim the same characters
``compact(v)``     strip separators and fold width and case; no validation
``validate(v)``    the canonical (normalized) value, or raise ``ValidationError``
``is_valid(v)``    ``validate`` as a bool
``mask(v)``        a display form that hides the middle (``138****5678``)
``find(text)``     yield :class:`Span` objects for valid values in free text
``valid_column``   vectorized ``is_valid`` over a pyarrow string array → NumPy bool array
=================  ==========================================================================

Modules may also define ``PATTERN`` (a Python ``re`` pattern without capture groups that covers
a candidate in half-width text; look-arounds in it only say where a candidate may stand, and the
text engine replaces them by its own boundaries, see :func:`grammar`) and ``SHAPE = "digits"``
for numeric types whose candidates are shared and resolved by :func:`find_all`, with
``DIGIT_COUNTS`` (how many ``[0-9Xx]`` characters a valid candidate in text can hold, so the
column path skips candidates no such type can take);
``MASKED_PATTERN`` (a full-match pattern for a masked display form such as ``138****5678``)
and ``MASKED_TEXT_PATTERN`` (the same in free text); ``NEEDS_HAN = True`` when no value without
a Chinese character can be valid, so a column without any can skip the type; and ``LOOSE =
True`` for types checked by dictionary rather than by checksum or strict format (names,
addresses), which need more of a column's values, or its header, before the column is typed as
them.

Free text is read by one token grammar (:func:`grammar`) that Python's ``re`` runs over one
text (:func:`find_all`) and RE2 over a whole column (``_column_text``), with the same result.
A token is an e-mail-shaped run, a masked number, a plate, or a *word* (ASCII letters, then
digits with single spaces or dashes, then anything alphanumeric glued on). A word's leading
letters are a key glued to a number (``Tel13912345678``, ``sfz110105…``) and are dropped; a
word with letters, digits or asterisks glued after its number holds no number, but may be a
passport (``E12345678``) or USCC as a whole.

>>> [(s.type, s.value) for s in find_all("客户手机:138-1234-5678,旧号 139****0000")]
[('mobile', '13812345678'), ('mobile', '139****0000')]
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from leaktrace.exceptions import ValidationError

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space map one-to-one to ASCII, so folding
# keeps every character offset in place.
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def halfwidth(text: str) -> str:
    """Fold full-width ASCII forms to ASCII without changing the string's length.

    >>> halfwidth("１３８－１２３４")
    '138-1234'
    """
    return text.translate(_HALFWIDTH)


@dataclass(frozen=True, slots=True)
class Span:
    """One identifier found in text: its type, where it is, and its canonical value.

    ``value`` is the normalized form (never shown to users unmasked); ``masked`` is True when the
    text held only a masked form such as ``138****5678`` and ``value`` is that form.
    """

    type: str
    start: int
    end: int
    value: str
    masked: bool = False


@cache
def registry() -> dict[str, ModuleType]:
    """All identifier modules by ``NAME``, in priority order."""
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME"):
            modules.append(module)
    modules.sort(key=lambda m: (m.PRIORITY, m.NAME))
    return {m.NAME: m for m in modules}


def get(name: str) -> ModuleType:
    """The identifier module registered as ``name``; KeyError if there is none."""
    return registry()[name]


# ---- the text engine ----------------------------------------------------------------------
#
# Free text is cut into tokens by one regular expression without look-arounds, so that Python's
# ``re`` (find_all, one text) and RE2 (leaktrace.identifiers._column_text, a whole column) cut
# it the same way: both take, at the leftmost position where any alternative matches, the first
# alternative that matches there, each quantifier as greedy as it can be. Boundaries come from
# maximal munch instead of look-arounds: every alternative swallows the ASCII letters, digits and
# asterisks glued to its end (its "tail"), and a token with a tail is not a value. Two exceptions
# read part of the text again. One keeps what look-aheads did for plates: a plate-like token with
# a tail means its first character (京, 新, 云 … are ordinary words too) is plain text, and reading
# starts again right after it (新E12345678 holds a passport, 京A12345@qq.com an e-mail address).
# The other: a word that runs into an "@" ends at its last space when an e-mail-shaped token
# starts after it, since digit groups must not swallow an all-digit local part
# (6217… 53109570@qq.com is a card and an e-mail address).

# The local part and domain of an e-mail-shaped token; the e-mail module's own pattern decides.
_EMAIL = (
    r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*"
    r"@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9][A-Za-z0-9\-]*)+"
)
# A word: ASCII letters (a key such as Tel, sjh, sfz glued to the number), an optional +86 or
# bracketed area code, digit pieces joined by single spaces or dashes, an optional X (resident
# IDs), and the tail.
_WORD = (
    r"(?P<wl>[A-Za-z]*)(?P<wp>\+86[ -]?|\((?:\+86|0[0-9]{2,3})\)[ -]?)?"
    r"(?P<wd>[0-9]+(?:[ -][0-9]+)*)(?P<wx>[Xx]?)(?P<wt>[0-9A-Za-z*]*)"
)
_TAIL = "[0-9A-Za-z*]*"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Types whose candidates start with a Chinese character (plates) and hold separators such as
# "·": they get an alternative of their own; their tail (group ``lt``) also takes "@" and "_".
_LED_TYPES = ("plate",)
_LED_TAIL = "(?P<lt>[0-9A-Za-z@_]*)"
# Numeric candidates, and words, with fewer digits are not read (no numeric type has fewer than
# ten, a passport seven), nor tokens shorter than an e-mail address can be (a@b.cn).
MIN_DIGITS = 7
MIN_TOKEN = 6
MAX_PIECES = 8
_DIGIT_PIECES = re.compile(r"[0-9Xx]+")
_ASCII_DIGITS = re.compile(r"[0-9]")


def strip_lookarounds(pattern: str) -> str:
    """``pattern`` without its look-around groups (``(?=…)``, ``(?!…)``, ``(?<=…)``, ``(?<!…)``).

    >>> strip_lookarounds(r"(?<![0-9])1[3-9]\\d(?![0-9(])")
    '1[3-9]\\\\d'
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _skip(pattern, i, ")")
        elif pattern[i] == "[":
            end = _skip(pattern, i, "]")
            out.append(pattern[i:end])
            i = end
        else:
            step = 2 if pattern[i] == "\\" else 1
            out.append(pattern[i : i + step])
            i += step
    return "".join(out)


def _skip(pattern: str, i: int, close: str) -> int:
    """The index after the group (``close == ")"``) or class (``"]"``) that starts at ``i``."""
    depth = 0
    j = i
    if close == "]":
        j = i + 1
        if pattern[j : j + 1] == "^":
            j += 1
        if pattern[j : j + 1] == "]":
            j += 1  # a leading "]" is a member of the class
        while pattern[j] != "]":
            j += 2 if pattern[j] == "\\" else 1
        return j + 1
    while True:
        char = pattern[j]
        if char == "\\":
            j += 2
            continue
        if char == "[":
            j = _skip(pattern, j, "]")
            continue
        depth += char == "("
        depth -= char == ")"
        j += 1
        if depth == 0:
            return j


@dataclass(frozen=True)
class Grammar:
    """The token expression of free text and the modules that read its tokens.

    ``source`` is one alternation, in this order: an e-mail-shaped token (group ``email``);
    ASCII letters and a masked numeric value (``masked``); a token of a type led by a Chinese
    character (``led``, its tail in ``lt``); a word (``word``, parts ``wl`` ``wp`` ``wd`` ``wx``
    ``wt``). Every alternative but the e-mail one ends in a tail that swallows what is glued on.
    The same source runs in Python's ``re`` and in RE2.

    Which alternative matched says what kind a token is, not which type: within a kind, the
    first type by priority whose core covers the token (less leading letters, for masked values)
    takes it, as look-aheads let the old alternation fall through to the next type.
    """

    source: str
    alternatives: dict[str, str]  # each alternative's source, by group name, in order
    regex: re.Pattern[str]
    digit_modules: tuple[ModuleType, ...]
    masked_modules: tuple[ModuleType, ...]
    pattern_modules: tuple[ModuleType, ...]
    cores: tuple[str, ...]  # each pattern module's PATTERN without look-arounds
    masked_cores: tuple[str, ...]  # each masked module's MASKED_TEXT_PATTERN, the same way
    finder_modules: tuple[ModuleType, ...]

    @property
    def core_regexes(self) -> tuple[re.Pattern[str], ...]:
        return _compiled(self.cores)

    @property
    def masked_regexes(self) -> tuple[re.Pattern[str], ...]:
        return _compiled(self.masked_cores)


@cache
def _compiled(cores: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(core) for core in cores)


@cache
def grammar() -> Grammar:
    """The text engine's token grammar, built from the registry."""
    digit_modules, masked_modules, pattern_modules, finder_modules = [], [], [], []
    for module in registry().values():
        if getattr(module, "SHAPE", None) == "digits":
            digit_modules.append(module)
            if getattr(module, "MASKED_TEXT_PATTERN", None):
                masked_modules.append(module)
        elif getattr(module, "PATTERN", None):
            pattern_modules.append(module)
        else:
            finder_modules.append(module)
    cores = tuple(strip_lookarounds(m.PATTERN) for m in pattern_modules)
    masked_cores = tuple(strip_lookarounds(m.MASKED_TEXT_PATTERN) for m in masked_modules)
    led = "|".join(
        core
        for module, core in zip(pattern_modules, cores, strict=True)
        if module.NAME in _LED_TYPES
    )
    alternatives = {
        "email": f"(?P<email>{_EMAIL})",
        "masked": f"(?P<masked>[A-Za-z]*(?:{'|'.join(masked_cores)}){_TAIL})",
        "led": f"(?P<led>(?:{led}){_LED_TAIL})",
        "word": f"(?P<word>{_WORD})",
    }
    source = "|".join(alternatives.values())
    return Grammar(
        source=source,
        alternatives=alternatives,
        regex=re.compile(_with_first_chars(source)),
        digit_modules=tuple(digit_modules),
        masked_modules=tuple(masked_modules),
        pattern_modules=tuple(pattern_modules),
        cores=cores,
        masked_cores=masked_cores,
        finder_modules=tuple(finder_modules),
    )


def _with_first_chars(source: str) -> str:
    """``source`` behind a look-ahead for the characters a match can start with.

    Python's ``re`` then skips the Chinese text between tokens instead of trying every
    alternative at every character (about 2.5× faster); the matches are the same. The set is
    printable ASCII and every non-ASCII character the source names, which covers every start
    unless the source has a wildcard, a negated class, a class escape or an escaped code point
    (then nothing is added).
    """
    outside_classes = re.sub(r"\\.|\[(?:\\.|[^\]])*\]", "", source)
    if re.search(r"\[\^|\\[xuUNpPdDwWsS]", source) or "." in outside_classes:
        return source
    wide = "".join(sorted({char for char in source if not char.isascii()}))
    return f"(?=[\\x20-\\x7e{wide}])(?:{source})"


def _validate_digits(token: str, digit_modules: Iterable[ModuleType]) -> tuple[str, str] | None:
    """(type, canonical value) of the first numeric type that validates ``token``."""
    for module in digit_modules:
        try:
            return module.NAME, module.validate(token)
        except ValidationError:
            continue
    return None


def _digit_spans(body: str, start: int, digit_modules: Iterable[ModuleType]) -> Iterator[Span]:
    """Give a numeric candidate to the first numeric type that validates it; split glued ones.

    Two numbers separated by one space or dash ("身份证 110… 138…") arrive as one candidate: runs
    of its pieces are retried, longest first (at most ``MAX_PIECES`` pieces), left to right.
    """
    if len(_ASCII_DIGITS.findall(body)) < MIN_DIGITS:
        return
    pieces = [(m.start(), m.end()) for m in _DIGIT_PIECES.finditer(body)]
    if len(pieces) <= MAX_PIECES:
        found = _validate_digits(body, digit_modules)
        if found:
            yield Span(found[0], start, start + len(body), found[1])
            return
    i = 0
    while i < len(pieces):
        for j in range(min(len(pieces), i + MAX_PIECES), i, -1):
            if i == 0 and j == len(pieces):
                continue  # the whole candidate, tried above
            candidate = body[pieces[i][0] : pieces[j - 1][1]]
            if len(_ASCII_DIGITS.findall(candidate)) < MIN_DIGITS:
                continue
            found = _validate_digits(candidate, digit_modules)
            if found:
                yield Span(found[0], start + pieces[i][0], start + pieces[j - 1][1], found[1])
                i = j
                break
        else:
            i += 1


def _pattern_spans(body: str, start: int, rules: Grammar) -> Iterator[Span]:
    """The first pattern type (by priority) whose pattern covers ``body`` and validates it."""
    for module, core in zip(rules.pattern_modules, rules.core_regexes, strict=True):
        if core.fullmatch(body):
            with suppress(ValidationError):
                yield Span(module.NAME, start, start + len(body), module.validate(body))
                return


def _token_spans(match: re.Match[str], rules: Grammar) -> Iterator[Span]:
    """The values one token holds (none, one, or several glued numbers)."""
    if match.end() - match.start() < MIN_TOKEN:
        return
    kind = match.lastgroup
    if kind in ("email", "led"):
        yield from _pattern_spans(match.group(), match.start(), rules)
    elif kind == "masked":
        value = match.group().lstrip(_LETTERS)
        start = match.end() - len(value)
        for module, core in zip(rules.masked_modules, rules.masked_regexes, strict=True):
            if core.fullmatch(value):
                yield Span(module.NAME, start, match.end(), value, masked=True)
                return
    elif kind == "word":
        yield from _word_spans(match, rules)


def _word_spans(match: re.Match[str], rules: Grammar) -> Iterator[Span]:
    """A word: a numeric candidate (the letters before it dropped), or a pattern type's value.

    A word with letters and several pieces whose letters and first piece are a pattern value
    (``E12345678 13912345678``) is that value, and the rest after the separator a token of its
    own. A word with a tail and several pieces (``12 91110000MA01234567``) is split at its last
    separator: the pieces before it are a numeric candidate, the last piece and the tail a token
    of its own.
    """
    text = match.string
    if len(_ASCII_DIGITS.findall(match.group())) < MIN_DIGITS:
        return
    digits = match.group("wd")
    body_start = match.start("wl") + len(match.group("wl"))
    separators = digits.count(" ") + digits.count("-")
    if match.group("wl") and separators and match.group("wp") is None:
        cut = match.start("wd") + len(re.match("[0-9]+", digits).group())
        first = list(_pattern_spans(text[match.start() : cut], match.start(), rules))
        if first:
            yield from first
            rest = rules.regex.match(text, cut + 1, match.end())
            if rest is not None:  # always: the rest is one masked value or one word
                yield from _token_spans(rest, rules)
            return
    spans: list[Span] = []
    if not match.group("wt"):
        body = text[body_start : match.end()]
        spans = list(_digit_spans(body, body_start, rules.digit_modules))
    elif separators:
        cut = match.start("wd") + max(digits.rfind(" "), digits.rfind("-"))
        spans = list(_digit_spans(text[body_start:cut], body_start, rules.digit_modules))
        rest = rules.regex.match(text, cut + 1, match.end())
        if rest is not None:  # always: the rest is one masked value or one word
            spans.extend(_token_spans(rest, rules))
    glued = match.group("wl") or match.group("wt")
    if not spans and glued and match.group("wp") is None and not separators:
        spans = list(_pattern_spans(match.group(), match.start(), rules))
    yield from spans


def pattern_spans(folded: str) -> list[Span]:
    """Every value of a pattern or numeric type in half-width ``folded`` text, in order."""
    return _segment_spans(folded, 0, len(folded), grammar())


def _segment_spans(folded: str, position: int, end: int, rules: Grammar) -> list[Span]:
    """The values in ``folded[position:end]``, read as if the text stopped at ``end``."""
    spans: list[Span] = []
    while (match := rules.regex.search(folded, position, end)) is not None:
        if match.lastgroup == "led" and match.group("lt"):
            position = match.start() + 1  # its first character is plain text
            continue
        cut = _mailbox_cut(folded, match, end, rules)
        if cut is not None:
            spans.extend(_segment_spans(folded, match.start(), cut, rules))
            position = cut + 1
            continue
        spans.extend(_token_spans(match, rules))
        position = match.end()
    return spans


def _mailbox_cut(folded: str, match: re.Match[str], end: int, rules: Grammar) -> int | None:
    """Where a word glued to an e-mail address must be cut: its last space, when the word runs
    into an ``@`` and an e-mail-shaped token starts after that space.

    A local part of digits one space after a number (``6217… 53109570@qq.com``) is otherwise
    swallowed by the number's digit groups, and the address is lost. An e-mail-shaped token
    cannot hold a space, so the address starts after the word's last one.
    """
    if match.lastgroup != "word" or match.end() >= end or folded[match.end()] != "@":
        return None
    space = match.group().rfind(" ")
    if space < 0:
        return None
    cut = match.start() + space
    after = rules.regex.match(folded, cut + 1, end)
    return cut if after is not None and after.lastgroup == "email" else None


def find_all(text: str, types: Iterable[str] | None = None) -> list[Span]:
    """Every identifier in ``text``, non-overlapping, in order of position.

    Pattern and numeric types share one pass of the token grammar (:func:`grammar`); types with
    their own finder (person names, addresses) run after it and lose any characters already
    claimed by a pattern type.

    >>> [(s.type, s.start, s.value) for s in find_all("客户Tel13912345678,sfz11010519491231002X")]
    [('mobile', 5, '13912345678'), ('resident_id', 20, '11010519491231002X')]
    """
    wanted = set(types) if types is not None else None
    folded = halfwidth(text)
    spans = pattern_spans(folded)
    claimed = bytearray(len(folded))  # 1 where a span already holds the character
    for span in spans:
        claimed[span.start : span.end] = b"\x01" * (span.end - span.start)
    for module in grammar().finder_modules:
        if wanted is not None and module.NAME not in wanted:
            continue
        for span in module.find(folded):
            if claimed.find(1, span.start, span.end) == -1:
                spans.append(span)
                claimed[span.start : span.end] = b"\x01" * (span.end - span.start)
    if wanted is not None:
        spans = [s for s in spans if s.type in wanted]
    spans.sort(key=lambda s: s.start)
    return spans
