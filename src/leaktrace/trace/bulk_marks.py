"""Keyed marks of many releases read from one leak at once.

:func:`leaktrace.release.marks.read_marks` reads one release: it observes the leak's values
and hashes every row under that release's field key. A bank's ledger holds thousands of
releases, so here each field of the leak is observed once (the forms its values show depend on
the values alone) and only the rows of each release's own customers are hashed, with the keys of
all releases side by side in one vectorised SipHash: a release marked only the rows of the
customers it held, so rows of other customers carry no mark of it and, under "not this
release", each of its member rows agrees with its marks with probability 1/q as before.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leaktrace.identifiers import _vector
from leaktrace.release import marks


@dataclass(frozen=True, order=True)
class FieldRead:
    """One marked ``field`` of a release, read from the leak's ``column`` (the field's own name,
    or the column a broker renamed it to) with the field's mark ``rule``."""

    field: str
    column: str
    rule: str


def read_many(
    key: bytes,
    observed: pa.Table,
    record_tokens: pa.Array,
    reads: Sequence[Collection[FieldRead]],
    pair_release: np.ndarray,
    pair_row: np.ndarray,
    release_ids: Sequence[str],
) -> list[dict[FieldRead, marks.MarkCount]]:
    """Per release (``release_ids[j]``, its fields read as ``reads[j]``), the agreements of its
    member rows of ``observed`` with its keyed marks; (``pair_release[i]``, ``pair_row[i]``)
    says that row ``pair_row[i]`` is the customer of one of release ``pair_release[i]``'s
    members. ``record_tokens`` has one token per row of ``observed``. A release with no member
    rows reads 0 of 0."""
    words, present = marks.token_words(record_tokens)
    counts: list[dict[FieldRead, marks.MarkCount]] = [{} for _ in release_ids]
    observations: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    readers: dict[FieldRead, list[int]] = {}
    for j, wanted in enumerate(reads):
        for read in wanted:
            readers.setdefault(read, []).append(j)
    for read in sorted(readers):
        chosen = marks.rule(read.rule)
        users = np.array(readers[read])
        if (read.column, read.rule) not in observations:  # hukou and address may share a column
            observations[read.column, read.rule] = observe(chosen, observed.column(read.column))
        available, current = observations[read.column, read.rule]
        available = available & present[:, None]
        # only rows with a slot to read are hashed (a blank or unmarkable value has none)
        keep = np.isin(pair_release, users) & available.any(1)[pair_row]
        rel, row = pair_release[keep], pair_row[keep]
        halves = np.array(
            [marks.key_halves(marks.field_key(key, release_ids[j], read.field)) for j in users],
            np.uint64,
        ).reshape(-1, 2)
        slot = np.full(len(release_ids), -1)
        slot[users] = np.arange(len(users))
        hashed = marks.siphash24_16_keyed(halves[slot[rel], 0], halves[slot[rel], 1], words[row])
        picked = marks.choices(hashed, chosen.q, chosen.slots)
        usable = available[row]
        agree = np.bincount(rel, (usable & (picked == current[row])).sum(1), len(release_ids))
        trials = np.bincount(rel, usable.sum(1), len(release_ids))
        for j in users.tolist():
            counts[j][read] = marks.MarkCount(
                read.field, chosen.name, int(agree[j]), int(trials[j]), chosen.q
            )
    return counts


def observe(
    chosen: marks.MarkRule, values: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray]:
    """The rule's observation of every value, in chunks that bound its working memory."""
    values = _vector.flat(values)
    if not chosen.accepts(values.type):
        values = values.cast(pa.string())
    parts = [chosen.observe(values.slice(s, marks.CHUNK_ROWS))
             for s in range(0, max(len(values), 1), marks.CHUNK_ROWS)]  # fmt: skip
    return np.concatenate([a for a, _ in parts]), np.concatenate([c for _, c in parts])
