"""Free text of a whole column (备注 remarks): identifiers found in a few Arrow passes.

:func:`leaktrace.identifiers.find_all` reads one text with Python's ``re`` and makes a Python call
per candidate. This module gives the same values for a whole string column without a Python call
per cell or per candidate (PEERS.md: call granularity matters as much as the engine):

1. the token grammar (:func:`leaktrace.identifiers.grammar`) is read once over the column by a
   compiled loop (:mod:`leaktrace.identifiers._token_scan`; the rest of a cell with an
   asterisk, from where a masked value may start, by RE2: ``replace_substring_regex`` puts a NUL
   before and after every token and a compiled loop cuts at the marks), giving every token, its
   row and its offset in the cell; a plate-like token with a tail sends the rest of its cell,
   from its second character, through the grammar again, as ``find_all`` starts reading again
   there, and so does a word that runs into an e-mail address, from its last space
   (``6217… 53109570@qq.com``);
2. the tokens, one flat array with their rows, are sorted into the grammar's kinds by its
   alternatives, anchored, in order (RE2 matches without captures, so its fast DFA runs);
3. each kind is checked column-wise: masked values by the first masked form that covers them,
   e-mail and plate tokens and words without a number by the pattern types' cores and
   ``valid_column``; numeric candidates go to the first numeric type by priority (resident ID,
   mobile, bank card, fixed line) through NumPy masks, and glued numbers are split as
   ``find_all`` splits them, longest run of pieces first (compiled loops in
   :mod:`leaktrace.identifiers._digit_loops`).

RE2, the compiled loop and Python's ``re`` all take the first alternative that matches at the
leftmost position, each quantifier greedy, and the grammar has no look-arounds, so they cut the
same tokens; the differential tests in ``tests/identifiers/test_text_engine.py`` hold the
column path to ``find_all``'s values and the compiled loop to RE2's tokens. Person names and
addresses are found by their Python finders over the joined column and lose any characters a
pattern value holds, as in ``find_all`` (:func:`find_in_texts`).

Only pyarrow, NumPy and numba are used (numba imported on first use, :func:`warm_up` before the
scanner forks): a polars thread pool started in the parent deadlocks in a forked child. A long
column is read in threads of our own, idle whenever the scanner forks
(:func:`leaktrace.identifiers._vector.in_runs`).

>>> import pyarrow as pa
>>> found = find_spans(pa.array(["客户Tel13912345678", None, "卡号6222 0212 3456 7890 128"]))
>>> [(row, start, end, found.names[kind]) for row, start, end, kind in found.rows()]
[(0, 5, 16, 'mobile'), (2, 2, 25, 'bank_card')]
>>> found.counts()
Counter({'mobile': 1, 'bank_card': 1})
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import checksums, identifiers
from leaktrace.exceptions import ValidationError
from leaktrace.identifiers import MAX_PIECES, MIN_DIGITS, MIN_TOKEN, Span, _vector

_NUL = "\x00"
THREAD_MIN_BYTES = 1 << 18
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ColumnSpans:
    """Values of the pattern and numeric types in a column: one entry per value, in row order.

    ``type`` indexes ``names`` (the registry's order); ``start`` and ``end`` are character
    offsets in the cell, ``masked`` marks masked forms such as ``138****5678``.
    """

    names: tuple[str, ...]
    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    type: np.ndarray
    masked: np.ndarray

    def counts(self, times: np.ndarray | None = None) -> Counter[str]:
        """Values per type; with ``times``, a value counts as often as its row says there."""
        weights = None if times is None else times[self.row]
        tally = np.bincount(self.type, weights, minlength=len(self.names)).astype(np.int64)
        return Counter({name: int(n) for name, n in zip(self.names, tally, strict=True) if n})

    def rows(self) -> Iterator[tuple[int, int, int, int]]:
        """(row, start, end, type index) of every value, as Python ints."""
        columns = (self.row, self.start, self.end, self.type)
        return zip(*(column.tolist() for column in columns), strict=True)


# ---- Arrow and NumPy helpers ---------------------------------------------------------------


def _loops(name: str = "_token_loops") -> ModuleType:
    """A module of compiled loops (``_token_loops``, ``_token_scan``, ``_digit_loops``, or
    ``_key_loops`` and ``_span_loops`` of the finders), imported on first use: numba takes
    ~0.5 s to import and set up, which a command that reads no free text should not pay."""
    return importlib.import_module(f"leaktrace.identifiers.{name}")


# A cell that sends the text engine down every path: a word, a plate with a tail, a word running
# into an e-mail address, a masked value, an ID.
_WARM_TEXT = "Tel13912345678,京A12345x 6217 0000 1234 53109570@qq.com 138****5678 110105194912310"


def warm_up() -> None:
    """Import, and load or compile, the compiled loops now: the scanner calls this before it
    forks its workers, which then inherit them instead of each loading its own.

    A loop is compiled once per kind of argument: read-only views of Arrow's buffers are
    another kind than NumPy's own arrays, so a short column goes through the text engine and
    the numeric checks too, and the workers find every loop ready as they call it.
    """
    loops = (
        "_token_loops",
        "_token_scan",
        "_digit_loops",
        "_key_loops",
        "_span_loops",
        "_match_loops",
    )
    for name in loops:
        _loops(name).warm_up()
    checksums.compiled().warm_up()
    find_spans(pa.array([_WARM_TEXT] * 2))
    for module in identifiers.grammar().digit_modules:
        module.valid_column(pa.array(["11010519491231002X", "6222021234567890128"]))


def _lengths(strings: pa.Array) -> np.ndarray:
    """Length of each string in characters."""
    return np.asarray(pc.utf8_length(strings).to_numpy(zero_copy_only=False), dtype=np.int64)


def _take(values: pa.Array, rows: np.ndarray) -> pa.Array:
    return values.take(pa.array(rows, pa.int64()))


def _flag(values: pa.Array) -> np.ndarray:
    return _vector.to_numpy_bool(values)


def _starts_with(strings: pa.Array, alternative: str) -> np.ndarray:
    """Which strings the grammar alternative matches from their first character."""
    return _vector.full_match(strings, alternative, prefix=True)


def _join(*parts: pa.Array) -> pa.Array:
    """Element-wise concatenation of string arrays."""
    return pc.binary_join_element_wise(*parts, pa.scalar("", parts[0].type))


def _byte_counts(strings: pa.Array, *classes: bytes | tuple[int, int]) -> list[np.ndarray]:
    """Per string, how many of its bytes are in each class (a set of bytes, or a byte range):
    one compiled pass over the bytes for all classes
    (:func:`leaktrace.identifiers._token_loops.class_counts`)."""
    offsets, data = _vector.buffers(strings)
    counts = _loops().class_counts(offsets, data, _class_table(classes), len(classes))
    return [counts[:, c] for c in range(len(classes))]


@cache
def _class_table(classes: tuple[bytes | tuple[int, int], ...]) -> np.ndarray:
    """Bit ``c`` of entry ``b``: whether byte ``b`` is in ``classes[c]`` (at most eight)."""
    table = np.zeros(256, dtype=np.uint8)
    for c, members in enumerate(classes):
        if isinstance(members, tuple):
            members = bytes(range(members[0], members[1] + 1))
        table[list(members)] |= np.uint8(1 << c)
    return table


# NumPy 2's unique, union1d and setdiff1d are slow on large integer arrays: sorted arrays are
# deduplicated and subtracted by comparison instead.
def _firsts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts (a boolean mask)."""
    return np.concatenate(([True], ordered[1:] != ordered[:-1])) if len(ordered) else ordered > 0


def _without(ordered: np.ndarray, remove: np.ndarray) -> np.ndarray:
    """The values of a sorted array of indices that are not in ``remove``."""
    gone = np.zeros(ordered.max() + 1 if len(ordered) else 0, dtype=bool)
    gone[remove] = True
    return ordered[~gone[ordered]]


def _slices(strings: pa.Array, owner: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """The bytes ``start[k]:end[k]`` of string ``owner[k]``, for every k (byte offsets):
    one compiled copy (:func:`leaktrace.identifiers._token_loops.slices`)."""
    offsets, data = _vector.buffers(strings)
    new_offsets, new_data = _loops().slices(
        offsets,
        data,
        np.asarray(owner, np.int64),
        np.asarray(start, np.int64),
        np.asarray(end, np.int64),
    )
    return pa.LargeStringArray.from_buffers(
        len(new_offsets) - 1, pa.py_buffer(new_offsets), pa.py_buffer(new_data)
    )


def _tokens(strings: pa.Array, pattern: str) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Every match of ``pattern`` (the grammar) in every string: (matches, row, offset in the
    row in bytes, and in characters), in reading order.

    A compiled loop reads the grammar (:mod:`leaktrace.identifiers._token_scan`); what it leaves
    (the rest of a row from where a masked value may start, or every row if the grammar is not
    the one it was written for) goes through RE2 (:func:`_marked_tokens`).
    """
    scanner = _loops("_token_scan")
    if not scanner.reads(pattern):
        return _marked_tokens(strings, pattern)
    offsets, data = _vector.buffers(strings)
    row, byte_start, char_start, token_offsets, token_data, resume = scanner.tokens(
        offsets, data, scanner.table()
    )
    tokens = pa.LargeStringArray.from_buffers(
        len(row), pa.py_buffer(token_offsets), pa.py_buffer(token_data)
    )
    hard = np.flatnonzero(resume >= 0)
    if not hard.size:
        return tokens, row, byte_start, char_start
    # The rest of each row with an asterisk, from where the loop stopped, by RE2.
    rest = _slices(strings, hard, resume[hard], offsets[hard + 1] - offsets[hard])
    more, owner, more_bytes, more_chars = _marked_tokens(rest, pattern)
    skipped = _cell_chars(strings, hard, resume[hard])
    row = np.concatenate((row, hard[owner]))
    order = np.argsort(row, kind="stable")  # each part is in reading order already
    tokens = _take(pa.concat_arrays([tokens, more]), order)
    byte_start = np.concatenate((byte_start, resume[hard][owner] + more_bytes))[order]
    char_start = np.concatenate((char_start, skipped[owner] + more_chars))[order]
    return tokens, row[order], byte_start, char_start


def _marked_tokens(
    strings: pa.Array, pattern: str
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_tokens` by RE2: one pass puts a NUL before and after every match (the strings
    hold none); one compiled loop over the marked bytes
    (:func:`leaktrace.identifiers._token_loops.cut`) then gives each match, its row and its
    offsets.
    """
    marked = pc.replace_substring_regex(strings, pattern, f"{_NUL}\\0{_NUL}")
    offsets, data = _vector.buffers(marked)
    row, byte_start, char_start, token_offsets, token_data = _loops().cut(offsets, data)
    tokens = pa.LargeStringArray.from_buffers(
        len(row), pa.py_buffer(token_offsets), pa.py_buffer(token_data)
    )
    return tokens, row, byte_start, char_start


def _cell_chars(strings: pa.Array, rows: np.ndarray, byte_offsets: np.ndarray) -> np.ndarray:
    """The character offset of each byte offset in its row's string."""
    offsets, data = _vector.buffers(strings)
    return _loops().chars_before(offsets, data, rows, byte_offsets)


@cache
def _type_codes() -> dict[str, int]:
    return {name: code for code, name in enumerate(identifiers.registry())}


# ---- the column ----------------------------------------------------------------------------


def fold(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Cells as ``find_all`` reads them: nulls empty, full-width forms folded (``halfwidth``).

    Folding works on the UTF-8 bytes (:func:`leaktrace.identifiers._token_loops.fold`):
    U+FF01..U+FF5E and the ideographic space become one ASCII byte each, so every character
    keeps its offset. A NUL, which marks tokens, becomes U+0001, which no token holds either.
    """
    strings = pc.fill_null(_vector.as_strings(values), "").cast(pa.large_string())
    offsets, data = _vector.buffers(strings)
    new_offsets, new_data, changed = _loops().fold(offsets, data)
    if not changed:
        return strings
    return pa.LargeStringArray.from_buffers(
        len(strings), pa.py_buffer(new_offsets), pa.py_buffer(new_data)
    )


@dataclass
class _Found:
    """Values collected while reading tokens: token id, offsets in the token, type, masked."""

    parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def add(self, token, start, end, code: int | np.ndarray, masked: bool = False) -> None:
        token = np.asarray(token, dtype=np.int64)
        codes = np.broadcast_to(np.asarray(code, dtype=np.int64), token.shape)
        flags = np.full(token.shape, masked)
        self.parts.append((token, np.asarray(start), np.asarray(end), codes, flags))

    def columns(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, np.zeros(0, dtype=bool)
        return tuple(np.concatenate(column) for column in zip(*self.parts, strict=True))


def find_spans(values: pa.Array | pa.ChunkedArray) -> ColumnSpans:
    """The values of every pattern and numeric type in a string column (nulls hold none)."""
    found = _vector.in_runs(lambda run: find_folded(fold(run)), values, THREAD_MIN_BYTES)
    if len(found) == 1:
        return found[0][1]
    return ColumnSpans(
        names=found[0][1].names,
        row=np.concatenate([spans.row + first for first, spans in found]),
        **{
            name: np.concatenate([getattr(spans, name) for _, spans in found])
            for name in ("start", "end", "type", "masked")
        },
    )


def find_folded(strings: pa.Array) -> ColumnSpans:
    """:func:`find_spans` over cells already passed through :func:`fold`, in this thread."""
    rules = identifiers.grammar()
    tokens, rows, _, chars_in = _all_tokens(strings, rules)
    found = _Found()
    _read(tokens, np.arange(len(tokens)), np.zeros(len(tokens), np.int64), found, rules)
    token, start, end, code, masked = found.columns()
    row = rows[token]
    start = chars_in[token] + start
    # By row, then start: one key, stably sorted (the values come in a few runs already in
    # that order, which a stable sort merges; lexsort sorts twice from scratch).
    stride = int(start.max()) + 1 if len(start) else 1
    order = np.argsort(row * stride + start, kind="stable")
    return ColumnSpans(
        names=tuple(identifiers.registry()),
        row=row[order],
        start=start[order],
        end=(chars_in[token] + end)[order],
        type=code[order],
        masked=masked[order],
    )


def _all_tokens(
    strings: pa.Array, rules: identifiers.Grammar
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """The grammar's tokens of every cell: (tokens, row, offset in bytes, offset in
    characters), in reading order.

    Two tokens make ``find_all`` read part of a cell again, and so do they here, for the first
    such token of each row at a time (the tokens read again replace those that followed it):

    * a plate-like token with a tail: its first character is plain text, reading starts again
      right after it, for the rest of the cell;
    * a word that runs into an e-mail address (``6217… 53109570@qq.com``): the word up to its
      last space is read on its own, and reading starts again after that space. The address
      is one token there (e-mail is the grammar's first alternative); after its end the tokens
      read before stand, unless one of them reaches across that end: a scan from the end finds
      the same leftmost match as the scan that passed it without a token.
    """
    tokens, rows, bytes_in, chars_in = _tokens(strings, rules.source)
    offsets, _ = _vector.buffers(strings)
    cell_bytes = offsets[1:] - offsets[:-1]
    # Rows without such a token are final; the loop goes on with the others' tokens only.
    final: list[tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]] = []
    while True:
        led = np.flatnonzero(_first_bytes(tokens) >= 0x80)
        parts = pc.extract_regex(_take(tokens, led), f"^(?:{rules.alternatives['led']})")
        rejected = led[_lengths(parts.field("lt")) > 0] if led.size else led
        mailed, space, address = _mailbox_cuts(strings, tokens, rows, bytes_in, rules)
        if not rejected.size and not mailed.size:
            break
        # The first such token of each row (tokens are in reading order).
        events = np.concatenate((rejected, mailed))
        order = np.argsort(events, kind="stable")
        events = events[order]
        space = np.concatenate((np.full(rejected.size, -1), space))[order]
        address = np.concatenate((np.zeros(rejected.size, np.int64), address))[order]
        first = _firsts(rows[events])
        events, space, address = events[first], space[first], address[first]
        event_rows = rows[events]
        touched = np.zeros(len(strings), dtype=bool)
        touched[event_rows] = True
        untouched = np.flatnonzero(~touched[rows])
        final.append(
            (_take(tokens, untouched), rows[untouched], bytes_in[untouched], chars_in[untouched])
        )
        plate = space < 0
        # Where the address read again ends, and whether the earlier tokens stand after it.
        resume = np.full(len(strings), np.iinfo(np.int64).max)
        resume[event_rows[~plate]] = (bytes_in[events] + space + 1 + address)[~plate]
        token_end = bytes_in + np.diff(_vector.buffers(tokens)[0])
        across = (bytes_in < resume[rows]) & (token_end > resume[rows])
        resume[rows[across]] = np.iinfo(np.int64).max
        lead_byte = _first_bytes(_take(tokens, events))
        width = np.where(lead_byte >= 0xF0, 4, np.where(lead_byte >= 0xE0, 3, 2))
        # Segments read again: (row, first byte, end byte), word heads last.
        mail = ~plate
        segment_rows = np.concatenate((event_rows, event_rows[mail]))
        segment_from = np.concatenate(
            (
                np.where(plate, bytes_in[events] + width, bytes_in[events] + space + 1),
                bytes_in[events][mail],
            )
        )
        segment_to = np.concatenate(
            (
                np.minimum(cell_bytes[event_rows], resume[event_rows]),
                bytes_in[events][mail] + space[mail],
            )
        )
        limit = np.full(len(strings), np.iinfo(np.int64).max)
        limit[event_rows] = bytes_in[events]
        keep = (bytes_in < limit[rows]) | (bytes_in >= resume[rows])
        keep = np.flatnonzero(keep & touched[rows])
        rest = _slices(strings, segment_rows, segment_from, segment_to)
        more, owner, more_bytes, more_chars = _tokens(rest, rules.source)
        segment_chars = _cell_chars(strings, segment_rows, segment_from)
        rows = np.concatenate((rows[keep], segment_rows[owner]))
        bytes_in = np.concatenate((bytes_in[keep], segment_from[owner] + more_bytes))
        chars_in = np.concatenate((chars_in[keep], segment_chars[owner] + more_chars))
        tokens = pa.concat_arrays([_take(tokens, keep), more])
        order = np.lexsort((bytes_in, rows))
        tokens, rows = _take(tokens, order), rows[order]
        bytes_in, chars_in = bytes_in[order], chars_in[order]
    if not final:
        return tokens, rows, bytes_in, chars_in
    final.append((tokens, rows, bytes_in, chars_in))
    rows, bytes_in, chars_in = (np.concatenate([part[i] for part in final]) for i in (1, 2, 3))
    # Each row's tokens are all in one part, in reading order: a stable sort by row (a merge of
    # sorted runs) orders them as sorting by row and offset would, several times faster.
    order = np.argsort(rows, kind="stable")
    tokens = _take(pa.concat_arrays([part[0] for part in final]), order)
    return tokens, rows[order], bytes_in[order], chars_in[order]


def _mailbox_cuts(
    strings: pa.Array, tokens: pa.Array, rows: np.ndarray, bytes_in: np.ndarray, rules
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Words that run into an e-mail address, the offset of their last space (see
    ``identifiers._mailbox_cut``) and the address's size in bytes: (token indices, offsets in
    the token, sizes)."""
    nothing = np.zeros(0, dtype=np.int64)
    offsets, data = _vector.buffers(strings)
    token_offsets, _ = _vector.buffers(tokens)
    after = offsets[rows] + bytes_in + np.diff(token_offsets)  # the byte after each token
    inside = after < offsets[rows + 1]
    glued = np.flatnonzero(inside)
    glued = glued[data[after[glued]] == ord("@")]
    if not glued.size:
        return nothing, nothing, nothing
    # Words only: ASCII, no "@" (e-mail tokens), not a masked value.
    candidates = _take(tokens, glued)
    at, spaces = _byte_counts(candidates, b"@", b" ")
    word = (_first_bytes(candidates) < 0x80) & (at == 0) & (spaces > 0)
    glued, candidates = glued[word], candidates.filter(pa.array(word))
    word = ~_starts_with(candidates, rules.alternatives["masked"])
    glued, candidates = glued[word], candidates.filter(pa.array(word))
    if not glued.size:
        return nothing, nothing, nothing
    size = _lengths(candidates)  # words are ASCII: characters are bytes
    from_end = pc.find_substring(pc.utf8_reverse(candidates), " ")
    space = size - 1 - np.asarray(from_end.to_numpy(zero_copy_only=False), dtype=np.int64)
    cell_end = offsets[rows[glued] + 1] - offsets[rows[glued]]
    rest = _slices(strings, rows[glued], bytes_in[glued] + space + 1, cell_end)
    address = pc.extract_regex(rest, f"^{rules.alternatives['email']}")
    mailbox = _flag(pc.is_valid(address))  # a row without a match is null (its field is not)
    size = _lengths(address.filter(pa.array(mailbox)).field("email"))  # ASCII: chars are bytes
    return glued[mailbox], space[mailbox], size.astype(np.int64)


def _read(
    tokens: pa.Array, ids: np.ndarray, base: np.ndarray, found: _Found, rules: identifiers.Grammar
) -> None:
    """The values of ``tokens``: token ``k`` is token ``ids[k]``, or its part from ``base[k]``.

    Kinds are told apart as the grammar chose them: a token is of the first alternative that
    matches from its first character (on the token alone it cannot match anything longer).
    Which alternatives can hold ``@`` (e-mail, plate tails) or ``*`` (masked, word tails) and
    how each starts (only plates outside ASCII) lets most tokens skip most tests.
    """
    size = _lengths(tokens)
    first_byte = _first_bytes(tokens)
    unread = np.flatnonzero(size >= MIN_TOKEN)
    digits, at, star = _byte_counts(tokens, (0x30, 0x39), b"@", b"*")
    alternatives = rules.alternatives

    email = unread[at[unread] > 0]
    email = email[_starts_with(_take(tokens, email), alternatives["email"])]
    unread = _without(unread, email)
    masked = unread[star[unread] > 0]
    masked = masked[_starts_with(_take(tokens, masked), alternatives["masked"])]
    unread = _without(unread, masked)
    led = unread[first_byte[unread] >= 0x80]  # the only kind left that starts outside ASCII
    words = unread[first_byte[unread] < 0x80]
    words = words[digits[words] >= MIN_DIGITS]

    if email.size:
        _pattern_values(_take(tokens, email), email, ids, base, found, rules)
    if masked.size:
        _masked_values(tokens, masked, ids, base, found, rules)
    if led.size:
        _pattern_values(_take(tokens, led), led, ids, base, found, rules)
    if words.size:
        _word_values(tokens, words, size, ids, base, found, rules)


def _first_bytes(strings: pa.Array) -> np.ndarray:
    offsets, data = _vector.buffers(strings)
    nonempty = offsets[1:] > offsets[:-1]
    first = np.zeros(len(strings), dtype=np.int64)
    first[nonempty] = data[offsets[:-1][nonempty]]
    return first


def _masked_values(tokens, rows, ids, base, found, rules) -> None:
    """Letters, then a masked value: the first masked type whose core covers the value."""
    values = pc.utf8_ltrim(_take(tokens, rows), _LETTERS)
    width = _lengths(values)
    end = _lengths(_take(tokens, rows))
    free = np.ones(len(rows), dtype=bool)
    for module, core in zip(rules.masked_modules, rules.masked_cores, strict=True):
        candidates = np.flatnonzero(free)
        hit = candidates[_vector.full_match(_take(values, candidates), core)]
        free[hit] = False
        token = rows[hit]
        found.add(
            ids[token],
            base[token] + end[hit] - width[hit],
            base[token] + end[hit],
            _type_codes()[module.NAME],
            masked=True,
        )


def _pattern_values(bodies, rows, ids, base, found, rules) -> np.ndarray:
    """The first pattern type (by priority) whose core covers a body and validates it.

    Body ``k`` is of token ``ids[rows[k]]`` from ``base[rows[k]]``; returns which bodies are
    values.
    """
    width = _lengths(bodies)
    free = np.ones(len(bodies), dtype=bool)
    # An e-mail address holds an "@": plates and words, most bodies, skip its long pattern.
    mailed = _byte_counts(bodies, b"@")[0] > 0
    for module, core in zip(rules.pattern_modules, rules.cores, strict=True):
        candidates = np.flatnonzero(free & mailed if module.NAME == "email" else free)
        if not candidates.size:
            continue
        shaped = candidates[_vector.full_match(_take(bodies, candidates), core)]
        if not shaped.size:
            continue
        hit = shaped[module.valid_column(_take(bodies, shaped))]
        free[hit] = False
        token = rows[hit]
        found.add(ids[token], base[token], base[token] + width[hit], _type_codes()[module.NAME])
    return ~free


def _word_values(tokens, words, size, ids, base, found, rules) -> None:
    """Words, as ``find_all`` reads them: a pattern value and the rest after its separator; a
    numeric candidate after the letters; glued numbers split at the last separator; the pattern
    types for words that hold no number."""
    texts = _take(tokens, words)
    # Words are ASCII: characters are bytes.
    offsets, data = _vector.buffers(tokens)
    letters, plain, separators = _loops().word_shapes(offsets, data, words)
    count = len(words)
    prefix = np.zeros(count, dtype=bool)
    tail = np.zeros(count, dtype=bool)
    simple = np.flatnonzero(plain)
    other = np.flatnonzero(~plain)
    parts = pc.extract_regex(_take(texts, other), f"^(?:{rules.alternatives['word']})")
    if other.size:
        prefix[other] = _lengths(parts.field("wp")) > 0
        tail[other] = _lengths(parts.field("wt")) > 0
        separators[other] = sum(_byte_counts(parts.field("wd"), b" -"))

    # Letters and a first piece that are a pattern value (E12345678 13912345678): that value,
    # and the rest after the separator read as a token of its own.
    done = np.zeros(count, dtype=bool)
    led = np.flatnonzero((letters > 0) & (separators > 0) & ~prefix)
    if led.size:
        heads = pc.extract_regex(_take(texts, led), "^(?P<head>[A-Za-z]+[0-9]+)").field("head")
        hit = _pattern_values(
            heads, np.arange(led.size), ids[words[led]], base[words[led]], found, rules
        )
        led, width = led[hit], _lengths(heads)[hit]
        done[led] = True
        rests = _slices(texts, led, width + 1, size[words[led]])
        token = words[led]
        _read(rests, ids[token], base[token] + width + 1, found, rules)

    # A word without a tail is a numeric candidate: prefix, pieces and X.
    numbers = simple[~done[simple]]
    bodies = [(numbers, _slices(texts, numbers, letters[numbers], size[words[numbers]]))]
    if other.size:
        no_tail = ~tail[other] & ~done[other]
        joined = _join(parts.field("wp"), parts.field("wd"), parts.field("wx"))
        bodies.append((other[no_tail], joined.filter(pa.array(no_tail))))
    holds_number = done.copy()
    for which, body in bodies:
        owner, start, end, code = _digit_values(body, rules)
        token = words[which[owner]]
        offset = base[token] + letters[which[owner]]
        found.add(ids[token], offset + start, offset + end, code)
        holds_number[which[owner]] = True

    # A word with a tail and separators: the pieces before the last separator are a candidate,
    # the last piece and the tail are read again as a token of their own (masked, USCC …).
    split = (tail[other] & (separators[other] > 0) & ~done[other]) if other.size else []
    if np.any(split):
        which, chosen = other[split], parts.filter(pa.array(split))
        wd = chosen.field("wd")
        heads = _join(chosen.field("wp"), pc.replace_substring_regex(wd, "[ -][0-9]+$", ""))
        owner, start, end, code = _digit_values(heads, rules)
        token = words[which[owner]]
        offset = base[token] + letters[which[owner]]
        found.add(ids[token], offset + start, offset + end, code)
        last = pc.extract_regex(wd, "(?P<last>[0-9]+)$").field("last")
        rests = _join(last, chosen.field("wx"), chosen.field("wt"))
        token = words[which]
        _read(rests, ids[token], base[token] + size[token] - _lengths(rests), found, rules)

    # A word of digits and a final X alone is left to the numeric types (18 digits are no USCC).
    patterned = ~prefix & (separators == 0) & ((letters > 0) | tail) & ~holds_number
    rows = words[patterned]
    _pattern_values(_take(tokens, rows), np.arange(rows.size), ids[rows], base[rows], found, rules)


# ---- numeric candidates --------------------------------------------------------------------


def _admitted(rules: identifiers.Grammar) -> tuple[np.ndarray, ...]:
    """Per numeric type, a table: whether a candidate with that many ``[0-9Xx]`` characters
    can be one of its values (its ``DIGIT_COUNTS``)."""
    return _count_tables(rules.digit_modules)


@cache
def _count_tables(modules: tuple[ModuleType, ...]) -> tuple[np.ndarray, ...]:
    tables = []
    for module in modules:
        table = np.zeros(_COUNT_LIMIT + 1, dtype=bool)
        table[[count for count in module.DIGIT_COUNTS if count <= _COUNT_LIMIT]] = True
        tables.append(table)
    return tuple(tables)


_COUNT_LIMIT = 64  # more [0-9Xx] characters than any numeric type's value holds


def _any_admits(rules: identifiers.Grammar) -> np.ndarray:
    """By count of ``[0-9Xx]`` characters: whether some numeric type admits it."""
    tables = _admitted(rules)
    if not tables:
        return np.zeros(_COUNT_LIMIT + 1, dtype=bool)
    return np.logical_or.reduce(tables)


def _compacted(
    strings: pa.Array, owner: np.ndarray, start: np.ndarray, end: np.ndarray
) -> pa.Array:
    """The bytes ``start[k]:end[k]`` of ASCII string ``owner[k]`` without spaces and dashes, a
    final ``x`` upper-cased, for every k.

    Every numeric type drops these separators and folds the case of ``X`` before it checks a
    value (its ``compact``), so its ``valid_column`` gives the same answer on the compacted
    candidate; one copy here saves each type its own separator passes.
    """
    offsets, data = _vector.buffers(strings)
    new_offsets, new_data = _loops("_digit_loops").compacted(offsets, data, owner, start, end)
    return pa.LargeStringArray.from_buffers(
        len(owner), pa.py_buffer(new_offsets), pa.py_buffer(new_data)
    )


def _digit_types(candidates: pa.Array, held: np.ndarray, rules: identifiers.Grammar) -> np.ndarray:
    """The type code of the first numeric type that validates each candidate, or -1.

    ``held`` is each candidate's count of ``[0-9Xx]`` characters: a type sees only the
    candidates whose count it admits (``DIGIT_COUNTS``), compacted once for all types.
    """
    plausible = np.flatnonzero(_any_admits(rules)[np.minimum(held, _COUNT_LIMIT)])
    result = np.full(len(candidates), -1, dtype=np.int64)
    sizes = _lengths(_take(candidates, plausible))
    compacted = _compacted(candidates, plausible, np.zeros_like(sizes), sizes)
    result[plausible] = _compacted_types(compacted, held[plausible], rules)
    return result


def _compacted_types(
    compacted: pa.Array, held: np.ndarray, rules: identifiers.Grammar
) -> np.ndarray:
    """:func:`_digit_types` of candidates compacted already."""
    result = np.full(len(compacted), -1, dtype=np.int64)
    held = np.minimum(held, _COUNT_LIMIT)
    open_ = np.ones(len(compacted), dtype=bool)
    for module, table in zip(rules.digit_modules, _admitted(rules), strict=True):
        rows = np.flatnonzero(open_ & table[held])
        if not rows.size:
            continue
        valid = rows[module.valid_column(_take(compacted, rows))]
        result[valid] = _type_codes()[module.NAME]
        open_[valid] = False
    return result


def _digit_values(
    bodies: pa.Array, rules: identifiers.Grammar
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numeric values in candidates: (candidate index, start, end, type code) of each.

    As in ``find_all``: a candidate of at most ``MAX_PIECES`` pieces is tried whole; if no type
    takes it, runs of at most ``MAX_PIECES`` pieces are tried from the left, longest first
    (:mod:`leaktrace.identifiers._digit_loops` holds the loops).
    """
    offsets, data = _vector.buffers(bodies)
    loops = _loops("_digit_loops")
    piece_owner, piece_start, piece_end, digits = loops.pieces(offsets, data)
    count = np.bincount(piece_owner, minlength=len(bodies))
    first = np.zeros(len(bodies), dtype=np.int64)
    np.cumsum(count[:-1], out=first[1:])
    # [0-9Xx] characters before each piece, over all candidates (a run's count is a difference).
    before = np.zeros(len(piece_start) + 1, dtype=np.int64)
    np.cumsum(piece_end - piece_start, out=before[1:])
    held = before[first + count] - before[first]
    admits = _any_admits(rules)

    worth = digits >= MIN_DIGITS
    tried = np.flatnonzero(worth & (count <= MAX_PIECES) & admits[np.minimum(held, _COUNT_LIMIT)])
    types = np.full(len(bodies), -1, dtype=np.int64)
    sizes = offsets[tried + 1] - offsets[tried]
    whole = _compacted(bodies, tried, np.zeros_like(sizes), sizes)
    types[tried] = _compacted_types(whole, held[tried], rules)
    found = np.flatnonzero(types >= 0)
    sizes = offsets[found + 1] - offsets[found]
    result = [(found, np.zeros(found.size, np.int64), sizes, types[found])]
    glued = np.flatnonzero(worth & (types < 0) & (count >= 2))
    if glued.size:
        last_byte = data[np.maximum(offsets[piece_owner] + piece_end - 1, 0)]
        ends_x = ((last_byte == 0x58) | (last_byte == 0x78)).astype(np.int64)
        owner, low, high, run_held = loops.windows(
            glued, first, count, piece_start, piece_end, ends_x, admits, MAX_PIECES, MIN_DIGITS
        )
        run_start = piece_start[first[owner] + low]
        runs = _compacted(bodies, owner, run_start, piece_end[first[owner] + high - 1])
        run_types = _compacted_types(runs, run_held, rules)
        result.append(
            loops.walk(glued, first, count, piece_start, piece_end, owner, low, high, run_types)
        )
    return tuple(np.concatenate(column) for column in zip(*result, strict=True))


# ---- with the finders ----------------------------------------------------------------------


def find_in_texts(
    values: pa.Array | pa.ChunkedArray, keep: int
) -> tuple[Counter[str], list[tuple[int, Span]]]:
    """Every identifier in a text column: counts per type, and the first ``keep`` values (by row
    and offset) with their rows, canonical values and offsets, as ``find_all`` gives them.

    Pattern and numeric types come from :func:`find_spans`; person names and addresses from
    their finders over the joined column (as offsets: ``find_offsets``), dropped where they
    overlap a pattern value (or an earlier finder's value), as ``find_all`` drops them. A
    column whose values repeat is read once per distinct value (:data:`MIN_REPEATS`); a long
    column is read in runs of rows, in threads (no value spans two cells).
    """
    strings = _vector.as_strings(values)
    repeated = _repeated(strings)
    if repeated is None:
        return _find_in_rows(strings, keep, None)
    distinct, index, times = repeated
    counts, firsts = _find_in_rows(distinct, keep, times)
    return counts, _in_every_row(firsts, index, keep)


# A column is read once per distinct value when at least this share of its rows repeat an
# earlier one (remarks such as 无, 已处理 and templates do): finding what a value holds costs
# ~70 times what telling the repeats takes.
MIN_REPEATS = 0.05


def _repeated(strings: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray] | None:
    """(the distinct values in order of first appearance, each row's index among them, -1 for
    null, how many rows hold each), or None when under MIN_REPEATS of the rows are repeats."""
    encoded = pc.dictionary_encode(strings)
    distinct = encoded.dictionary
    if len(distinct) > (1 - MIN_REPEATS) * len(strings):
        return None
    index = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
    return distinct, index, np.bincount(index[index >= 0], minlength=len(distinct))


def _in_every_row(
    firsts: list[tuple[int, Span]], index: np.ndarray, keep: int
) -> list[tuple[int, Span]]:
    """The first ``keep`` findings of the rows, from those of their distinct values.

    Distinct values are numbered in order of first appearance, so the first ``keep`` findings
    of the distinct values hold every finding that the first ``keep`` of the rows repeat.
    """
    by_value: dict[int, list[Span]] = {}
    for value, span in firsts:
        by_value.setdefault(value, []).append(span)
    found: list[tuple[int, Span]] = []
    for row in np.flatnonzero(np.isin(index, list(by_value))).tolist():
        found.extend((row, span) for span in by_value[int(index[row])])
        if len(found) >= keep:
            break
    return found[:keep]


def _find_in_rows(
    strings: pa.Array, keep: int, times: np.ndarray | None
) -> tuple[Counter[str], list[tuple[int, Span]]]:
    """:func:`find_in_texts` of rows that each stand for ``times[row]`` rows (once, without)."""
    counts: Counter[str] = Counter()
    firsts: list[tuple[int, Span]] = []
    for first, (run_counts, run_firsts) in _vector.in_runs(
        # A run is a slice of ``strings``: its offset tells its first row.
        lambda run: _find_in_run(run, keep, _run_times(times, run, strings)),
        strings,
        THREAD_MIN_BYTES,
    ):
        counts.update(run_counts)
        firsts.extend((first + row, span) for row, span in run_firsts)
    return counts, firsts[:keep]


def _run_times(times: np.ndarray | None, run: pa.Array, strings: pa.Array) -> np.ndarray | None:
    if times is None:
        return None
    first = run.offset - strings.offset
    return times[first : first + len(run)]


def _find_in_run(
    values: pa.Array, keep: int, times: np.ndarray | None
) -> tuple[Counter[str], list[tuple[int, Span]]]:
    strings = fold(values)
    spans = find_folded(strings)
    counts = spans.counts(times)
    rules = identifiers.grammar()
    joined = _joined(strings)  # folded already
    row_start = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(_lengths(strings) + 1, out=row_start[1:])
    accepted: list[tuple[np.ndarray, np.ndarray, ModuleType]] = []
    if rules.finder_modules and joined:
        claimed = (row_start[spans.row] + spans.start, row_start[spans.row] + spans.end)
        for module in rules.finder_modules:
            starts, ends = _finder_offsets(module, joined)
            starts, ends = _unclaimed(claimed, starts, ends)
            accepted.append((starts, ends, module))
            found = len(starts)
            if times is not None and found:
                found = int(times[np.searchsorted(row_start, starts, side="right") - 1].sum())
            counts.update({module.NAME: found} if found else {})
            claimed = _union(claimed, (starts, ends))
    return counts, _first(spans, accepted, joined, row_start, keep)


def _joined(strings: pa.Array) -> str:
    """The cells joined by newlines, straight from the UTF-8 buffer (nulls are empty: the
    strings come from :func:`fold`)."""
    offsets, data = _vector.buffers(strings)
    data, offsets = data[offsets[0] :], offsets - offsets[0]
    if len(offsets) < 2:
        return ""
    newlines = np.full(len(offsets) - 2, ord("\n"), dtype=np.uint8)
    return np.insert(data, offsets[1:-1], newlines).tobytes().decode("utf-8")


def _finder_offsets(module: ModuleType, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of what a finder module finds in ``text``."""
    if hasattr(module, "find_offsets"):
        return module.find_offsets(text)
    spans = [(span.start, span.end) for span in module.find(text)]
    pairs = np.array(spans, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def _unclaimed(
    claimed: tuple[np.ndarray, np.ndarray], starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The spans (sorted by start) that overlap no claimed span nor an earlier kept one."""
    taken_starts, taken_ends = claimed
    if len(taken_starts) and len(starts):
        before = np.searchsorted(taken_starts, ends, side="left")
        reach = np.maximum.accumulate(taken_ends)
        clear = (before == 0) | (reach[np.maximum(before - 1, 0)] <= starts)
        starts, ends = starts[clear], ends[clear]
    if np.any(starts[1:] < np.maximum.accumulate(ends)[:-1]):
        # Spans of one finder that overlap each other (never seen): the first one wins.
        kept = _loops("_span_loops").first_disjoint(starts, ends, np.zeros(len(starts), bool))
        starts, ends = starts[kept], ends[kept]
    return starts, ends


def _union(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of disjoint spans, merged and sorted by start."""
    starts = np.concatenate((first[0], second[0]))
    ends = np.concatenate((first[1], second[1]))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def _first(spans: ColumnSpans, accepted, joined: str, row_start: np.ndarray, keep: int):
    """The first ``keep`` values by (row, start), with canonical values and cell offsets.

    A finder's value is what its ``find`` gives for the same span in the cell alone (names and
    addresses never reach across cells).
    """
    if keep <= 0:
        return []
    chosen: list[tuple[int, Span]] = []
    for k in range(min(keep, len(spans.row))):
        row, start, end = int(spans.row[k]), int(spans.start[k]), int(spans.end[k])
        name = spans.names[spans.type[k]]
        raw = joined[row_start[row] + start : row_start[row] + end]
        masked = bool(spans.masked[k])
        try:
            value = raw if masked else identifiers.get(name).validate(raw)
        except ValidationError:  # pragma: no cover - the column checks agree with validate
            continue
        chosen.append((row, Span(name, start, end, value, masked)))
    firsts = sorted(
        (start, end, module)
        for starts, ends, module in accepted
        for start, end in zip(starts[:keep].tolist(), ends[:keep].tolist(), strict=True)
    )
    for start, end, module in firsts[:keep]:
        row = int(np.searchsorted(row_start, start, side="right") - 1)
        offset = int(row_start[row])
        cell = joined[offset : row_start[row + 1] - 1]
        span = next(
            (s for s in module.find(cell) if (s.start, s.end) == (start - offset, end - offset)),
            None,
        )
        if span is not None:
            chosen.append((row, span))
    chosen.sort(key=lambda item: (item[0], item[1].start))
    return chosen[:keep]
