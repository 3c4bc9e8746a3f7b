"""The workspace: one folder with ``leaktrace.toml``, the DuckDB store and (by default) the key
file; its schema, its migrations, and the SQL that reads and writes it.

A workspace keeps tokens, never raw identifiers (see :mod:`leaktrace.keys`). Everything that
changes it runs in one DuckDB transaction, so a crash or ``kill -9`` leaves it as it was before.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "ws"
>>> with init_workspace(folder) as ws:
...     ws.schema_version == SCHEMA_VERSION
True
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import __version__, keys
from leaktrace.exceptions import WorkspaceError
from leaktrace.identifiers import _vector

SCHEMA_VERSION = 5
CONFIG_NAME = "leaktrace.toml"
DATABASE_NAME = "leaktrace.duckdb"
KEY_FILE_NAME = "master.key"
ENV_WORKSPACE = "LEAKTRACE_WORKSPACE"

# MIGRATIONS[i] takes a store from schema version i to i + 1, in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        """CREATE TABLE loads (
            load_id INTEGER PRIMARY KEY,
            source VARCHAR NOT NULL,
            started TIMESTAMPTZ NOT NULL,
            finished TIMESTAMPTZ NOT NULL,
            rows BIGINT NOT NULL,
            customers_new BIGINT NOT NULL,
            customers_seen BIGINT NOT NULL,
            tokens_new BIGINT NOT NULL,
            mapping JSON NOT NULL)""",
        # One row per customer of the register: the token of the institution's own customer
        # number, and non-identifying segment attributes (branch, products, open date).
        """CREATE TABLE customers (
            customer_id BIGINT NOT NULL,
            ref_token BLOB NOT NULL,
            segment JSON,
            first_load INTEGER NOT NULL,
            last_load INTEGER NOT NULL)""",
        # Several tokens per customer: every identifier ever loaded (old phones stay: leaked
        # lists are often old) and composite tokens for masked matching.
        """CREATE TABLE tokens (
            token BLOB NOT NULL,
            kind UTINYINT NOT NULL,
            customer_id BIGINT NOT NULL,
            key_version UTINYINT NOT NULL,
            first_load INTEGER NOT NULL,
            last_load INTEGER NOT NULL)""",
    ),
    (
        # The ledger (leaktrace.ledger): append-only entries, each chained to the one before by
        # its hash and MAC-ed with the ledger key. ``time`` and ``body`` are kept as the exact
        # text that was hashed (canonical UTC time, canonical JSON), so verifying never depends
        # on how DuckDB would re-render a timestamp or a JSON value.
        """CREATE TABLE ledger (
            seq BIGINT PRIMARY KEY,
            kind VARCHAR NOT NULL,
            time VARCHAR NOT NULL,
            body VARCHAR NOT NULL,
            prev_hash BLOB NOT NULL,
            entry_hash BLOB NOT NULL,
            mac BLOB NOT NULL,
            key_version UTINYINT NOT NULL)""",
        # One row: the last entry's seq and hash, MAC-ed, so that deleting the newest entries
        # is detected as well.
        """CREATE TABLE ledger_head (
            one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
            seq BIGINT NOT NULL,
            entry_hash BLOB NOT NULL,
            mac BLOB NOT NULL,
            key_version UTINYINT NOT NULL)""",
    ),
    (
        # Releases (leaktrace.release): one row per export, written ``pending`` before the file
        # and ``complete`` with its ledger entry, so an interrupted export is found and undone.
        """CREATE TABLE releases (
            release_id VARCHAR PRIMARY KEY,
            status VARCHAR NOT NULL,
            recipient VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            purpose VARCHAR NOT NULL,
            approver VARCHAR,
            created VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            output VARCHAR NOT NULL,
            partial VARCHAR NOT NULL,
            rows BIGINT,
            decoys BIGINT,
            customers BIGINT,
            output_sha256 VARCHAR,
            ledger_seq BIGINT)""",
        # Which register customers each release holds (the release-set channel).
        "CREATE TABLE release_customers (release_id VARCHAR NOT NULL, customer_id BIGINT NOT NULL)",
        # Tokens of every decoy's identifiers: any appearance in a leak names the release.
        """CREATE TABLE decoy_tokens (
            release_id VARCHAR NOT NULL,
            decoy INTEGER NOT NULL,
            kind UTINYINT NOT NULL,
            token BLOB NOT NULL)""",
    ),
    (
        # Access logs (leaktrace.access) and the monitor's alerts (leaktrace.monitor). Loads of
        # staff, applications, portfolios and events are recorded in ``access_loads``; a load
        # counts once its row exists (rows of a load that never finished are invisible and
        # cleared, as for the register).
        """CREATE TABLE access_loads (
            load_id INTEGER PRIMARY KEY,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            started VARCHAR NOT NULL,
            finished VARCHAR NOT NULL,
            rows BIGINT NOT NULL,
            loaded BIGINT NOT NULL,
            duplicates BIGINT NOT NULL,
            rejected BIGINT NOT NULL,
            mapping JSON NOT NULL)""",
        # The staff directory: employees, not customers; no names are kept.
        """CREATE TABLE staff (
            staff_id VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            branch_code VARCHAR,
            join_date DATE,
            leave_date DATE,
            load_id INTEGER NOT NULL)""",
        # One row per access event. The customer is kept as the match token of whatever the
        # log named it by (customer number, ID, phone …) and, when the register knows the
        # customer, its register id. ``event_key`` is a 64-bit hash of the source row (or of
        # the source's own event id) so that a file loaded twice is counted once.
        """CREATE TABLE access_events (
            event_key UBIGINT NOT NULL,
            time TIMESTAMP NOT NULL,
            staff_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            system VARCHAR,
            customer_token BLOB,
            customer_id BIGINT,
            business_ref VARCHAR,
            terminal VARCHAR,
            ip VARCHAR,
            load_id INTEGER NOT NULL)""",
        # Loan applications (the business reference a credit query must have) and customer
        # managers' portfolios, with customers as tokens.
        """CREATE TABLE applications (
            application_id VARCHAR NOT NULL,
            customer_token BLOB NOT NULL,
            customer_id BIGINT,
            staff_id VARCHAR,
            submitted TIMESTAMP NOT NULL,
            load_id INTEGER NOT NULL)""",
        """CREATE TABLE portfolios (
            staff_id VARCHAR NOT NULL,
            customer_token BLOB NOT NULL,
            customer_id BIGINT,
            load_id INTEGER NOT NULL)""",
        # Lines a load could not take: line number and reason, never the line's content.
        """CREATE TABLE access_rejects (
            load_id INTEGER NOT NULL,
            line BIGINT NOT NULL,
            reason VARCHAR NOT NULL)""",
        # The monitor's alerts: one per user and day, with scores, reasons and review status.
        """CREATE TABLE alerts (
            alert_id INTEGER PRIMARY KEY,
            staff_id VARCHAR NOT NULL,
            day DATE NOT NULL,
            score DOUBLE NOT NULL,
            severity VARCHAR NOT NULL,
            reasons JSON NOT NULL,
            features JSON NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'open',
            created VARCHAR NOT NULL,
            updated VARCHAR,
            note VARCHAR,
            UNIQUE (staff_id, day))""",
        # Traced leaks (leaktrace.trace): what was traced (sources, rows, SHA-256; never the
        # content), the verdict, a summary of the evidence, the report written, the ledger entry.
        """CREATE TABLE cases (
            case_id VARCHAR PRIMARY KEY,
            created VARCHAR NOT NULL,
            inputs JSON NOT NULL,
            verdict JSON NOT NULL,
            summary JSON NOT NULL,
            report VARCHAR,
            ledger_seq BIGINT)""",
    ),
    (
        # Access events move out of the store into Parquet parts in the workspace folder
        # (``access_events/``), written by the load and recorded here in the load's own
        # transaction: a part not named here is what a crashed load left, ignored and removed.
        # Readers see the parts through the temporary view ``access_events`` (see
        # :func:`refresh_events_view`); the table keeps the events of older workspaces until
        # the first write-open moves them into parts, and is empty after that. ``staff_key``
        # (hash of staff_id) and ``cust`` (see _CUSTOMER_KEY) are the monitor's join keys,
        # computed once on load instead of once per event per monitor run.
        "ALTER TABLE access_events ADD COLUMN staff_key UBIGINT",
        "ALTER TABLE access_events ADD COLUMN cust BIGINT",
        """CREATE TABLE access_parts (
            name VARCHAR PRIMARY KEY,
            load_id INTEGER NOT NULL,
            rows BIGINT NOT NULL,
            first_time TIMESTAMP NOT NULL,
            last_time TIMESTAMP NOT NULL)""",
    ),
)

_CONFIG_TEMPLATE = """\
# leaktrace workspace (see README.md). Created {created}.
[workspace]
# The DuckDB store: tokens and ledger only, never a raw customer identifier.
database = "{database}"
# The master key. Keep it apart from backups of the store; LEAKTRACE_MASTER_KEY overrides it.
key_file = "{key_file}"
key_version = 1
# DuckDB's memory limit; larger work spills to {database}.tmp/ (tokens only).
memory_limit = "2GB"

[monitor]
# Events outside these hours (and at weekends) count as off hours (非工作时间).
office_hours = "07:00-20:00"
weekend_off_hours = true
# Actions of the access log that are credit-report queries, and exports or prints.
credit_actions = ["credit_report", "征信查询", "查询征信", "征信报告查询"]
export_actions = ["export", "print", "download", "导出", "打印", "下载"]
# A credit query is covered by an application of the same customer named in its business
# reference, or submitted up to this many days before it.
application_days = 30
# The register's segment attribute with a customer's branch ("" finds branch_code or 网点代码).
branch_attribute = ""
# The user's own baseline: the calendar weeks before the day's week, and how many days of
# them must have been worked.
history_weeks = 4
history_min_days = 5
# Days of logs the baselines learn from before deviations alert (rules alert from the start).
learning_days = 10
# Peers are the same role at the same branch when this many work that day, else the same role.
min_peers = 8
# Enumeration (遍历): a block of this many consecutive register ids with at least
# enumeration_run of them touched in a day; enumeration_min such customers make a rule hit.
enumeration_block = 16
enumeration_run = 4
enumeration_min = 20
# Credit reports without an application that make a rule hit.
credit_min = 1
# Activity this many days before a leave date multiplies the score by leave_factor.
leave_days = 30
leave_factor = 1.5
# Robust z-scores below z_floor do not count; above z_floor + z_cap they count no more.
z_floor = 3.0
z_cap = 20.0
# A user-day is alerted from alert_score (high from high_score; a decoy touch is critical);
# the day's best analysts × alerts_per_analyst alerts are kept (decoy touches always), users
# alerted in the repeat_days before (open cases) after the others.
alert_score = 10.0
high_score = 40.0
analysts = 1
alerts_per_analyst = 10
repeat_days = 7
"""


@dataclass(frozen=True, slots=True)
class LoadCounts:
    """What one load changed in the register."""

    load_id: int
    customers_new: int
    customers_seen: int
    tokens_new: int
    customers_total: int
    tokens_total: int


class Workspace:
    """An open workspace: its folder, configuration, keys and DuckDB connection.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: Path,
        config: dict[str, Any],
        keyring: keys.Keyring,
        db: duckdb.DuckDBPyConnection,
    ) -> None:
        self.path = path
        self.config = config
        self.keyring = keyring
        self.db = db

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB connection (uncommitted work is rolled back)."""
        self.db.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the store."""
        return _schema_version(self.db)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction: all of it lands, or none of it."""
        with transaction(self.db):
            yield self.db

    def counts(self) -> dict[str, int]:
        """Customers, tokens and loads in the register."""
        customers, tokens, loads = self.db.execute(
            f"SELECT (SELECT count(*) FROM customers WHERE {LOADED}), "
            f"(SELECT count(*) FROM tokens WHERE {LOADED}), (SELECT count(*) FROM loads)"
        ).fetchall()[0]
        return {"customers": customers, "tokens": tokens, "loads": loads}


def resolve(path: str | os.PathLike[str] | None) -> Path:
    """The workspace folder: ``path``, else ``$LEAKTRACE_WORKSPACE``, else the current folder."""
    chosen = path if path is not None else os.environ.get(ENV_WORKSPACE) or "."
    return Path(chosen).expanduser().resolve()


def init_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
    """Create a workspace in ``path`` (created if missing) and open it.

    The master key comes from ``LEAKTRACE_MASTER_KEY`` when set (then no key file is written),
    else from a new random key written to ``master.key`` with mode 0600 (an existing
    ``master.key`` left by an earlier, interrupted ``init`` is used as it is).
    """
    folder = resolve(path)
    config_path = folder / CONFIG_NAME
    if config_path.exists():
        raise WorkspaceError(f"{folder} is already a leaktrace workspace ({CONFIG_NAME} exists).")
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"{folder} exists and is not a folder; choose another path.")
    database = folder / DATABASE_NAME
    if database.exists():
        raise WorkspaceError(
            f"{database} exists but {CONFIG_NAME} does not; move the file away or choose "
            "another folder."
        )
    # A key from the environment is checked before anything is made: a bad one leaves no folder.
    environment_key = keys.master_key(None) if os.environ.get(keys.ENV_VAR) else None
    folder.mkdir(parents=True, exist_ok=True)
    if environment_key is not None:
        master, key_file = environment_key, ""
    else:
        key_path = folder / KEY_FILE_NAME
        if not key_path.exists():
            keys.write_key_file(key_path, keys.new_master_key())
        master, key_file = keys.read_key_file(key_path), KEY_FILE_NAME
    keyring = keys.Keyring(master)
    # The store is built under a temporary name and renamed into place, then the config is
    # written (temp-then-rename): the folder is a workspace only once both are complete.
    building = folder / (DATABASE_NAME + ".init")
    building.unlink(missing_ok=True)
    db = duckdb.connect(str(building))
    try:
        _migrate(db)
        now = _now().isoformat()
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ["created", now],
                ["created_by", f"leaktrace {__version__}"],
                [f"key_check_v{keyring.version}", keyring.check_value()],
            ],
        )
    finally:
        db.close()
    os.replace(building, database)
    config_text = _CONFIG_TEMPLATE.format(created=now, database=DATABASE_NAME, key_file=key_file)
    temporary = config_path.with_suffix(".toml.tmp")
    temporary.write_text(config_text, encoding="utf-8")
    os.replace(temporary, config_path)
    return open_workspace(folder)


def open_workspace(
    path: str | os.PathLike[str] | None = None, *, read_only: bool = False
) -> Workspace:
    """Open the workspace in ``path`` (see :func:`resolve`), check its key, migrate its schema.

    Raises :class:`WorkspaceError` when there is none, when the master key is not the one the
    workspace was created with, when another process holds it, or when a newer leaktrace made it.
    """
    folder = resolve(path)
    config = _read_config(folder)
    section = config["workspace"]
    key_file = section.get("key_file") or None
    master = keys.master_key(folder / key_file if key_file else None)
    keyring = keys.Keyring(master, int(section.get("key_version", 1)))
    database = folder / section.get("database", DATABASE_NAME)
    if not database.is_file():
        raise WorkspaceError(
            f"The store {database} is missing; restore it from a backup or run `leaktrace init`."
        )
    db = _connect(database, read_only, section)
    try:
        stored = db.execute(
            "SELECT value FROM meta WHERE key = ?", [f"key_check_v{keyring.version}"]
        ).fetchall()
        stored = stored[0] if stored else None
        if stored is None:
            _refuse_key_version(db, keyring.version, folder)
        if stored is None or stored[0] != keyring.check_value():
            raise WorkspaceError(
                f"The master key does not match this workspace (key check value "
                f"{keyring.check_value()}, expected {stored[0] if stored else 'none'}); use the "
                f"key it was created with ({keys.ENV_VAR} or key_file in {CONFIG_NAME})."
            )
        if not read_only:
            _migrate(db)
            drop_incomplete_loads(db)
            move_legacy_events(db, folder)
            drop_orphan_parts(db, folder)
        elif _schema_version(db) != SCHEMA_VERSION:
            raise WorkspaceError(
                f"{folder} needs a schema upgrade; open it once without read-only access."
            )
        refresh_events_view(db, folder)
    except BaseException:
        db.close()
        raise
    return Workspace(folder, config, keyring, db)


def _refuse_key_version(db: duckdb.DuckDBPyConnection, version: int, folder: Path) -> None:
    """Refuse a ``key_version`` the workspace has no keys of (a master key of the wrong version
    would otherwise read as the wrong key)."""
    made = sorted(
        int(key.removeprefix("key_check_v"))
        for (key,) in db.execute("SELECT key FROM meta WHERE key LIKE 'key_check_v%'").fetchall()
    )
    if made:
        raise WorkspaceError(
            f"{folder / CONFIG_NAME} sets key_version = {version}, but this workspace's keys are "
            f"of version {', '.join(map(str, made))}; set key_version = {made[-1]} in [workspace]."
        )


def _read_config(folder: Path) -> dict[str, Any]:
    config_path = folder / CONFIG_NAME
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkspaceError(
            f"{folder} is not a leaktrace workspace (no {CONFIG_NAME}); run `leaktrace init "
            f"{folder}` or pass --workspace / set {ENV_WORKSPACE}."
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise WorkspaceError(f"Cannot read {config_path}: {error}") from None
    section = config.get("workspace")
    if not isinstance(section, dict):
        raise WorkspaceError(f"{config_path} has no [workspace] section; compare with README.md.")
    for name, kind, example in _WORKSPACE_SETTINGS:
        value = section.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise WorkspaceError(
                f"{config_path}: {name} = {value!r} in [workspace] must be {example}."
            )
    if section.get("key_version", 1) < 1:
        raise WorkspaceError(f"{config_path}: key_version in [workspace] must be 1 or more.")
    return config


# [workspace] settings: name, type, what a valid value looks like.
_WORKSPACE_SETTINGS = (
    ("database", str, 'a file name such as "leaktrace.duckdb"'),
    ("key_file", str, 'a file name such as "master.key"'),
    ("key_version", int, "a whole number such as 1"),
    ("memory_limit", str, 'a size such as "2GB"'),
)


def _connect(database: Path, read_only: bool, section: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    settings = {
        "memory_limit": str(section.get("memory_limit", "2GB")),
        "temp_directory": str(database) + ".tmp",
        # Order of rows in staging and merge results does not matter; keeping it costs memory.
        "preserve_insertion_order": False,
    }
    try:
        return duckdb.connect(str(database), read_only=read_only, config=settings)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            raise WorkspaceError(
                f"The workspace store {database} is in use by another process; wait for it to "
                "finish."
            ) from None
        if isinstance(error, duckdb.ParserException):  # the settings', not the file's
            raise WorkspaceError(
                f"memory_limit = {settings['memory_limit']!r} in [workspace] of {CONFIG_NAME} is "
                'not a size DuckDB reads; write one such as "2GB" or "512MB".'
            ) from None
        raise WorkspaceError(
            f"{database} is not a readable leaktrace store ({str(error).splitlines()[0]}); "
            "restore it from a backup."
        ) from None


def _schema_version(db: duckdb.DuckDBPyConnection) -> int:
    exists = db.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'meta' AND NOT temporary"
    ).fetchall()[0][0]
    if not exists:
        return 0
    rows = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def _migrate(db: duckdb.DuckDBPyConnection) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, one transaction per step."""
    version = _schema_version(db)
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"This workspace has schema version {version}, newer than this leaktrace knows "
            f"({SCHEMA_VERSION}); upgrade leaktrace."
        )
    for step in range(version, SCHEMA_VERSION):
        with transaction(db):
            for statement in MIGRATIONS[step]:
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(step + 1)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- the customer register -------------------------------------------------------------------


# Tokens of customers the register already knew are staged and merged at the end in this many
# parts (by a hash of the token), so that each step of the merge (a join and a DISTINCT) fits
# in memory however large a re-load is.
TOKEN_PARTITIONS = 16


# The rows of recorded loads only: a load writes new customers batch by batch and counts once
# ``loads`` has its row (see RegisterLoad).
LOADED = "first_load IN (SELECT load_id FROM loads)"


def drop_incomplete_loads(db: duckdb.DuckDBPyConnection) -> None:
    """Delete what a load that never finished (a crash, ``kill -9``) had written."""
    newest = db.execute("SELECT coalesce(max(load_id), 0) FROM loads").fetchall()[0][0]
    for table in ("tokens", "customers"):
        stray = db.execute(f"SELECT count(*) FROM {table} WHERE first_load > ?", [newest])
        if stray.fetchall()[0][0]:
            db.execute(f"DELETE FROM {table} WHERE first_load > ?", [newest])
    drop_incomplete_access_loads(db)


class RegisterLoad:
    """One load into the register, batch by batch; it counts only once :meth:`finish` has
    recorded it in ``loads``.

    Customers new to the register, and their tokens, are written batch by batch (one
    transaction each: DuckDB keeps ~50 bytes per uncommitted row in memory, too much for 100
    million tokens in one transaction) with ``first_load`` set to this load. Until the load is
    recorded, every query leaves them out (:data:`LOADED`), and the next load or write-open
    deletes them (:func:`drop_incomplete_loads`), so a crash or ``kill -9`` leaves the register
    as it was. Changes to customers known before — their segment, tokens they did not hold
    yet (a changed phone adds a token and keeps the old one), tokens seen again — are staged
    and applied in the one transaction of :meth:`finish` that records the load.
    """

    def __init__(self, workspace: Workspace, segment_names: Sequence[str]) -> None:
        self.workspace = workspace
        self.db = workspace.db
        self.segment = (
            "json_object("
            + ", ".join(f"'{_sql_text(name)}', s{i}" for i, name in enumerate(segment_names))
            + ")"
            if segment_names
            else "NULL"
        )
        db = self.db  # opened for writing: an unfinished earlier load is already cleared
        self.load_id = db.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][
            0
        ]
        self.next_id = db.execute(
            "SELECT coalesce(max(customer_id), 0) + 1 FROM customers"
        ).fetchall()[0][0]
        db.execute("DROP TABLE IF EXISTS stage_segments")
        db.execute("CREATE TEMP TABLE stage_segments (customer_id BIGINT, segment JSON)")
        db.execute("DROP TABLE IF EXISTS stage_known")
        db.execute(
            "CREATE TEMP TABLE stage_known (token BLOB, kind UTINYINT, customer_id BIGINT, "
            "part UTINYINT)"
        )

    def add(self, customers: pa.Table, tokens: pa.Table) -> None:
        """One batch: ``customers`` (``ref``, ``row_no``, segment values ``s0``…) and
        ``tokens`` (``ref``, ``kind``, ``token``)."""
        db, load_id = self.db, self.load_id
        # Intermediate results come back as Arrow and are registered as views: temporary
        # tables replaced batch after batch would keep every old version until the commit.
        with (
            _memory_errors(self.rollback),
            transaction(db),
            _shown(db, batch_customers=customers, batch_tokens=tokens),
        ):
            refs = db.sql(
                f"""SELECT b.ref, b.first_row, b.segment, c.customer_id
                FROM (SELECT ref, min(row_no) AS first_row,
                             arg_max({self.segment}, row_no) AS segment
                      FROM batch_customers GROUP BY ref) b
                LEFT JOIN customers c ON c.ref_token = b.ref
                ORDER BY b.first_row"""
            ).to_arrow_table()
            is_new = pc.is_null(refs.column("customer_id"))
            fresh = refs.filter(is_new)
            ids = np.arange(self.next_id, self.next_id + fresh.num_rows, dtype=np.int64)
            fresh = fresh.set_column(3, "customer_id", pa.array(ids))
            self.next_id += fresh.num_rows
            with _shown(db, batch_new=fresh, batch_known=refs.filter(pc.invert(is_new))):
                db.execute(
                    "INSERT INTO stage_segments SELECT customer_id, segment FROM batch_known"
                )
                db.execute(
                    "INSERT INTO customers SELECT customer_id, ref, segment, ?, ? FROM batch_new",
                    [load_id, load_id],
                )
                db.execute(
                    """INSERT INTO tokens
                    SELECT DISTINCT t.token, t.kind, n.customer_id, ?, ?, ?
                    FROM batch_tokens t JOIN batch_new n ON n.ref = t.ref
                    ORDER BY t.kind""",
                    [self.workspace.keyring.version, load_id, load_id],
                )
                db.execute(
                    f"""INSERT INTO stage_known
                    SELECT t.token, t.kind, b.customer_id, hash(t.token) % {TOKEN_PARTITIONS}
                    FROM batch_tokens t JOIN batch_known b ON b.ref = t.ref"""
                )

    def finish(
        self,
        source: str,
        started: datetime.datetime,
        rows: int,
        mapping: dict[str, Any],
        check: Callable[[int], None] | None = None,
    ) -> LoadCounts:
        """Merge the staged tokens, record the load and commit; ``check`` sees how many
        customers the load named before the commit, and may refuse it by raising (the caller
        rolls back)."""
        db, load_id = self.db, self.load_id
        with _memory_errors(self.rollback):
            db.execute("BEGIN TRANSACTION")
            db.execute(
                """UPDATE customers SET segment = s.segment, last_load = ?
                FROM (SELECT customer_id, last(segment) AS segment FROM stage_segments
                      GROUP BY customer_id) s
                WHERE customers.customer_id = s.customer_id""",
                [load_id],
            )
            for part in range(TOKEN_PARTITIONS):
                _merge_known(db, part, load_id, self.workspace.keyring.version)
            customers_new, customers_seen = db.execute(
                """SELECT count(*) FILTER (WHERE first_load = ?),
                          count(*) FILTER (WHERE first_load < ? AND last_load = ?)
                FROM customers""",
                [load_id, load_id, load_id],
            ).fetchall()[0]
            if check is not None:
                check(customers_new + customers_seen)
            tokens_new = db.execute(
                "SELECT count(*) FROM tokens WHERE first_load = ?", [load_id]
            ).fetchall()[0][0]
            db.execute(
                "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    load_id,
                    source,
                    started,
                    _now(),
                    rows,
                    customers_new,
                    customers_seen,
                    tokens_new,
                    json.dumps(mapping, ensure_ascii=False),
                ],
            )
            db.execute("COMMIT")
        self._drop_staging()
        totals = self.workspace.counts()
        return LoadCounts(
            load_id=load_id,
            customers_new=customers_new,
            customers_seen=customers_seen,
            tokens_new=tokens_new,
            customers_total=totals["customers"],
            tokens_total=totals["tokens"],
        )

    def rollback(self) -> None:
        """Undo everything this load did."""
        with contextlib.suppress(duckdb.Error):
            self.db.execute("ROLLBACK")
        with contextlib.suppress(duckdb.Error):
            drop_incomplete_loads(self.db)
        self._drop_staging()

    def _drop_staging(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.db.execute("DROP TABLE IF EXISTS stage_segments")
            self.db.execute("DROP TABLE IF EXISTS stage_known")


def _merge_known(db: duckdb.DuckDBPyConnection, part: int, load_id: int, key_version: int) -> None:
    """Merge one partition of staged tokens of known customers into ``tokens``."""
    db.execute(
        """CREATE OR REPLACE TEMP TABLE stage_ids AS
        SELECT DISTINCT token, kind, customer_id FROM stage_known WHERE part = ?""",
        [part],
    )
    db.execute(
        """UPDATE tokens SET last_load = ?
        FROM stage_ids s
        WHERE tokens.token = s.token AND tokens.customer_id = s.customer_id""",
        [load_id],
    )
    db.execute(
        """INSERT INTO tokens
        SELECT s.token, s.kind, s.customer_id, ?, ?, ?
        FROM stage_ids s
        ANTI JOIN tokens t ON t.token = s.token AND t.customer_id = s.customer_id""",
        [key_version, load_id, load_id],
    )
    db.execute("DROP TABLE stage_ids")


@contextmanager
def transaction(db: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run a block in one transaction: all of it lands, or none of it (a rollback that
    fails because the error already ended the transaction leaves the first error to tell)."""
    db.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def _shown(db: duckdb.DuckDBPyConnection, **relations: Any) -> Iterator[None]:
    """Arrow tables (or arrays) shown to the engine as views of these names for the block."""
    for name, relation in relations.items():
        db.register(name, relation)
    try:
        yield
    except BaseException:
        # In a transaction the error aborted, unregistering fails too: the first error tells.
        for name in relations:
            with contextlib.suppress(duckdb.Error):
                db.unregister(name)
        raise
    for name in relations:
        db.unregister(name)


@contextmanager
def _memory_errors(undo: Callable[[], None] | None = None) -> Iterator[None]:
    """DuckDB running out of memory, as a one-line error (after ``undo``)."""
    try:
        yield
    except duckdb.OutOfMemoryException:
        if undo is not None:
            undo()
        raise WorkspaceError(
            "The store ran out of memory; raise memory_limit in leaktrace.toml and run the "
            "command again (nothing was changed)."
        ) from None


def ids_for_refs(db: duckdb.DuckDBPyConnection, refs: pa.Array) -> list[int | None]:
    """The register id of each customer-number token, in order (None where unknown)."""
    probe = pa.table({"position": pa.array(range(len(refs)), pa.int64()), "ref": refs})
    with _shown(db, probe_refs=probe):
        found = db.sql(
            f"""SELECT c.customer_id FROM probe_refs p
            LEFT JOIN (SELECT * FROM customers WHERE {LOADED}) c ON c.ref_token = p.ref
            ORDER BY p.position"""
        ).fetchall()
    return [row[0] for row in found]


def ids_for_refs_array(db: duckdb.DuckDBPyConnection, refs: pa.Array) -> np.ndarray:
    """:func:`ids_for_refs` as an int64 array, -1 where unknown: for an export's batches, where
    a Python list per row would cost more than the join."""
    probe = pa.table({"position": pa.array(np.arange(len(refs), dtype=np.int64)), "ref": refs})
    with _shown(db, probe_refs=probe):
        found = db.sql(
            f"""SELECT p.position, c.customer_id FROM probe_refs p
            JOIN (SELECT ref_token, customer_id FROM customers WHERE {LOADED}) c
            ON c.ref_token = p.ref"""
        ).to_arrow_table()
    ids = np.full(len(refs), -1, dtype=np.int64)
    ids[found.column("position").to_numpy()] = found.column("customer_id").to_numpy()
    return ids


def register_refs(db: duckdb.DuckDBPyConnection, *, at_most: int) -> pa.Table | None:
    """(ref_token, customer_id) of every customer of the register, or None when there are more
    than ``at_most`` (tokens of :data:`keys.TOKEN_BYTES` bytes, as every current token is).
    One read, of ``at_most`` + 1 rows at most."""
    pairs = db.sql(
        f"""SELECT ref_token, customer_id FROM customers
        WHERE {LOADED} AND octet_length(ref_token) = {keys.TOKEN_BYTES}
        LIMIT {int(at_most) + 1}"""
    ).to_arrow_table()
    return None if pairs.num_rows > at_most else pairs


def match_tokens(db: duckdb.DuckDBPyConnection, probe: pa.Table) -> pa.Table:
    """Resolve the tokens of a list's rows to register customers, one result row per row hit.

    ``probe`` has columns ``row_no``, ``kind``, ``exact``, ``token``. A row is *matched* to
    the one customer that fits all its evidence: every exact identifier that hit anyone, and
    every composite token (name + masked phone …) that hit anyone; failing that, to the one
    customer that fits all its exact identifiers. Rows where no single customer fits are
    *ambiguous*, with the number of candidates. Rows without any hit are not returned.
    """
    with _shown(db, probe=probe):
        return db.sql(
            f"""
            WITH hits AS (
                SELECT DISTINCT p.row_no, p.kind, p.exact, t.customer_id
                FROM probe p JOIN tokens t ON t.token = p.token
                WHERE t.{LOADED}
            ), row_kinds AS (
                SELECT row_no,
                       count(DISTINCT kind) FILTER (WHERE exact) AS row_exact,
                       count(DISTINCT kind) FILTER (WHERE NOT exact) AS row_composite
                FROM hits GROUP BY row_no
            ), candidates AS (
                SELECT h.row_no, h.customer_id,
                       count(DISTINCT h.kind) FILTER (WHERE h.exact) = any_value(r.row_exact)
                           AND count(DISTINCT h.kind) FILTER (WHERE NOT h.exact)
                               = any_value(r.row_composite) AS fits_all,
                       any_value(r.row_exact) > 0
                           AND count(DISTINCT h.kind) FILTER (WHERE h.exact)
                               = any_value(r.row_exact) AS fits_exact,
                       list(DISTINCT h.kind ORDER BY h.kind) AS kinds
                FROM hits h JOIN row_kinds r USING (row_no)
                GROUP BY h.row_no, h.customer_id
            ), judged AS (
                SELECT row_no,
                       count(*) AS candidates,
                       count(*) FILTER (WHERE fits_all) AS fit_all,
                       count(*) FILTER (WHERE fits_exact) AS fit_exact,
                       any_value(customer_id) FILTER (WHERE fits_all) AS all_id,
                       any_value(kinds) FILTER (WHERE fits_all) AS all_kinds,
                       any_value(customer_id) FILTER (WHERE fits_exact) AS exact_id,
                       any_value(kinds) FILTER (WHERE fits_exact) AS exact_kinds
                FROM candidates GROUP BY row_no
            )
            SELECT row_no,
                   CASE WHEN fit_all = 1 OR fit_exact = 1 THEN 'matched' ELSE 'ambiguous' END
                       AS status,
                   CASE WHEN fit_all = 1 THEN all_id WHEN fit_exact = 1 THEN exact_id END
                       AS customer_id,
                   CASE WHEN fit_all = 1 THEN all_kinds WHEN fit_exact = 1 THEN exact_kinds END
                       AS kinds,
                   candidates
            FROM judged ORDER BY row_no
            """
        ).to_arrow_table()


def _sql_text(text: str) -> str:
    """``text`` for use inside a single-quoted SQL string literal."""
    return text.replace("'", "''")


# -- the ledger ------------------------------------------------------------------------------

# Columns of a ledger row, in the order the functions below return them.
LEDGER_COLUMNS = ("seq", "kind", "time", "body", "prev_hash", "entry_hash", "mac", "key_version")
_LEDGER_SELECT = "SELECT " + ", ".join(LEDGER_COLUMNS) + " FROM ledger"


def in_transaction(db: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``db`` has an explicit transaction open (``BEGIN`` not yet committed).

    DuckDB has no query for this, and a ``BEGIN`` inside an open transaction aborts that
    transaction, so it cannot be probed by trying. In auto-commit mode every statement runs in a
    transaction of its own with a new id; inside an explicit transaction they share one.
    """
    first = db.execute("SELECT txid_current()").fetchall()[0][0]
    second = db.execute("SELECT txid_current()").fetchall()[0][0]
    return bool(first == second)


def ledger_rows(
    db: duckdb.DuckDBPyConnection, kind: str | None = None, since_seq: int | None = None
) -> list[tuple[Any, ...]]:
    """Ledger rows in seq order (columns :data:`LEDGER_COLUMNS`), of one kind, after a seq."""
    conditions, parameters = [], []
    if kind is not None:
        conditions.append("kind = ?")
        parameters.append(kind)
    if since_seq is not None:
        conditions.append("seq > ?")
        parameters.append(since_seq)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return db.execute(f"{_LEDGER_SELECT}{where} ORDER BY seq", parameters).fetchall()


def ledger_last(db: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The ledger row with the highest seq, or None when the ledger is empty."""
    rows = db.execute(f"{_LEDGER_SELECT} ORDER BY seq DESC LIMIT 1").fetchall()
    return rows[0] if rows else None


def ledger_row(db: duckdb.DuckDBPyConnection, seq: int) -> tuple[Any, ...] | None:
    """The ledger row with ``seq``, or None."""
    rows = db.execute(f"{_LEDGER_SELECT} WHERE seq = ?", [seq]).fetchall()
    return rows[0] if rows else None


def ledger_hashes(db: duckdb.DuckDBPyConnection, upto_seq: int | None = None) -> list[bytes]:
    """The entry hashes in seq order, up to and including ``upto_seq`` (the Merkle leaves)."""
    where, parameters = ("WHERE seq <= ?", [upto_seq]) if upto_seq is not None else ("", [])
    rows = db.execute(f"SELECT entry_hash FROM ledger {where} ORDER BY seq", parameters).fetchall()
    return [bytes(row[0]) for row in rows]


def insert_ledger_row(db: duckdb.DuckDBPyConnection, row: Sequence[Any]) -> None:
    """Add one ledger row (columns :data:`LEDGER_COLUMNS`); the caller holds the transaction."""
    db.execute(
        f"INSERT INTO ledger ({', '.join(LEDGER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        list(row),
    ).fetchall()


def ledger_head(db: duckdb.DuckDBPyConnection) -> tuple[int, bytes, bytes, int] | None:
    """The chain head (seq, entry hash, MAC, key version), or None when none was written."""
    rows = db.execute("SELECT seq, entry_hash, mac, key_version FROM ledger_head").fetchall()
    if not rows:
        return None
    seq, entry_hash, mac, key_version = rows[0]
    return int(seq), bytes(entry_hash), bytes(mac), int(key_version)


def set_ledger_head(
    db: duckdb.DuckDBPyConnection, seq: int, entry_hash: bytes, mac: bytes, key_version: int
) -> None:
    """Replace the chain head; the caller holds the transaction that added the entry."""
    db.execute(
        "INSERT OR REPLACE INTO ledger_head VALUES (true, ?, ?, ?, ?)",
        [seq, entry_hash, mac, key_version],
    ).fetchall()


# -- releases ---------------------------------------------------------------------------------

RELEASE_COLUMNS = (
    "release_id", "status", "recipient", "role", "purpose", "approver", "created", "source",
    "output", "partial", "rows", "decoys", "customers", "output_sha256", "ledger_seq",
)  # fmt: skip


def next_release_id(db: duckdb.DuckDBPyConnection) -> str:
    """``R000001``, ``R000002`` …: one more than the releases recorded so far."""
    count = db.execute("SELECT count(*) FROM releases").fetchall()[0][0]
    return f"R{count + 1:06d}"


def insert_release(db: duckdb.DuckDBPyConnection, release: dict[str, Any]) -> None:
    """Record a release (its :data:`RELEASE_COLUMNS`; missing ones are null)."""
    db.execute(
        f"INSERT INTO releases ({', '.join(RELEASE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(RELEASE_COLUMNS))})",
        [release.get(column) for column in RELEASE_COLUMNS],
    )


def update_release(db: duckdb.DuckDBPyConnection, release_id: str, **values: Any) -> None:
    """Set columns of one release."""
    unknown = set(values) - set(RELEASE_COLUMNS)
    if unknown:
        raise ValueError(f"no release column {sorted(unknown)[0]!r}")
    assignments = ", ".join(f"{column} = ?" for column in values)
    db.execute(
        f"UPDATE releases SET {assignments} WHERE release_id = ?", [*values.values(), release_id]
    )


def releases(db: duckdb.DuckDBPyConnection, status: str | None = None) -> list[dict[str, Any]]:
    """Releases in order, of one status or all."""
    where = "WHERE status = ?" if status else ""
    rows = db.execute(
        f"SELECT {', '.join(RELEASE_COLUMNS)} FROM releases {where} ORDER BY release_id",
        [status] if status else [],
    ).fetchall()
    return [dict(zip(RELEASE_COLUMNS, row, strict=True)) for row in rows]


NO_CUSTOMERS = pa.array([], pa.int64())


def add_release_members(
    db: duckdb.DuckDBPyConnection, release_id: str, customer_ids: pa.Array, decoys: pa.Table
) -> None:
    """The customers of a release (distinct register ids: an export's are sorted and distinct
    already, and a DISTINCT over a million of them cost 0.05 s of the transaction; sorted ones
    are checked in a pass, others counted), and the tokens of its decoys (``decoy``, ``kind``,
    ``token``)."""
    ids = customer_ids.to_numpy(zero_copy_only=False)
    if not (np.diff(ids) > 0).all() and _vector.distinct(ids).size != ids.size:
        raise ValueError(f"{release_id}: a release's customers must be distinct register ids.")
    members = pa.table({"customer_id": customer_ids})
    with _shown(db, release_members=members, release_decoys=decoys):
        db.execute(
            "INSERT INTO release_customers SELECT ?, customer_id FROM release_members",
            [release_id],
        )
        db.execute(
            "INSERT INTO decoy_tokens SELECT ?, decoy, kind, token FROM release_decoys",
            [release_id],
        )


def times_released(db: duckdb.DuckDBPyConnection, customer_ids: Sequence[int]) -> list[int]:
    """How many complete releases held each customer, in order."""
    probe = pa.table({"position": pa.array(range(len(customer_ids)), pa.int64()),
                      "customer_id": pa.array(customer_ids, pa.int64())})  # fmt: skip
    with _shown(db, probe_released=probe):
        rows = db.execute(
            """SELECT count(r.release_id) FROM probe_released p
            LEFT JOIN release_customers m ON m.customer_id = p.customer_id
            LEFT JOIN releases r ON r.release_id = m.release_id AND r.status = 'complete'
            GROUP BY p.position ORDER BY p.position"""
        ).fetchall()
    return [row[0] for row in rows]


def segment_members(db: duckdb.DuckDBPyConnection, conditions: dict[str, str]) -> set[int]:
    """Register ids whose segment attributes equal all ``conditions`` (attribute → value)."""
    where = " AND ".join(["json_extract_string(segment, ?) = ?" for _ in conditions] + [LOADED])
    params = [p for name, value in conditions.items() for p in (f'$."{name}"', value)]
    rows = db.execute(f"SELECT customer_id FROM customers WHERE {where}", params).fetchall()
    return {row[0] for row in rows}


def segment_attributes(db: duckdb.DuckDBPyConnection) -> list[str]:
    """The segment attributes the register's customers carry, sorted (a scan of the register:
    for messages, not for every export)."""
    rows = db.execute(
        f"""SELECT DISTINCT unnest(json_keys(segment)) FROM customers
        WHERE {LOADED} AND segment IS NOT NULL ORDER BY 1"""
    ).fetchall()
    return [row[0] for row in rows]


def decoy_hits(db: duckdb.DuckDBPyConnection, tokens: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Per release, how many of its decoys any of ``tokens`` (exact identifier tokens) names."""
    with _shown(db, probe_decoys=pa.table({"token": tokens})):
        rows = db.execute(
            """SELECT d.release_id, count(DISTINCT d.decoy) FROM probe_decoys p
            JOIN decoy_tokens d ON d.token = p.token GROUP BY d.release_id"""
        ).fetchall()
    return dict(rows)


def register_size(db: duckdb.DuckDBPyConnection) -> int:
    """Customers in the register (without counting its tokens, as ``Workspace.counts`` does)."""
    return db.execute(f"SELECT count(*) FROM customers WHERE {LOADED}").fetchall()[0][0]


def release_member_rows(db: duckdb.DuckDBPyConnection, owners: pa.Array) -> pa.Table:
    """Per release that holds the customer of any row of a list (``owners``: the register id
    of each row, null for none): ``release_id`` and ``rows``, those rows in order — every
    release's members among a leak's customers in one pass over ``release_customers``."""
    ids = _vector.flat(owners)
    probe = pa.table({"row": pa.array(np.arange(len(ids), dtype=np.int64)), "customer_id": ids})
    with _shown(db, probe_owners=probe.filter(pc.is_valid(probe.column("customer_id")))):
        return db.sql(
            """SELECT m.release_id, list(p.row ORDER BY p.row) AS rows FROM probe_owners p
            JOIN release_customers m ON m.customer_id = p.customer_id
            GROUP BY m.release_id ORDER BY m.release_id"""
        ).to_arrow_table()


def tokens_exist(
    db: duckdb.DuckDBPyConnection, tokens: pa.Array, kinds: Sequence[int] | None = None
) -> list[bool]:
    """Whether any customer, or any decoy or canary already made, holds each token, in order
    (customer numbers by their ``customer_refs`` token, kind 0). ``kinds`` (codes) limits the
    search to the tokens of those kinds: a fraction of the register to pass over."""
    probe = pa.table({"position": pa.array(range(len(tokens)), pa.int64()), "token": tokens})
    of_kind = "" if kinds is None else "AND kind IN (SELECT unnest($kinds))"
    refs = kinds is None or 0 in kinds
    with _shown(db, probe_tokens=probe):
        found = db.execute(
            f"""SELECT p.position FROM probe_tokens p SEMI JOIN (
                SELECT token FROM tokens WHERE {LOADED} {of_kind}
                UNION ALL SELECT ref_token FROM customers WHERE {LOADED} AND $refs
                UNION ALL SELECT token FROM decoy_tokens WHERE true {of_kind}
                ) t ON t.token = p.token""",
            {"refs": refs} | ({} if kinds is None else {"kinds": [int(k) for k in kinds]}),
        ).fetchall()
    held = [False] * len(tokens)
    for (position,) in found:
        held[position] = True
    return held


# -- trace: cases and access windows -------------------------------------------------------


CASE_COLUMNS = ("case_id", "created", "inputs", "verdict", "summary", "report", "ledger_seq")


def next_case_id(db: duckdb.DuckDBPyConnection) -> str:
    """``K000001``, ``K000002`` …"""
    count = db.execute("SELECT count(*) FROM cases").fetchall()[0][0]
    return f"K{count + 1:06d}"


def insert_case(db: duckdb.DuckDBPyConnection, case: dict[str, Any]) -> None:
    """Record a traced leak (JSON fields as Python data)."""
    values = [
        json.dumps(case[c], ensure_ascii=False, default=str)
        if c in ("inputs", "verdict", "summary") else case.get(c)
        for c in CASE_COLUMNS
    ]  # fmt: skip
    db.execute(f"INSERT INTO cases VALUES ({', '.join('?' * len(CASE_COLUMNS))})", values)


def cases(db: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every recorded case, oldest first, JSON fields as Python data."""
    rows = db.execute(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases ORDER BY case_id").fetchall()
    found = []
    for row in rows:
        item = dict(zip(CASE_COLUMNS, row, strict=True))
        for name in ("inputs", "verdict", "summary"):
            item[name] = json.loads(item[name])
        found.append(item)
    return found


# What each user of the access logs touched, by the register's branch groups: derived data for
# trace's access windows, rebuilt when a customer or access load has been added since. At trace
# time only the events of the leaked customers are then read (a bank's logs hold 10^8 events; a
# user's distinct customers over all of them cannot be counted anew for each leak). A read-only
# workspace builds them as temporary tables, for its session.
TOUCH_TABLES = ("trace_touched", "trace_group_sizes", "trace_touch_state")
TOUCH_LAYOUT = 2  # users by staff_key (1: by staff_id)


def _branch_group(branch: str | None) -> str:
    """SQL for a customer's branch group: its ``branch`` segment attribute, '' when none."""
    if branch is None:
        return "''"
    return f"coalesce(json_extract_string(segment, '$.{_sql_text(branch)}'), '')"


def touch_summary(db: duckdb.DuckDBPyConnection, branch: str | None) -> str:
    """Make the per-user, per-branch-group counts of customers touched current (see above);
    the prefix to name their tables with. A read-only workspace uses the stored summary when
    it is current, else builds its own for the session."""
    loads = db.execute("SELECT count(*), coalesce(max(load_id), 0) FROM loads").fetchall()[0]
    access = db.execute("SELECT count(*), coalesce(max(load_id), 0) FROM access_loads")
    # The summary's layout is part of its state: a workspace keeps it from older versions.
    state = json.dumps([TOUCH_LAYOUT, list(loads), list(access.fetchall()[0]), branch])
    catalog = db.execute("SELECT current_database()").fetchall()[0][0]
    stored, session = f"{quote_name(catalog)}.main.", "temp.main."
    for prefix, database in ((stored, catalog), (session, "temp")):
        present = db.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'trace_touch_state' "
            "AND database_name = ?",
            [database],
        ).fetchall()[0][0]
        if present and db.execute(f"SELECT value FROM {prefix}trace_touch_state").fetchall() == [
            (state,)
        ]:
            return prefix
    read_only = db.execute("SELECT current_setting('access_mode')").fetchall()[0][0]
    prefix = session if read_only == "read_only" else stored
    temporary = "TEMP " if prefix == session else ""
    # Pairs by integer keys (staff_key = hash(staff_id), register id): DISTINCT over 10^8
    # events costs less on them than on the staff id's text.
    pairs = f"""SELECT DISTINCT staff_key, customer_id FROM access_events
        WHERE customer_id IS NOT NULL AND {ACCESS_LOADED}"""
    if branch is None:
        touched = f"SELECT staff_key, '' AS g, count(*) AS customers FROM ({pairs}) GROUP BY ALL"
        sizes = f"SELECT '' AS g, count(*) AS customers FROM customers WHERE {LOADED}"
    else:
        groups = f"SELECT customer_id, {_branch_group(branch)} AS g FROM customers WHERE {LOADED}"
        touched = f"""WITH groups AS ({groups}), pairs AS ({pairs})
        SELECT p.staff_key, g.g, count(*) AS customers
        FROM pairs p LEFT JOIN groups g USING (customer_id) GROUP BY ALL"""
        sizes = f"SELECT g, count(*) AS customers FROM ({groups}) GROUP BY g"
    statements = (
        f"CREATE OR REPLACE {temporary}TABLE {prefix}trace_touched AS {touched}",
        f"CREATE OR REPLACE {temporary}TABLE {prefix}trace_group_sizes AS {sizes}",
        f"CREATE OR REPLACE {temporary}TABLE {prefix}trace_touch_state (value VARCHAR)",
        f"INSERT INTO {prefix}trace_touch_state VALUES ('{_sql_text(state)}')",
    )
    with transaction(db):
        for statement in statements:
            db.execute(statement)
    return prefix


def leak_windows(
    db: duckdb.DuckDBPyConnection, customer_ids: pa.Array, branch: str | None = None
) -> list[dict[str, Any]]:
    """Per user who touched any of ``customer_ids`` (register ids): how many of them, when
    first and last, how many distinct customers the user touched at all (recorded loads
    only), and ``share``: the chance that the user touches a customer like the leaked ones in
    normal work — the mean over the leaked customers of the share of their ``branch`` segment
    (a segment attribute name) that the user touched, or of all customers without one. Most
    hits first. Reads the events of the leaked customers and the touch summary
    (:func:`touch_summary`, made current first)."""
    prefix = touch_summary(db, branch)
    with _shown(db, probe_leaked=pa.table({"customer_id": pc.unique(customer_ids)})):
        rows = db.execute(
            f"""WITH leaked AS (
                SELECT {_branch_group(branch)} AS g, count(*) AS m_g FROM customers
                SEMI JOIN probe_leaked USING (customer_id) WHERE {LOADED} GROUP BY g),
            hits AS (
                SELECT e.staff_id, any_value(e.staff_key) AS staff_key,
                       count(DISTINCT e.customer_id) AS hits,
                       min(e.time) AS first, max(e.time) AS last
                FROM access_events e SEMI JOIN probe_leaked p ON e.customer_id = p.customer_id
                WHERE e.customer_id IS NOT NULL AND e.{ACCESS_LOADED}
                GROUP BY e.staff_id),
            touched AS (
                SELECT t.staff_key, sum(t.customers) AS touched
                FROM {prefix}trace_touched t SEMI JOIN hits h ON h.staff_key = t.staff_key
                GROUP BY t.staff_key),
            shares AS (
                SELECT t.staff_key, sum(l.m_g * t.customers / s.customers)
                       / (SELECT sum(m_g) FROM leaked) AS share
                FROM {prefix}trace_touched t SEMI JOIN hits h ON h.staff_key = t.staff_key
                JOIN leaked l ON l.g = t.g JOIN {prefix}trace_group_sizes s ON s.g = t.g
                GROUP BY t.staff_key)
            SELECT h.staff_id, h.hits, h.first, h.last, t.touched, coalesce(s.share, 0)
            FROM hits h JOIN touched t USING (staff_key) LEFT JOIN shares s USING (staff_key)
            ORDER BY h.hits DESC, h.staff_id"""
        ).fetchall()
    names = ("staff_id", "hits", "first", "last", "touched", "share")
    return [dict(zip(names, (*row[:4], int(row[4]), row[5]), strict=True)) for row in rows]


def access_days(
    db: duckdb.DuckDBPyConnection, staff_id: str, customer_ids: pa.Array
) -> list[tuple[datetime.date, int, int]]:
    """(day, events on leaked customers, other events) of one user, day by day: the timeline
    of a harvest against the user's normal work."""
    with _shown(db, probe_leaked=pa.table({"customer_id": pc.unique(customer_ids)})):
        return db.execute(
            """SELECT CAST(e.time AS DATE) AS day,
                      count(*) FILTER (WHERE p.customer_id IS NOT NULL),
                      count(*) FILTER (WHERE p.customer_id IS NULL)
            FROM access_events e LEFT JOIN probe_leaked p ON e.customer_id = p.customer_id
            WHERE e.staff_id = ? AND e.load_id IN (SELECT load_id FROM access_loads)
            GROUP BY day ORDER BY day""",
            [staff_id],
        ).fetchall()


# -- access logs -------------------------------------------------------------------------------

# The rows of recorded access loads only: events, applications, portfolios and rejects are
# written chunk by chunk with their ``load_id`` and count once ``access_loads`` has its row
# (see AccessLoad). A read-only reader that may meet an unfinished load filters with this.
ACCESS_LOADED = "load_id IN (SELECT load_id FROM access_loads)"
_ACCESS_TABLES = ("applications", "portfolios", "access_rejects")
EVENTS_FOLDER = "access_events"  # Parquet parts of access events, in the workspace folder
# The columns of an event as parts hold them, in order; the view ``access_events`` adds
# ``cust``, the monitor's one key for a customer (:data:`_CUSTOMER_KEY`), computed as it is
# read rather than written with every event (parts written before hold it, unread).
PART_COLUMNS = (
    "event_key", "time", "staff_id", "action", "system", "customer_token", "customer_id",
    "business_ref", "terminal", "ip", "load_id", "staff_key",
)  # fmt: skip
# Parts are built by DuckDB and written by Arrow's Parquet writer, streamed a row group at a
# time: dictionaries only for the columns of few distinct values, min/max statistics only
# for the times (a time filter skips row groups by them). DuckDB's own writer tries a
# dictionary and keeps statistics for every column, which cost it ~1.7× the CPU on a 4M-row
# part (RESULTS.md); snappy measured 20 % less CPU than zstd for 25 % more disk. The event
# key, a hash, is left uncompressed: snappy cannot shrink it.
_PART_ROW_GROUP = 122_880
_PART_DICTIONARY = ("staff_id", "action", "system", "terminal", "ip", "load_id", "staff_key")
_PART_STATISTICS = ("time",)
ACCESS_KINDS = ("events", "staff", "applications", "portfolios")
# Timestamps with a zone are kept as wall-clock time in this zone (off-hours are local hours).
ACCESS_TIMEZONE = "Asia/Shanghai"
_TIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y.%m.%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
    "%Y年%m月%d日",
)  # fmt: skip
_DATE_FORMATS = ("%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
# A fixed row whose hash() is recorded with the first event load: event keys are DuckDB
# hashes, and a DuckDB that hashed differently would silently key the same event anew.
_HASH_PROBE = "hash('leaktrace', 1::BIGINT, TIMESTAMP '2000-01-02 03:04:05', 'x'::BLOB)"


def drop_incomplete_access_loads(db: duckdb.DuckDBPyConnection) -> None:
    """Delete the rows an access load that never finished (a crash, ``kill -9``) had written."""
    newest = db.execute("SELECT coalesce(max(load_id), 0) FROM access_loads").fetchall()[0][0]
    for table in (*_ACCESS_TABLES, legacy_events(db)):
        stray = db.execute(f"SELECT count(*) FROM {table} WHERE load_id > ?", [newest])
        if stray.fetchall()[0][0]:
            db.execute(f"DELETE FROM {table} WHERE load_id > ?", [newest])


def legacy_events(db: duckdb.DuckDBPyConnection) -> str:
    """The table of events of workspaces before schema 5, by its full name: the temporary view
    ``access_events`` over the parts shadows the short one (``main`` too: the temporary
    catalog has a schema of that name)."""
    catalog = db.execute("SELECT current_database()").fetchall()[0][0]
    return f"{quote_name(catalog)}.main.access_events"


def events_folder(workspace_folder: Path) -> Path:
    """Where a workspace keeps its access events' Parquet parts."""
    return workspace_folder / EVENTS_FOLDER


def _part_list(folder: Path, names: Sequence[str]) -> str:
    paths = ", ".join(f"'{_sql_text(str(events_folder(folder) / name))}'" for name in names)
    return f"read_parquet([{paths}])"


def refresh_events_view(db: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Show the recorded parts as the temporary view ``access_events`` (with no parts, the
    name falls through to the empty table of the same name)."""
    names = [row[0] for row in db.execute("SELECT name FROM access_parts ORDER BY name").fetchall()]
    if not names:
        db.execute("DROP VIEW IF EXISTS temp.access_events")
        return
    db.execute(
        f"""CREATE OR REPLACE TEMP VIEW access_events AS
        SELECT {", ".join(PART_COLUMNS)}, {_CUSTOMER_KEY} AS cust
        FROM {_part_list(folder, names)}"""
    )


def has_access_events(db: duckdb.DuckDBPyConnection) -> bool:
    """Whether a recorded load wrote access events (a workspace opened for writing)."""
    return bool(db.execute("SELECT count(*) FROM access_parts").fetchall()[0][0])


def drop_orphan_parts(db: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Remove part files no recorded load names (written by a load that never finished)."""
    directory = events_folder(folder)
    if not directory.is_dir():
        return
    recorded = {row[0] for row in db.execute("SELECT name FROM access_parts").fetchall()}
    for path in directory.iterdir():
        if path.name not in recorded:
            path.unlink(missing_ok=True)


def write_event_part(
    db: duckdb.DuckDBPyConnection, folder: Path, name: str, query: str, parameters: Sequence[Any]
) -> int:
    """Write the rows of ``query`` (columns :data:`PART_COLUMNS`) as the part ``name``:
    to a temporary name first, so that a part file is whole or absent. Rows written."""
    import pyarrow.parquet as pq  # here: ~10 ms of every command that writes no part

    directory = events_folder(folder)
    directory.mkdir(exist_ok=True)
    temporary = directory / f".{name}.tmp"
    rows = db.sql(query, params=list(parameters)).to_arrow_reader(_PART_ROW_GROUP)
    written = 0
    with pq.ParquetWriter(
        temporary,
        rows.schema,
        compression={c: "none" if c == "event_key" else "snappy" for c in PART_COLUMNS},
        use_dictionary=list(_PART_DICTIONARY),
        write_statistics=list(_PART_STATISTICS),
    ) as writer:
        for batch in _engine_batches(rows):
            writer.write_batch(batch, row_group_size=_PART_ROW_GROUP)
            written += batch.num_rows
    os.replace(temporary, directory / name)
    return written


def _engine_batches(rows: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The batches of a DuckDB result, whose errors Arrow's stream turns into ``OSError``:
    raised as DuckDB's again (running out of memory as such, see :func:`_memory_errors`)."""
    batches = iter(rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except OSError as error:
            text = str(error)
            kind = duckdb.OutOfMemoryException if text.startswith("Out of Memory") else duckdb.Error
            raise kind(text) from error
        yield batch


def record_parts(
    db: duckdb.DuckDBPyConnection, parts: Sequence[tuple[str, int, int, Any, Any]]
) -> None:
    """Name parts (name, load_id, rows, first time, last time) in the manifest (inside the
    load's transaction)."""
    for part in parts:
        db.execute("INSERT INTO access_parts VALUES (?, ?, ?, ?, ?)", list(part))


def parts_between(db: duckdb.DuckDBPyConnection, low: Any, high: Any) -> list[str]:
    """Recorded parts that may hold events from ``low`` to ``high``."""
    rows = db.execute(
        "SELECT name FROM access_parts WHERE first_time <= ? AND last_time >= ? ORDER BY name",
        [high, low],
    ).fetchall()
    return [row[0] for row in rows]


def move_legacy_events(db: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Move the events of a workspace made before schema 5 from its table into parts, one
    per load, in one transaction (a crash leaves them in the table and orphan files)."""
    table = legacy_events(db)
    if not db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:
        return
    loads = db.execute(
        f"""SELECT load_id, count(*), min(time), max(time) FROM {table}
        WHERE {ACCESS_LOADED} GROUP BY load_id"""
    ).fetchall()
    columns = ", ".join(
        {"staff_key": "hash(staff_id)"}.get(c, c) + f" AS {c}" for c in PART_COLUMNS
    )
    with transaction(db):
        parts = []
        for load_id, rows, low, high in loads:
            name = f"L{load_id:06d}-0000.parquet"
            query = f"SELECT {columns} FROM {table} WHERE load_id = ?"
            write_event_part(db, folder, name, query, [load_id])
            parts.append((name, load_id, rows, low, high))
        record_parts(db, parts)
        db.execute(f"DELETE FROM {table}")


def quote_name(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def access_source_sql(relation: str, columns: dict[str, str], line: str) -> str:
    """``SELECT line, field… FROM relation``: the source's columns under the field names."""
    picked = ", ".join(f"{quote_name(column)} AS {field}" for field, column in columns.items())
    return f"SELECT {line} AS line{', ' + picked if picked else ''} FROM {relation}"


def parquet_relation(path: str, first_row: int, end_row: int) -> str:
    """Rows ``[first_row, end_row)`` of a Parquet file, with ``file_row_number`` (row groups
    outside the range are skipped, not read)."""
    return (
        f"read_parquet('{_sql_text(path)}', file_row_number = true) "
        f"WHERE file_row_number >= {int(first_row)} AND file_row_number < {int(end_row)}"
    )


def relation_types(db: duckdb.DuckDBPyConnection, source_sql: str) -> dict[str, str]:
    """The DuckDB type of each column of a query, by name."""
    relation = db.sql(f"SELECT * FROM ({source_sql}) LIMIT 0")
    return {name: str(kind) for name, kind in zip(relation.columns, relation.types, strict=True)}


def _text(column: str, kind: str | None, trim: bool) -> str:
    """A column as text, null when empty; trimmed when it comes from a text source (typed
    sources such as Parquet are taken as they are: trimming costs more than reading)."""
    if kind is None:
        return "NULL::VARCHAR"
    if kind != "VARCHAR":
        return f"CAST({column} AS VARCHAR)"
    return f"nullif(trim({column}), '')" if trim else f"nullif({column}, '')"


def _time(column: str, kind: str | None, trim: bool) -> str:
    """A column as TIMESTAMP (wall-clock): typed values converted, text parsed; else NULL."""
    if kind is None:
        return "NULL::TIMESTAMP"
    if kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('{ACCESS_TIMEZONE}', {column})"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"CAST({column} AS TIMESTAMP)"
    text = _text(column, "VARCHAR", trim)
    formats = ", ".join(f"'{f}'" for f in _TIME_FORMATS)
    return (
        f"coalesce(try_cast({text} AS TIMESTAMP), try_strptime({text}, [{formats}]), "
        f"timezone('{ACCESS_TIMEZONE}', try_cast({text} AS TIMESTAMPTZ)))"
    )


def _date(column: str, kind: str | None, trim: bool) -> str:
    if kind is None:
        return "NULL::DATE"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"CAST({column} AS DATE)"
    text = _text(column, "VARCHAR", trim)
    formats = ", ".join(f"'{f}'" for f in _DATE_FORMATS)
    return f"coalesce(try_cast({text} AS DATE), CAST(try_strptime({text}, [{formats}]) AS DATE))"


def _reason(*checks: tuple[str, str]) -> str:
    """``CASE WHEN check THEN 'reason' … END``: the first failed check names the reject."""
    return "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r in checks) + " END"


def _chunk_values(source_sql: str, types: dict[str, str], trim: bool) -> str:
    """The distinct customer references of a chunk, as ``value``."""
    return f"""SELECT DISTINCT {_text("customer", types.get("customer"), trim)} AS value
        FROM ({source_sql}) WHERE value IS NOT NULL"""


def access_chunk_refs(
    db: duckdb.DuckDBPyConnection,
    source_sql: str,
    types: dict[str, str],
    trim: bool,
    references: pa.Table,
) -> pa.Table:
    """The distinct customer references of a chunk (the source's values, ``value``) with
    their row of ``references`` (``value``, ``token``, ``customer_id``: all of a load's so
    far) where it has one, and ``seen``: whether it has. One query: the chunk's distinct
    values are not brought out to Arrow and shown to the engine again before the join. The
    hash table is built on them (one chunk's) and ``references`` (millions) only probe it: a
    chunk costs a scan of them, not a rebuild; and one join tells the new values too, without
    a second hash set of the known ones."""
    with _shown(db, access_refs_all=references):
        return db.sql(
            f"""SELECT v.value, r.token, r.customer_id, r.value IS NOT NULL AS seen
            FROM ({_chunk_values(source_sql, types, trim)}) v
            LEFT JOIN access_refs_all r ON r.value = v.value"""
        ).to_arrow_table()


def access_new_refs(
    db: duckdb.DuckDBPyConnection,
    source_sql: str,
    types: dict[str, str],
    trim: bool,
    references: pa.Table,
) -> pa.Array:
    """The distinct customer references of a chunk that ``references`` (with ``value``) lacks:
    as :func:`access_chunk_refs`, but only the new values come out of the engine (after the
    first chunk of a large log, few), not the chunk's known ones with their tokens."""
    with _shown(db, access_refs_all=references):
        return (
            db.sql(
                f"""SELECT v.value FROM ({_chunk_values(source_sql, types, trim)}) v
                ANTI JOIN access_refs_all r ON r.value = v.value"""
            )
            .to_arrow_table()
            .column(0)
            .combine_chunks()
        )


def register_ids_of_tokens(
    db: duckdb.DuckDBPyConnection, tokens: pa.Array, kind: int | None
) -> pa.Array:
    """The register id of each token, in order: customer-number tokens (``kind`` None) through
    ``customers.ref_token``, identifier tokens of ``kind`` through ``tokens`` (null where no
    customer, or several, hold it).

    The register's (token, id) of that kind are copied once into the temporary table
    ``access_register`` (dropped by :func:`drop_register_copy`): a load asks once a chunk,
    and probing the copy costs ~60 % of probing the stored table (RESULTS.md)."""
    if kind is None:
        known = f"SELECT ref_token AS token, customer_id FROM customers WHERE {LOADED}"
    else:
        known = f"""SELECT token, CASE WHEN count(DISTINCT customer_id) = 1
                    THEN min(customer_id) END AS customer_id
                    FROM tokens WHERE kind = {int(kind)} AND {LOADED} GROUP BY token"""
    # IF NOT EXISTS runs the query only when the copy is missing (asking duckdb_tables()
    # whether it is there took ~60 ms a chunk at 10^7 customers).
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS access_register AS {known}")
    probe = pa.table({"position": pa.array(range(len(tokens)), pa.int64()), "token": tokens})
    with _shown(db, probe_access_tokens=probe):
        found = db.sql(
            """SELECT p.position, k.customer_id FROM probe_access_tokens p
            LEFT JOIN access_register k ON k.token = p.token"""
        ).to_arrow_table()
    # Put back in order by the positions (a scatter) rather than by ORDER BY (a sort).
    order = np.empty(len(tokens), np.int64)
    order[found.column("position").to_numpy()] = np.arange(len(tokens), dtype=np.int64)
    return found.column("customer_id").combine_chunks().cast(pa.int64()).take(order)


def drop_register_copy(db: duckdb.DuckDBPyConnection) -> None:
    """Drop the copy of the register's tokens that :func:`register_ids_of_tokens` made."""
    db.execute("DROP TABLE IF EXISTS temp.access_register")


@dataclass
class AccessChunk:
    """What one chunk of an access load did."""

    valid: int = 0  # rows without a reason to reject them
    loaded: int = 0  # rows added (or, for staff, added or changed)
    rejected: int = 0


class AccessLoad:
    """One load of staff, applications, portfolios or events, chunk by chunk; it counts only
    once :meth:`finish` has recorded it in ``access_loads``.

    Events, applications and portfolios are written chunk by chunk (one transaction each, so
    that memory stays bounded) with this load's id; until the load is recorded every reader
    leaves them out (:data:`ACCESS_LOADED`) and the next write-open deletes them
    (:func:`drop_incomplete_access_loads`). Events go to a Parquet part per chunk
    (:func:`write_event_part`), named in ``access_parts`` by :meth:`finish` in the transaction
    that records the load; the parts of a load that never finished are removed at the next
    write-open (:func:`drop_orphan_parts`). Staff rows replace earlier ones, which could not be
    undone that way: they are staged and applied in the transaction of :meth:`finish`, as is
    the replacement of the portfolios of the managers a portfolio file names.

    Duplicates are not added again: an event whose ``event_key`` is already stored (looked up
    among events of the chunk's time range only, so no index over all events is needed), an
    application whose id is stored, a (manager, customer) pair already in this load.
    """

    def __init__(self, workspace: Workspace, kind: str, *, customer_numbers: bool = True) -> None:
        if kind not in ACCESS_KINDS:
            raise ValueError(f"unknown access kind {kind!r}")
        self.workspace = workspace
        self.db = workspace.db
        self.kind = kind
        # Customer numbers always have a token; raw identifiers may be invalid (no token).
        self.customer_numbers = customer_numbers
        db = self.db  # opened for writing: an unfinished earlier load is already cleared
        self.load_id = db.execute(
            "SELECT coalesce(max(load_id), 0) + 1 FROM access_loads"
        ).fetchall()[0][0]
        self.check_staff = bool(db.execute("SELECT count(*) FROM staff").fetchall()[0][0])
        # Event parts written so far: (name, load_id, rows, first time, last time).
        self.parts: list[tuple[str, int, int, Any, Any]] = []
        # DuckDB draws a progress bar on stdout for long statements: not amid --json output.
        db.execute("SET enable_progress_bar = false")
        if kind == "events":
            self._check_hash()
        db.execute("DROP TABLE IF EXISTS access_staff_stage")
        if kind == "staff":
            db.execute(
                """CREATE TEMP TABLE access_staff_stage (line BIGINT, staff_id VARCHAR,
                role VARCHAR, branch_code VARCHAR, join_date DATE, leave_date DATE)"""
            )

    def _check_hash(self) -> None:
        probe = self.db.execute(f"SELECT {_HASH_PROBE}::VARCHAR").fetchall()[0][0]
        stored = self.db.execute(
            "SELECT value FROM meta WHERE key = 'access_hash_probe'"
        ).fetchall()
        if not stored:
            self.db.execute("INSERT INTO meta VALUES ('access_hash_probe', ?)", [probe])
        elif stored[0][0] != probe:
            raise WorkspaceError(
                "This DuckDB hashes events differently from the one that loaded the stored "
                "events, so re-loaded events would be counted twice; load with the DuckDB "
                f"version this workspace was made with ({__version__} of leaktrace)."
            )

    def add(
        self,
        source_sql: str,
        types: dict[str, str],
        *,
        trim: bool = True,
        keyed_by_id: bool = False,
        references: Callable[[], object] | None = None,
    ) -> AccessChunk:
        """One chunk: ``source_sql`` yields ``line`` and the kind's fields (``types``: their
        DuckDB types; missing fields are null; text is trimmed when ``trim``). Customer
        references are joined to the view ``access_refs`` (``value``, ``token``,
        ``customer_id``), which ``references()`` brings up to date for the chunk: it is called
        only once they are needed, so a chunk already stored costs no tokens. Events are keyed
        by their event id when ``keyed_by_id``."""
        db = self.db
        stage = self._stage_sql(source_sql, types, trim, keyed_by_id)
        lean = self._lean(keyed_by_id)
        self._references = references or (lambda: None)
        if not lean:
            self._references()
        with _memory_errors(self.rollback):
            db.execute("BEGIN TRANSACTION")
            try:
                # Only what judging a row takes is materialized (line, reason and, for events,
                # key and time): writing the whole chunk to a temporary table costs more than
                # evaluating it once more for the insert.
                keys = ", event_key, time" if self.kind == "events" else ""
                db.execute(
                    f"""CREATE OR REPLACE TEMP TABLE access_keys AS
                    SELECT line, reason{keys}
                    FROM ({self._stage_sql(source_sql, types, trim, keyed_by_id, lean)})"""
                )
                valid, rejected = db.execute(
                    """SELECT count(*) FILTER (WHERE reason IS NULL),
                    count(*) FILTER (WHERE reason IS NOT NULL) FROM access_keys"""
                ).fetchall()[0]
                if rejected:
                    db.execute(
                        """INSERT INTO access_rejects SELECT ?, line, reason FROM access_keys
                        WHERE reason IS NOT NULL""",
                        [self.load_id],
                    )
                loaded = self._insert(stage, lean, keyed_by_id) if valid else 0
                db.execute("DROP TABLE access_keys")
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    db.execute("ROLLBACK")
                raise
        return AccessChunk(valid=valid, loaded=loaded, rejected=rejected)

    def _lean(self, keyed_by_id: bool) -> bool:
        """Whether rows can be judged without their customers' tokens: customer numbers always
        have one (raw identifiers may be invalid), and only events without ids are keyed by
        their customer's token (never by the value: a hash of a customer number beside the
        rest of its row could be reversed by trying numbers)."""
        return self.customer_numbers and (keyed_by_id or self.kind != "events")

    def reject_lines(self, lines: Sequence[tuple[int, str]]) -> None:
        """Record (line, reason) of lines the source reader could not take (a wrong number of
        fields, text in another encoding …); line 0 when the reader could not number it."""
        if not lines:
            return
        db = self.db
        rejects = pa.table(
            {
                "line": pa.array([line for line, _ in lines], pa.int64()),
                "reason": pa.array([reason for _, reason in lines], pa.string()),
            }
        )
        with _shown(db, access_bad_lines=rejects):
            db.execute(
                "INSERT INTO access_rejects SELECT ?, line, reason FROM access_bad_lines",
                [self.load_id],
            )

    def _stage_sql(
        self,
        source_sql: str,
        types: dict[str, str],
        trim: bool,
        keyed_by_id: bool,
        lean: bool = False,
    ) -> str:
        """The chunk's rows as they are stored, with ``line`` and ``reason`` (null when the
        row is taken); ``lean`` leaves customer references out (see :meth:`_lean`)."""
        kind = self.kind

        def text(field: str) -> str:
            return _text(f"src.{field}", types.get(field), trim)

        def given(field: str) -> str:
            if types.get(field) in (None, "VARCHAR"):
                return f"{text(field)} IS NOT NULL"
            return f"src.{field} IS NOT NULL"

        customer = text("customer")
        joins = ""
        bad_customer = ("false", "invalid customer reference")
        token, customer_id = "NULL::BLOB", "NULL::BIGINT"
        if "customer" in types and not lean:
            joins = f" LEFT JOIN access_refs r ON r.value = {customer}"
            token, customer_id = "r.token", "r.customer_id"
            if not self.customer_numbers:
                bad_customer = (f"{customer} IS NOT NULL AND {token} IS NULL", bad_customer[1])
        if kind == "events":
            time = _time("src.time", types.get("time"), trim)
            fields = {
                "time": time,
                "staff_id": text("staff_id"),
                "action": f"coalesce(lower({text('action')}), 'access')",
                "system": text("system"),
                "customer_token": token,
                "customer_id": customer_id,
                "business_ref": text("business_ref"),
                "terminal": text("terminal"),
                "ip": text("ip"),
                "event_id": text("event_id"),
                "has_time": given("time"),
                "bad_customer": bad_customer[0],
            }
            # With the source's event ids, a repeated id is a duplicate. Without, identical
            # rows are told apart by their order among the chunk's identical rows: two views
            # of one customer in the same second are two events, and a file loaded again
            # gives each the same key again.
            key = (
                "hash('event_id', event_id, time, p.staff_id)"
                if keyed_by_id
                else "hash(time, p.staff_id, customer_token, action, system, business_ref)"
            )
            checks = [
                ("NOT has_time", "missing time"),
                ("time IS NULL", "bad timestamp"),
                ("p.staff_id IS NULL", "missing user"),
            ]
            if self.check_staff:
                checks.append(("s.staff_id IS NULL", "unknown user"))
            checks.append(("bad_customer", bad_customer[1]))
            outputs = [f"{key} AS event_key", "time", "p.staff_id", "action", "system",
                       "customer_token", "customer_id", "business_ref", "terminal",
                       "ip"]  # fmt: skip
        elif kind == "applications":
            fields = {
                "application_id": text("application_id"),
                "customer_token": token,
                "customer_id": customer_id,
                "staff_id": text("staff_id"),
                "submitted": _time("src.submitted", types.get("submitted"), trim),
                "has_time": given("submitted"),
                "has_customer": f"{customer} IS NOT NULL",
                "bad_customer": bad_customer[0],
            }
            checks = [
                ("application_id IS NULL", "missing application id"),
                ("NOT has_customer", "missing customer"),
                ("bad_customer", bad_customer[1]),
                ("NOT has_time", "missing time"),
                ("submitted IS NULL", "bad timestamp"),
            ]
            if self.check_staff:
                checks.append(("p.staff_id IS NOT NULL AND s.staff_id IS NULL", "unknown user"))
            outputs = ["application_id", "customer_token", "customer_id", "p.staff_id",
                       "submitted"]  # fmt: skip
        elif kind == "portfolios":
            fields = {
                "staff_id": text("staff_id"),
                "customer_token": token,
                "customer_id": customer_id,
                "has_customer": f"{customer} IS NOT NULL",
                "bad_customer": bad_customer[0],
            }
            checks = [
                ("p.staff_id IS NULL", "missing user"),
                ("NOT has_customer", "missing customer"),
                ("bad_customer", bad_customer[1]),
            ]
            if self.check_staff:
                checks.append(("s.staff_id IS NULL", "unknown user"))
            outputs = ["p.staff_id", "customer_token", "customer_id"]
        else:  # staff
            fields = {
                "staff_id": text("staff_id"),
                "role": text("role"),
                "branch_code": text("branch_code"),
                "join_date": _date("src.join_date", types.get("join_date"), trim),
                "leave_date": _date("src.leave_date", types.get("leave_date"), trim),
                "bad_join": given("join_date"),
                "bad_leave": given("leave_date"),
            }
            checks = [
                ("p.staff_id IS NULL", "missing user"),
                ("role IS NULL", "missing role"),
                ("bad_join AND join_date IS NULL", "bad date"),
                ("bad_leave AND leave_date IS NULL", "bad date"),
            ]
            outputs = ["p.staff_id", "role", "branch_code", "join_date", "leave_date"]
        staff_join = ""
        if self.check_staff and kind != "staff":
            staff_join = " LEFT JOIN staff s ON s.staff_id = p.staff_id"
        parsed = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
        query = (
            f"WITH src AS ({source_sql}), "
            f"p AS (SELECT src.line, {parsed} FROM src{joins}) "
            f"SELECT p.line, {_reason(*checks)} AS reason, {', '.join(outputs)} "
            f"FROM p{staff_join}"
        )
        if kind == "events" and not keyed_by_id:
            query = (
                "SELECT * REPLACE (hash(event_key, row_number() OVER "
                f"(PARTITION BY event_key ORDER BY line)) AS event_key) FROM ({query})"
            )
        return query

    def _insert(self, stage: str, lean: bool, keyed_by_id: bool) -> int:
        """Add the chunk's valid rows that are not duplicates; how many were added."""
        db, load_id = self.db, self.load_id
        if self.kind == "events":
            return self._insert_events(stage, lean, keyed_by_id)
        if lean:
            self._references()
        if self.kind == "applications":
            # One row per application and customer: a guarantor or co-borrower is another row
            # of the application, whose credit report the application covers too.
            return db.execute(
                f"""INSERT INTO applications
                SELECT n.application_id, n.customer_token, n.customer_id, n.staff_id,
                       n.submitted, ?
                FROM (SELECT * FROM ({stage}) WHERE reason IS NULL
                      QUALIFY row_number() OVER (
                          PARTITION BY application_id, customer_token ORDER BY line) = 1) n
                ANTI JOIN applications a ON a.application_id = n.application_id
                    AND a.customer_token = n.customer_token""",
                [load_id],
            ).fetchall()[0][0]
        if self.kind == "portfolios":
            return db.execute(
                f"""INSERT INTO portfolios
                SELECT DISTINCT n.staff_id, n.customer_token, n.customer_id, ?
                FROM (SELECT * FROM ({stage}) WHERE reason IS NULL) n
                ANTI JOIN (SELECT * FROM portfolios WHERE load_id = ?) o
                    ON o.staff_id = n.staff_id AND o.customer_token = n.customer_token""",
                [load_id, load_id],
            ).fetchall()[0][0]
        db.execute(
            f"""INSERT INTO access_staff_stage SELECT line, staff_id, role, branch_code,
            join_date, leave_date FROM ({stage}) WHERE reason IS NULL"""
        )
        return 0  # counted by finish, when the rows are applied

    def _insert_events(self, stage: str, lean: bool, keyed_by_id: bool) -> int:
        """Write the chunk's new events as a part. Keys already stored are looked up among the
        parts whose time range overlaps the chunk's (this load's included), and there among
        the row groups of that range only (min/max times skip the rest); a chunk that is all
        duplicates (a file loaded again) writes nothing."""
        db, load_id = self.db, self.load_id
        valid, low, high = db.execute(
            "SELECT count(*), min(time), max(time) FROM access_keys WHERE reason IS NULL"
        ).fetchall()[0]
        # Keys made from the rows are distinct by construction (identical rows are numbered
        # apart, :meth:`_stage_sql`); only the source's event ids can repeat, and only then
        # are the keys counted (sorting them took 9 s of the 88 s a 10^8-event log loads in).
        distinct = _distinct_keys(db) if keyed_by_id else valid
        folder = self.workspace.path
        overlapping = parts_between(db, low, high) + [
            name for name, _, _, first, last in self.parts if first <= high and last >= low
        ]
        stored = 0
        if overlapping:
            db.execute(
                f"""CREATE OR REPLACE TEMP TABLE access_dups AS
                SELECT DISTINCT k.event_key FROM access_keys k
                SEMI JOIN (SELECT event_key FROM {_part_list(folder, overlapping)}
                           WHERE time BETWEEN ? AND ?) e
                    ON e.event_key = k.event_key
                WHERE k.reason IS NULL""",
                [low, high],
            )
            stored = db.execute("SELECT count(*) FROM access_dups").fetchall()[0][0]
        if stored == distinct:
            return 0
        if lean:
            self._references()
        # Rows repeated within the chunk are rare: only then is the chunk deduplicated.
        first = "QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY line) = 1"
        known = "ANTI JOIN access_dups d ON d.event_key = n.event_key"
        # A register customer's token is the register's to keep: its events keep the id only
        # (tokens took a third of a part's bytes); customers it lacks keep their token.
        computed = {
            "load_id": "?::INTEGER",
            "staff_key": "hash(n.staff_id)",
            "customer_token": "CASE WHEN n.customer_id IS NULL THEN n.customer_token END",
        }
        columns = ", ".join(f"{computed.get(c, 'n.' + c)} AS {c}" for c in PART_COLUMNS)
        name = f"L{load_id:06d}-{len(self.parts) + 1:04d}.parquet"
        written = write_event_part(
            db,
            folder,
            name,
            f"""SELECT {columns}
            FROM (SELECT * FROM ({stage}) WHERE reason IS NULL
                  {first if distinct < valid else ""}) n
            {known if stored else ""}""",
            [load_id],
        )
        if written:
            self.parts.append((name, load_id, written, low, high))
        else:  # every new key was a duplicate within the chunk's stored range
            (events_folder(folder) / name).unlink(missing_ok=True)
        return written

    def finish(
        self,
        source: str,
        started: datetime.datetime,
        rows: int,
        rejected: int,
        valid: int,
        loaded: int,
        mapping: dict[str, Any],
    ) -> int:
        """Apply staged staff and portfolio replacements, record the load and commit; returns
        how many rows were loaded (for staff: new or changed)."""
        db, load_id = self.db, self.load_id
        with _memory_errors(self.rollback):
            db.execute("BEGIN TRANSACTION")
            try:
                if self.kind == "staff":
                    loaded = self._apply_staff()
                elif self.kind == "portfolios":
                    db.execute(
                        """DELETE FROM portfolios WHERE load_id < ? AND staff_id IN
                        (SELECT DISTINCT staff_id FROM portfolios WHERE load_id = ?)""",
                        [load_id, load_id],
                    )
                record_parts(db, [part for part in self.parts if part[2]])
                db.execute(
                    "INSERT INTO access_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        load_id,
                        self.kind,
                        source,
                        started.isoformat(),
                        _now().isoformat(),
                        rows,
                        loaded,
                        valid - loaded,
                        rejected,
                        json.dumps(mapping, ensure_ascii=False),
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    db.execute("ROLLBACK")
                raise
        if self.parts:
            refresh_events_view(db, self.workspace.path)
        self._drop_staging()
        return loaded

    def _apply_staff(self) -> int:
        db, load_id = self.db, self.load_id
        db.execute(
            """CREATE OR REPLACE TEMP TABLE access_staff_last AS
            SELECT staff_id, arg_max(role, line) AS role, arg_max(branch_code, line) AS branch_code,
                   arg_max(join_date, line) AS join_date, arg_max(leave_date, line) AS leave_date
            FROM access_staff_stage GROUP BY staff_id"""
        )
        changed = db.execute(
            """SELECT count(*) FROM access_staff_last n LEFT JOIN staff o USING (staff_id)
            WHERE o.staff_id IS NULL OR o.role IS DISTINCT FROM n.role
               OR o.branch_code IS DISTINCT FROM n.branch_code
               OR o.join_date IS DISTINCT FROM n.join_date
               OR o.leave_date IS DISTINCT FROM n.leave_date"""
        ).fetchall()[0][0]
        db.execute(
            """INSERT OR REPLACE INTO staff
            SELECT staff_id, role, branch_code, join_date, leave_date, ? FROM access_staff_last""",
            [load_id],
        )
        db.execute("DROP TABLE access_staff_last")
        return changed

    def rollback(self) -> None:
        """Undo everything this load did."""
        with contextlib.suppress(duckdb.Error):
            self.db.execute("ROLLBACK")
        with contextlib.suppress(duckdb.Error):
            drop_incomplete_access_loads(self.db)
        for name, *_ in self.parts:
            (events_folder(self.workspace.path) / name).unlink(missing_ok=True)
        self.parts = []
        self._drop_staging()

    def _drop_staging(self) -> None:
        for table in ("access_keys", "access_dups", "access_staff_stage", "access_staff_last"):
            with contextlib.suppress(duckdb.Error):
                self.db.execute(f"DROP TABLE IF EXISTS {table}")


def _distinct_keys(db: duckdb.DuckDBPyConnection) -> int:
    """How many distinct keys the chunk's valid rows (``access_keys``) have, counted in NumPy
    (:func:`_vector.count_distinct`)."""
    found = db.execute("SELECT event_key FROM access_keys WHERE reason IS NULL").fetchnumpy()
    return _vector.count_distinct(np.array(found["event_key"], dtype=np.uint64))  # a copy


def access_rejects(
    db: duckdb.DuckDBPyConnection, load_id: int, limit: int | None = None
) -> list[tuple[int, str]]:
    """(line, reason) of the lines a load rejected, in line order."""
    rows = db.execute(
        "SELECT line, reason FROM access_rejects WHERE load_id = ? ORDER BY line"
        + (f" LIMIT {int(limit)}" if limit is not None else ""),
        [load_id],
    ).fetchall()
    return [(int(line), reason) for line, reason in rows]


_LOAD_COUNTS = ("loads", "rows", "loaded", "duplicates", "rejected")


def access_status(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rows per table, loads per kind, rejected lines by reason, and the events' time span."""
    counts = db.execute(
        f"""SELECT (SELECT count(*) FROM staff),
                   (SELECT count(*) FROM access_events WHERE {ACCESS_LOADED}),
                   (SELECT count(DISTINCT application_id) FROM applications WHERE {ACCESS_LOADED}),
                   (SELECT count(*) FROM portfolios WHERE {ACCESS_LOADED}),
                   (SELECT min(time) FROM access_events WHERE {ACCESS_LOADED}),
                   (SELECT max(time) FROM access_events WHERE {ACCESS_LOADED})"""
    ).fetchall()[0]
    loads = db.execute(
        """SELECT kind, count(*), sum(rows), sum(loaded), sum(duplicates), sum(rejected)
        FROM access_loads GROUP BY kind ORDER BY kind"""
    ).fetchall()
    reasons = db.execute(
        f"""SELECT reason, count(*) FROM access_rejects WHERE {ACCESS_LOADED}
        GROUP BY reason ORDER BY count(*) DESC, reason"""
    ).fetchall()
    return {
        "staff": counts[0],
        "events": counts[1],
        "applications": counts[2],
        "portfolios": counts[3],
        "first_event": counts[4].isoformat(sep=" ") if counts[4] else None,
        "last_event": counts[5].isoformat(sep=" ") if counts[5] else None,
        "loads": {
            kind: dict(zip(_LOAD_COUNTS, map(int, counts), strict=True)) for kind, *counts in loads
        },
        "rejected_by_reason": dict(reasons),
    }


# -- monitor ---------------------------------------------------------------------------------

# One number per customer for counting and joining: the register id when the register knows
# the customer, else (negative) a hash of the token the log named it by; null for events that
# name no customer.
_CUSTOMER_KEY = """CASE WHEN customer_id IS NOT NULL THEN customer_id
    WHEN customer_token IS NOT NULL THEN -1 - CAST(hash(customer_token) >> 2 AS BIGINT) END"""

# The per-day counts the monitor computes for each user (columns of ``monitor_days``).
MONITOR_COUNTS = (
    "events", "customers", "no_ref", "out_branch", "out_branch_no_ref", "out_portfolio",
    "out_portfolio_no_ref", "credit_events", "credit_customers", "credit_no_app",
    "export_customers", "off_events", "off_no_ref", "enum_customers", "decoy_events",
    "decoy_customers",
)  # fmt: skip
# Customers of other branches (outside the portfolio) without a business reference beyond what
# the user's share of unreferenced work elsewhere that day would give (see monitor_add_days).
MONITOR_EXCESS = ("out_branch_excess", "out_portfolio_excess")

ALERT_COLUMNS = (
    "alert_id", "staff_id", "day", "score", "severity", "reasons", "features", "status",
    "created", "updated", "note",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MonitorQuery:
    """What the feature queries need from ``[monitor]``: action names, office hours, windows."""

    credit_actions: tuple[str, ...]
    export_actions: tuple[str, ...]
    office_start: datetime.time
    office_end: datetime.time
    weekend_off_hours: bool
    application_days_before: int
    application_days_after: int
    enumeration_block: int
    enumeration_run: int


def _sql_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{_sql_text(v)}'" for v in values) + ")" if values else "(NULL)"


def monitor_event_days(
    db: duckdb.DuckDBPyConnection, since: datetime.date | None, until: datetime.date | None
) -> list[tuple[datetime.date, int]]:
    """Days that have access events of recorded loads (from ``since`` to ``until``), with
    their number of events, in order."""
    conditions = [ACCESS_LOADED]
    parameters: list[Any] = []
    if since is not None:
        conditions.append("time >= ?")
        parameters.append(datetime.datetime.combine(since, datetime.time()))
    if until is not None:
        conditions.append("time < ?")
        parameters.append(datetime.datetime.combine(until, datetime.time()) + _ONE_DAY)
    rows = db.execute(
        f"""SELECT CAST(time AS DATE) AS day, count(*) FROM access_events
        WHERE {" AND ".join(conditions)} GROUP BY day ORDER BY day""",
        parameters,
    ).fetchall()
    return [(row[0], int(row[1])) for row in rows]


_ONE_DAY = datetime.timedelta(days=1)


def monitor_prepare(db: duckdb.DuckDBPyConnection, branch_attribute: str | None) -> None:
    """Temporary tables the day features join with, keyed by numbers (the engine groups and
    joins numbers several times faster than strings): each staff member's role, branch and
    leave date, whether the register has customers of that branch and whether the staff member
    holds a portfolio (``m_staff``, by ``staff_key = hash(staff_id)``); each registered
    customer's branch (segment attribute ``branch_attribute``); portfolios and loan
    applications keyed by customer; an empty ``monitor_days``."""
    branch = (
        f"json_extract_string(segment, '$.\"{_sql_text(branch_attribute)}\"')"
        if branch_attribute
        else "CAST(NULL AS VARCHAR)"
    )
    # The branch is read out of each customer's segment JSON once (MATERIALIZED): pushed
    # into the scan, ``branch IS NOT NULL`` had it extracted twice, 3 s of CPU at 10^7.
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE m_customer_branch AS
        WITH segments AS MATERIALIZED (
            SELECT customer_id, {branch} AS branch FROM customers WHERE {LOADED})
        SELECT customer_id, hash(branch) AS branch_key, branch FROM segments
        WHERE branch IS NOT NULL"""
    )
    # No DISTINCT: the pairs only serve an anti join and a membership test, which repeated
    # pairs do not change (grouping 7M pairs cost 1.3 s at 10^8 events).
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE m_portfolio AS
        SELECT hash(staff_id) AS staff_key, {_CUSTOMER_KEY} AS cust FROM portfolios
        WHERE {ACCESS_LOADED} AND customer_token IS NOT NULL"""
    )
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE m_apps AS
        SELECT DISTINCT {_CUSTOMER_KEY} AS cust, application_id, submitted FROM applications
        WHERE {ACCESS_LOADED}"""
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE m_branches AS SELECT DISTINCT branch FROM m_customer_branch"
    )
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE m_staff AS
        SELECT hash(staff_id) AS staff_key, staff_id, role, branch_code,
               hash(branch_code) AS branch_key, leave_date,
               branch_code IN (SELECT branch FROM m_branches) AS serves,
               hash(staff_id) IN (SELECT staff_key FROM m_portfolio) AS has_portfolio
        FROM staff WHERE {ACCESS_LOADED}"""
    )
    # Two staff ids or two branches with one 64-bit hash: never seen, but never silent (a
    # branch taken for another would hide out-of-branch look-ups).
    staff_keys, staff_ids, branch_keys, branches = db.execute(
        """SELECT (SELECT count(DISTINCT staff_key) FROM m_staff),
                  (SELECT count(DISTINCT staff_id) FROM m_staff),
                  count(DISTINCT hash(branch)), count(*)
           FROM (SELECT branch FROM m_branches
                 UNION SELECT branch_code FROM m_staff WHERE branch_code IS NOT NULL)"""
    ).fetchall()[0]
    if staff_keys != staff_ids:
        raise WorkspaceError("Two staff ids share a hash; the monitor cannot tell them apart.")
    if branch_keys != branches:
        raise WorkspaceError("Two branches share a hash; the monitor cannot tell them apart.")
    columns = ", ".join(
        [f"{name} BIGINT" for name in MONITOR_COUNTS]
        + [f"{name} DOUBLE" for name in MONITOR_EXCESS]
    )
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE monitor_days (
            staff_id VARCHAR, day DATE, {columns}, decoy_releases VARCHAR[])"""
    )


def monitor_add_days(
    db: duckdb.DuckDBPyConnection,
    query: MonitorQuery,
    first: datetime.date,
    last: datetime.date,
) -> None:
    """Compute the day features of every user for the days ``first`` to ``last`` into
    ``monitor_days`` (after :func:`monitor_prepare`).

    One query in the engine: events become one row per user, day and customer (``touch``),
    which is placed against the user's branch and portfolio and summed per user and day, and
    gathered, in a narrow pass of its own, into blocks of neighbouring register ids (the
    enumeration runs). Credit queries are
    checked against applications, and events of unregistered customers against decoy tokens,
    on their own (they are few). Times are taken apart as integers (microseconds since 1970):
    day, second of the day, weekday.
    """
    start = datetime.datetime.combine(first, datetime.time())
    end = datetime.datetime.combine(last, datetime.time()) + _ONE_DAY
    in_range = f"time >= $start AND time < $end AND {ACCESS_LOADED}"
    day_no = "epoch_us(time) // 86400000000"
    second = "(epoch_us(time) // 1000000) % 86400"
    off = f"({second} < $office_start OR {second} >= $office_end"
    # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays, 5 and 6 at weekends.
    off += f" OR ({day_no} + 3) % 7 >= 5)" if query.weekend_off_hours else ")"
    block = int(query.enumeration_block)
    counted = {
        "no_ref": "t.no_ref",
        "export_customers": "t.exported",
        "off_no_ref": "t.off_events > 0 AND t.no_ref",
    }
    per_day = ", ".join(f"count(t.cust) FILTER (WHERE {c}) AS {n}" for n, c in counted.items())
    parameters = {
        "start": start,
        "end": end,
        "office_start": _seconds(query.office_start),
        "office_end": _seconds(query.office_end),
        "before": query.application_days_before,
        "after": query.application_days_after,
    }
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE m_chunk AS
        WITH touch AS MATERIALIZED (
            -- counts rather than bool_and/bool_or: the cheaper aggregates in DuckDB
            SELECT staff_key, {day_no} AS day_no, cust, count(*) AS events,
                   count(business_ref) = 0 AS no_ref,  -- access.load keeps '' as NULL
                   count(*) FILTER (WHERE action IN {_sql_list(query.export_actions)}) > 0
                       AS exported,
                   count(*) FILTER (WHERE {off}) AS off_events
            FROM access_events WHERE {in_range}
            GROUP BY ALL
        ), own AS (
            SELECT t.staff_key, t.day_no, any_value(s.has_portfolio) AS has_portfolio,
                   sum(t.events) AS events, count(t.cust) AS customers, {per_day},
                   sum(t.off_events) AS off_events
            FROM touch t LEFT JOIN m_staff s ON s.staff_key = t.staff_key
            GROUP BY t.staff_key, t.day_no
        ), elsewhere AS (
            -- the joins with the register's branches and the portfolios in narrow passes of
            -- their own: a join carrying all the day's counts built its hash table on them
            SELECT t.staff_key, t.day_no, count(t.cust) AS out_branch,
                   count(t.cust) FILTER (WHERE t.no_ref) AS out_branch_no_ref
            FROM touch t JOIN m_staff s ON s.staff_key = t.staff_key
            JOIN m_customer_branch b ON b.customer_id = t.cust
            WHERE s.serves AND b.branch_key <> s.branch_key
            GROUP BY t.staff_key, t.day_no
        ), unowned AS (
            SELECT t.staff_key, t.day_no, count(t.cust) AS out_portfolio,
                   count(t.cust) FILTER (WHERE t.no_ref) AS out_portfolio_no_ref
            FROM touch t ANTI JOIN m_portfolio p ON p.staff_key = t.staff_key AND p.cust = t.cust
            WHERE t.staff_key IN (SELECT staff_key FROM m_staff WHERE has_portfolio)
            GROUP BY t.staff_key, t.day_no
        ), days AS (
            SELECT o.*, coalesce(e.out_branch, 0) AS out_branch,
                   coalesce(e.out_branch_no_ref, 0) AS out_branch_no_ref,
                   coalesce(u.out_portfolio, 0) AS out_portfolio,
                   coalesce(u.out_portfolio_no_ref, 0) AS out_portfolio_no_ref
            FROM own o LEFT JOIN elsewhere e USING (staff_key, day_no)
            LEFT JOIN unowned u USING (staff_key, day_no)
        ), runs AS (
            -- a narrow pass of its own: blocks of neighbouring register ids touched that day
            SELECT staff_key, day_no,
                   sum(n) FILTER (WHERE n >= {int(query.enumeration_run)}) AS enum_customers
            FROM (SELECT staff_key, day_no, count(*) AS n FROM touch WHERE cust >= 0
                  GROUP BY staff_key, day_no, cust // {block})
            GROUP BY staff_key, day_no
        ), credit AS (
            SELECT staff_key, {day_no} AS day_no, cust, time, business_ref
            FROM access_events
            WHERE {in_range} AND action IN {_sql_list(query.credit_actions)}
        ), covered AS (
            SELECT c.staff_key, c.day_no, c.cust, c.time, count(*) AS queries,
                   bool_or(a.cust IS NOT NULL) AS covered
            FROM credit c LEFT JOIN m_apps a ON a.cust = c.cust
                AND (a.application_id = c.business_ref
                     OR (a.submitted >= c.time - to_days($before)
                         AND a.submitted <= c.time + to_days($after)))
            GROUP BY c.staff_key, c.day_no, c.cust, c.time
        ), credit_days AS (
            SELECT staff_key, day_no, sum(queries) AS credit_events,
                   count(DISTINCT cust) AS credit_customers,
                   count(DISTINCT cust) FILTER (WHERE NOT covered) AS credit_no_app
            FROM covered GROUP BY staff_key, day_no
        ), decoys AS (
            SELECT e.staff_key, {day_no} AS day_no, count(*) AS decoy_events,
                   count(DISTINCT e.customer_token) AS decoy_customers,
                   list(DISTINCT d.release_id ORDER BY d.release_id) AS decoy_releases
            FROM access_events e
            JOIN (SELECT DISTINCT token, release_id FROM decoy_tokens) d
                ON d.token = e.customer_token
            WHERE e.customer_id IS NULL AND e.time >= $start AND e.time < $end
                AND e.load_id IN (SELECT load_id FROM access_loads)
            GROUP BY ALL
        )
        SELECT d.staff_key, DATE '1970-01-01' + CAST(d.day_no AS INTEGER) AS day, d.events,
               d.customers, d.no_ref, d.out_branch, d.out_branch_no_ref,
               CASE WHEN d.has_portfolio THEN d.out_portfolio END AS out_portfolio,
               CASE WHEN d.has_portfolio THEN d.out_portfolio_no_ref END
                   AS out_portfolio_no_ref,
               coalesce(c.credit_events, 0) AS credit_events,
               coalesce(c.credit_customers, 0) AS credit_customers,
               coalesce(c.credit_no_app, 0) AS credit_no_app, d.export_customers,
               d.off_events, d.off_no_ref, coalesce(r.enum_customers, 0) AS enum_customers,
               coalesce(x.decoy_events, 0) AS decoy_events,
               coalesce(x.decoy_customers, 0) AS decoy_customers,
               {_excess("out_branch")} AS out_branch_excess,
               CASE WHEN d.has_portfolio THEN {_excess("out_portfolio")} END
                   AS out_portfolio_excess,
               x.decoy_releases
        FROM days d
        LEFT JOIN runs r USING (staff_key, day_no)
        LEFT JOIN credit_days c USING (staff_key, day_no)
        LEFT JOIN decoys x USING (staff_key, day_no)""",
        parameters,
    )
    # Users the staff directory does not know keep their id (and no role): their events are
    # read again for it, only when there are such users.
    unknown = "SELECT staff_key FROM m_chunk ANTI JOIN m_staff USING (staff_key)"
    if db.execute(f"SELECT count(*) FROM ({unknown})").fetchall()[0][0]:
        db.execute(
            f"""INSERT INTO m_staff (staff_key, staff_id, serves, has_portfolio)
            SELECT DISTINCT staff_key, staff_id, false, false FROM access_events
            WHERE {in_range} AND staff_key IN ({unknown})""",
            {"start": start, "end": end},
        )
    db.execute(
        f"""INSERT INTO monitor_days
        SELECT s.staff_id, c.day, {", ".join(f"c.{n}" for n in MONITOR_COUNTS + MONITOR_EXCESS)},
               c.decoy_releases
        FROM m_chunk c JOIN m_staff s USING (staff_key)"""
    )
    db.execute("DROP TABLE m_chunk")


def _excess(kind: str) -> str:
    """Customers of ``kind`` (``out_branch``, ``out_portfolio``) without a business reference,
    beyond what the user's share of unreferenced work on the other customers of the day would
    give: staff who now also serve a merged outlet's customers keep their habits there (a
    manager without a contact record for a third of the customers, as at home), a harvester
    references almost none. All of them when there is no other work that day."""
    share = f"coalesce((d.no_ref - d.{kind}_no_ref) / nullif(d.customers - d.{kind}, 0), 0)"
    return f"greatest(d.{kind}_no_ref - d.{kind} * {share}, 0)"


def _seconds(clock: datetime.time) -> int:
    if clock == datetime.time.max:  # 24:00
        return 86_400
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def monitor_peers(
    db: duckdb.DuckDBPyConnection,
    features: Sequence[str],
    first: datetime.date,
    last: datetime.date,
    min_peers: int,
) -> pa.Table:
    """The days ``first`` to ``last`` of ``monitor_days`` with each user's role, branch and
    leave date, and for each of ``features`` the quartiles of the user's peers
    (``<f>_peer_q25``, ``_median``, ``_q75``): the same day's users of the same role and branch
    when at least ``min_peers`` of them worked that day, else of the same role (``peer_scope``
    says which, ``peers`` how many), the user included. (The three quartiles come from one
    sort per group; a median, a MAD and a quantile would cost three.)
    """
    quartiles = ", ".join(
        f"quantile_cont({f}, [0.25, 0.5, 0.75]) AS {f}_quartiles" for f in features
    )
    pick = ", ".join(
        f"(CASE WHEN b.peers IS NULL THEN r.{f}_quartiles ELSE b.{f}_quartiles END)[{i}] "
        f"AS {f}_peer_{name}"
        for f in features
        for i, name in enumerate(("q25", "median", "q75"), start=1)
    )
    return db.sql(
        f"""
        WITH today AS (
            SELECT m.*, s.role, s.branch_code, s.leave_date
            FROM monitor_days m LEFT JOIN m_staff s USING (staff_id)
            WHERE m.day BETWEEN $first AND $last
        ), branches AS (
            -- holistic statistics cost per group: only for groups large enough to be used
            SELECT role, branch_code, day, count(*) AS peers FROM today
            GROUP BY role, branch_code, day HAVING count(*) >= {int(min_peers)}
        ), by_branch AS (
            SELECT t.role, t.branch_code, t.day, any_value(g.peers) AS peers, {quartiles}
            FROM today t JOIN branches g ON g.role IS NOT DISTINCT FROM t.role
                AND g.branch_code = t.branch_code AND g.day = t.day
            GROUP BY t.role, t.branch_code, t.day
        ), by_role AS (
            SELECT role, day, count(*) AS peers, {quartiles} FROM today GROUP BY role, day
        )
        SELECT t.*,
               CASE WHEN b.peers IS NOT NULL THEN 'branch' ELSE 'role' END AS peer_scope,
               coalesce(b.peers, r.peers) AS peers, {pick}
        FROM today t
        JOIN by_role r ON r.role IS NOT DISTINCT FROM t.role AND r.day = t.day
        LEFT JOIN by_branch b ON b.role IS NOT DISTINCT FROM t.role
            AND b.branch_code = t.branch_code AND b.day = t.day
        """,
        params={"first": first, "last": last},
    ).to_arrow_table()


def monitor_history(db: duckdb.DuckDBPyConnection, features: Sequence[str]) -> pa.Table:
    """Every user-day of ``monitor_days`` (``staff_id``, ``role``, ``day`` and ``features``),
    for the users' own baselines."""
    return db.sql(
        f"""SELECT m.staff_id, s.role, m.day, {", ".join(f"m.{f}" for f in features)}
        FROM monitor_days m LEFT JOIN m_staff s USING (staff_id)"""
    ).to_arrow_table()


def monitor_cleanup(db: duckdb.DuckDBPyConnection) -> None:
    """Drop the monitor's temporary tables."""
    for table in (
        "m_customer_branch",
        "m_portfolio",
        "m_apps",
        "m_staff",
        "m_chunk",
        "monitor_days",
    ):
        with contextlib.suppress(duckdb.Error):
            db.execute(f"DROP TABLE IF EXISTS {table}")


def segment_names(db: duckdb.DuckDBPyConnection) -> set[str]:
    """The segment attributes the register's customers carry (from a sample of them)."""
    rows = db.execute(
        f"""SELECT DISTINCT unnest(json_keys(segment)) FROM
        (SELECT segment FROM customers WHERE segment IS NOT NULL AND {LOADED} LIMIT 1000)"""
    ).fetchall()
    return {row[0] for row in rows}


_ALERT_VALUES = ("staff_id", "day", "score", "severity", "reasons", "features")


def save_alerts(
    db: duckdb.DuckDBPyConnection,
    rows: Sequence[dict[str, Any]],
    first: datetime.date,
    last: datetime.date,
    now: str,
) -> None:
    """Store the alerts of the days ``first`` to ``last`` (inside the caller's transaction).

    An alert of a user and day already stored is updated (its id, creation time, review status
    and note stay); a new one gets the next id. Open alerts of those days that the run no
    longer raises are removed; reviewed ones (confirmed, dismissed) stay as the record of the
    review.
    """
    found = pa.table(
        {
            "position": pa.array(range(len(rows)), pa.int64()),
            **{
                name: pa.array(
                    [row[name] for row in rows],
                    {"day": pa.date32(), "score": pa.float64()}.get(name, pa.string()),
                )
                for name in _ALERT_VALUES
            },
        }
    )
    with _shown(db, found_alerts=found):
        db.execute(
            """UPDATE alerts SET score = f.score, severity = f.severity,
                reasons = f.reasons, features = f.features, updated = ?
            FROM found_alerts f
            WHERE alerts.staff_id = f.staff_id AND alerts.day = f.day
                AND (alerts.score <> f.score OR alerts.severity <> f.severity
                     OR CAST(alerts.reasons AS VARCHAR) <> f.reasons
                     OR CAST(alerts.features AS VARCHAR) <> f.features)""",
            [now],
        ).fetchall()
        db.execute(
            """DELETE FROM alerts WHERE status = 'open' AND day BETWEEN ? AND ?
            AND NOT EXISTS (SELECT 1 FROM found_alerts f
                            WHERE f.staff_id = alerts.staff_id AND f.day = alerts.day)""",
            [first, last],
        ).fetchall()
        db.execute(
            """INSERT INTO alerts (alert_id, staff_id, day, score, severity, reasons, features,
                                   status, created)
            SELECT (SELECT coalesce(max(alert_id), 0) FROM alerts)
                       + row_number() OVER (ORDER BY f.position),
                   f.staff_id, f.day, f.score, f.severity, f.reasons, f.features, 'open', ?
            FROM found_alerts f
            ANTI JOIN alerts a ON a.staff_id = f.staff_id AND a.day = f.day""",
            [now],
        ).fetchall()


def alert_rows(
    db: duckdb.DuckDBPyConnection,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    status: str | None = None,
    staff_id: str | None = None,
    alert_id: int | None = None,
) -> list[dict[str, Any]]:
    """Stored alerts (columns :data:`ALERT_COLUMNS`), by day and then score, best first."""
    conditions, parameters = ["true"], []
    for condition, value in (
        ("day >= ?", since),
        ("day <= ?", until),
        ("status = ?", status),
        ("staff_id = ?", staff_id),
        ("alert_id = ?", alert_id),
    ):
        if value is not None:
            conditions.append(condition)
            parameters.append(value)
    rows = db.execute(
        f"""SELECT {", ".join(ALERT_COLUMNS)} FROM alerts WHERE {" AND ".join(conditions)}
        ORDER BY day, score DESC, alert_id""",
        parameters,
    ).fetchall()
    return [dict(zip(ALERT_COLUMNS, row, strict=True)) for row in rows]


def update_alert_status(
    db: duckdb.DuckDBPyConnection, alert_id: int, status: str, note: str | None, now: str
) -> bool:
    """Set an alert's review status and note (a None note keeps the old one); False when there
    is no such alert."""
    rows = db.execute(
        """UPDATE alerts SET status = ?, note = coalesce(?, note), updated = ?
        WHERE alert_id = ? RETURNING alert_id""",
        [status, note, now, alert_id],
    ).fetchall()
    return bool(rows)
