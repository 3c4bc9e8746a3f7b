"""An export's batches as a pipeline: read ahead in a thread, numbered by their customer
numbers in another, owners resolved in the register.

Reading (pyarrow's parser) releases the GIL, so a thread reads batch k+1 while batch k is being
marked; the customer numbers' HMACs are a compiled loop over the column (:func:`keys.tokens`),
~0.2 µs a number, which costs less than handing the column to another process and back.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from leaktrace import _pool, customers, store
from leaktrace.release.held import HeldNumbers

_DONE = object()
_NONE = object()  # nothing peeked


class ReadAhead:
    """``items`` in order, produced by a thread of their own up to ``depth`` ahead from the
    moment this is made (so reading starts while the caller still prepares), at a lower
    scheduling priority than the caller's (:func:`leaktrace._pool.lower_priority`); an error
    of the producer is raised where its item would have come. Close it (or use ``with``) to
    stop.

    ``depth`` counts the item being produced: the producer takes a slot before it makes an
    item, and the consumer frees it when it takes one, so no finished item waits in the
    producer for room in the queue (a batch of memory less than a bounded queue alone)."""

    def __init__(self, items: Iterable[Any], depth: int = 1, name: str = "release-reader") -> None:
        self._ahead: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._items = items
        self._peeked: Any = _NONE
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        _pool.lower_priority()  # the consumer's work comes first; this one works ahead of it
        try:
            items = iter(self._items)
            while True:
                while not self._slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                item = next(items, _DONE)
                self._ahead.put((item, None))
                if item is _DONE:
                    return
        except BaseException as error:  # handed to the consuming thread
            self._ahead.put((_DONE, error))

    def _next(self) -> Any:
        item, error = self._ahead.get()
        if error is not None:
            raise error
        if item is not _DONE:
            self._slots.release()
        return item

    def peek(self) -> Any:
        """The next item, left in place for the iteration (None when there is none)."""
        if self._peeked is _NONE:
            self._peeked = self._next()
        return None if self._peeked is _DONE else self._peeked

    def __iter__(self) -> Iterator[Any]:
        while True:
            if self._peeked is _NONE:
                item = self._next()
            else:
                item, self._peeked = self._peeked, _NONE
            if item is _DONE:
                return
            yield item

    def close(self) -> None:
        """Stop the producer and wait for it (it finishes the item it is making)."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextlib.contextmanager
def bounded_memory() -> Iterator[None]:
    """Arrow's allocator for an export: jemalloc where pyarrow has it, the previous one after.
    Batches are made and freed by four threads (reading, marking, this one, writing); mimalloc,
    the default, keeps what each thread freed in that thread's heap, and the export's peak grew
    by ~100 MiB with the marking thread (measured: 1,475 MiB against 1,359 with jemalloc)."""
    previous = pa.default_memory_pool()
    with contextlib.suppress(NotImplementedError):  # a pyarrow built without it
        pool = pa.jemalloc_memory_pool()
        if previous.backend_name != pool.backend_name:
            pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def numbered(
    workspace: store.Workspace,
    batches: Iterable[pa.RecordBatch],
    id_column: str | None,
    numbers: HeldNumbers | None,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray | None]]:
    """Each batch with the register id its customer number names, row by row (-1: none);
    None without a number column or without ``numbers``. Run it in a thread of its own
    (:class:`ReadAhead`): the HMACs and the searches release the GIL, and the exporting thread
    is the one every batch waits for."""
    key = workspace.keyring.key("match")
    for batch in batches:
        if id_column is None or numbers is None:
            yield batch, None
        else:
            yield batch, numbers.ids(customers.customer_refs(key, batch.column(id_column)))


def owners(
    workspace: store.Workspace,
    table: pa.Table,
    mapping: customers.ColumnMap,
    numbered: np.ndarray | None,
) -> pa.Array:
    """The register id of each row's customer (null for none), as
    :func:`customers.row_owners`: by the customer number where it is trusted (``numbered``,
    from :class:`leaktrace.release.held.HeldNumbers`), else by the row's identifiers."""
    result = np.full(table.num_rows, -1, dtype=np.int64) if numbered is None else numbered.copy()
    todo = np.flatnonzero(result < 0)
    if mapping.identifiers and todo.size:
        by_identifiers = customers.ColumnMap(
            identifiers=mapping.identifiers, birth_date=mapping.birth_date
        )
        rest = table.select(by_identifiers.columns()).take(pa.array(todo))
        found = customers.row_owners(workspace, rest, by_identifiers)
        result[todo] = found.fill_null(-1).to_numpy()
    return pa.array(result, mask=result < 0)
