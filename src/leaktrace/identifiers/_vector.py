"""Column-wise building blocks for ``valid_column``: one pass of Arrow's C++ kernels (RE2)
over a whole column instead of a Python call per cell (PEERS.md: 3–10× faster)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import itertools
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import _pool


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct integers of a 1-D array, sorted, as ``np.unique`` gives them: a sort and a
    neighbour test, where NumPy 2.4's ``np.unique`` hashes (190–310 ms on 10⁶ integers against
    12–55 ms). Small non-negative integers (register ids, row numbers) are counted instead of
    sorted: 5.6 against 55 ms for 10⁶ register ids.

    >>> distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    if values.dtype.kind in "iu" and values.size and _countable(values):
        return np.flatnonzero(np.bincount(values.astype(np.intp, copy=False))).astype(values.dtype)
    ordered = np.sort(values)
    first = np.ones(ordered.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def _countable(values: np.ndarray) -> bool:
    """Whether ``values`` are non-negative and close enough together to be counted in an
    array about as large as theirs."""
    return int(values.min()) >= 0 and int(values.max()) < 2 * values.size + 65_536


def count_distinct(values: np.ndarray) -> int:
    """How many distinct values a 1-D array holds, reordering it in place: cut into one range
    a thread around ``np.partition``'s cuts, each range sorted in a thread of its own and its
    equal neighbours counted (25M keys: 1.0 s against 2.0 s for one sort, and 1.9 s with
    3.6 CPU s for DuckDB's ``count(DISTINCT)``).

    >>> count_distinct(np.array([3, 1, 3, 2], np.uint64))
    3
    """
    jobs = min(_pool.thread_jobs(), max(1, values.size // _SORTED_A_THREAD))
    cuts = [values.size * i // jobs for i in range(1, jobs)]
    if not cuts:
        return _count_sorted(values)
    values.partition(cuts)
    parts = np.split(values, cuts)
    counted = sum(_pool.threads().map(_count_sorted, parts))
    # A value on both sides of a cut is counted on each (the parts are sorted now).
    return counted - sum(int(a[-1] == b[0]) for a, b in itertools.pairwise(parts))


_SORTED_A_THREAD = 1_000_000  # fewer are sorted in one piece


def _count_sorted(values: np.ndarray) -> int:
    """The distinct values of ``values``, which it sorts in place."""
    values.sort()
    return int(values.size - np.count_nonzero(values[1:] == values[:-1]))


R = TypeVar("R")


def in_runs(
    work: Callable[[pa.Array], R], values: pa.Array | pa.ChunkedArray, min_bytes: int
) -> list[tuple[int, R]]:
    """``work`` over runs of rows of a string column, one run per CPU (of about equal bytes),
    in threads of their own (:func:`leaktrace._pool.threads`): (first row, result) of each run,
    in order. For work that lets go of the GIL (compiled loops, Arrow, NumPy); a column under
    ``min_bytes`` a thread is one run (below that a thread costs more than it saves).

    >>> in_runs(len, pa.array(["ab", "c"]), 1 << 20)
    [(0, 2)]
    """
    strings = as_strings(values)
    offsets, _ = raw_buffers(strings)
    size = int(offsets[-1] - offsets[0])
    jobs = max(1, min(_pool.thread_jobs(), size // min_bytes))
    if jobs == 1:
        return [(0, work(strings))]
    cuts = np.searchsorted(offsets, offsets[0] + size * np.arange(1, jobs) // jobs)
    firsts = [0, *sorted(set(cuts.tolist()) - {0, len(strings)})]
    ends = [*firsts[1:], len(strings)]
    runs = (strings.slice(first, end - first) for first, end in zip(firsts, ends, strict=True))
    return list(zip(firsts, _pool.threads().map(work, runs), strict=True))


def flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array for a column: its only chunk as it is, else its chunks combined. Arrow's
    ``combine_chunks`` copies even a single chunk (an export batch's address column: 0.3 ms,
    and up to 4 ms where the copy lands in memory the process has not touched yet).

    >>> column = pa.chunked_array([["a", "b"]])
    >>> flat(column).buffers()[2].address == column.chunk(0).buffers()[2].address  # no copy
    True
    >>> flat(pa.chunked_array([["a"], ["b"]])).to_pylist()
    ['a', 'b']
    """
    if isinstance(values, pa.Array):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A flat string array: chunks combined, non-string columns cast to text."""
    values = flat(values)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def fold(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC (full-width digits and letters → ASCII) and trimmed.

    Only values with a character NFKC may change are normalized: ASCII and the CJK Unified
    Ideographs (U+3400..U+9FFF) have no decomposition and compose with nothing, and most
    identifier columns hold nothing else.
    """
    strings = as_strings(values)
    unstable = np.flatnonzero(_maybe_unstable(strings))
    if unstable.size:
        fixed = pc.utf8_normalize(strings.take(pa.array(unstable)), "NFKC")
        strings = _replaced(strings, unstable, fixed)
    return pc.utf8_trim_whitespace(strings)


def _maybe_unstable(strings: pa.Array) -> np.ndarray:
    """Which strings hold a character outside ASCII and U+3400..U+9FFF (UTF-8 lead bytes other
    than E4..E9 and E3 9x..Bx)."""
    buffers = strings.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type(strings))[
        strings.offset : strings.offset + len(strings) + 1
    ].astype(np.int64)
    if buffers[2] is None or not len(offsets) or offsets[-1] == offsets[0]:
        return np.zeros(len(strings), dtype=bool)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    odd = (data >= 0xC0) & (np.subtract(data, 0xE3, dtype=np.uint8) > 6)  # not E3..E9
    e3 = np.flatnonzero(data == 0xE3)
    odd[e3] = data[np.minimum(e3 + 1, len(data) - 1)] < 0x90
    result = np.zeros(len(strings), dtype=bool)
    result[np.searchsorted(offsets, np.flatnonzero(odd), side="right") - 1] = True
    return result


def remove(values: pa.Array, pattern: str) -> pa.Array:
    """Delete every match of an RE2 ``pattern``, in the values that hold one only: a match
    builds no strings, a replacement copies every value, and in most columns few values hold
    anything to delete (separators in a column of clean numbers, a country before addresses)."""
    held = np.flatnonzero(to_numpy_bool(pc.match_substring_regex(values, pattern)))
    if not held.size:
        return values
    if held.size > len(values) // 4:
        return pc.replace_substring_regex(values, pattern, "")
    rows = pa.array(held)
    return _replaced(values, held, pc.replace_substring_regex(values.take(rows), pattern, ""))


def remove_spaces(values: pa.Array) -> pa.Array:
    """Delete every match of RE2's ``\\s+``, in the values that hold one only (a byte lookup
    over the buffer tells which: in most identifier columns, none or a few)."""
    if not len(values) or values.buffers()[2] is None:
        return values
    offsets, data = raw_buffers(values)
    data = data[offsets[0] : offsets[-1]]
    # RE2's \s: ASCII whitespace only (tab, newline, form feed, carriage return, space), all
    # bytes up to 0x20, which are rare: they are found first, then checked.
    spaces = np.flatnonzero(data <= 0x20)
    spaces = spaces[np.isin(data[spaces], (0x09, 0x0A, 0x0C, 0x0D, 0x20))]
    if not spaces.size:
        return values
    rows = distinct(np.searchsorted(offsets - offsets[0], spaces, side="right") - 1)
    return _replaced(values, rows, remove(values.take(pa.array(rows)), r"\s+"))


def _replaced(values: pa.Array, rows: np.ndarray, new: pa.Array) -> pa.Array:
    """``values`` with the values at ``rows`` replaced by ``new`` (one for each)."""
    if rows.size == len(values):
        return new.cast(values.type)
    gather = np.arange(len(values))
    gather[rows] = len(values) + np.arange(rows.size)
    return pa.concat_arrays([values, new.cast(values.type)]).take(pa.array(gather))


# Lead bytes of the characters Arrow's utf8_trim_whitespace trims: ASCII whitespace (all at or
# below 0x20), U+0085 and U+00A0 (C2), U+1680 (E1), U+2000..U+205F (E2) and U+3000 (E3).
_SPACE_LEADS = (0xC2, 0xE1, 0xE2, 0xE3)


def trim_whitespace(strings: pa.Array) -> pa.Array:
    """``utf8_trim_whitespace``, run only on the values whose first or last character may be
    whitespace (a look at their bytes tells): most values of a column have none to trim."""
    if not len(strings) or strings.buffers()[2] is None:
        return strings
    offsets, data = raw_buffers(strings)
    starts, ends = offsets[:-1], offsets[1:]
    rows = np.flatnonzero(ends > starts)
    first, end = starts[rows], ends[rows]
    doubtful = (data[first] <= 0x20) | np.isin(data[first], _SPACE_LEADS) | (data[end - 1] <= 0x20)
    two = end - first >= 2
    doubtful[two] |= data[end[two] - 2] == 0xC2
    three = end - first >= 3
    doubtful[three] |= np.isin(data[end[three] - 3], _SPACE_LEADS[1:])
    rows = rows[doubtful]
    if not rows.size:
        return strings
    return _replaced(strings, rows, pc.utf8_trim_whitespace(strings.take(pa.array(rows))))


def plain_digits(strings: pa.Array, width: int) -> np.ndarray:
    """Which values are exactly ``width`` ASCII digits (nulls are not): one count over the
    byte buffer, so a column of compact numbers can skip the passes that compact them."""
    result = np.zeros(len(strings), dtype=bool)
    if not len(strings) or strings.buffers()[2] is None:
        return result
    offsets, data = raw_buffers(strings)
    data = data[offsets[0] : offsets[-1]]
    offsets -= offsets[0]
    other = np.zeros(len(data) + 1, dtype=np.int32)  # strings hold under 2 GiB
    np.cumsum(np.subtract(data, 0x30, dtype=np.uint8) > 9, out=other[1:], dtype=np.int32)
    sized = np.diff(offsets) == width
    result[sized] = other[offsets[1:][sized]] == other[offsets[:-1][sized]]
    if strings.null_count:
        result &= to_numpy_bool(strings.is_valid())
    return result


def buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array as NumPy views, the bytes cut at the last offset."""
    if pa.types.is_string(strings.type):
        strings = strings.cast(pa.large_string())
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    if data is None or not len(offsets):
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data, dtype=np.uint8)[: offsets[-1]]


def raw_buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string or large-string array as NumPy, without the cast of
    :func:`buffers`: this array's offsets (int64, a copy) into its whole data buffer."""
    buffers = strings.buffers()
    if buffers[1] is None:
        return np.zeros(len(strings) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(buffers[1], dtype=offset_type(strings))
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1].astype(np.int64)
    data = np.zeros(0, np.uint8) if buffers[2] is None else np.frombuffer(buffers[2], np.uint8)
    return offsets, data


def offset_type(strings: pa.Array) -> type:
    return np.int64 if pa.types.is_large_string(strings.type) else np.int32


def full_match(values: pa.Array, pattern: str, prefix: bool = False) -> np.ndarray:
    """Boolean NumPy array: which values match RE2 ``pattern`` entirely (``prefix``: from their
    first character); nulls are False.

    A pattern that allows it is matched by its automaton
    (:mod:`leaktrace.identifiers._automata`), not compiled again, unless the automaton would be
    the slower way (:func:`leaktrace.identifiers._automata.wanted`).
    """
    from leaktrace.identifiers import _automata

    strings = as_strings(values)
    if _automata.wanted(strings) and (automaton := _automata.machine(pattern)) is not None:
        return _automata.full_match(strings, automaton, prefix)
    matched = pc.match_substring_regex(values, f"^(?:{pattern}){'' if prefix else '$'}")
    return to_numpy_bool(matched)


def to_numpy_bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A NumPy bool array from an Arrow boolean array, nulls as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def drop_separators(strings: pa.Array) -> pa.Array:
    """Delete spaces, dashes and ASCII whitespace: literal passes only for what occurs.

    Several literal replacements cost a fraction of one RE2 replacement over the same strings.
    """
    for separator in " -\t\n\r\f":
        if pc.any(pc.match_substring(strings, separator)).as_py():
            strings = pc.replace_substring(strings, separator, "")
    return strings


def fixed_width_bytes(values: pa.Array, width: int) -> np.ndarray:
    """A (n, width) uint8 matrix of a null-free string array whose values are all ``width`` long."""
    fixed = values.cast(pa.binary(width))
    if len(fixed) == 0:
        return np.empty((0, width), dtype=np.uint8)
    data = np.frombuffer(fixed.buffers()[1], dtype=np.uint8).reshape(-1, width)
    return data[fixed.offset : fixed.offset + len(fixed)]


_NO_KEY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_GOLDEN = np.uint64(0x9E37_79B9_7F4A_7C15)  # Fibonacci hashing: 2**64 / golden ratio


class KeyIndex:
    """Row of each 64-bit key in a hash table with linear probing, looked up in NumPy.

    Half the time of ``searchsorted`` over the large word tables: most queries end at their
    first slot (the table is at most a quarter full) instead of after ~17 halvings.
    """

    def __init__(self, keys: np.ndarray) -> None:
        bits = max(4, (4 * len(keys)).bit_length())
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.slots = np.full(1 << bits, _NO_KEY, dtype=np.uint64)
        self.rows = np.full(1 << bits, -1, dtype=np.int64)
        home = self._home(keys)
        pending = np.arange(len(keys))
        while pending.size:
            free = pending[self.slots[home[pending]] == _NO_KEY]
            # One key per free slot wins this round; the others probe on.
            _, first = np.unique(home[free], return_index=True)
            won = free[first]
            self.slots[home[won]] = keys[won]
            self.rows[home[won]] = won
            placed = np.zeros(len(keys), dtype=bool)
            placed[won] = True
            pending = pending[~placed[pending]]
            home[pending] = (home[pending] + 1) & self.mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * _GOLDEN) >> self.shift).astype(np.int64)

    def find(self, query: np.ndarray) -> np.ndarray:
        """The row of each key in ``query``, or -1 (one compiled loop: numba, imported on first
        use, :mod:`leaktrace.identifiers._key_loops`)."""
        loops = importlib.import_module("leaktrace.identifiers._key_loops")
        query = np.ascontiguousarray(query, dtype=np.uint64)
        return loops.probe(self.slots, self.rows, _GOLDEN, self.shift, query)


# ---- derived tables kept on disk ---------------------------------------------------------------
#
# Some tables are built from dictionaries at first use (jieba's 350,000 words, OpenCC's character
# map) in about a second, which every scan would pay again, and every worker of a full scan. They
# are kept in a cache folder, one pickle per table, named by a hash of everything they are built
# from (the data files, the modules that build them, the versions of Python, NumPy, jieba and
# OpenCC), so any change builds them again.

KEPT_VERSIONS = 4  # per table: the versions most recently used stay, older ones are removed


class _Readable(Protocol):
    def read_bytes(self) -> bytes: ...


def cache_dir() -> Path:
    """Where derived tables are kept: ``$LEAKTRACE_CACHE``, else ``$XDG_CACHE_HOME/leaktrace``,
    else ``~/.cache/leaktrace``. They hold dictionary words, never customer data."""
    if os.environ.get("LEAKTRACE_CACHE"):
        return Path(os.environ["LEAKTRACE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leaktrace"


def stored(name: str, sources: Iterable[_Readable], build: Callable[[], Any]) -> Any:
    """``build()``, or what an earlier call with the same ``name`` and source contents built.

    A cache that cannot be read or written is no error: the table is built, as without one.
    """
    digest = hashlib.sha256(_versions().encode())
    for source in sources:
        digest.update(source.read_bytes())
    path = cache_dir() / f"{name}-{digest.hexdigest()[:24]}.pickle"
    try:
        with path.open("rb") as file:
            value = pickle.load(file)
        os.utime(path)  # recently used: kept when other versions are written
        return value
    except (OSError, EOFError, ValueError, TypeError, AttributeError, pickle.UnpicklingError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One writer per process and thread: the text engine's threads may build a table at once.
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        with partial.open("wb") as file:
            os.chmod(partial, 0o600)
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
        # Installs and checkouts side by side (another version of the sources) each keep
        # theirs; versions beyond the last few used are stale.
        versions = sorted(path.parent.glob(f"{name}-*.pickle"), key=_used, reverse=True)
        for stale in versions[KEPT_VERSIONS:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
    return value


def _used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another process
        return 0.0


@cache
def _versions() -> str:
    packages = []
    for package in ("jieba", "opencc-python-reimplemented", "pyarrow"):
        try:
            packages.append(importlib.metadata.version(package))
        except importlib.metadata.PackageNotFoundError:
            packages.append("-")
    return "|".join([sys.version, np.__version__, *packages])
