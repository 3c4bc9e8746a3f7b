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

Modules may also define ``PATTERN`` (a Python ``re`` pattern without capture groups that finds
candidates in half-width text) and ``SHAPE = "digits"`` for numeric types whose candidates are
shared and resolved by :func:`find_all`; ``MASKED_PATTERN`` (a full-match pattern for a
masked display form such as ``138****5678``); ``NEEDS_HAN = True`` when no value without a
Chinese character can be valid, so a column without any can skip the type; and ``LOOSE = True``
for types checked by dictionary rather than by checksum or strict format (names, addresses),
which need more of a column's values, or its header, before the column is typed as them.

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


# The shared candidate shape of numeric identifiers: digits with single spaces or dashes between
# them, an optional +86/0086 prefix, an optional trailing X (resident IDs).
# A bracketed area code or country code may lead: (010)12345678, (+86)138…. An asterisk next
# to the digits means a masked value, which the masked patterns handle.
DIGITS_PATTERN = (
    r"(?<![0-9A-Za-z*])(?:(?:\+|00)86[ -]?|\((?:\+86|0[0-9]{2,3})\)[ -]?)?"
    r"[0-9](?:[0-9]|[ -](?=[0-9])){6,22}[Xx]?(?![0-9A-Za-z*])"
)


@cache
def _text_engine() -> tuple[re.Pattern[str], list[ModuleType], ...]:
    """One compiled alternation over every pattern-based type, digit types sharing one group."""
    groups: list[str] = []
    pattern_modules: list[ModuleType] = []
    digit_modules: list[ModuleType] = []
    finder_modules: list[ModuleType] = []
    for module in registry().values():
        if getattr(module, "SHAPE", None) == "digits":
            digit_modules.append(module)
        elif getattr(module, "PATTERN", None):
            pattern_modules.append(module)
        else:
            finder_modules.append(module)
    for index, module in enumerate(pattern_modules):
        groups.append(f"(?P<t{index}>{module.PATTERN})")
    groups.append(f"(?P<digits>{DIGITS_PATTERN})")
    masked = [m for m in digit_modules if getattr(m, "MASKED_TEXT_PATTERN", None)]
    for index, module in enumerate(masked):
        groups.append(f"(?P<m{index}>{module.MASKED_TEXT_PATTERN})")
    engine = re.compile("|".join(groups))
    return engine, pattern_modules, digit_modules, masked, finder_modules


def _validate_digits(token: str, digit_modules: list[ModuleType]) -> tuple[str, str] | None:
    """(type, canonical value) of the first numeric type that validates ``token``."""
    for module in digit_modules:
        try:
            return module.NAME, module.validate(token)
        except ValidationError:
            continue
    return None


_DIGIT_PIECES = re.compile(r"[0-9Xx]+")
MAX_PIECES = 8


def _resolve_digits(token: str, start: int, digit_modules: list[ModuleType]) -> Iterator[Span]:
    """Give a digit token to the first numeric type that validates it; split glued tokens."""
    found = _validate_digits(token, digit_modules)
    if found:
        yield Span(found[0], start, start + len(token), found[1])
        return
    # Two numbers separated by one space or dash ("身份证 110… 138…") arrive glued: retry runs of
    # pieces, longest first, left to right (a bounded number of pieces: amounts and dates with
    # many separators are not worth the quadratic search).
    pieces = [(m.start(), m.end()) for m in _DIGIT_PIECES.finditer(token)]
    if not 2 <= len(pieces) <= MAX_PIECES:
        return
    i = 0
    while i < len(pieces):
        for j in range(len(pieces) - (i == 0), i, -1):
            begin, end = pieces[i][0], pieces[j - 1][1]
            found = _validate_digits(token[begin:end], digit_modules)
            if found:
                yield Span(found[0], start + begin, start + end, found[1])
                i = j
                break
        else:
            i += 1


def find_all(text: str, types: Iterable[str] | None = None) -> list[Span]:
    """Every identifier in ``text``, non-overlapping, in order of position.

    Pattern types share one regex pass; types with their own finder (person names, addresses)
    run after it and lose any characters already claimed by a pattern type.
    """
    wanted = set(types) if types is not None else None
    folded = halfwidth(text)
    engine, pattern_modules, digit_modules, masked_modules, finder_modules = _text_engine()
    spans: list[Span] = []
    for match in engine.finditer(folded):
        kind = match.lastgroup
        token = match.group()
        if kind == "digits":
            spans.extend(_resolve_digits(token, match.start(), digit_modules))
        elif kind[0] == "m":
            module = masked_modules[int(kind[1:])]
            spans.append(Span(module.NAME, match.start(), match.end(), token, masked=True))
        else:
            module = pattern_modules[int(kind[1:])]
            with suppress(ValidationError):
                spans.append(Span(module.NAME, match.start(), match.end(), module.validate(token)))
    claimed = bytearray(len(folded))  # 1 where a span already holds the character
    for span in spans:
        claimed[span.start : span.end] = b"\x01" * (span.end - span.start)
    for module in finder_modules:
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
