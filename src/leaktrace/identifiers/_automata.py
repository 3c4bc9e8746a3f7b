"""RE2 patterns matched by a deterministic automaton in one compiled pass over a column.

Arrow compiles a pattern again at every call (0.1–0.7 ms for the phone-number patterns) and the
text engine and the column checks match some seventy patterns a batch, most of them over short
strings. A pattern's automaton (built by interegular: classes of characters, moves, accepting
states) is built once, kept in the cache folder (the fixed-line pattern takes 0.2 s to build,
every command would pay it again), and run by :func:`leaktrace.identifiers._match_loops.matches`.

Only patterns written in the syntax that reads the same in RE2 and interegular are taken:
literals, ``.``, classes, ``\\d \\D \\w \\W``, groups (``(?:``), alternation and quantifiers.
Anchors, flags, word boundaries, a class opening with ``]``, Unicode properties, ``\\s``
(interegular's holds ``\\v``, RE2's does not), escapes by code and characters beyond the Basic
Multilingual Plane are left to RE2 (:func:`machine` gives ``None``).
``tests/identifiers/test_automata.py`` holds every pattern the package matches to RE2's answers.

>>> import pyarrow as pa
>>> full_match(pa.array(["13912345678", "1391234567", None]), machine("1[3-9][0-9]{9}")).tolist()
[True, False, False]
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from leaktrace._compiled import Loops
from leaktrace.identifiers import _vector

_PLAIN_ESCAPES = frozenset("dDwW.\\-+*?()[]{}|/^$&~#%!@=,:;'\"<> nrtf")
BMP = 0x10000
# Columns this long are matched by the compiled loop (shorter ones by NumPy until it is loaded,
# if their values are short enough: see full_match).
_COMPILED_FROM = 4096
_STEPPED_LONGEST = 256  # bytes of the longest value NumPy's steps take (one step a character)
_LOOPS = Loops("leaktrace.identifiers._match_loops")


class Machine(NamedTuple):
    """A pattern's automaton as the compiled loop reads it."""

    classes: np.ndarray  # int32 per code point of the BMP
    moves: np.ndarray  # int32 [state, class], -1 where no state follows
    accepting: np.ndarray  # bool per state
    initial: int
    other: int  # the class of characters the pattern does not name


def plain_syntax(pattern: str) -> bool:
    """Whether ``pattern`` uses only syntax that RE2 and interegular read alike."""
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if ord(char) >= BMP:
            return False
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _PLAIN_ESCAPES:
                return False
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif pattern.startswith("[:", i):  # POSIX classes: RE2 only
                return False
        elif char == "[":
            in_class = True
            i += 1
            i += pattern.startswith("^", i)
            if pattern.startswith("]", i):  # a "]" first is a member in RE2, not interegular
                return False
            continue
        elif char in "^$" or (pattern.startswith("(?", i) and not pattern.startswith("(?:", i)):
            return False  # anchors and flags
        i += 1
    return not in_class


class _Text:
    """A string as :func:`leaktrace.identifiers._vector.stored` reads a source."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read_bytes(self) -> bytes:
        return self.text.encode()


@cache
def machine(pattern: str) -> Machine | None:
    """``pattern``'s automaton, or ``None`` when RE2 must read it (see the module's notes).

    A search for words anywhere in a value (``.*(?:北京|天津|…)``) is left to RE2 too: its
    automaton took interegular 100 s to build."""
    if pattern.startswith(".*") or not plain_syntax(pattern):
        return None
    name = f"automaton-{hashlib.sha256(pattern.encode()).hexdigest()[:16]}"
    sources = (_Text(pattern), _Text(_interegular_version()), Path(__file__))
    return _vector.stored(name, sources, lambda: _build(pattern))


@cache
def _interegular_version() -> str:
    return importlib.metadata.version("interegular")


def _build(pattern: str) -> Machine | None:
    # Imported here, not at the top: automata come from the cache folder except on a
    # machine's first run, and the import cost every command that matches patterns ~30 ms.
    import interegular
    from interegular.fsm import anything_else

    try:
        fsm = interegular.parse_pattern(pattern).to_fsm().reduce()
    except (interegular.patterns.Unsupported, interegular.patterns.InvalidSyntax, ValueError):
        return None
    other = fsm.alphabet[anything_else]
    classes = np.full(BMP, other, dtype=np.int32)
    for char, kind in fsm.alphabet.items():
        if char is not anything_else:
            classes[ord(char)] = kind
    states = {state: index for index, state in enumerate(sorted(fsm.states))}
    moves = np.full((len(states), len(fsm.alphabet.by_transition)), -1, dtype=np.int32)
    for state, row in fsm.map.items():
        for kind, following in row.items():
            moves[states[state], kind] = states[following]
    accepting = np.zeros(len(states), dtype=bool)
    accepting[[states[state] for state in fsm.finals]] = True
    return Machine(classes, moves, accepting, states[fsm.initial], other)


def wanted(values: pa.Array) -> bool:
    """Whether an automaton is the way to match ``values`` (:func:`_runner`)."""
    return _runner(values) is not None


def full_match(values: pa.Array, automaton: Machine, prefix: bool = False) -> np.ndarray:
    """Which strings the automaton matches entirely (``prefix``: from their first character);
    nulls never match. Run as :func:`_runner` chooses; by the compiled loop where it would
    leave the values to RE2."""
    result = (_runner(values) or _compiled)(values, automaton, prefix)
    if values.null_count:
        result &= _vector.to_numpy_bool(values.is_valid())
    return result


def load_compiled() -> None:
    """Load the compiled loop now, so that short columns use it too (for a process that loads
    numba anyway)."""
    _LOOPS.module()


def _runner(values: pa.Array) -> Callable[[pa.Array, Machine, bool], np.ndarray] | None:
    """The compiled loop for a long column, or once this process loaded it; NumPy's steps
    (:func:`_stepped`) for a short column of short values; else None: a short column of long
    texts is left to RE2 (0.04 s for 2,000 values of 5,000 characters) rather than wait ~0.5 s
    for numba."""
    if _LOOPS.wanted(len(values), _COMPILED_FROM):
        return _compiled
    offsets, _ = _vector.raw_buffers(values)
    return _stepped if int(np.diff(offsets).max(initial=0)) <= _STEPPED_LONGEST else None


def _compiled(values: pa.Array, automaton: Machine, prefix: bool) -> np.ndarray:
    """:func:`full_match` by the compiled loop (nulls not masked)."""
    offsets, data = _vector.buffers(values)
    return _LOOPS.module().matches(offsets, data, *automaton, prefix)


def _stepped(values: pa.Array, automaton: Machine, prefix: bool) -> np.ndarray:
    """:func:`full_match` by NumPy: one step of every string still running per character
    position (the strings as UTF-32 code points), so a short column pays neither numba's first
    load nor RE2's compiling of the pattern (nulls not masked)."""
    classes, moves, accepting, initial, other = automaton
    offsets, data = _vector.raw_buffers(values)
    text = data[offsets[0] : offsets[-1]]
    try:
        decoded = text.tobytes().decode("utf-8")
    except UnicodeDecodeError:  # a Parquet file's bytes, unchecked: the compiled loop reads them
        return _compiled(values, automaton, prefix)
    codes = np.frombuffer(decoded.encode("utf-32-le"), dtype=np.uint32)
    kinds = np.where(codes < BMP, classes[np.minimum(codes, BMP - 1)], other)
    # Code points before each byte: the bytes that open a character, counted.
    opened = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum((text & 0xC0) != 0x80, out=opened[1:])
    starts = opened[offsets[:-1] - offsets[0]]
    lengths = opened[offsets[1:] - offsets[0]] - starts
    state = np.full(len(lengths), initial, dtype=np.int32)
    found = np.full(len(lengths), bool(accepting[initial]))
    running = np.flatnonzero(lengths > 0 if not prefix else (lengths > 0) & ~found)
    step = 0
    while running.size:
        state[running] = moves[state[running], kinds[starts[running] + step]]
        alive = state[running] >= 0
        if prefix:
            found[running[alive]] = accepting[state[running[alive]]]
            alive &= ~found[running]
        step += 1
        running = running[alive & (lengths[running] > step)]
    if prefix:
        return found
    return (state >= 0) & accepting[np.maximum(state, 0)]
