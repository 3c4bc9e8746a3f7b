"""The ledger: an append-only, hash-chained, MAC-ed record of every release and case.

Each entry holds a ``seq`` (1, 2, 3 …), a ``kind`` (``release``, ``release_aborted``, ``canary``,
``case`` …), the time in UTC and a JSON body, and is bound to the entry before it:

* ``entry_hash = SHA-256("leaktrace ledger entry v1" 0x00 ‖ seq ‖ kind ‖ time ‖ body ‖
  prev_hash)``, where ``seq`` is 8 bytes big-endian and every other field is preceded by its
  length (8 bytes big-endian), so no two different entries encode to the same bytes; ``body``
  is canonical JSON (sorted keys, no whitespace, UTF-8) and ``time`` is
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
* ``prev_hash`` is the previous entry's ``entry_hash`` (32 zero bytes for entry 1);
* ``mac = HMAC-SHA256(k_ledger, entry_hash)``, with the workspace's ledger key
  (:meth:`leaktrace.keys.Keyring.key`), so an entry cannot be forged or re-hashed without it.

A *chain head* (the last seq and its hash, MAC-ed) is kept beside the entries, so deleting the
newest entries is detected as well; :func:`verify` names the first broken entry and why.
Whoever can also rewrite the ledger key could rewrite the whole chain: record the head outside
the workspace now and then (``leaktrace ledger show`` prints it) and check against it with
``verify(..., anchor=...)``.

The entry hashes are also the leaves of an RFC 6962 Merkle tree (:func:`merkle_root`,
:func:`inclusion_proof`, :func:`verify_inclusion`), so a case report can cite one entry with
a short proof that it belongs to a ledger of a given root.

>>> import tempfile
>>> from leaktrace import store
>>> ws = store.init_workspace(tempfile.mkdtemp())
>>> append(ws, "release", {"recipient": "call centre A", "rows": 5000}).seq
1
>>> append(ws, "canary", {"count": 20}).seq
2
>>> [entry.kind for entry in entries(ws)]
['release', 'canary']
>>> verify(ws).ok
True
>>> ws.close()
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leaktrace import store
from leaktrace.exceptions import ConfigError, LedgerError

HASH_BYTES = 32
GENESIS = bytes(HASH_BYTES)  # the prev_hash of entry 1
_ENTRY_DOMAIN = b"leaktrace ledger entry v1\x00"
_HEAD_DOMAIN = b"leaktrace ledger head v1\x00"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# What verify() reports as ``problem``: a short code, and what it means.
PROBLEMS = {
    "edited": "its fields no longer hash to its entry hash",
    "bad_mac": "its MAC is not the ledger key's (forged, or re-hashed without the key)",
    "broken_link": "its previous-entry hash is not the hash of the entry before it",
    "out_of_order": "it is chained after another entry than the one before it (reordered)",
    "missing": "entries are missing before it (deleted or renumbered)",
    "duplicate": "two entries have the same seq",
    "key_version": "it was MAC-ed under another key version than the workspace's",
    "no_head": "entries exist but the chain head is missing",
    "bad_head_mac": "the chain head's MAC is not the ledger key's",
    "truncated": "the chain head names entries that are not there (the newest were deleted)",
    "beyond_head": "entries follow the one the chain head names (appended without the key)",
    "head_mismatch": "the chain head's hash is not the last entry's",
    "anchor": "the entry recorded outside the workspace is not in the ledger as recorded",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry, as stored.

    ``time`` and ``body_json`` are the exact texts that were hashed; :attr:`body` parses the
    latter.

    >>> entry = Entry(1, "case", "2026-11-23T09:00:00.000000Z", '{"leak":"list.xlsx"}',
    ...               GENESIS, bytes(32), bytes(32), 1)
    >>> entry.body["leak"], entry.summary()
    ('list.xlsx', 'leak=list.xlsx')
    """

    seq: int
    kind: str
    time: str
    body_json: str
    prev_hash: bytes
    entry_hash: bytes
    mac: bytes
    key_version: int

    @property
    def body(self) -> dict[str, Any]:
        """The body as a dict; :class:`LedgerError` when it is not JSON (edited in the store)."""
        try:
            return json.loads(self.body_json)
        except ValueError:
            raise LedgerError(
                f"Ledger entry {self.seq} is not valid JSON: the ledger was edited. Run "
                "`leaktrace ledger verify` and restore the workspace from a backup."
            ) from None

    @property
    def timestamp(self) -> datetime.datetime:
        """The time as an aware UTC datetime."""
        return datetime.datetime.strptime(self.time, _TIME_FORMAT).replace(tzinfo=datetime.UTC)

    def summary(self, width: int = 80) -> str:
        """The body on one line: its top-level fields as ``key=value``, cut at ``width``."""
        try:
            body = self.body
        except LedgerError:
            return "(body is not valid JSON)"
        if not isinstance(body, dict):
            return _cut(str(body), width)
        parts = []
        for key, value in body.items():
            if isinstance(value, list):
                shown = f"[{len(value)}]"
            elif isinstance(value, dict):
                shown = "{…}"
            elif value is None:
                shown = "-"
            else:
                shown = " ".join(str(value).split())
            parts.append(f"{key}={shown}")
        return _cut(" ".join(parts), width)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: hashes and MAC in hex, the body parsed when it parses."""
        try:
            body: Any = self.body
        except LedgerError:
            body = self.body_json
        return {
            "seq": self.seq,
            "kind": self.kind,
            "time": self.time,
            "body": body,
            "prev_hash": self.prev_hash.hex(),
            "entry_hash": self.entry_hash.hex(),
            "mac": self.mac.hex(),
            "key_version": self.key_version,
        }


@dataclass(frozen=True, slots=True)
class Head:
    """The chain head: the last entry's seq and hash, and a MAC over both.

    ``str(head)`` (``SEQ:HASH``) is the form to record outside the workspace and to pass back as
    ``verify(..., anchor=...)``.
    """

    seq: int
    entry_hash: bytes
    mac: bytes
    key_version: int

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash.hex()}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (hex hashes) with the ``SEQ:HASH`` anchor text."""
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash.hex(),
            "mac": self.mac.hex(),
            "key_version": self.key_version,
            "anchor": str(self),
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found.

    ``ok`` is True when every check passed. Otherwise ``problem`` is one of the codes in
    :data:`PROBLEMS`, ``broken_seq`` the first seq that cannot be trusted (None when the problem
    is not at one entry, as with a missing head) and ``detail`` says what was seen.
    """

    ok: bool
    entries: int
    head: Head | None
    broken_seq: int | None = None
    problem: str | None = None
    detail: str | None = None

    @property
    def message(self) -> str:
        """One line for people."""
        if self.ok:
            last = f"; head {self.head}" if self.head else ""
            noun = "entry" if self.entries == 1 else "entries"
            return f"The ledger is intact: {self.entries} {noun}{last}."
        where = f" at entry {self.broken_seq}" if self.broken_seq is not None else ""
        return (
            f"The ledger is broken{where}: {self.detail} ({self.problem}). Keep this store as "
            "evidence and compare it with a backup."
        )

    def check(self) -> Verification:
        """Return self when intact; raise :class:`LedgerError` with :attr:`message` otherwise."""
        if not self.ok:
            raise LedgerError(self.message)
        return self

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head.as_dict() if self.head else None,
            "broken_seq": self.broken_seq,
            "problem": self.problem,
            "detail": self.detail,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Inclusion:
    """An RFC 6962 inclusion proof that one entry is in the ledger's first ``size`` entries."""

    seq: int
    entry_hash: bytes
    size: int
    root: bytes
    proof: tuple[bytes, ...]

    def verify(self) -> bool:
        """Whether the proof holds (the entry at index ``seq - 1`` of a tree with ``root``)."""
        return verify_inclusion(self.entry_hash, self.seq - 1, self.size, self.proof, self.root)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (hex hashes), for a case report."""
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash.hex(),
            "size": self.size,
            "root": self.root.hex(),
            "proof": [node.hex() for node in self.proof],
        }


# -- hashing ---------------------------------------------------------------------------------


def canonical_json(body: Mapping[str, Any]) -> str:
    """The canonical text of a body: sorted keys, no whitespace, UTF-8 characters unescaped.

    >>> canonical_json({"rows": 20, "recipient": "电销三组"})
    '{"recipient":"电销三组","rows":20}'
    """
    if not isinstance(body, Mapping):
        raise TypeError(f"a ledger body is a JSON object (a mapping), not {type(body).__name__}")
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(seq: int, kind: str, time: str, body_json: str, prev_hash: bytes) -> bytes:
    """SHA-256 over the entry's fields, each length-prefixed (see the module docstring).

    >>> first = entry_hash(1, "case", "2026-11-23T09:00:00.000000Z", "{}", GENESIS)
    >>> len(first), first == entry_hash(1, "cas", "e2026-11-23T09:00:00.000000Z", "{}", GENESIS)
    (32, False)
    """
    digest = hashlib.sha256(_ENTRY_DOMAIN)
    digest.update(seq.to_bytes(8, "big", signed=True))
    for field in (kind.encode(), time.encode(), body_json.encode(), prev_hash):
        digest.update(len(field).to_bytes(8, "big"))
        digest.update(field)
    return digest.digest()


def entry_mac(key: bytes, entry_hash_: bytes) -> bytes:
    """``HMAC-SHA256(key, entry_hash)``."""
    return hmac.digest(key, entry_hash_, "sha256")


def head_mac(key: bytes, seq: int, entry_hash_: bytes) -> bytes:
    """``HMAC-SHA256(key, "leaktrace ledger head v1" 0x00 ‖ seq ‖ entry_hash)``."""
    return hmac.digest(
        key, _HEAD_DOMAIN + seq.to_bytes(8, "big", signed=True) + entry_hash_, "sha256"
    )


# -- the ledger in a workspace ---------------------------------------------------------------


def append(workspace: store.Workspace, kind: str, body: Mapping[str, Any]) -> Entry:
    """Add an entry of ``kind`` with ``body`` (a JSON object) to the ledger and move the head.

    Inside ``with workspace.transaction():`` the entry joins that transaction, so it lands
    together with the caller's other writes (an export's release row) or not at all; outside
    one, the entry and the head are written in a transaction of their own.

    The entry is chained to the chain head, not merely to the newest row, and the append is
    refused with :class:`LedgerError` when the head and the newest entry disagree or the head's
    MAC fails: a ledger whose tail was deleted must not be papered over by the next release.

    >>> import tempfile
    >>> from leaktrace import store
    >>> ws = store.init_workspace(tempfile.mkdtemp())
    >>> with ws.transaction():
    ...     entry = append(ws, "release", {"recipient": "partner B", "rows": 20})
    >>> entry.seq, entry.prev_hash == GENESIS, head(ws).entry_hash == entry.entry_hash
    (1, True, True)
    >>> ws.close()
    """
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ValueError(f"a ledger kind is lower-case letters, digits and _, not {kind!r}")
    body_json = canonical_json(body)
    if store.in_transaction(workspace.db):
        return _append(workspace, kind, body_json)
    with workspace.transaction():
        return _append(workspace, kind, body_json)


def _append(workspace: store.Workspace, kind: str, body_json: str) -> Entry:
    db = workspace.db
    key, version = workspace.keyring.key("ledger"), workspace.keyring.version
    last = store.ledger_last(db)
    current = head(workspace)
    if current is None:
        if last is not None:
            raise LedgerError(_refusal("entries exist but the chain head is missing"))
        seq, prev_hash = 1, GENESIS
    else:
        if current.key_version != version or not hmac.compare_digest(
            current.mac, head_mac(key, current.seq, current.entry_hash)
        ):
            raise LedgerError(_refusal("the chain head's MAC is not the ledger key's"))
        if last is None or last[0] != current.seq or bytes(last[5]) != current.entry_hash:
            raise LedgerError(_refusal("the chain head is not the newest entry"))
        seq, prev_hash = current.seq + 1, current.entry_hash
    time = datetime.datetime.now(datetime.UTC).strftime(_TIME_FORMAT)
    digest = entry_hash(seq, kind, time, body_json, prev_hash)
    entry = Entry(seq, kind, time, body_json, prev_hash, digest, entry_mac(key, digest), version)
    store.insert_ledger_row(
        db,
        (seq, kind, time, body_json, prev_hash, digest, entry.mac, version),
    )
    store.set_ledger_head(db, seq, digest, head_mac(key, seq, digest), version)
    return entry


def _refusal(why: str) -> str:
    return f"Not appending to the ledger: {why}; run `leaktrace ledger verify`."


def entries(
    workspace: store.Workspace, kind: str | None = None, since_seq: int | None = None
) -> list[Entry]:
    """The entries in seq order, optionally of one ``kind`` and after ``since_seq`` (exclusive).

    Nothing is verified here; call :func:`verify` for that.
    """
    return [_entry(row) for row in store.ledger_rows(workspace.db, kind, since_seq)]


def entry(workspace: store.Workspace, seq: int) -> Entry | None:
    """The entry with ``seq``, or None."""
    row = store.ledger_row(workspace.db, seq)
    return _entry(row) if row is not None else None


def head(workspace: store.Workspace) -> Head | None:
    """The chain head as stored (not verified), or None before the first entry."""
    row = store.ledger_head(workspace.db)
    return Head(*row) if row is not None else None


def _entry(row: Sequence[Any]) -> Entry:
    seq, kind, time, body_json, prev_hash, digest, mac, key_version = row
    return Entry(
        int(seq), kind, time, body_json, bytes(prev_hash), bytes(digest), bytes(mac), key_version
    )


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as recorded from :class:`Head` (at least 16 hex digits of the hash).

    >>> parse_anchor("12:9F86D081884C7D65")
    (12, '9f86d081884c7d65')
    """
    match = re.fullmatch(r"\s*(\d+)\s*:\s*([0-9a-fA-F]{16,64})\s*", text)
    if not match or int(match[1]) < 1:
        raise ConfigError(
            f"{text!r} is not a ledger anchor; expected SEQ:HASH as `leaktrace ledger show` "
            "prints it (at least 16 hex digits of the hash)."
        )
    return int(match[1]), match[2].lower()


def verify(workspace: store.Workspace, anchor: tuple[int, str] | str | None = None) -> Verification:
    """Check the whole chain and its head; report the first entry that cannot be trusted.

    Every entry must follow the one before it (seq 1, 2, 3 … with no gap or repeat, its
    ``prev_hash`` the previous ``entry_hash``), hash to its ``entry_hash``, carry the ledger
    key's MAC, and the chain head must be MAC-ed and name the last entry. ``anchor``
    (``(seq, hash hex prefix)`` or ``"SEQ:HASH"``, as recorded from an earlier head) must
    still be in the chain, which catches a rewrite by someone who holds the key; a malformed
    anchor text raises :class:`ConfigError`.

    >>> import tempfile
    >>> from leaktrace import store
    >>> ws = store.init_workspace(tempfile.mkdtemp())
    >>> for n in range(3):
    ...     _ = append(ws, "release", {"n": n})
    >>> _ = ws.db.execute("UPDATE ledger SET body = '{\\"n\\":7}' WHERE seq = 2").fetchall()
    >>> found = verify(ws)
    >>> found.ok, found.broken_seq, found.problem
    (False, 2, 'edited')
    >>> ws.close()
    """
    if isinstance(anchor, str):
        anchor = parse_anchor(anchor)
    key, version = workspace.keyring.key("ledger"), workspace.keyring.version
    rows = [_entry(row) for row in store.ledger_rows(workspace.db)]
    current = head(workspace)

    def broken(seq: int | None, problem: str, detail: str) -> Verification:
        return Verification(False, len(rows), current, seq, problem, detail)

    seq_of_hash = {row.entry_hash: row.seq for row in rows}
    expected, prev_hash = 1, GENESIS
    for row in rows:
        if row.seq < expected:
            return broken(row.seq, "duplicate", f"seq {row.seq} occurs more than once")
        if row.seq > expected:
            missing = (
                f"entry {expected}"
                if row.seq == expected + 1
                else f"entries {expected}–{row.seq - 1}"
            )
            return broken(expected, "missing", f"{missing} missing; the next is {row.seq}")
        if row.prev_hash != prev_hash:
            after = seq_of_hash.get(row.prev_hash)
            if after is not None:
                return broken(
                    row.seq,
                    "out_of_order",
                    f"entry {row.seq} was chained after the entry now at seq {after}, not "
                    f"after {row.seq - 1}",
                )
            return broken(
                row.seq, "broken_link", f"entry {row.seq} does not link to entry {row.seq - 1}"
            )
        if entry_hash(row.seq, row.kind, row.time, row.body_json, row.prev_hash) != row.entry_hash:
            return broken(row.seq, "edited", f"entry {row.seq}'s fields no longer match its hash")
        if row.key_version != version:
            return broken(
                row.seq,
                "key_version",
                f"entry {row.seq} was MAC-ed under ledger key v{row.key_version}; the "
                f"workspace uses v{version}",
            )
        if not hmac.compare_digest(row.mac, entry_mac(key, row.entry_hash)):
            return broken(row.seq, "bad_mac", f"entry {row.seq}'s MAC is not the ledger key's")
        expected, prev_hash = row.seq + 1, row.entry_hash

    last = rows[-1] if rows else None
    if current is None:
        if last is not None:
            return broken(None, "no_head", "entries exist but the chain head is missing")
    elif current.key_version != version or not hmac.compare_digest(
        current.mac, head_mac(key, current.seq, current.entry_hash)
    ):
        return broken(current.seq, "bad_head_mac", "the chain head's MAC is not the ledger key's")
    elif last is None or current.seq > last.seq:
        first = last.seq + 1 if last else 1
        return broken(
            first,
            "truncated",
            f"the chain head names entry {current.seq} but the ledger ends at "
            f"{last.seq if last else 'nothing'}",
        )
    elif current.seq < last.seq:
        return broken(
            current.seq + 1,
            "beyond_head",
            f"entries {current.seq + 1}–{last.seq} follow the chain head's entry {current.seq}",
        )
    elif current.entry_hash != last.entry_hash:
        return broken(last.seq, "head_mismatch", "the chain head's hash is not the last entry's")

    if anchor is not None:
        anchor_seq, anchor_hash = anchor
        found = next((row for row in rows if row.seq == anchor_seq), None)
        if found is None or not found.entry_hash.hex().startswith(anchor_hash.lower()):
            return broken(
                anchor_seq,
                "anchor",
                f"entry {anchor_seq} is "
                + ("not in the ledger" if found is None else "not the one recorded")
                + f" (recorded hash {anchor_hash[:16]}…)",
            )
    return Verification(True, len(rows), current)


def inclusion(workspace: store.Workspace, seq: int, size: int | None = None) -> Inclusion:
    """An inclusion proof of entry ``seq`` in the ledger's first ``size`` entries (default: all).

    >>> import tempfile
    >>> from leaktrace import store
    >>> ws = store.init_workspace(tempfile.mkdtemp())
    >>> for n in range(5):
    ...     _ = append(ws, "case", {"n": n})
    >>> proof = inclusion(ws, 3)
    >>> proof.size, len(proof.proof), proof.verify()
    (5, 3, True)
    >>> ws.close()
    """
    hashes = store.ledger_hashes(workspace.db, size)
    if size is None:
        size = len(hashes)
    if not 1 <= seq <= size or len(hashes) != size:
        raise LedgerError(f"The ledger has no entry {seq} among its first {size} entries.")
    return Inclusion(
        seq, hashes[seq - 1], size, merkle_root(hashes), tuple(inclusion_proof(hashes, seq - 1))
    )


# -- Merkle tree (RFC 6962 §2.1) --------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``: a leaf, kept apart from inner nodes by its prefix."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of RFC 6962 over the leaves ``hashes`` (for the ledger: entry hashes).

    >>> merkle_root([]).hex()[:16]  # SHA-256 of nothing
    'e3b0c44298fc1c14'
    >>> merkle_root([b""]).hex()[:16]  # RFC 6962 test vector, one empty leaf
    '6e340b9cffb37a98'
    """
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return leaf_hash(hashes[0])
    k = _split(len(hashes))
    return _node(merkle_root(hashes[:k]), merkle_root(hashes[k:]))


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree over ``hashes`` (RFC 6962 PATH).

    >>> leaves = [bytes([i]) for i in range(7)]
    >>> proof = inclusion_proof(leaves, 4)
    >>> verify_inclusion(leaves[4], 4, 7, proof, merkle_root(leaves))
    True
    """
    if not 0 <= index < len(hashes):
        raise IndexError(f"leaf {index} is not in a tree of {len(hashes)}")
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*inclusion_proof(hashes[:k], index), merkle_root(hashes[k:])]
    return [*inclusion_proof(hashes[k:], index - k), merkle_root(hashes[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf`` at ``index`` of a ``size``-leaf tree with ``root``.

    The algorithm of RFC 9162 §2.1.3.2 (the same tree as RFC 6962).
    """
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(node, root)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
