"""Which tokens the register holds, answered in memory: the export asks, batch after batch and
round after round, whether its decoys' candidate identifiers are anyone's, and a join over the
register per question cost more than the decoys themselves.

The tokens of one kind (identifier tokens of loaded customers, customer-number tokens, and the
tokens of decoys and canaries already made) are read once, the first time the kind is asked,
and kept sorted by their first eight bytes; a question is a binary search. The customers'
number tokens, with their register ids, are read once for numbering an export's rows
(:class:`HeldNumbers`) and serve its decoys' questions too. A kind with more
than :data:`HELD_AT_MOST` tokens (a register of several million customers) is asked by join,
so that memory stays bounded. The answers are
those of :func:`leaktrace.store.tokens_exist` over the same tables: an export changes none of
them until it is recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from leaktrace import _pool, customers, keys, store

# $customers: whether the customers' own number tokens are read with kind 0 (not when they are
# held already, by a HeldNumbers).
# The owner is the customer's register id; -1 for the token of a decoy or canary.
_KIND_TOKENS = f"""
    SELECT token, customer_id AS owner FROM tokens
        WHERE {store.LOADED} AND kind = $kind AND octet_length(token) = $n
    UNION ALL SELECT ref_token, customer_id FROM customers WHERE {store.LOADED} AND $kind = 0
        AND $customers AND octet_length(ref_token) = $n
    UNION ALL SELECT token, -1 FROM decoy_tokens WHERE kind = $kind AND octet_length(token) = $n"""


def _words(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two 64-bit halves of 16-byte tokens, and which are present (null: none)."""
    if not len(tokens):
        empty = np.zeros(0, np.uint64)
        return empty, empty, np.zeros(0, bool)
    packed = _packed(tokens)
    if packed is None:
        tokens = tokens.cast(pa.binary(keys.TOKEN_BYTES))
        start = tokens.offset * keys.TOKEN_BYTES
        packed = np.frombuffer(tokens.buffers()[1], dtype=np.uint8)[start:]
    present = ~np.asarray(tokens.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    words = packed[: len(tokens) * keys.TOKEN_BYTES].view("<u8").reshape(-1, 2)
    return words[:, 0], words[:, 1], present


def _packed(tokens: pa.Array) -> np.ndarray | None:
    """The bytes of a variable-length binary column whose values are all 16 bytes long and
    none null (what the register's reads give), as they lie; None otherwise. Arrow's cast to
    ``binary(16)`` copies them: 20 ms of each million tokens read."""
    if tokens.type != pa.binary() or tokens.null_count:
        return None
    offsets = np.frombuffer(tokens.buffers()[1], np.int32, len(tokens) + 1, tokens.offset * 4)
    if not (np.diff(offsets) == keys.TOKEN_BYTES).all():
        return None
    return np.frombuffer(tokens.buffers()[2], np.uint8)[offsets[0] :]


def _order(values: np.ndarray) -> np.ndarray:
    """The order that sorts 64-bit keys (equal keys in any order): NumPy's vectorized argsort
    (x86-simd-sort, AVX2 or AVX-512), 26 ms for a million tokens' first halves, where two
    stable radix passes over their top 32 bits and a sort of the ties took 40-50.

    >>> _order(np.array([5 << 40, 3, (5 << 40) - 1, 7 << 60, 2], np.uint64)).tolist()
    [4, 1, 2, 0, 3]
    """
    return np.argsort(np.ascontiguousarray(values, dtype=np.uint64))


class _Sorted:
    """16-byte tokens, sorted by their first half, for membership questions (and, made with
    ``values``, for what each token stands for)."""

    def __init__(self, tokens: pa.Array, values: np.ndarray | None = None) -> None:
        high, low, present = _words(tokens)
        # A run of equal first halves is searched whole, so the order within a run does not
        # matter; a token held twice with two values (the register keeps one customer per
        # number) would answer with either.
        if present.all():  # as the register's reads are
            order = _order(high)
        else:
            kept = np.flatnonzero(present)
            order = kept[_order(high[kept])]
        self.high = high[order]
        self.low = low[order]
        self.values = None if values is None else values[order]  # what each token stands for

    def _at(self, tokens: pa.Array) -> np.ndarray:
        """Where each token stands among the sorted held ones (the first, if held twice; -1:
        not held or null)."""
        high, low, present = _words(tokens)
        found = np.full(high.size, -1, dtype=np.int64)
        if not self.high.size or not high.size:
            return found
        # Searched in order, the probes walk the held tokens once (random order: a cache miss
        # at every step of every search).
        order = _order(high)
        left = np.empty(high.size, dtype=np.int64)
        left[order] = np.searchsorted(self.high, high[order], "left")
        at = np.minimum(left, self.high.size - 1)
        same = present & (self.high[at] == high)
        hit = same & (self.low[at] == low)
        found[hit] = at[hit]
        # Held tokens that share a first half (about one pair in 10^7 at 10^6 tokens): look
        # through the whole run.
        after = np.minimum(at + 1, self.high.size - 1)
        for i in np.flatnonzero(same & (after > at) & (self.high[after] == high)):
            stop = np.searchsorted(self.high, high[i], "right")
            match = np.flatnonzero(self.low[left[i] : stop] == low[i])
            found[i] = left[i] + match[0] if match.size else -1
        return found

    def holds(self, tokens: pa.Array) -> np.ndarray:
        """Whether each token is among these (null: no)."""
        return self._at(tokens) >= 0

    def find(self, tokens: pa.Array) -> np.ndarray:
        """The value each token stands for (made with ``values``); -1 where not held."""
        assert self.values is not None
        at = self._at(tokens)
        if not self.values.size:  # nothing held: -1 everywhere (and no value to index)
            return at
        return np.where(at >= 0, self.values[np.maximum(at, 0)], -1)


HELD_AT_MOST = 4_000_000  # tokens of one kind kept in memory (16 bytes each, ~64 MB at most)


def _read_kind(
    db: duckdb.DuckDBPyConnection, kind: int, with_customers: bool = True
) -> _Sorted | None:
    """The tokens of one kind, sorted, with their owners; None when there are more than
    :data:`HELD_AT_MOST` (one read, of that many + 1 at most). Without ``with_customers``,
    kind 0 leaves out the customers' own number tokens."""
    params = {"kind": kind, "n": keys.TOKEN_BYTES, "customers": with_customers}
    read = db.sql(f"{_KIND_TOKENS} LIMIT {HELD_AT_MOST + 1}", params=params).to_arrow_table()
    if read.num_rows > HELD_AT_MOST:
        return None
    owners = read.column("owner").to_numpy().astype(np.int64, copy=False)
    return _Sorted(read.column("token").combine_chunks(), owners)


def _read_in_thread(
    db: duckdb.DuckDBPyConnection, reads: list[Callable[[duckdb.DuckDBPyConnection], Any]]
) -> tuple[ThreadPoolExecutor, list[Future[Any]]]:
    """``reads`` run one after the other in a thread of their own, with a cursor of their own
    that is closed after them. Shut the executor down (waiting) before ``db`` is closed: a
    connection closed while its cursor reads raises in DuckDB."""
    cursor = db.cursor()
    reader = ThreadPoolExecutor(1, thread_name_prefix="held", initializer=_pool.lower_priority)
    futures = [reader.submit(read, cursor) for read in reads]
    reader.submit(cursor.close)
    return reader, futures


class HeldTokens:
    """Membership in the register's tokens by kind code, each kind read once from ``db``.

    With ``numbers`` (the customers' number tokens held already), kind 0 reads only the
    other number tokens (of decoys and canaries) and asks ``numbers`` for the customers'.
    """

    def __init__(self, db: duckdb.DuckDBPyConnection, numbers: HeldNumbers | None = None) -> None:
        self.db = db
        self.numbers = numbers
        self._kinds: dict[int, _Sorted | None] = {}
        self._ahead: dict[int, Future[_Sorted | None]] = {}
        self._readers: list[ThreadPoolExecutor] = []

    def read_ahead(self, kinds: Iterable[int]) -> None:
        """Start reading ``kinds`` in a thread of their own (with a cursor of their own): the
        engine's scan and NumPy's sort release the GIL, so the caller goes on meanwhile, and
        the first question of a kind waits only for what is left of its read. :meth:`close`
        before ``db`` is closed."""
        kinds = sorted(set(kinds) - set(self._kinds) - set(self._ahead))
        if not kinds:
            return
        read = functools.partial(_read_kind, with_customers=self.numbers is None)
        reads = [functools.partial(read, kind=kind) for kind in kinds]
        reader, futures = _read_in_thread(self.db, reads)
        self._readers.append(reader)
        self._ahead.update(zip(kinds, futures, strict=True))

    def close(self) -> None:
        """Wait for reads still running (their cursors closed), whether asked or not."""
        for reader in self._readers:
            reader.shutdown(wait=True)

    def _kind(self, kind: int) -> _Sorted | None:
        """The kind's tokens in memory, or None for a kind with more than :data:`HELD_AT_MOST`
        (asked by join instead)."""
        if kind not in self._kinds:
            ahead = self._ahead.pop(kind, None)
            if ahead is None:
                self._kinds[kind] = _read_kind(self.db, kind, self.numbers is None)
            else:
                self._kinds[kind] = ahead.result()
        return self._kinds[kind]

    def holds(self, tokens: pa.Array, kinds: Iterable[int]) -> list[bool]:
        """Whether a token of any of ``kinds`` is each of ``tokens`` (null: no), as
        :func:`leaktrace.store.tokens_exist` answers."""
        found = np.zeros(len(tokens), dtype=bool)
        joined = []
        for kind in kinds:
            held = self._kind(kind)
            if held is None:
                joined.append(kind)
            else:
                found |= held.holds(tokens)
            if kind == customers.REF_KIND and self.numbers is not None:
                found |= self.numbers.ids(tokens) >= 0
        if joined:
            found |= np.array(store.tokens_exist(self.db, tokens, joined), dtype=bool)
        return found.tolist()

    def owners(self, tokens: pa.Array, kind: int) -> np.ndarray | None:
        """The register id of the customer each token of ``kind`` is (-1: none, a decoy's or
        null); None for a kind not read (:meth:`read_ahead`) or too large to hold: reading it
        now would cost more than asking the register by join."""
        if kind not in self._kinds and kind not in self._ahead:
            return None
        held = self._kind(kind)
        return None if held is None else held.find(tokens)


class HeldNumbers:
    """The register id of each customer-number token (:func:`leaktrace.customers.customer_refs`),
    from the register's (token, id) pairs read once, in a thread of their own from the moment
    this is made; a register of more than :data:`HELD_AT_MOST` customers is asked by join
    (:func:`leaktrace.store.ids_for_refs_array`) instead. An export numbers every batch: the
    join took ~70 ms a 125,000-row batch of the main thread, and as long again of the
    engine's threads, against ~15 ms for a search in memory."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.db = db
        self._reader, (self._ahead,) = _read_in_thread(db, [_read_numbers])

    def ids(self, refs: pa.Array) -> np.ndarray:
        """The register id of each token (-1: none, or null). Safe to call from another thread
        than the one that made this (the join, if any, goes through a cursor of its own)."""
        held = self._ahead.result()
        if held is not None:
            return held.find(refs)
        with self.db.cursor() as cursor:
            return store.ids_for_refs_array(cursor, refs)

    def close(self) -> None:
        """Wait for the read if it still runs (its cursor closed), whether asked or not."""
        self._reader.shutdown(wait=True)

    def __enter__(self) -> HeldNumbers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _read_numbers(db: duckdb.DuckDBPyConnection) -> _Sorted | None:
    pairs = store.register_refs(db, at_most=HELD_AT_MOST)
    if pairs is None:
        return None
    tokens = pairs.column("ref_token").combine_chunks()
    return _Sorted(tokens, pairs.column("customer_id").to_numpy())
