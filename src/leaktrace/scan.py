"""Find customer personal information in tables: what each column holds, and what free text hides.

The scanner reads a sample of every source (``full=True`` reads every row), types each column
from its values and header, and looks for identifiers inside free-text columns (remarks such as
备注, key-value lines such as ``姓名:王芳 电话:139-1234-5678``). The same classifier is how later
commands understand a leaked list whose columns are unnamed, renamed or merged.

Column work is vectorized: every identifier type validates a whole column in one Arrow/NumPy pass
(PEERS.md: one pass over a column beats a call per cell by 3–10×). Free text is read column-wise
too (:mod:`leaktrace.identifiers._column_text`: one RE2 pass, candidates checked in bulk), except
person names and addresses, whose finders run over each batch joined into one string. Full scans
spread batches over worker processes.

>>> import pyarrow as pa
>>> remarks = ["客户王芳来电，回拨13912345678", "无"]
>>> table = pa.table({"电话": ["13812345678", "139-1234-5678"], "备注": remarks})
>>> [(c.name, c.detected) for c in scan_arrow(table).columns]
[('电话', 'mobile'), ('备注', 'free_text')]
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import attributes, checksums, identifiers
from leaktrace._pool import forked_pool
from leaktrace.exceptions import LeaktraceError
from leaktrace.identifiers import _automata, _column_text, _vector
from leaktrace.law import LegalCategory
from leaktrace.tables import Table, discover, open_table

FREE_TEXT = "free_text"

# A column is typed as an identifier when at least this share of its non-empty values is valid
# (or a masked form of it); below it, mixed columns are searched as free text.
MIN_HIT_RATIO = 0.5
LOOSE_HIT_RATIO = 0.8
# Columns whose values are mostly longer than this, with CJK or spaces, are searched as text.
MIN_TEXT_LENGTH = 6
SAMPLE_ROWS = 10_000
# A type is first tried on this many of a longer column's values, drawn at random: if under
# half of MIN_HIT_RATIO of them are hits, the type cannot reach MIN_HIT_RATIO over the column
# but by odds under 1e-20 (binomial tail), and the other values are not checked. Most types
# are far from most columns, and checking all of them took nine tenths of typing a sample.
PRECHECK_VALUES = 512
EXAMPLES = 3
FINDING_EXAMPLES = 5

_JRT_ORDER = {"C1": 1, "C2": 2, "C3": 3}
# Most sensitive first: the lowest "serious" threshold, ties in the interpretation's own order.
_CATEGORY_ORDER = {c: (c.threshold, i) for i, c in enumerate(LegalCategory)}


@dataclass
class Finding:
    """An identifier inside a free-text cell: row number (0-based), offsets in the cell."""

    row: int
    start: int
    end: int
    type: str
    example: str  # masked


@dataclass
class ColumnResult:
    """What one column holds."""

    name: str
    detected: str | None  # an identifier or attribute name, ``free_text``, or None
    kind: str  # "identifier", "attribute", "free_text" or "none"
    rows: int = 0
    non_empty: int = 0
    hits: int = 0
    masked: int = 0
    examples: list[str] = field(default_factory=list)
    jrt_class: str | None = None
    sensitive: bool = False
    category: str | None = None
    findings: dict[str, int] = field(default_factory=dict)
    finding_examples: list[Finding] = field(default_factory=list)

    @property
    def hit_ratio(self) -> float:
        """Share of non-empty values that are valid (or masked) values of ``detected``."""
        return (self.hits + self.masked) / self.non_empty if self.non_empty else 0.0


@dataclass
class SourceResult:
    """The scan of one source: its columns, or the one-line error that stopped it."""

    source: str
    kind: str | None = None
    rows_scanned: int = 0
    sampled: bool = True
    columns: list[ColumnResult] = field(default_factory=list)
    bad_rows: int = 0
    error: str | None = None

    @property
    def jrt_class(self) -> str | None:
        """The highest JR/T 0171-2020 class of anything found in the source."""
        classes = [c.jrt_class for c in self.columns if c.jrt_class]
        classes += [_type_jrt(t) for c in self.columns for t in c.findings]
        return max(classes, key=_JRT_ORDER.__getitem__, default=None)

    @property
    def found(self) -> list[str]:
        """Every identifier or attribute type found, columns first, then inside free text."""
        seen = [c.detected for c in self.columns if c.kind in ("identifier", "attribute")]
        seen += [t for c in self.columns for t in c.findings]
        return list(dict.fromkeys(seen))

    @property
    def sensitive(self) -> list[str]:
        """Types found that GB/T 35273-2020 counts as sensitive personal information."""
        return [t for t in self.found if _type_info(t)[1]]

    @property
    def category(self) -> str | None:
        """The most sensitive legal-tally category present (lowest "serious" threshold)."""
        categories = [LegalCategory(_type_info(t)[2]) for t in self.found]
        best = min(categories, key=_CATEGORY_ORDER.__getitem__, default=None)
        return best.value if best else None

    def to_dict(self) -> dict:
        """A JSON-ready dictionary, summary included."""
        data = asdict(self)
        for column, result in zip(data["columns"], self.columns, strict=True):
            column["hit_ratio"] = round(result.hit_ratio, 4)
        data["summary"] = {
            "jrt_class": self.jrt_class,
            "found": self.found,
            "sensitive": self.sensitive,
            "category": self.category,
        }
        return data


def _type_info(name: str) -> tuple[str, bool, str]:
    """(JR/T class, sensitive, legal category) of an identifier or attribute type."""
    if name in identifiers.registry():
        module = identifiers.get(name)
        return module.JRT_CLASS, module.SENSITIVE, str(module.CATEGORY)
    attribute = attributes.ATTRIBUTES[name]
    return attribute.jrt_class, attribute.sensitive, str(attribute.category)


def _type_jrt(name: str) -> str:
    return _type_info(name)[0]


# ---- column typing -----------------------------------------------------------------------


def _non_empty(values: pa.Array) -> pa.Array:
    """Non-null, non-blank values as trimmed strings."""
    strings = _vector.trim_whitespace(_vector.as_strings(values))
    present = pc.fill_null(pc.greater(pc.binary_length(strings), 0), False)
    if pc.all(present).as_py():  # most typed columns: no copy
        return strings
    return pc.filter(strings, present)


def _identifier_hits(module: ModuleType, values: pa.Array) -> tuple[int, int]:
    """(valid, masked) counts of one identifier type over non-empty values."""
    valid = module.valid_column(values)
    masked = 0
    if hasattr(module, "masked_column") and not valid.all():
        # Only values that are not valid can count as masked ones.
        masked = int(module.masked_column(values.filter(pa.array(~valid))).sum())
    return int(valid.sum()), masked


def _text_findings(
    values: pa.Array, findings: bool = True
) -> tuple[Counter[str], list[Finding]] | None:
    """Findings of a free-text column, or None when the column is not free text.

    Free text is long-ish values with CJK characters or several words (remarks, key-value lines)
    that hold identifiers; or shorter values that hold strictly checked identifiers (not just
    name- or address-like words, which branch and product names are full of) in at least one
    row of a hundred.

    Without ``findings`` only the kind is asked: the strictly checked types alone mostly tell
    it (the findings are then left empty), without the name and address finders and their
    dictionaries.
    """
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
    if lengths.max() < MIN_TEXT_LENGTH:
        return None
    wordy = _vector.to_numpy_bool(pc.match_substring_regex(values, r"[\p{Han}]|\S\s+\S"))
    if wordy.mean() < 0.2:
        return None
    prose = np.median(lengths) >= MIN_TEXT_LENGTH and wordy.mean() >= 0.5
    if not findings:
        strict = _column_text.find_spans(values).counts().total()
        if strict >= (1 if prose else max(1, len(values) // 100)):
            return Counter(), []
        if not prose:
            return None
    counts, examples = find_in_column(values)
    if prose:
        return (counts, examples) if counts else None
    strict = sum(n for t, n in counts.items() if not getattr(identifiers.get(t), "LOOSE", False))
    return (counts, examples) if strict >= max(1, len(values) // 100) else None


def _best_identifier(
    present: pa.Array, hinted: dict[str, float]
) -> tuple[float, ModuleType, int, int] | None:
    """(score, module, valid, masked) of the identifier type that most values are, if any.

    A type needs ``MIN_HIT_RATIO`` of the values (``LOOSE_HIT_RATIO`` for types checked by
    dictionary rather than by checksum or strict format, unless the header names them).
    """
    best = None
    has_han = pc.any(pc.match_substring_regex(present, r"\p{Han}")).as_py()
    subset = _precheck_values(present)
    for module in identifiers.registry().values():
        if getattr(module, "NEEDS_HAN", False) and not has_han:
            continue
        if subset is not None and sum(_identifier_hits(module, subset)) < (
            MIN_HIT_RATIO / 2 * len(subset)
        ):
            continue
        valid, masked = _identifier_hits(module, present)
        ratio = (valid + masked) / len(present)
        hint = hinted.get(module.NAME, 0.0)
        loose = getattr(module, "LOOSE", False) and hint < 0.9
        if ratio < (LOOSE_HIT_RATIO if loose else MIN_HIT_RATIO):
            continue
        score = ratio + 0.05 * hint
        if best is None or score > best[0]:
            best = (score, module, valid, masked)
    return best


def _precheck_values(present: pa.Array) -> pa.Array | None:
    """PRECHECK_VALUES of a column's values drawn at random (the same ones every time, in
    column order), or None for a column not much longer than that."""
    if len(present) < 2 * PRECHECK_VALUES:
        return None
    rows = np.random.default_rng(len(present)).choice(len(present), PRECHECK_VALUES, False)
    return present.take(pa.array(np.sort(rows)))


def use_compiled_loops() -> None:
    """Type columns with the compiled loops (numba) from now on, short columns too, in a
    process that loads numba anyway: an export's head of 2,000 rows is then typed in 0.2 s
    instead of 0.3 s in NumPy."""
    checksums.compiled()
    _automata.load_compiled()


def classify_column(
    name: str, values: pa.Array | pa.ChunkedArray, *, free_text: bool = True, findings: bool = True
) -> ColumnResult:
    """Type one column from its header and values (a sample is enough).

    The identifier type with the most valid values wins; a header hint breaks near-ties. A
    header that clearly names a sensitive attribute (户籍, 车身颜色) beats a loosely checked
    identifier whose values it resembles (an address, a name-like word). Otherwise a sensitive
    attribute by header and values, then free text holding identifiers (unless ``free_text``
    is False: callers that treat free text as no type, such as the export, skip the free-text
    finder and the dictionaries it loads), then nothing. Without ``findings``, a free-text
    column is typed without its findings (a full scan counts them over every batch).
    """
    values = _vector.as_strings(values)
    present = _non_empty(values)
    result = ColumnResult(name=name, detected=None, kind="none", rows=len(values))
    result.non_empty = len(present)
    if not result.non_empty:
        return result
    hinted = dict(attributes.header_hint(name))
    best = _best_identifier(present, hinted)
    attribute = attributes.classify_column(name, present)
    if best is not None and attribute is not None:
        _, module, valid, masked = best
        header_says = hinted.get(attribute[0].name, 0.0)
        strong_identifier = not getattr(module, "LOOSE", False) and valid + masked >= 0.9 * len(
            present
        )
        header_wins = header_says >= 0.9 and hinted.get(module.NAME, 0.0) < header_says
        if header_wins and not strong_identifier:
            best = None
    if best is not None:
        _, module, result.hits, result.masked = best
        result.detected, result.kind = module.NAME, "identifier"
        result.examples = _examples(module, present)
    elif attribute is not None:
        chosen, _score = attribute
        result.detected, result.kind = chosen.name, "attribute"
        share = attributes.value_share(chosen, present)
        # Attributes without a distinctive value form are typed by header alone: all count.
        result.hits = result.non_empty if share is None else round(share * result.non_empty)
        result.examples = [
            _mask_attribute(chosen, v) for v in present.slice(0, EXAMPLES).to_pylist()
        ]
    elif free_text and (found := _text_findings(present, findings)) is not None:
        result.detected, result.kind = FREE_TEXT, "free_text"
        counts, result.finding_examples = found
        result.findings = dict(counts)
    if result.kind in ("identifier", "attribute"):
        result.jrt_class, result.sensitive, result.category = _type_info(result.detected)
    return result


def _examples(module: ModuleType, values: pa.Array) -> list[str]:
    """A few masked, distinct example values."""
    examples: list[str] = []
    for value in values.slice(0, 200).to_pylist():
        masked_form = getattr(module, "MASKED_PATTERN", None)
        if masked_form and re.fullmatch(masked_form, value):
            shown = value
        else:
            try:
                shown = module.mask(module.validate(value))
            except ValueError:
                continue
        if shown not in examples:
            examples.append(shown)
        if len(examples) == EXAMPLES:
            break
    return examples


_DIGITS = re.compile(r"\d")


def _mask_attribute(attribute: attributes.Attribute, value: str) -> str:
    """Attributes (amounts, dates) keep their shape with digits hidden; credentials show nothing."""
    if attribute.jrt_class == "C3":
        return "******"
    return _DIGITS.sub("#", value)[:24]


# ---- free text ---------------------------------------------------------------------------


def find_in_column(
    values: pa.Array, row_offset: int = 0, keep: int = FINDING_EXAMPLES
) -> tuple[Counter[str], list[Finding]]:
    """Identifiers inside a text column: counts per type and the first ``keep`` findings.

    Pattern and numeric types are read column-wise, one RE2 pass over the batch and Arrow and
    NumPy checks of the candidates (:mod:`leaktrace.identifiers._column_text`); person names and
    addresses by their finders over the batch joined with newlines, which no type spans.
    """
    counts, firsts = _column_text.find_in_texts(values, keep)
    examples: list[Finding] = []
    for row, span in firsts:
        module = identifiers.get(span.type)
        example = span.value if span.masked else module.mask(span.value)
        examples.append(
            Finding(
                row=row_offset + row,
                start=span.start,
                end=span.end,
                type=span.type,
                example=example,
            )
        )
    return counts, examples


# ---- sources -----------------------------------------------------------------------------


@dataclass
class _BatchCounts:
    """What one batch of a full scan adds: per typed column (non-empty, valid, masked), per
    free-text column (counts per type, first findings)."""

    rows: int
    typed: dict[str, tuple[int, int, int]]
    text: dict[str, tuple[Counter[str], list[Finding]]]


def _count_batch(
    batch: pa.RecordBatch, typed: list[tuple[str, str]], text: list[str], row_offset: int
) -> _BatchCounts:
    counts = _BatchCounts(rows=batch.num_rows, typed={}, text={})
    for name, detected in typed:
        present = _non_empty(batch.column(name))
        valid, masked = _identifier_hits(identifiers.get(detected), present)
        counts.typed[name] = (len(present), valid, masked)
    for name in text:
        counts.text[name] = find_in_column(batch.column(name), row_offset, FINDING_EXAMPLES)
    return counts


def _count_batch_file(
    path: str, typed: list[tuple[str, str]], text: list[str], row_offset: int
) -> _BatchCounts:
    """:func:`_count_batch` of the batch in an Arrow IPC file, which is then deleted."""
    try:
        with pa.memory_map(path) as source:
            batch = pa.ipc.open_file(source).get_batch(0)
            return _count_batch(batch, typed, text, row_offset)
    finally:
        os.unlink(path)


def _write_batch(path: str, batch: pa.RecordBatch) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)


# Rows a worker counts at a time in a full scan. Smaller batches even out the workers' last
# ones, where one core would idle: 1M rows at 226-233k rows/s against 205-223k with 65,536
# (quiet machine, alternating); much smaller ones pay the per-batch costs more often.
FULL_SCAN_BATCH_ROWS = 40_000
# Room for one batch on its way to a worker (a 65,536-row batch of ten columns takes ~15 MB).
_BATCH_ROOM = 64 << 20


def _shared_folder(jobs: int) -> str | None:
    """A memory-backed folder for the batches in flight (/dev/shm), if there is one with room
    for them (containers often give it 64 MB); else None, the system's temporary folder."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    room = stats.f_bavail * stats.f_frsize
    return shm if room >= 2 * jobs * _BATCH_ROOM and os.access(shm, os.W_OK) else None


def _batch_counts(
    batches: Iterable[pa.RecordBatch],
    typed: list[tuple[str, str]],
    text: list[str],
    pool: ProcessPoolExecutor | None,
    jobs: int,
) -> Iterator[_BatchCounts]:
    """Counts of every batch, in order; with a ``pool`` of ``jobs`` workers, batches go to them.

    At most two batches per worker are in flight, so memory stays bounded however large the
    source is. A batch reaches its worker as an Arrow IPC file in shared memory, which the
    worker maps without a copy: pickled through a pipe, a 65,536-row batch cost the parent and
    the worker ~70 ms each, more than a tenth of what counting it costs.
    """
    offsets = _running_offsets(batches)
    if pool is None:
        for offset, batch in offsets:
            yield _count_batch(batch, typed, text, offset)
        return
    folder_root = _shared_folder(jobs)
    with tempfile.TemporaryDirectory(prefix="leaktrace-scan-", dir=folder_root) as folder:
        pending: deque[Future[_BatchCounts]] = deque()
        for number, (offset, batch) in enumerate(offsets):
            path = os.path.join(folder, f"{number}.arrow")
            _write_batch(path, batch)
            pending.append(pool.submit(_count_batch_file, path, typed, text, offset))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _workers(jobs: int) -> ProcessPoolExecutor | contextlib.nullcontext[None]:
    """A pool of ``jobs`` forked worker processes (none for one job).

    Workers are forked before the parent loads any dictionary: each loads the tables it needs
    from the cache folder (:func:`leaktrace.identifiers._vector.stored`) while the others work,
    and the parent only reads the source. The text engine's compiled loops are loaded first
    (:func:`leaktrace.identifiers._column_text.warm_up`): numba's set-up is paid once, not in
    every worker. So is pyarrow's import of pandas, where pandas is installed: pyarrow imports
    it on its first conversion of a NumPy array (~0.3 s, which each worker paid).
    """
    if jobs <= 1:
        return contextlib.nullcontext()
    _column_text.warm_up()
    pa.array(np.zeros(1, dtype=np.int64))
    return forked_pool(jobs)


def _running_offsets(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    offset = 0
    for batch in batches:
        yield offset, batch
        offset += batch.num_rows


def scan_arrow(
    table: pa.Table,
    *,
    source: str = "<table>",
    full_batches: Iterable[pa.RecordBatch]
    | Callable[[list[str]], Iterable[pa.RecordBatch]]
    | None = None,
    on_rows: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> SourceResult:
    """Scan an in-memory Arrow table; with ``full_batches``, count hits over every batch too.

    The table types the columns (it is the sample); ``full_batches`` (the whole source, which may
    repeat the sample) then recounts every typed column and searches every free-text column,
    in ``jobs`` processes. ``full_batches`` may be a function of the column names that reads
    only those columns: it is called with the typed and free-text ones (at least one column,
    so that rows are still counted).
    """
    result = SourceResult(source=source, rows_scanned=table.num_rows)
    names = table.column_names
    if full_batches is None:
        result.columns = [classify_column(name, table.column(name)) for name in names]
        return result
    # Every batch is searched for findings afterwards: typing needs the kinds only.
    classify = functools.partial(classify_column, findings=False)
    with _workers(jobs) as pool:
        if pool is None:
            result.columns = [classify(name, table.column(name)) for name in names]
        else:  # the sample's columns are typed in the workers too
            result.columns = _typed_in(pool, classify, table)
        _count_full(result, table, full_batches, on_rows, pool, jobs)
    return result


def _typed_in(
    pool: ProcessPoolExecutor, classify: Callable[..., ColumnResult], table: pa.Table
) -> list[ColumnResult]:
    """The table's columns typed by the pool's workers, in the table's order.

    The longest columns go first: free text costs the most to type (every type is tried on
    it), and begun last it would keep one worker busy while the others wait.
    """
    sizes = [pc.sum(pc.binary_length(_vector.as_strings(c))).as_py() or 0 for c in table.columns]
    order = sorted(range(table.num_columns), key=lambda i: -sizes[i])
    typed = pool.map(classify, [table.column_names[i] for i in order], map(table.column, order))
    by_index = dict(zip(order, typed, strict=True))
    return [by_index[i] for i in range(table.num_columns)]


def _count_full(
    result: SourceResult,
    table: pa.Table,
    full_batches: Iterable[pa.RecordBatch] | Callable[[list[str]], Iterable[pa.RecordBatch]],
    on_rows: Callable[[int], None] | None,
    pool: ProcessPoolExecutor | None,
    jobs: int,
) -> None:
    """Recount the typed columns and search the free-text columns of ``result`` over every
    batch (see :func:`scan_arrow`)."""
    result.sampled = False
    typed = {c.name: c for c in result.columns if c.kind == "identifier"}
    text = {c.name: c for c in result.columns if c.kind == "free_text"}
    for column in [*typed.values(), *text.values()]:
        column.rows = column.non_empty = column.hits = column.masked = 0
        column.finding_examples = []
    finding_counts: dict[str, Counter[str]] = {name: Counter() for name in text}
    result.rows_scanned = 0
    typed_names = [(name, c.detected) for name, c in typed.items()]
    if callable(full_batches):
        needed = [name for name in table.column_names if name in typed or name in text]
        full_batches = full_batches(needed or table.column_names[:1])
    for counts in _batch_counts(full_batches, typed_names, list(text), pool, jobs):
        for name, (non_empty, valid, masked) in counts.typed.items():
            column = typed[name]
            column.rows += counts.rows
            column.non_empty += non_empty
            column.hits += valid
            column.masked += masked
        for name, (found, examples) in counts.text.items():
            column = text[name]
            column.rows += counts.rows
            finding_counts[name].update(found)
            room = FINDING_EXAMPLES - len(column.finding_examples)
            column.finding_examples.extend(examples[:room])
        result.rows_scanned += counts.rows
        if on_rows:
            on_rows(counts.rows)
    for name, column in text.items():
        column.findings = dict(finding_counts[name])


def scan_table(
    table: Table,
    *,
    full: bool = False,
    sample_rows: int = SAMPLE_ROWS,
    on_rows: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> SourceResult:
    """Scan one opened source: its first ``sample_rows`` rows, or every row with ``full``."""
    sample = table.sample(sample_rows)
    if sample.num_rows < sample_rows:
        jobs = 1  # the sample is the whole source: workers would cost more than they save
    # Only the columns the full scan counts are read (and sent to workers) again.
    batches = (
        (lambda columns: table.batches(batch_rows=FULL_SCAN_BATCH_ROWS, columns=columns))
        if full
        else None
    )
    result = scan_arrow(
        sample, source=table.source, full_batches=batches, on_rows=on_rows, jobs=jobs
    )
    result.kind = table.kind
    result.bad_rows = getattr(table, "bad_rows", 0)
    return result


def scan(
    sources: Iterable[str],
    *,
    full: bool = False,
    sample_rows: int = SAMPLE_ROWS,
    on_source: Callable[[str, int | None], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    jobs: int | None = None,
) -> Iterator[SourceResult]:
    """Scan files, folders (recursively) and SQL URLs, one :class:`SourceResult` per source.

    A source that cannot be read yields a result with ``error`` set; the others are still scanned.
    Full scans use ``jobs`` processes (default: one per CPU).
    """
    jobs = jobs or os.cpu_count() or 1
    for source in discover(sources):
        try:
            with open_table(source) as table:
                if on_source:
                    on_source(table.source, table.num_rows)
                yield scan_table(
                    table, full=full, sample_rows=sample_rows, on_rows=on_rows, jobs=jobs
                )
        except LeaktraceError as error:
            yield SourceResult(source=source, error=str(error))
