"""Where a leak's marked fields are: under their own names, or renamed by a broker.

A release marks fields by name (``地址``); a broker sells the same values as ``住址``. A marked
field the leak has no column of is read from every column whose values its rule can mark
(slots in at least half of them; identifier columns aside), and per field the column that
agrees best is kept, each column for one field. Picking the best of several columns would let
chance agreement pass for evidence, so the marks' p-value is multiplied by the number of
outcomes that choice could have had (Bonferroni): a leak with its fields' own names has one.

>>> import pyarrow as pa
>>> leaked = pa.table({"姓名": ["张三"], "住址": ["北京市海淀区中关村大街1号3单元502室"]})
>>> where = locate(leaked, ["姓名"], [{"address": "address"}])
>>> [(r.field, r.column) for r in where[0]]
[('address', '住址')]
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import tails
from leaktrace.release import marks
from leaktrace.trace.bulk_marks import FieldRead, observe

MIN_SLOT_SHARE = 0.5  # a column that marks fewer of its values is not taken for a renamed field
SAMPLE_ROWS = 2_000  # values looked at to decide whether a rule can mark a column


def locate(
    leaked: pa.Table,
    identifying: Collection[str],
    fields: Sequence[Mapping[str, str]],
) -> list[tuple[FieldRead, ...]]:
    """Per release (its marked ``fields``: field → rule), the reads of the leak that test it:
    each field from its own column when the leak has one, else from every column a broker may
    have renamed it to. ``identifying`` names the leak's identifier columns, never read for
    marks."""
    present = set(leaked.column_names)

    @functools.cache
    def can_mark(rule: str, column: str) -> bool:
        return _slot_share(rule, leaked.column(column)) >= MIN_SLOT_SHARE

    @functools.cache  # a bank's releases mark the same few sets of fields
    def reads_of(wanted: tuple[tuple[str, str], ...]) -> tuple[FieldRead, ...]:
        own = {f for f, _ in wanted if f in present}
        reads = [FieldRead(f, f, rule) for f, rule in wanted if f in own]
        for f, rule in wanted:
            if f not in own:
                reads += [
                    FieldRead(f, column, rule)
                    for column in leaked.column_names
                    if column not in own and column not in identifying and can_mark(rule, column)
                ]
        return tuple(reads)

    return [reads_of(tuple(wanted.items())) for wanted in fields]


def best(
    counts: Mapping[FieldRead, marks.MarkCount],
) -> tuple[dict[str, marks.MarkCount], dict[str, str], int]:
    """The reads kept, strongest first (smallest binomial tail): per field one column, and a
    column for one field only (a broker's column holds one field's values; hukou and address
    may both be able to read ``住址``). Returns the kept counts and columns by field, and the
    number of outcomes the choice could have had: per field its columns, plus one when a
    column it could read is also another field's, so it may be left out."""
    if len({r.field for r in counts}) == len({r.column for r in counts}) == len(counts):
        return {r.field: c for r, c in counts.items()}, {r.field: r.column for r in counts}, 1
    order = sorted(
        counts,
        key=lambda r: (
            _tail(counts[r].agreements, counts[r].trials, counts[r].q),
            r.field,
            r.column,
        ),
    )
    chosen: dict[str, marks.MarkCount] = {}
    columns: dict[str, str] = {}
    for read in order:
        if read.field not in chosen and read.column not in columns.values():
            chosen[read.field], columns[read.field] = counts[read], read.column
    fields_of: dict[str, set[str]] = {}
    for read in counts:
        fields_of.setdefault(read.column, set()).add(read.field)
    choices = 1
    for field in {r.field for r in counts}:
        options = [r.column for r in counts if r.field == field]
        choices *= len(options) + any(len(fields_of[c]) > 1 for c in options)
    return chosen, columns, choices


@functools.cache  # a bank's thousands of releases read the same few counts
def _tail(agreements: int, trials: int, q: int) -> tuple[float, int]:
    """The binomial tail, and more trials first among equal tails."""
    return tails.binomial_tail(agreements, trials, 1 / q), -trials


def _slot_share(rule: str, values: pa.ChunkedArray) -> float:
    """The share of the first non-blank values in which ``rule`` finds a slot to mark."""
    sample = pc.drop_null(values).slice(0, SAMPLE_ROWS)
    if len(sample) == 0:
        return 0.0
    available, _ = observe(marks.rule(rule), sample)
    return float(np.mean(available.any(1)))
