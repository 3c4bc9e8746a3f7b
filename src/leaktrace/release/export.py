"""``leaktrace export``: a unique, recorded copy of a table for one recipient.

One export:

1. with ``sample``, reads the columns that say who each row is, matches them to the register
   and keeps N customers of the segment chosen for this recipient (:mod:`.subset`: the least
   released first, then a keyed order);
2. reads the source batch by batch (memory bounded by a batch, ``BATCH_ROWS``): matches each
   batch's rows to the register (which customers the copy holds; a customer-number column is
   used when its first batch agrees with the identifiers), puts keyed marks into the fields the
   policy names (:mod:`.marks`), masks the identifier types the policy masks, mixes in decoy
   customers made from that batch at keyed positions (:mod:`.decoys`) and writes the batch;
3. records the release — recipient, role, purpose, approver, rows, the customers it holds, the
   decoys' tokens, the file's SHA-256, the policy — with a ledger entry.

A release is recorded ``pending`` before its file is written and ``complete``, with its
customers and its ledger entry, in one transaction committed once the file is whole; the file
is renamed into place last. An export killed at any point is found by :func:`recover` at the
next export or ledger command: a release with a ledger entry gets its file (checked against
the recorded SHA-256), one without is aborted and its partial file removed — never an entry
without a file or a file without an entry.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import attributes, customers, identifiers, keys, ledger, scan, store, tables
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.identifiers import _vector
from leaktrace.release import decoys as decoy_rows
from leaktrace.release import marks as keyed_marks
from leaktrace.release import pipeline, subset, writers
from leaktrace.release.held import HeldNumbers, HeldTokens
from leaktrace.release.policy import DEFAULT_ROLE, Policy, policy_for

BATCH_ROWS = 62_500  # rows marked, mixed with decoys and written at a time (memory)
# Batches read ahead: the reader fills them while this thread types the columns (a 10^6-row
# export read 1 batch of 125,000 rows ahead in 4.7 s, 4 of 62,500 in 4.5 s, 80 MB less peak).
READ_AHEAD = 4
NUMBERED_AHEAD = 2  # batches numbered ahead, in a thread of their own
MARK_AHEAD = True  # False: every batch marked in the exporting thread (the tests' serial oracle)


@dataclass(frozen=True, slots=True)
class Release:
    """A finished export, as recorded."""

    release_id: str
    recipient: str
    role: str
    purpose: str
    approver: str | None
    output: str
    rows: int
    decoys: int
    customers: int
    marked_fields: dict[str, str]
    output_sha256: str
    ledger_seq: int
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {name: getattr(self, name) for name in self.__slots__}


def _header_says(name: str, kind: str) -> bool:
    """Whether a column's header names ``kind`` (the scanner's strongest header hint)."""
    return dict(attributes.header_hint(name)).get(kind, 0.0) >= 0.9


def parse_segment(text: str | None) -> dict[str, str]:
    """``branch_code=43021103,city=株洲市`` → ``{"branch_code": "43021103", "city": "株洲市"}``."""
    conditions: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--segment {text!r}: write ATTRIBUTE=VALUE[,ATTRIBUTE=VALUE…].")
        conditions[name.strip()] = value.strip()
    return conditions


def export(
    workspace: store.Workspace,
    source: str,
    output: str | os.PathLike[str],
    *,
    recipient: str,
    purpose: str,
    role: str = DEFAULT_ROLE,
    approver: str | None = None,
    sample: int | None = None,
    segment: str | None = None,
) -> Release:
    """Export ``source`` to ``output`` for ``recipient`` (see the module docstring)."""
    if not recipient.strip() or not purpose.strip():
        raise ConfigError("Name the recipient (--to) and the purpose (--purpose) of the release.")
    out, writer = writers.new_output(output)
    policy = policy_for(workspace.config, role)
    conditions = parse_segment(segment)
    if conditions and sample is None:
        raise ConfigError("--segment needs --sample N: the number of customers to release.")
    recover(workspace)
    with (
        pipeline.bounded_memory(),
        tables.open_table(source) as opened,
        contextlib.ExitStack() as stack,
    ):
        # Without a sample to choose first, reading starts now, while the columns are typed.
        ahead = numbers = None
        if sample is None:
            ahead = stack.enter_context(
                pipeline.ReadAhead(opened.batches(BATCH_ROWS), depth=READ_AHEAD)
            )
            numbers = stack.enter_context(HeldNumbers(workspace.db))
        # Read now, in a thread: decoys always ask about ID numbers, and the check of a
        # customer-number column names the rows' customers by theirs.
        held = stack.enter_context(contextlib.closing(HeldTokens(workspace.db, numbers)))
        asked = {"resident_id"}
        if ahead is not None and "decoys" in policy.channels:
            # What the decoys will ask about, where the headers tell: read after the typing
            # below (which names the decoys' column roles), it came late for the first batch.
            asked.add("customer_id")  # the decoys' numbers only: the register's are held
            if any(_header_says(name, "bank_card") for name in opened.schema.names):
                asked.add("bank_card")
        held.read_ahead(_kind_codes(asked))
        marking = None
        if MARK_AHEAD:
            marking = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="marks"))
        if "marks" in policy.channels:
            # numba's load (~0.3 s of Python) before the columns are typed, not beside them in
            # the marking thread: the two no longer take turns at the interpreter, and the
            # typing then runs the compiled loops (0.2 against 0.3 s in NumPy).
            keyed_marks.warm_up()
            scan.use_compiled_loops()
        # One typing pass serves the mapping, the mark fields and the decoys' column roles;
        # none of them treats free text otherwise than an untyped column. The head is the
        # read-ahead's first batch where there is one: a second pass over the source would
        # also count its unreadable rows into the same table's tally.
        if ahead is None:
            head = opened.sample(customers.SAMPLE_ROWS)
        else:
            first = ahead.peek()
            head = pa.Table.from_batches(
                [] if first is None else [first.slice(0, customers.SAMPLE_ROWS)], opened.schema
            )
        if head.num_rows == 0:
            raise SourceError(f"{opened.source}: the table has no rows; nothing to release.")
        classified = {
            n: scan.classify_column(n, head.column(n), free_text=False) for n in head.column_names
        }
        detected = {name: result.detected for name, result in classified.items()}
        if ahead is not None and "decoys" in policy.channels:
            # The kinds the decoys will ask the register about, read now, while the first
            # batch is numbered and marked, not once it comes to its decoys (the roles are
            # judged by a batch's first rows, which the head is).
            roles = decoy_rows.column_roles(head, detected=detected)
            held.read_ahead(_kind_codes(decoy_rows.asked_kinds(roles)))
        mapping = customers.propose_mapping(head, classified=classified)
        mapping.segments = []
        # The fields to mark, from the head (a policy's field the table lacks: refused now).
        fields = _mark_fields(head, policy, detected)
        owners = chosen = None
        if sample is not None:
            owners, chosen = _sample(workspace, opened, mapping, recipient, sample, conditions)
        release_id = store.next_release_id(workspace.db)
        partial = out.with_name(f".{out.name}.{release_id}.partial")
        described = {
            "release_id": release_id,
            "recipient": recipient,
            "role": role,
            "purpose": purpose,
            "approver": approver,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": opened.source,
            "output": str(out),
        }
        with workspace.transaction():
            store.insert_release(
                workspace.db, {**described, "status": "pending", "partial": str(partial)}
            )
        try:
            # The release's record is one transaction, begun now and committed once its file is
            # whole: its customers go in while the last batches are written.
            with workspace.transaction():
                written = _write_release(
                    workspace,
                    opened,
                    mapping,
                    policy,
                    release_id,
                    (owners, chosen),
                    detected,
                    fields,
                    writer.open(partial, encoding=opened.encoding),
                    held,
                    ahead,
                    marking,
                )
                release = _record(
                    workspace, described, written, policy, mapping, fields, opened,
                    (sample, chosen, conditions),
                )  # fmt: skip
        except BaseException:
            abort(workspace, release_id, partial, str(out))
            raise
    os.replace(partial, out)
    return release


def _record(
    workspace: store.Workspace,
    described: dict[str, Any],
    written: _Written,
    policy: Policy,
    mapping: customers.ColumnMap,
    fields: dict[str, str],
    opened: tables.Table,
    request: tuple[int | None, pa.Array | None, dict[str, str]],
) -> Release:
    """The release's ledger entry and its record completed (in the caller's transaction)."""
    sample, chosen, conditions = request
    real_rows = written.rows - written.decoys
    unowned = real_rows - written.owned_rows  # rows that name no customer of the register
    notes = [note for note in [opened.unread_note()] if note is not None]
    if chosen is not None and sample is not None and len(chosen) < sample:
        notes.append(
            f"--sample {sample:,} asked for more customers than the source holds"
            f"{' in the segment' if conditions else ''}: all {len(chosen):,} were released"
        )
    if unowned:
        notes.append(
            f"{unowned:,} of {real_rows:,} rows name no customer of the register: they are not "
            "recorded among the release's customers and carry no keyed marks, so only decoys "
            "can trace a leak of them; load the source with `leaktrace customers load` first"
        )
    body = {
        **described,
        "output_sha256": written.sha256,
        "rows": written.rows,
        "decoys": written.decoys,
        "customers": written.customers,
        "members_sha256": written.members_sha256,
        "source_rows_unread": opened.bad_rows,
        "rows_without_customer": unowned,
        "marked_fields": fields,
        "policy": policy.as_dict(),
        "request": {"sample": sample, "segment": conditions},
        "key_version": workspace.keyring.version,
    }
    entry = ledger.append(workspace, "release", body)
    store.update_release(
        workspace.db,
        described["release_id"],
        status="complete",
        rows=body["rows"],
        decoys=body["decoys"],
        customers=body["customers"],
        output_sha256=written.sha256,
        ledger_seq=entry.seq,
    )
    return Release(
        release_id=described["release_id"],
        recipient=described["recipient"],
        role=described["role"],
        purpose=described["purpose"],
        approver=described["approver"],
        output=described["output"],
        rows=body["rows"],
        decoys=body["decoys"],
        customers=body["customers"],
        marked_fields=fields,
        output_sha256=written.sha256,
        ledger_seq=entry.seq,
        warnings=_warnings(policy, mapping, written.decoys, notes),
    )


def recover(workspace: store.Workspace) -> list[str]:
    """Finish or undo exports that were interrupted; one message per release put right."""
    messages = []
    for release in store.releases(workspace.db):
        partial, out = Path(release["partial"]), Path(release["output"])
        if release["status"] == "complete" and partial.exists() and not out.exists():
            if writers.sha256(partial) == release["output_sha256"]:
                os.replace(partial, out)
                messages.append(
                    f"{release['release_id']}: the export was interrupted after it was recorded; "
                    f"its file is now in place ({out})."
                )
            else:
                partial.unlink()
                messages.append(
                    f"{release['release_id']}: the export was interrupted and its file does not "
                    "match the ledger; export it again."
                )
        elif release["status"] == "pending":
            abort(workspace, release["release_id"], partial, release["output"])
            messages.append(
                f"{release['release_id']}: an export to {out} was interrupted before it was "
                "recorded; its partial file was removed and the release marked aborted."
            )
    return messages


def abort(workspace: store.Workspace, release_id: str, partial: Path, output: str) -> None:
    """Remove a release's partial file, mark it aborted and say so in the ledger."""
    partial.unlink(missing_ok=True)
    with workspace.transaction():
        store.update_release(workspace.db, release_id, status="aborted")
        ledger.append(workspace, "release_aborted", {"release_id": release_id, "output": output})


def _sample(
    workspace: store.Workspace,
    opened: tables.Table,
    mapping: customers.ColumnMap,
    recipient: str,
    count: int,
    conditions: dict[str, str],
) -> tuple[np.ndarray, pa.Array]:
    """Every row's customer (-1: none), in a first pass over the columns that say who it is,
    and the ``count`` customers of the segment chosen for ``recipient``."""
    owners = np.concatenate(
        [
            customers.row_owners(workspace, pa.Table.from_batches([batch]), mapping)
            .fill_null(-1)
            .to_numpy()
            for batch in opened.batches(BATCH_ROWS, columns=mapping.columns())
        ]
    )
    present = _vector.distinct(owners[owners >= 0]).tolist()
    if conditions:
        allowed = store.segment_members(workspace.db, conditions)
        present = [c for c in present if c in allowed]
    if not present:
        known = store.segment_attributes(workspace.db)
        if unknown := [name for name in conditions if name not in known]:
            raise ConfigError(
                f"--segment: no customer of the register has the attribute {unknown[0]!r}; the "
                f"attributes loaded are {', '.join(known) or 'none'}."
            )
        raise ConfigError(
            "No customer of the register in this source matches the segment; check --segment "
            "against the segment attributes loaded with `leaktrace customers load`."
        )
    already = store.times_released(workspace.db, present)
    chosen = subset.allocate(workspace.keyring.key("subset"), recipient, present, count, already)
    return owners, pa.array(chosen, pa.int64())


@dataclass(frozen=True, slots=True)
class _Written:
    """What :func:`_write_release` put in the file, and recorded of it."""

    rows: int
    owned_rows: int  # real rows that name a customer of the register
    customers: int  # distinct customers among them
    members_sha256: str  # of their register ids (:func:`_members_summary`)
    decoys: int
    sha256: str


def _write_release(
    workspace: store.Workspace,
    opened: tables.Table,
    mapping: customers.ColumnMap,
    policy: Policy,
    release_id: str,
    sampled: tuple[np.ndarray | None, pa.Array | None],
    detected: dict[str, str | None],
    fields: dict[str, str],
    sink: writers.Sink,
    held: HeldTokens,
    ahead: pipeline.ReadAhead | None = None,
    marking: ThreadPoolExecutor | None = None,
) -> _Written:
    """Mark, mask and mix decoys into the source batch by batch, writing each to ``sink``.

    Decoys are made per batch, from that batch's rows and at keyed positions within it, so a
    large source needs no more memory than a few batches; marks and masks are per row anyway.
    A batch is marked and masked in a thread (``marking``; the compiled loops, NumPy and Arrow
    release the GIL) while the batch before it gets its decoys, which need the register and
    the decoys made before them, so they stay in order in this thread; without ``marking``,
    every batch is marked here. ``held`` answers the register's questions in memory (the
    caller closes it); its ``numbers`` number the rows by their customer numbers (None for a
    sample, whose rows are numbered already). Once the last batch is mixed, the release's
    customers and its decoys' tokens go into the workspace, in the caller's transaction, while
    the writing thread writes the last batches.
    """
    ring = workspace.keyring
    all_owners, chosen = sampled
    batches = ahead or pipeline.ReadAhead(opened.batches(BATCH_ROWS))
    id_column = None if all_owners is not None else mapping.id_column
    stream = pipeline.ReadAhead(
        pipeline.numbered(workspace, batches, id_column, held.numbers), NUMBERED_AHEAD, "numbers"
    )
    offset = 0
    pending: tuple[int, Future[pa.Table], pa.Array] | None = None
    mixer = _Mixer(workspace, release_id, policy, held)
    with (
        batches,
        stream,
        writers.Background(sink) as out,
    ):
        for index, (batch, numbered) in enumerate(stream):
            table = pa.Table.from_batches([batch])
            if index == 0:
                if not customers.numbers_agree(
                    workspace, table, mapping, numbered, held_owners=held.owners
                ):
                    mapping.id_column = None
                mixer.start(table, detected)
            if all_owners is None:
                trusted = numbered if mapping.id_column is not None else None
                owners = pipeline.owners(workspace, table, mapping, trusted)
            else:
                part = all_owners[offset : offset + table.num_rows]
                owners = pa.array(part, mask=part < 0)
                keep = pc.fill_null(pc.is_in(owners, chosen), False)
                table, owners = table.filter(keep), owners.filter(keep)
            offset += batch.num_rows
            job = (ring.key("mark"), release_id, owners, table, fields, mapping, policy)
            prepared = marking.submit(_prepared, *job) if marking else _done(_prepared(*job))
            if pending is not None:
                mixer.write(out, *pending)
            pending = (index, prepared, owners)
        if pending is not None:
            mixer.write(out, *pending)
        recorded = mixer.record()  # while the writing thread writes the last batches
    return recorded(sha256=sink.sha256)


def _done(table: pa.Table) -> Future[pa.Table]:
    future: Future[pa.Table] = Future()
    future.set_result(table)
    return future


def _prepared(
    key: bytes,
    release_id: str,
    owners: pa.Array,
    table: pa.Table,
    fields: dict[str, str],
    mapping: customers.ColumnMap,
    policy: Policy,
) -> pa.Table:
    """One batch with its keyed marks and masks (what runs in the marking thread)."""
    if fields:
        records = customers.record_tokens(owners)
        table = keyed_marks.mark_table(key, release_id, records, table, fields, check=False)
    return _mask(table, mapping, policy)


class _Mixer:
    """Decoys mixed into marked batches, in order, and what was written: decoys of a batch are
    unique in the release (``given``: identifiers handed out before) and their customer numbers
    extend the ranges later decoys draw from, so batches pass through one after the other."""

    def __init__(
        self,
        workspace: store.Workspace,
        release_id: str,
        policy: Policy,
        held: HeldTokens,
    ) -> None:
        self.workspace = workspace
        self.release_id = release_id
        self.policy = policy
        self.key = workspace.keyring.key("decoy")
        self.given: dict[str, set[str]] = {}  # decoy identifiers of earlier batches
        self.taken = RegisterCheck(workspace, self.given, held)
        self.roles: dict[str, str] = {}
        self.codes: dict[str, decoy_rows.CodeRange] = {}
        self.members: list[pa.Array] = [pa.array([], pa.int64())]
        self.decoys = [decoy_tokens(workspace, None, 0)]
        self.rows = self.decoy_count = 0

    def start(self, table: pa.Table, detected: dict[str, str | None]) -> None:
        """The decoys' column roles and code ranges, from the first (unmarked) batch."""
        self.roles = decoy_rows.column_roles(table, detected=detected)
        self.taken.read_ahead(decoy_rows.asked_kinds(self.roles))
        self.codes = {
            c: decoy_rows.CodeRange.of(table, c) for c, r in self.roles.items() if r == "code"
        }

    def write(
        self, out: writers.Background, index: int, prepared: Future[pa.Table], owners: pa.Array
    ) -> None:
        """Batch ``index`` (marked and masked once ``prepared`` is done) with its decoys, to
        ``out``."""
        table = prepared.result()
        batch_id = f"{self.release_id}/{index}"
        made = _decoys(self.key, batch_id, table, self.policy, self.taken, self.roles, self.codes)
        self.rows += table.num_rows
        self.members.append(pc.drop_null(owners))
        if made is None:
            out.write(table)
            return
        at = decoy_rows.positions(self.key, batch_id, table.num_rows, made.table.num_rows)
        # The interleaving gather (Arrow, without the GIL) runs in the writing thread.
        out.write(functools.partial(decoy_rows.interleave, table, made.table, at))
        self.rows += made.table.num_rows
        made_ids = made.identifiers
        # A few thousand pairs: a Python pass, where Arrow's group_by cost 3 ms a batch and
        # its engine's import 19 ms at the first.
        kinds, values = made_ids["type"].to_pylist(), made_ids["value"].to_pylist()
        for kind, value in zip(kinds, values, strict=True):
            self.given.setdefault(kind, set()).add(value)
        numbers = made_ids.filter(pc.equal(made_ids["type"], "customer_id"))["value"]
        for known in self.codes.values():
            known.include(_vector.flat(numbers))
        self.decoys.append(decoy_tokens(self.workspace, made, self.decoy_count))
        self.decoy_count += made.table.num_rows

    def record(self) -> Callable[[str], _Written]:
        """The release's customers and its decoys' tokens into the workspace (in the caller's
        transaction), once the last batch is mixed; what was written, given the file's
        SHA-256 once it is closed."""
        owned = pa.concat_arrays(self.members)
        ids, digest = _members_summary(owned)
        store.add_release_members(
            self.workspace.db, self.release_id, pa.array(ids), pa.concat_tables(self.decoys)
        )
        return functools.partial(
            _Written,
            rows=self.rows,
            owned_rows=len(owned),
            customers=int(ids.size),
            members_sha256=digest,
            decoys=self.decoy_count,
        )


def _mark_fields(
    table: pa.Table, policy: Policy, detected: dict[str, str | None]
) -> dict[str, str]:
    if "marks" not in policy.channels:
        return {}
    if policy.marks is None:
        return keyed_marks.suggest_fields(table, detected=detected)
    suggested = keyed_marks.suggest_fields(
        table.select([f for f in policy.marks if f in table.column_names]), detected=detected
    )
    missing = [f for f in policy.marks if f not in suggested]
    if missing:
        raise ConfigError(
            f"Policy {policy.role!r} marks {missing[0]!r}, which this table does not have or no "
            "mark rule accepts."
        )
    return suggested


def _mask(table: pa.Table, mapping: customers.ColumnMap, policy: Policy) -> pa.Table:
    for column, kind in mapping.identifiers.items():
        if kind not in policy.mask:
            continue
        module = identifiers.get(kind)
        values = table.column(column).to_pylist()
        masked = pa.array([None if v is None else module.mask(str(v)) for v in values], pa.string())
        index = table.column_names.index(column)
        table = table.set_column(index, pa.field(column, pa.string()), masked)
    return table


class RegisterCheck:
    """Which customer numbers or identifiers belong to registered customers, to decoys made
    before (so that no decoy takes them, and each decoy names one release), or to ``given``
    (kind → values handed out earlier in this release). Call it with (kind, values), or ask
    :meth:`many` kinds at once: one pass over the register for all of them."""

    def __init__(
        self,
        workspace: store.Workspace,
        given: dict[str, set[str]] | None = None,
        held: HeldTokens | None = None,
    ):
        self.workspace = workspace
        self.key = workspace.keyring.key("match")
        self.given = given if given is not None else {}
        # Many questions (an export's batches): the register's tokens read once, in memory.
        self.held = held

    def __call__(self, kind: str, values: Sequence[str]) -> list[bool]:
        return self.many([(kind, values)])[0]

    def read_ahead(self, kinds: Iterable[str]) -> None:
        """Have the register's tokens of ``kinds`` read in a thread now, for questions later
        (with ``held`` only: :meth:`HeldTokens.read_ahead`)."""
        if self.held is not None:
            self.held.read_ahead(_kind_codes(kinds))

    def many(self, asks: Sequence[tuple[str, Sequence[str]]]) -> list[list[bool]]:
        """The answers to several (kind, values) questions, in order."""
        tokens: list[pa.Array] = []
        codes: set[int] = set()
        for kind, values in asks:
            code = _kind_code(kind)
            if code is None:
                tokens.append(pa.nulls(len(values), pa.binary(keys.TOKEN_BYTES)))
            else:
                texts = pa.array(values, pa.string())
                tokens.append(
                    customers.customer_refs(self.key, texts)
                    if code == customers.REF_KIND
                    else keys.tokens(self.key, kind, texts)
                )
            if code is not None:
                codes.add(code)
        if not tokens:
            held = []
        elif self.held is not None:
            held = self.held.holds(pa.concat_arrays(tokens), sorted(codes))
        else:
            held = store.tokens_exist(self.workspace.db, pa.concat_arrays(tokens), sorted(codes))
        answers, start = [], 0
        for kind, values in asks:
            used = self.given.get(kind, set())
            part = held[start : start + len(values)]
            answers.append([h or v in used for h, v in zip(part, values, strict=True)])
            start += len(values)
        return answers


def _kind_code(kind: str) -> int | None:
    """The register's token kind of what decoys ask about (a customer number or an exact
    identifier); None for what the register keeps no token of."""
    return customers.REF_KIND if kind == "customer_id" else customers.EXACT_KINDS.get(kind)


def _kind_codes(kinds: Iterable[str]) -> list[int]:
    """:func:`_kind_code` of each kind the register keeps tokens of."""
    return [code for code in map(_kind_code, kinds) if code is not None]


def registered(workspace: store.Workspace) -> RegisterCheck:
    """The register check of :class:`RegisterCheck`, for decoys and canaries."""
    return RegisterCheck(workspace)


def _decoys(
    key: bytes,
    release_id: str,
    table: pa.Table,
    policy: Policy,
    is_taken: RegisterCheck,
    roles: dict[str, str] | None = None,
    codes: dict[str, decoy_rows.CodeRange] | None = None,
) -> Any:
    if "decoys" not in policy.channels or policy.decoy_rate <= 0:
        return None
    count = decoy_rows.count_for(table.num_rows, policy.decoy_rate)
    if count == 0:
        return None
    pool = list(policy.decoy_phone_pool)
    return decoy_rows.make_decoys(
        key, release_id, table, count, pool, roles=roles, is_taken=is_taken, codes=codes
    )


def decoy_tokens(workspace: store.Workspace, made: Any, first: int) -> pa.Table:
    """(decoy, kind, token) for every identifier of every decoy but its pool phone number;
    decoys numbered from ``first``."""
    empty = pa.table(
        {
            "decoy": pa.array([], pa.int32()),
            "kind": pa.array([], pa.uint8()),
            "token": pa.array([], pa.binary(16)),
        }
    )
    if made is None or made.identifiers.num_rows == 0:
        return empty
    key = workspace.keyring.key("match")
    pieces = [empty]
    numbers = made.identifiers.filter(pc.equal(made.identifiers.column("type"), "customer_id"))
    if numbers.num_rows:
        pieces.append(
            pa.table(
                {
                    "decoy": pc.add(numbers.column("decoy"), first).cast(pa.int32()),
                    "kind": pa.array(np.full(numbers.num_rows, customers.REF_KIND, np.uint8)),
                    "token": customers.customer_refs(key, numbers.column("value")),
                }
            )
        )
    for kind, code in customers.EXACT_KINDS.items():
        if kind == "mobile":  # pool numbers serve many decoys and releases: no proof alone
            continue
        rows = made.identifiers.filter(pc.equal(made.identifiers.column("type"), kind))
        if rows.num_rows:
            pieces.append(
                pa.table(
                    {
                        "decoy": pc.add(rows.column("decoy"), first).cast(pa.int32()),
                        "kind": pa.array(np.full(rows.num_rows, code, np.uint8)),
                        "token": keys.tokens(key, kind, rows.column("value")),
                    }
                )
            )
    return pa.concat_tables(pieces)


def _warnings(
    policy: Policy, mapping: customers.ColumnMap, decoys: int, notes: list[str]
) -> tuple[str, ...]:
    """What the recipient's copy lacks that the institution can fix: ``notes`` of the export
    (rows that could not be read or name no customer, a sample larger than the source), then
    decoys without phones."""
    found = list(notes)
    phones = "mobile" in mapping.identifiers.values()
    if decoys and phones and not policy.decoy_phone_pool:
        found.append(
            "decoys carry no phone number (an empty cell) because no decoy_phone_pool is set in "
            "[release] of leaktrace.toml; add numbers the institution owns so decoys look real"
        )
    return tuple(found)


def _members_summary(members: pa.Array) -> tuple[np.ndarray, str]:
    """The distinct register ids ``members`` holds, sorted, and the SHA-256 over them (8 bytes
    each, big-endian)."""
    ids = _vector.distinct(members.to_numpy(zero_copy_only=False))
    return ids, hashlib.sha256(ids.astype(">i8").tobytes()).hexdigest()
