"""``leaktrace export``: a unique, recorded copy of a table for one recipient.

One export:

1. reads the source and matches its rows to the register (which customers the copy holds);
2. with ``sample``, keeps N customers of the segment chosen for this recipient
   (:mod:`.subset`: the least released first, then a keyed order);
3. puts keyed marks into the fields the policy names (:mod:`.marks`), masks the identifier
   types the policy masks, and mixes in decoy customers at keyed positions (:mod:`.decoys`);
4. writes the file and records the release — recipient, role, purpose, approver, rows, the
   customers it holds, the decoys' tokens, the file's SHA-256, the policy — with a ledger entry.

A release is recorded ``pending`` before its file is written and ``complete``, with its ledger
entry, in one transaction afterwards; the file is renamed into place last. An export killed at
any point is found by :func:`recover` at the next export or ledger command: a release with a
ledger entry gets its file (checked against the recorded SHA-256), one without is aborted and
its partial file removed — never an entry without a file or a file without an entry.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import customers, identifiers, keys, ledger, store, tables
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.release import decoys as decoy_rows
from leaktrace.release import marks as keyed_marks
from leaktrace.release import subset, writers
from leaktrace.release.policy import Policy, policy_for


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
    role: str = "default",
    approver: str | None = None,
    sample: int | None = None,
    segment: str | None = None,
) -> Release:
    """Export ``source`` to ``output`` for ``recipient`` (see the module docstring)."""
    if not recipient.strip() or not purpose.strip():
        raise ConfigError("Name the recipient (--to) and the purpose (--purpose) of the release.")
    out = Path(output).resolve()
    writer = writers.for_path(out)
    if out.exists():
        raise ConfigError(f"{out} exists; leaktrace never overwrites a release. Choose a new name.")
    policy = policy_for(workspace.config, role)
    conditions = parse_segment(segment)
    if conditions and sample is None:
        raise ConfigError("--segment needs --sample N: the number of customers to release.")
    recover(workspace)
    with tables.open_table(source) as opened:
        table = pa.Table.from_batches(list(opened.batches()), schema=opened.schema)
        source_name, encoding = opened.source, opened.encoding
        mapping = customers.propose_mapping(opened)
    if table.num_rows == 0:
        raise SourceError(f"{source_name}: the table has no rows; nothing to release.")
    mapping.id_column, mapping.segments = None, []
    owners = customers.row_owners(workspace, table, mapping)
    if sample is not None:
        table, owners = _sample(workspace, table, owners, recipient, sample, conditions)
    release_id = store.next_release_id(workspace.db)
    partial = out.with_name(f".{out.name}.{release_id}.partial")
    described = {
        "release_id": release_id,
        "recipient": recipient,
        "role": role,
        "purpose": purpose,
        "approver": approver,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": source_name,
        "output": str(out),
    }
    with workspace.transaction():
        store.insert_release(
            workspace.db, {**described, "status": "pending", "partial": str(partial)}
        )
    ring = workspace.keyring
    fields = _mark_fields(table, policy)
    records = customers.record_tokens(owners)
    if fields:
        table = keyed_marks.mark_table(ring.key("mark"), release_id, records, table, fields)
    table = _mask(table, mapping, policy)
    made = _decoys(ring.key("decoy"), release_id, table, policy, _registered(workspace))
    if made is not None:
        at = decoy_rows.positions(
            ring.key("decoy"), release_id, table.num_rows, made.table.num_rows
        )
        table = decoy_rows.interleave(table, made.table, at)
    digest = writer.write(table, partial, encoding=encoding)
    members = pc.drop_null(owners)
    body = {
        **described,
        "output_sha256": digest,
        "rows": table.num_rows,
        "decoys": 0 if made is None else made.table.num_rows,
        "customers": len(pc.unique(members)),
        "members_sha256": _members_digest(members),
        "marked_fields": fields,
        "policy": policy.as_dict(),
        "request": {"sample": sample, "segment": conditions},
        "key_version": ring.version,
    }
    with workspace.transaction():
        store.add_release_members(workspace.db, release_id, members, _decoy_tokens(workspace, made))
        entry = ledger.append(workspace, "release", body)
        store.update_release(
            workspace.db,
            release_id,
            status="complete",
            rows=body["rows"],
            decoys=body["decoys"],
            customers=body["customers"],
            output_sha256=digest,
            ledger_seq=entry.seq,
        )
    os.replace(partial, out)
    return Release(
        release_id=release_id,
        recipient=recipient,
        role=role,
        purpose=purpose,
        approver=approver,
        output=str(out),
        rows=body["rows"],
        decoys=body["decoys"],
        customers=body["customers"],
        marked_fields=fields,
        output_sha256=digest,
        ledger_seq=entry.seq,
        warnings=_warnings(policy, mapping, made),
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
            partial.unlink(missing_ok=True)
            with workspace.transaction():
                store.update_release(workspace.db, release["release_id"], status="aborted")
                ledger.append(
                    workspace,
                    "release_aborted",
                    {"release_id": release["release_id"], "output": release["output"]},
                )
            messages.append(
                f"{release['release_id']}: an export to {out} was interrupted before it was "
                "recorded; its partial file was removed and the release marked aborted."
            )
    return messages


def _sample(
    workspace: store.Workspace,
    table: pa.Table,
    owners: pa.Array,
    recipient: str,
    count: int,
    conditions: dict[str, str],
) -> tuple[pa.Table, pa.Array]:
    """The rows of ``count`` customers of the segment, chosen for ``recipient``."""
    present = pc.unique(pc.drop_null(owners)).to_pylist()
    if conditions:
        allowed = store.segment_members(workspace.db, conditions)
        present = [c for c in present if c in allowed]
    if not present:
        raise ConfigError(
            "No customer of the register in this source matches the segment; check --segment "
            "against the segment attributes loaded with `leaktrace customers load`."
        )
    present.sort()
    already = store.times_released(workspace.db, present)
    chosen = subset.allocate(workspace.keyring.key("subset"), recipient, present, count, already)
    keep = pc.is_in(owners, pa.array(chosen, pa.int64()))
    keep = pc.fill_null(keep, False)
    return table.filter(keep), owners.filter(keep)


def _mark_fields(table: pa.Table, policy: Policy) -> dict[str, str]:
    if "marks" not in policy.channels:
        return {}
    if policy.marks is None:
        return keyed_marks.suggest_fields(table)
    suggested = keyed_marks.suggest_fields(
        table.select([f for f in policy.marks if f in table.column_names])
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


def _registered(workspace: store.Workspace) -> decoy_rows.TakenCheck:
    """Which customer numbers or identifiers belong to registered customers (so that no decoy
    takes them), asked for many values at once."""
    key = workspace.keyring.key("match")

    def taken(kind: str, values: Sequence[str]) -> list[bool]:
        if kind == "customer_id":
            return [found is not None for found in customers.register_ids(workspace, values)]
        if kind in customers.EXACT_KINDS:
            return store.tokens_exist(workspace.db, keys.tokens(key, kind, values))
        return [False] * len(values)

    return taken


def _decoys(
    key: bytes,
    release_id: str,
    table: pa.Table,
    policy: Policy,
    is_taken: decoy_rows.TakenCheck,
) -> Any:
    if "decoys" not in policy.channels or policy.decoy_rate <= 0:
        return None
    count = decoy_rows.count_for(table.num_rows, policy.decoy_rate)
    if count == 0:
        return None
    pool = list(policy.decoy_phone_pool)
    return decoy_rows.make_decoys(key, release_id, table, count, pool, is_taken=is_taken)


def _decoy_tokens(workspace: store.Workspace, made: Any) -> pa.Table:
    """(decoy, kind, token) for every identifier of every decoy but its pool phone number."""
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
    for kind, code in customers.EXACT_KINDS.items():
        if kind == "mobile":  # pool numbers serve many decoys and releases: no proof alone
            continue
        rows = made.identifiers.filter(pc.equal(made.identifiers.column("type"), kind))
        if rows.num_rows:
            pieces.append(
                pa.table(
                    {
                        "decoy": rows.column("decoy").cast(pa.int32()),
                        "kind": pa.array(np.full(rows.num_rows, code, np.uint8)),
                        "token": keys.tokens(key, kind, rows.column("value").combine_chunks()),
                    }
                )
            )
    return pa.concat_tables(pieces)


def _warnings(policy: Policy, mapping: customers.ColumnMap, made: Any) -> tuple[str, ...]:
    """What the recipient's copy lacks that the institution can fix."""
    phones = "mobile" in mapping.identifiers.values()
    if made is not None and phones and not policy.decoy_phone_pool:
        return (
            "decoys carry no phone number (an empty cell) because no decoy_phone_pool is set in "
            "[release] of leaktrace.toml; add numbers the institution owns so decoys look real",
        )
    return ()


def _members_digest(members: pa.Array) -> str:
    """SHA-256 over the sorted distinct register ids (8 bytes each, big-endian)."""
    ids = np.unique(members.to_numpy(zero_copy_only=False).astype(">i8"))
    return hashlib.sha256(ids.tobytes()).hexdigest()
