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

import datetime
import json
import os
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from leaktrace import __version__, keys
from leaktrace.exceptions import WorkspaceError

SCHEMA_VERSION = 1
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
)

_CONFIG_TEMPLATE = """\
# leaktrace workspace (https://github.com/ — see README.md). Created {created}.
[workspace]
# The DuckDB store: tokens and ledger only, never a raw customer identifier.
database = "{database}"
# The master key. Keep it apart from backups of the store; LEAKTRACE_MASTER_KEY overrides it.
key_file = "{key_file}"
key_version = 1
# DuckDB's memory limit; larger work spills to {database}.tmp/ (tokens only).
memory_limit = "3GB"
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
        self.db.execute("BEGIN TRANSACTION")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def counts(self) -> dict[str, int]:
        """Customers, tokens and loads in the register."""
        customers, tokens, loads = self.db.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM tokens), "
            "(SELECT count(*) FROM loads)"
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
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get(keys.ENV_VAR):
        master, key_file = keys.master_key(None), ""
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
        if stored is None or stored[0] != keyring.check_value():
            raise WorkspaceError(
                f"The master key does not match this workspace (key check value "
                f"{keyring.check_value()}, expected {stored[0] if stored else 'none'}); use the "
                f"key it was created with ({keys.ENV_VAR} or key_file in {CONFIG_NAME})."
            )
        if not read_only:
            _migrate(db)
        elif _schema_version(db) != SCHEMA_VERSION:
            raise WorkspaceError(
                f"{folder} needs a schema upgrade; open it once without read-only access."
            )
    except BaseException:
        db.close()
        raise
    return Workspace(folder, config, keyring, db)


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
    if not isinstance(config.get("workspace"), dict):
        raise WorkspaceError(f"{config_path} has no [workspace] section; compare with README.md.")
    return config


def _connect(database: Path, read_only: bool, section: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    settings = {
        "memory_limit": str(section.get("memory_limit", "3GB")),
        "temp_directory": str(database) + ".tmp",
    }
    try:
        return duckdb.connect(str(database), read_only=read_only, config=settings)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            raise WorkspaceError(
                f"The workspace store {database} is in use by another process; wait for it to "
                "finish."
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
        db.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[step]:
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(step + 1)])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- the customer register -------------------------------------------------------------------


def begin_load(db: duckdb.DuckDBPyConnection, segment_columns: int) -> None:
    """Create the staging tables of one load (temporary: they vanish with the connection)."""
    segments = "".join(f", s{i} VARCHAR" for i in range(segment_columns))
    db.execute("DROP TABLE IF EXISTS stage_customers")
    db.execute("DROP TABLE IF EXISTS stage_tokens")
    db.execute(f"CREATE TEMP TABLE stage_customers (ref BLOB, row_no BIGINT{segments})")
    db.execute("CREATE TEMP TABLE stage_tokens (ref BLOB, kind UTINYINT, token BLOB)")


def stage(db: duckdb.DuckDBPyConnection, customers: pa.Table, tokens: pa.Table) -> None:
    """Add one batch to the staging tables (columns in the staging tables' order)."""
    db.register("batch_customers", customers)
    db.register("batch_tokens", tokens)
    try:
        db.execute("INSERT INTO stage_customers SELECT * FROM batch_customers")
        db.execute("INSERT INTO stage_tokens SELECT * FROM batch_tokens")
    finally:
        db.unregister("batch_customers")
        db.unregister("batch_tokens")


def finish_load(
    workspace: Workspace,
    source: str,
    started: datetime.datetime,
    rows: int,
    mapping: dict[str, Any],
    segment_names: Sequence[str],
) -> LoadCounts:
    """Merge the staged batch into the register in one transaction.

    New customer numbers get new register ids (in order of first appearance); known customers
    get their segment updated; tokens not yet held for a customer are added and the others
    marked as seen again, so a changed phone adds a token and keeps the old one.
    """
    db = workspace.db
    segment = (
        "json_object("
        + ", ".join(f"'{_sql_text(name)}', s{i}" for i, name in enumerate(segment_names))
        + ")"
        if segment_names
        else "NULL"
    )
    with workspace.transaction():
        load_id = db.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][0]
        db.execute(
            f"""CREATE TEMP TABLE stage_refs AS
            SELECT ref, min(row_no) AS first_row, arg_max({segment}, row_no) AS segment
            FROM stage_customers GROUP BY ref"""
        )
        customers_seen = db.execute(
            """UPDATE customers SET segment = s.segment, last_load = ?
            FROM stage_refs s WHERE customers.ref_token = s.ref""",
            [load_id],
        ).fetchall()[0][0]
        customers_new = db.execute(
            """INSERT INTO customers
            SELECT (SELECT coalesce(max(customer_id), 0) FROM customers)
                       + row_number() OVER (ORDER BY s.first_row),
                   s.ref, s.segment, ?, ?
            FROM stage_refs s ANTI JOIN customers c ON c.ref_token = s.ref""",
            [load_id, load_id],
        ).fetchall()[0][0]
        db.execute(
            """CREATE TEMP TABLE stage_ids AS
            SELECT DISTINCT t.token, t.kind, c.customer_id
            FROM stage_tokens t JOIN customers c ON c.ref_token = t.ref"""
        )
        db.execute(
            """UPDATE tokens SET last_load = ?
            FROM stage_ids s
            WHERE tokens.token = s.token AND tokens.customer_id = s.customer_id""",
            [load_id],
        )
        tokens_new = db.execute(
            """INSERT INTO tokens
            SELECT s.token, s.kind, s.customer_id, ?, ?, ?
            FROM stage_ids s
            ANTI JOIN tokens t ON t.token = s.token AND t.customer_id = s.customer_id""",
            [workspace.keyring.version, load_id, load_id],
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
        for table in ("stage_refs", "stage_ids", "stage_customers", "stage_tokens"):
            db.execute(f"DROP TABLE {table}")
    totals = workspace.counts()
    return LoadCounts(
        load_id=load_id,
        customers_new=customers_new,
        customers_seen=customers_seen,
        tokens_new=tokens_new,
        customers_total=totals["customers"],
        tokens_total=totals["tokens"],
    )


def ids_for_refs(db: duckdb.DuckDBPyConnection, refs: pa.Array) -> list[int | None]:
    """The register id of each customer-number token, in order (None where unknown)."""
    probe = pa.table({"position": pa.array(range(len(refs)), pa.int64()), "ref": refs})
    db.register("probe_refs", probe)
    try:
        found = db.sql(
            """SELECT c.customer_id FROM probe_refs p
            LEFT JOIN customers c ON c.ref_token = p.ref ORDER BY p.position"""
        ).fetchall()
    finally:
        db.unregister("probe_refs")
    return [row[0] for row in found]


def match_tokens(db: duckdb.DuckDBPyConnection, probe: pa.Table) -> pa.Table:
    """Resolve the tokens of a list's rows to register customers, one result row per row hit.

    ``probe`` has columns ``row_no``, ``kind``, ``exact``, ``token``. A row is *matched* to
    the one customer that fits all its evidence: every exact identifier that hit anyone, and
    every composite token (name + masked phone …) that hit anyone; failing that, to the one
    customer that fits all its exact identifiers. Rows where no single customer fits are
    *ambiguous*, with the number of candidates. Rows without any hit are not returned.
    """
    db.register("probe", probe)
    try:
        return db.sql(
            """
            WITH hits AS (
                SELECT DISTINCT p.row_no, p.kind, p.exact, t.customer_id
                FROM probe p JOIN tokens t ON t.token = p.token
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
    finally:
        db.unregister("probe")


def _sql_text(text: str) -> str:
    """``text`` for use inside a single-quoted SQL string literal."""
    return text.replace("'", "''")
