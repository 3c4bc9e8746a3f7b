"""The customer register: keyed tokens of every customer's identifiers, and matching lists to it.

Loading reads any source :mod:`leaktrace.tables` opens, finds the identifier columns (or takes
them from a mapping), normalizes each value (:mod:`leaktrace.identifiers`), and keeps only
tokens (:mod:`leaktrace.keys`):

* one token per identifier — several per customer when a table holds two phones, or an old and
  a new ID number;
* composite tokens of the name with the parts of an identifier that masked lists still show
  (``138****5678 张伟`` → name + 138 + 5678) or with the birth date, so that a masked record
  can still be matched;
* the token of the institution's own customer number, which says which rows are one customer.

Non-identifying segment attributes (branch, products, open date) are kept as they are, for
drawing samples and decoys later. Matching computes the same tokens for the rows of any list
and joins them to the register in DuckDB.
"""

from __future__ import annotations

import datetime
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import keys, scan, store, tables
from leaktrace._pool import default_jobs, ordered_map
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.identifiers import _vector
from leaktrace.identifiers._normalize import masked_parts, normalize_column

# Identifier types a register keeps a token of; the number is the ``kind`` stored with it.
EXACT_KINDS = {
    "resident_id": 1,
    "mobile": 2,
    "bank_card": 3,
    "passport": 4,
    "email": 5,
    "plate": 6,
    "fixed_line": 7,
    "uscc": 8,
}
NAME = "person_name"
BIRTH_DATE = "birth_date"
CUSTOMER_REF = "customer"
REF_KIND = 0  # the kind code of a customer-number token, where kinds are stored with tokens
ROLES = (*EXACT_KINDS, NAME, BIRTH_DATE, "id", "segment", "ignore")


@dataclass(frozen=True, slots=True)
class Composite:
    """A composite token: the name with the first ``head`` and last ``tail`` characters of an
    identifier — what masked forms such as ``138****5678`` or ``110105********002X`` still show.
    """

    kind: str
    code: int
    identifier: str
    head: int
    tail: int


COMPOSITES = (
    Composite("name+mobile3.4", 21, "mobile", 3, 4),
    Composite("name+mobile.4", 22, "mobile", 0, 4),
    Composite("name+id6.4", 23, "resident_id", 6, 4),
    Composite("name+id.4", 24, "resident_id", 0, 4),
    Composite("name+card.4", 25, "bank_card", 0, 4),
)
NAME_BIRTH = ("name+birth", 20)
KIND_NAMES = {
    **{code: kind for kind, code in EXACT_KINDS.items()},
    **{c.code: c.kind for c in COMPOSITES},
    NAME_BIRTH[1]: NAME_BIRTH[0],
}

_ID_HEADERS = {
    "customerid", "custid", "customerno", "custno", "customernumber", "clientid", "clientno",
    "cif", "cifno", "客户号", "客户编号", "客户id", "客户代码", "客户号码", "客户编码", "客户标识",
}  # fmt: skip
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*[-/.月]?\s*(\d{1,2})\s*日?(?:[ T].*)?$")
SAMPLE_ROWS = 2000
AGREEMENT_SAMPLE = 1000  # rows on which a customer-number column is checked
BATCH_ROWS = 100_000


@dataclass
class ColumnMap:
    """Which column of a source holds what: the customer number, identifiers, the birth date,
    and segment attributes. Columns not named here are not read."""

    id_column: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)  # column → identifier type
    birth_date: str | None = None
    segments: list[str] = field(default_factory=list)

    def columns(self) -> list[str]:
        """Every column the map reads, in a stable order."""
        named = [self.id_column, *self.identifiers, self.birth_date, *self.segments]
        return list(dict.fromkeys(c for c in named if c is not None))

    def as_dict(self) -> dict[str, Any]:
        """The map as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What ``customers load`` did."""

    source: str
    rows: int
    rows_without_id: int
    mapping: ColumnMap
    counts: store.LoadCounts
    seconds: float
    unread: str | None = None  # the source's rows that could not be read (tables.Table)

    @property
    def warnings(self) -> list[str]:
        """What the load took that its user should look at: rows it could not read, and (when
        allowed) a customer-number column that names few customers for many rows."""
        found = [] if self.unread is None else [self.unread]
        named = self.counts.customers_new + self.counts.customers_seen
        if (few := _few_customers(self.rows - self.rows_without_id, named)) is not None:
            found.append(
                f"{few} by column {self.mapping.id_column!r}, loaded as asked "
                "(--many-rows-per-customer)"
            )
        return found


# A register's export has a row per customer, or per account (a few per customer): more rows
# than this per customer number, over at least FEW_CUSTOMERS_FROM rows, is not a customer number.
ROWS_PER_CUSTOMER_AT_MOST = 10
FEW_CUSTOMERS_FROM = 100


def _few_customers(numbered: int, named: int) -> str | None:
    """What is wrong when ``numbered`` rows name only ``named`` customers: a sex or branch
    column taken for the customer number merges different people into one customer."""
    if numbered >= FEW_CUSTOMERS_FROM and named * ROWS_PER_CUSTOMER_AT_MOST < numbered:
        return f"{numbered:,} rows named only {named:,} customers"
    return None


@dataclass
class MatchResult:
    """How the rows of a list match the register.

    ``rows_table`` has one row per list row that hit the register: ``row_no``, ``status``
    (``matched`` or ``ambiguous``), ``customer_id``, ``kinds`` (token kinds that hit the
    customer) and ``candidates``.
    """

    source: str
    rows: int
    usable: int  # rows with at least one identifier or composite
    matched: int
    ambiguous: int
    customers: int  # distinct matched customers
    by_kind: dict[str, int]  # matched rows by the strongest kind that matched them
    mapping: ColumnMap
    rows_table: pa.Table
    unread: str | None = None  # the list's rows that could not be read (tables.Table)

    @property
    def unmatched(self) -> int:
        """Rows with identifiers that hit nobody in the register."""
        return self.usable - self.matched - self.ambiguous

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts (no customer ids)."""
        return {
            "source": self.source,
            "rows": self.rows,
            "rows_with_identifiers": self.usable,
            "matched": self.matched,
            "ambiguous": self.ambiguous,
            "unmatched": self.unmatched,
            "customers": self.customers,
            "matched_by": self.by_kind,
            "mapping": self.mapping.as_dict(),
            "warnings": self.warnings,
        }

    @property
    def warnings(self) -> list[str]:
        """What the match could not read of the list."""
        return [] if self.unread is None else [self.unread]


# -- column maps -----------------------------------------------------------------------------


def parse_map(specs: Sequence[str], id_column: str | None = None) -> ColumnMap:
    """A :class:`ColumnMap` from ``column=role`` options (``手机=mobile``, ``网点=segment``).

    Roles are identifier types, ``birth_date``, ``id`` (the customer number), ``segment`` and
    ``ignore``.
    """
    mapping = ColumnMap(id_column=id_column)
    for spec in specs:
        column, sep, role = spec.rpartition("=")
        column, role = column.strip(), role.strip()
        if not sep or not column:
            raise ConfigError(f"--map {spec!r}: write COLUMN=TYPE, e.g. --map 手机号=mobile.")
        if role not in ROLES:
            raise ConfigError(
                f"--map {spec!r}: unknown type {role!r}; use one of {', '.join(ROLES)}."
            )
        _assign(mapping, column, role)
    return mapping


def _assign(mapping: ColumnMap, column: str, role: str) -> None:
    if role == "id":
        mapping.id_column = column
    elif role == BIRTH_DATE:
        mapping.birth_date = column
    elif role == "segment":
        mapping.segments.append(column)
    elif role != "ignore":
        mapping.identifiers[column] = role


def propose_mapping(
    table: tables.Table | pa.Table,
    id_column: str | None = None,
    *,
    classified: Mapping[str, scan.ColumnResult] | None = None,
) -> ColumnMap:
    """The scanner's reading of a source: identifier columns, birth date, customer number and
    low-cardinality segment columns, from a sample of its rows. ``classified`` gives the
    scanner's result per column when the caller has typed the same sample already."""
    sample = (
        table.slice(0, SAMPLE_ROWS) if isinstance(table, pa.Table) else table.sample(SAMPLE_ROWS)
    )
    if sample.num_rows == 0:  # not "no identifier column": there is nothing to tell it by
        source = "the table" if isinstance(table, pa.Table) else table.source
        raise SourceError(f"{source}: the table has no rows; nothing to read.")
    classified = classified or {}
    mapping = ColumnMap(id_column=id_column)
    for name in sample.column_names:
        if name == id_column:
            continue
        if id_column is None and mapping.id_column is None and _is_id_header(name):
            mapping.id_column = name
            continue
        result = classified.get(name) or scan.classify_column(name, sample.column(name))
        if result.kind == "identifier" and result.detected in (*EXACT_KINDS, NAME):
            mapping.identifiers[name] = result.detected
        elif result.detected == BIRTH_DATE and mapping.birth_date is None:
            mapping.birth_date = name
        elif result.kind == "none" and _segment_like(sample.column(name)):
            mapping.segments.append(name)
    return mapping


def _is_id_header(name: str) -> bool:
    folded = re.sub(r"[\s_\-.]", "", unicodedata.normalize("NFKC", name)).lower()
    return folded in _ID_HEADERS


def _segment_like(values: pa.ChunkedArray) -> bool:
    """Few distinct values (a branch, a product), or dates: safe to keep as they are."""
    present = pc.drop_null(_vector.as_strings(values))
    present = present.filter(pc.not_equal(pc.utf8_trim_whitespace(present), ""))
    if len(present) == 0:
        return False
    distinct = len(pc.unique(present))
    if distinct <= max(20, len(present) // 5) and distinct <= 1000:
        return True
    return bool(pc.all(pc.match_substring_regex(present, _DATE.pattern)).as_py())


def check_mapping(mapping: ColumnMap, columns: Sequence[str], source: str, *, load: bool) -> None:
    """Refuse a map that names missing columns or holds nothing to match on."""
    missing = [c for c in mapping.columns() if c not in columns]
    if missing:
        raise ConfigError(
            f"{source}: no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(columns)}."
        )
    if not mapping.identifiers:
        raise ConfigError(
            f"{source}: no identifier column found; name them with --map COLUMN=TYPE "
            f"(types: {', '.join((*EXACT_KINDS, NAME))})."
        )
    if load and mapping.id_column is None:
        raise ConfigError(
            f"{source}: cannot tell which column is the customer number; pass --id-column COLUMN."
        )


# -- tokens of rows --------------------------------------------------------------------------


def row_tokens(key: bytes, batch: pa.RecordBatch | pa.Table, mapping: ColumnMap) -> pa.Table:
    """Every token of every row: a table of ``row`` (index in the batch), ``kind`` (code),
    ``exact`` and ``token``.

    Exact tokens come from valid identifiers; composite tokens from the row's (first) name with
    the head and tail of a full or masked identifier, and with the birth date (from the ID
    number, else the birth-date column).
    """
    pieces: list[tuple[np.ndarray, int, bool, pa.Array]] = []

    def add(code: int, exact: bool, kind: str, values: pa.Array) -> None:
        rows = np.flatnonzero(_vector.to_numpy_bool(pc.is_valid(values)))
        if rows.size:
            kept = values.take(pa.array(rows))
            pieces.append((rows, code, exact, keys.tokens(key, kind, kept)))

    name_columns = [c for c, t in mapping.identifiers.items() if t == NAME]
    names = normalize_column(NAME, batch.column(name_columns[0])) if name_columns else None
    births: list[pa.Array] = []
    for column, kind in mapping.identifiers.items():
        if kind == NAME:
            continue
        full = normalize_column(kind, batch.column(column))
        add(EXACT_KINDS[kind], True, kind, full)
        if names is None:
            continue
        if kind == "resident_id":
            births.append(pc.utf8_slice_codeunits(full, 6, 14))
        masked = masked_parts(kind, batch.column(column))
        heads = pc.struct_field(masked, "head")
        tails = pc.struct_field(masked, "tail")
        for composite in COMPOSITES:
            if composite.identifier != kind:
                continue
            for part in (_part_of_full(full, composite), _part_of_masked(heads, tails, composite)):
                add(composite.code, False, composite.kind, _with_name(names, part))
    if names is not None:
        if mapping.birth_date is not None:
            stated = birth_dates(batch.column(mapping.birth_date))
            # The column adds a token only where it says something the ID number does not.
            for known in births:
                stated = pc.if_else(pc.equal(stated, known), pa.scalar(None, pa.string()), stated)
            births.append(stated)
        for birth in births:
            add(NAME_BIRTH[1], False, NAME_BIRTH[0], _with_name(names, birth))
    if not pieces:
        return pa.table(
            {
                "row": pa.array([], pa.int64()),
                "kind": pa.array([], pa.uint8()),
                "exact": pa.array([], pa.bool_()),
                "token": pa.array([], pa.binary(keys.TOKEN_BYTES)),
            }
        )
    return pa.table(
        {
            "row": pa.array(np.concatenate([rows for rows, *_ in pieces])),
            "kind": pa.array(
                np.concatenate([np.full(r.size, code, np.uint8) for r, code, _, _ in pieces])
            ),
            "exact": pa.array(np.concatenate([np.full(r.size, e) for r, _, e, _ in pieces])),
            "token": pa.concat_arrays([t for *_, t in pieces]),
        }
    )


def _part_of_full(full: pa.Array, composite: Composite) -> pa.Array:
    tail = pc.utf8_slice_codeunits(full, -composite.tail)
    head = pc.utf8_slice_codeunits(full, 0, composite.head)
    return pc.binary_join_element_wise(head, tail, "|")


def _part_of_masked(heads: pa.Array, tails: pa.Array, composite: Composite) -> pa.Array:
    """The composite part of masked values that show enough of their head and tail."""
    enough = pc.and_(
        pc.greater_equal(pc.utf8_length(heads), composite.head),
        pc.greater_equal(pc.utf8_length(tails), composite.tail),
    )
    part = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(heads, 0, composite.head),
        pc.utf8_slice_codeunits(tails, -composite.tail),
        "|",
    )
    return pc.if_else(enough, part, pa.nulls(len(heads), pa.string()))


def _with_name(names: pa.Array, part: pa.Array) -> pa.Array:
    """``name ‖ 0x1f ‖ part`` (null when either is null)."""
    return pc.binary_join_element_wise(names, part, "\x1f")


def birth_dates(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Dates as ``YYYYMMDD`` (``1990-1-5``, ``1990/01/05``, ``1990年1月5日``, ``19900105``)."""
    strings = _vector.fold(values)
    parts = pc.extract_regex(strings, r"^(?P<y>\d{4})[-/.年]?(?P<m>\d{1,2})[-/.月]?(?P<d>\d{1,2})")
    year = pc.struct_field(parts, "y")
    month = pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0")
    day = pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0")
    return pc.binary_join_element_wise(year, month, day, "")


def customer_refs(key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Tokens of the institution's customer numbers (NFKC, trimmed; empty → null)."""
    folded = _vector.fold(values)
    folded = pc.if_else(pc.equal(folded, ""), pa.nulls(len(folded), pa.string()), folded)
    return keys.tokens(key, CUSTOMER_REF, folded)


def register_ids(
    workspace: store.Workspace, numbers: pa.Array | Sequence[str | None]
) -> list[int | None]:
    """The register ids of the institution's customer numbers (None where not registered)."""
    refs = customer_refs(workspace.keyring.key("match"), pa.array(numbers, pa.string()))
    return store.ids_for_refs(workspace.db, refs)


def _load_batch(key: bytes, batch: pa.RecordBatch, mapping: ColumnMap) -> tuple[pa.Table, pa.Table]:
    """One batch of a load, as staged: (customer refs, row numbers in the batch and segment
    values) and (ref, kind, token) of every token."""
    refs = customer_refs(key, batch.column(mapping.id_column))
    staged_customers = pa.table(
        {
            "ref": refs,
            "row_no": pa.array(np.arange(len(refs), dtype=np.int64)),
            **{
                f"s{i}": _vector.as_strings(batch.column(name))
                for i, name in enumerate(mapping.segments)
            },
        }
    )
    found = row_tokens(key, batch, mapping)
    token_refs = refs.take(found.column("row"))
    staged_tokens = pa.table(
        {"ref": token_refs, "kind": found.column("kind"), "token": found.column("token")}
    ).filter(pc.is_valid(token_refs))
    return staged_customers, staged_tokens


def _match_batch(
    key: bytes, batch: pa.RecordBatch | pa.Table, mapping: ColumnMap
) -> tuple[pa.Table, int]:
    return row_tokens(key, batch, mapping), batch.num_rows


# -- load and match --------------------------------------------------------------------------


def load(
    workspace: store.Workspace,
    source: str,
    mapping: ColumnMap | None = None,
    *,
    on_start: Callable[[int | None], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
    jobs: int | None = None,
    many_rows_per_customer: bool = False,
) -> LoadResult:
    """Load (or re-load) customers from ``source`` into the register of ``workspace``.

    All of it lands in one transaction, or none of it. Without ``mapping`` the scanner's
    :func:`propose_mapping` is used. Tokens are computed in ``jobs`` worker processes
    (default: one per CPU). A customer-number column that names fewer customers than one per
    :data:`ROWS_PER_CUSTOMER_AT_MOST` rows is refused (:class:`ConfigError`, nothing loaded)
    unless ``many_rows_per_customer``, which loads it with a warning.
    """
    jobs = default_jobs() if jobs is None else jobs
    started_clock = time.perf_counter()
    started = datetime.datetime.now(datetime.UTC)
    key = workspace.keyring.key("match")
    with tables.open_table(source) as table:
        mapping = mapping or propose_mapping(table)
        check_mapping(mapping, table.columns, table.source, load=True)
        if on_start is not None:
            on_start(table.num_rows)
        loader = store.RegisterLoad(workspace, mapping.segments)
        try:
            rows = without_id = 0
            batches = table.batches(batch_rows, columns=mapping.columns())
            work = ((key, batch, mapping) for batch in batches)
            for staged_customers, staged_tokens in ordered_map(_load_batch, work, jobs):
                staged_customers = staged_customers.set_column(
                    1, "row_no", pc.add(staged_customers.column("row_no"), rows)
                )
                has_ref = pc.is_valid(staged_customers.column("ref"))
                loader.add(staged_customers.filter(has_ref), staged_tokens)
                read = len(staged_customers)
                without_id += staged_customers.column("ref").null_count
                rows += read
                if on_rows is not None:
                    on_rows(read)
            if rows == 0:
                raise SourceError(f"{table.source}: the table has no rows; nothing was loaded.")
            if without_id == rows:
                raise SourceError(
                    f"{table.source}: column {mapping.id_column!r} is empty in every row; name "
                    "the customer-number column with --id-column."
                )
            numbered = rows - without_id

            def refuse_few(named: int) -> None:
                few = _few_customers(numbered, named)
                if few is not None and not many_rows_per_customer:
                    raise ConfigError(
                        f"{table.source}: {few} by column {mapping.id_column!r}; if it is not "
                        "the customer number, different people would be merged into one "
                        "customer. Nothing was loaded: name the customer number with "
                        "--id-column, or pass --many-rows-per-customer if the rows are "
                        "accounts or transactions of fewer customers."
                    )

            counts = loader.finish(table.source, started, rows, mapping.as_dict(), refuse_few)
        except BaseException:
            loader.rollback()
            raise
    return LoadResult(
        source=table.source,
        rows=rows,
        rows_without_id=without_id,
        mapping=mapping,
        counts=counts,
        seconds=time.perf_counter() - started_clock,
        unread=table.unread_note(),
    )


def match(
    workspace: store.Workspace,
    source: str,
    mapping: ColumnMap | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
    jobs: int | None = None,
) -> MatchResult:
    """Match the rows of any list to the register: by which identifier, and which are ambiguous.

    Tokens are computed in ``jobs`` worker processes (default: one per CPU); the join runs in
    DuckDB (:func:`store.match_tokens`).
    """
    with tables.open_table(source) as table:
        mapping = mapping or propose_mapping(table)
        mapping.id_column = None
        mapping.segments = []
        check_mapping(mapping, table.columns, table.source, load=False)
        batches = table.batches(batch_rows, columns=mapping.columns())
        result = match_batches(workspace, batches, mapping, table.source, jobs=jobs)
        result.unread = table.unread_note()
        return result


def match_batches(
    workspace: store.Workspace,
    batches: Iterable[pa.RecordBatch | pa.Table],
    mapping: ColumnMap,
    source: str = "<table>",
    *,
    jobs: int | None = None,
) -> MatchResult:
    """:func:`match` over batches already read (rows numbered across them from 0)."""
    jobs = default_jobs() if jobs is None else jobs
    key = workspace.keyring.key("match")
    probes = []
    rows = 0
    work = ((key, batch, mapping) for batch in batches)
    for found, read in ordered_map(_match_batch, work, jobs):
        probes.append(found.set_column(0, "row_no", pc.add(found.column("row"), rows)))
        rows += read
    if rows == 0:
        raise SourceError(f"{source}: the list has no rows; nothing to match.")
    probe = pa.concat_tables(probes)
    usable = len(pc.unique(probe.column("row_no")))
    result = store.match_tokens(workspace.db, probe)
    status = result.column("status")
    matched = result.filter(pc.equal(status, "matched"))
    by_kind = Counter(_strongest(kinds) for kinds in matched.column("kinds").to_pylist())
    return MatchResult(
        source=source,
        rows=rows,
        usable=usable,
        matched=len(matched),
        ambiguous=len(result) - len(matched),
        customers=len(pc.unique(matched.column("customer_id"))),
        by_kind=dict(by_kind.most_common()),
        mapping=mapping,
        rows_table=result,
    )


def row_owners(
    workspace: store.Workspace, table: pa.Table, mapping: ColumnMap, *, check_numbers: bool = True
) -> pa.Array:
    """The register id of each row's customer: null for rows that match nobody, or several.

    A customer-number column (``mapping.id_column``) is the quick way: one token per row. It is
    trusted only where the identifiers of a sample of its rows name the same customers (a
    column of another system's numbers would otherwise name the wrong ones; pass
    ``check_numbers=False`` for batches of a table whose first batch :func:`numbers_agree`
    with); rows it leaves unknown are matched by their identifiers.
    """
    owners = np.full(table.num_rows, -1, dtype=np.int64)
    identifiers = ColumnMap(identifiers=mapping.identifiers, birth_date=mapping.birth_date)
    if mapping.id_column is not None and table.num_rows:
        refs = customer_refs(workspace.keyring.key("match"), table.column(mapping.id_column))
        numbered = np.array(store.ids_for_refs(workspace.db, refs), dtype=np.float64)
        numbered = np.nan_to_num(numbered, nan=-1).astype(np.int64)
        if not check_numbers or numbers_agree(workspace, table, mapping, numbered):
            owners = numbered
    todo = np.flatnonzero(owners < 0)
    if identifiers.identifiers and todo.size:
        batch = table.select(identifiers.columns()).take(pa.array(todo))
        owners[todo] = _owners_by_identifiers(workspace, batch, identifiers)
    return pa.array(owners, mask=owners < 0)


def _owners_by_identifiers(
    workspace: store.Workspace, batch: pa.Table, identifiers: ColumnMap
) -> np.ndarray:
    matched = match_batches(
        workspace, [batch], identifiers, jobs=1 if len(batch) < 50_000 else None
    )
    return owners_of_matches(matched.rows_table, batch.num_rows)


def owners_of_matches(rows: pa.Table, num_rows: int) -> np.ndarray:
    """The register id of each of ``num_rows`` rows from what :func:`store.match_tokens`
    tells of them (``row_no``, ``status``, ``customer_id``); -1 for rows that match nobody,
    or several."""
    owners = np.full(num_rows, -1, dtype=np.int64)
    matched = rows.filter(pc.equal(rows.column("status"), "matched"))
    owners[matched.column("row_no").to_numpy()] = matched.column("customer_id").to_numpy()
    return owners


def numbers_agree(
    workspace: store.Workspace,
    table: pa.Table,
    mapping: ColumnMap,
    numbered: np.ndarray | None = None,
    *,
    held_owners: Callable[[pa.Array, int], np.ndarray | None] | None = None,
) -> bool:
    """Whether the customers that ``table``'s customer-number column names (``numbered``: their
    register ids, -1 for none) are the ones the rows' identifiers name, on a sample of the rows
    both resolve (99% of them; a column no identifier can check is trusted only when there are
    no identifier columns at all).

    ``held_owners(tokens, kind code)``, where the caller holds the register's tokens of a kind
    in memory, names each row's customer by its first exact identifier alone (the register id
    of each token, -1 for none; None for a kind it does not hold) instead of a join over the
    whole register."""
    if mapping.id_column is None:
        return False
    if numbered is None:
        refs = customer_refs(workspace.keyring.key("match"), table.column(mapping.id_column))
        numbered = np.array(store.ids_for_refs(workspace.db, refs), dtype=np.float64)
        numbered = np.nan_to_num(numbered, nan=-1).astype(np.int64)
    identifiers = ColumnMap(identifiers=mapping.identifiers, birth_date=mapping.birth_date)
    known = np.flatnonzero(numbered >= 0)
    if known.size == 0:
        return False
    if not identifiers.identifiers:
        return True
    sample = known[:: max(1, known.size // AGREEMENT_SAMPLE)][:AGREEMENT_SAMPLE]
    batch = table.select(identifiers.columns()).take(pa.array(sample))
    by_identifiers = None
    if held_owners is not None:
        by_identifiers = _owners_by_held(workspace, batch, identifiers, held_owners)
    if by_identifiers is None:
        by_identifiers = _owners_by_identifiers(workspace, batch, identifiers)
    both = by_identifiers >= 0
    return bool(both.any()) and np.mean(by_identifiers[both] == numbered[sample][both]) >= 0.99


def _owners_by_held(
    workspace: store.Workspace,
    batch: pa.Table,
    identifiers: ColumnMap,
    held_owners: Callable[[pa.Array, int], np.ndarray | None],
) -> np.ndarray | None:
    """Each row's customer by its first exact identifier (in :data:`EXACT_KINDS` order) that
    ``held_owners`` answers for and that names anyone; None when none does (a masked ID
    column, say: the join, with its composite tokens, may still name them)."""
    by_kind = {kind: column for column, kind in reversed(identifiers.identifiers.items())}
    key = workspace.keyring.key("match")
    for kind, code in EXACT_KINDS.items():
        if kind not in by_kind:
            continue
        tokens = keys.tokens(key, kind, normalize_column(kind, batch.column(by_kind[kind])))
        owners = held_owners(tokens, code)
        if owners is not None and (owners >= 0).any():
            return owners
    return None


def record_tokens(owners: pa.Array) -> pa.Array:
    """What keyed marks are keyed on per row: the customer's register id as 16 bytes (the mark
    key makes the choice secret, so the id itself need not be); null for rows of no customer."""
    ids = pc.fill_null(owners, 0).to_numpy().astype(">u8")
    raw = np.zeros((len(ids), 16), np.uint8)
    raw[:, 8:] = ids.view(np.uint8).reshape(-1, 8)
    tokens = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(ids), [None, pa.py_buffer(raw.tobytes())]
    )
    return pc.if_else(pc.is_valid(owners), tokens, pa.scalar(None, pa.binary(16)))


def _strongest(kinds: list[int]) -> str:
    """The kind that best explains a match: an exact identifier (lowest code), else a composite."""
    return KIND_NAMES[min(kinds)]
