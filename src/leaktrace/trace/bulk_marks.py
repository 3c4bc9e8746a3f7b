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

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from leaktrace.release import marks


def read_many(
    key: bytes,
    observed: pa.Table,
    record_tokens: pa.Array,
    fields: Sequence[Mapping[str, str]],
    pair_release: np.ndarray,
    pair_row: np.ndarray,
    release_ids: Sequence[str],
) -> list[dict[str, marks.MarkCount]]:
    """Per release (``release_ids[j]`` with marked ``fields[j]``: column → rule), the
    agreements of its member rows of ``observed`` with its keyed marks; (``pair_release[i]``,
    ``pair_row[i]``) says that row ``pair_row[i]`` is the customer of one of release
    ``pair_release[i]``'s members. ``record_tokens`` has one token per row of ``observed``.
    Fields missing from ``observed`` are left out; a release with no member rows reads
    0 of 0."""
    words, present = marks.token_words(record_tokens)
    counts: list[dict[str, marks.MarkCount]] = [{} for _ in release_ids]
    specs = {(f, s) for wanted in fields for f, s in wanted.items() if f in observed.column_names}
    for field, spec in sorted(specs):
        chosen = marks.rule(spec)
        users = np.array([j for j, wanted in enumerate(fields) if wanted.get(field) == spec])
        values = observed.column(field).combine_chunks()
        if not chosen.accepts(values.type):
            values = values.cast(pa.string())
        available, current = _observe(chosen, values)
        available &= present[:, None]
        # only rows with a slot to read are hashed (a blank or unmarkable value has none)
        keep = np.isin(pair_release, users) & available.any(1)[pair_row]
        rel, row = pair_release[keep], pair_row[keep]
        halves = np.array(
            [marks.key_halves(marks.field_key(key, release_ids[j], field)) for j in users],
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
            counts[j][field] = marks.MarkCount(
                field, chosen.name, int(agree[j]), int(trials[j]), chosen.q
            )
    return counts


def _observe(chosen: marks.MarkRule, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The rule's observation of every value, in chunks that bound its working memory."""
    parts = [chosen.observe(values.slice(s, marks.CHUNK_ROWS))
             for s in range(0, max(len(values), 1), marks.CHUNK_ROWS)]  # fmt: skip
    return np.concatenate([a for a, _ in parts]), np.concatenate([c for _, c in parts])
