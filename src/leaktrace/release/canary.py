"""Canary customers (金丝雀客户): decoys planted in the institution's own tables as tripwires.

``plant`` makes decoy customers shaped like a sample of a real table (:mod:`.decoys`: names by
real surname frequencies, checksum-valid ID numbers of the sample's regions, cards of its BINs,
customer numbers of its numbering, phones only from ``decoy_phone_pool``), writes them to a
file for the institution to insert into its production tables, and registers the tokens of
their identifiers — the customer number included — as a set of their own in the releases
table (role ``canary``) with a ledger entry of kind ``canary``.

From then on, any access to one in the access logs is a critical alert (:mod:`leaktrace.monitor`:
no one has business with a customer who does not exist), and any appearance in a leaked list is
proof that the list came out of the production tables, not out of a release.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from leaktrace import ledger, store, tables
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.release import decoys, writers
from leaktrace.release.export import abort, decoy_tokens, recover, registered
from leaktrace.release.policy import DEFAULT_ROLE, policy_for

TEMPLATE_ROWS = 20_000  # rows of the real table the canaries take their shape from
MAX_COUNT = 100_000


@dataclass(frozen=True, slots=True)
class Planted:
    """A recorded set of canaries."""

    release_id: str
    output: str
    count: int
    output_sha256: str
    ledger_seq: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {name: getattr(self, name) for name in self.__slots__}


def plant(
    workspace: store.Workspace,
    source: str,
    output: str | os.PathLike[str],
    *,
    count: int,
    note: str | None = None,
) -> Planted:
    """Write ``count`` canary customers shaped like ``source`` to ``output`` and register them.

    The output holds only the canaries, in ``source``'s columns and (for CSV) encoding.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"--count must be between 1 and {MAX_COUNT:,}.")
    out, writer = writers.new_output(output)
    pool = policy_for(workspace.config, DEFAULT_ROLE).decoy_phone_pool
    recover(workspace)
    with tables.open_table(source) as opened:
        template = opened.sample(TEMPLATE_ROWS)
        source_name, encoding = opened.source, opened.encoding
    if template.num_rows == 0:
        raise SourceError(f"{source_name}: the table has no rows to take the canaries' shape from.")
    release_id = store.next_release_id(workspace.db)
    partial = out.with_name(f".{out.name}.{release_id}.partial")
    described = {
        "release_id": release_id,
        "recipient": "production tables",
        "role": "canary",
        "purpose": note or "tripwire customers",
        "approver": None,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": source_name,
        "output": str(out),
    }
    with workspace.transaction():
        store.insert_release(
            workspace.db, {**described, "status": "pending", "partial": str(partial)}
        )
    try:
        made = decoys.make_decoys(
            workspace.keyring.key("decoy"),
            release_id,
            template,
            count,
            pool,
            is_taken=registered(workspace),
        )
        digest = writer.write(made.table, partial, encoding=encoding)
    except BaseException:
        abort(workspace, release_id, partial, str(out))
        raise
    body = {**described, "output_sha256": digest, "count": count, "phones": bool(pool)}
    with workspace.transaction():
        store.add_release_members(
            workspace.db, release_id, store.NO_CUSTOMERS, decoy_tokens(workspace, made, 0)
        )
        entry = ledger.append(workspace, "canary", body)
        store.update_release(
            workspace.db,
            release_id,
            status="complete",
            rows=count,
            decoys=count,
            customers=0,
            output_sha256=digest,
            ledger_seq=entry.seq,
        )
    os.replace(partial, out)
    return Planted(release_id, str(out), count, digest, entry.seq)
