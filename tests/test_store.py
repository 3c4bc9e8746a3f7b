"""The workspace: creation, keys, refusal of wrong keys, locks, schema versions."""

from __future__ import annotations

import stat
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

from leaktrace import keys, store
from leaktrace.exceptions import WorkspaceError


def test_init_creates_store_config_and_private_key(tmp_path):
    folder = tmp_path / "ws"
    with store.init_workspace(folder) as ws:
        assert ws.schema_version == store.SCHEMA_VERSION
        assert ws.counts() == {"customers": 0, "tokens": 0, "loads": 0}
    key_file = folder / store.KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (folder / store.DATABASE_NAME).is_file()
    assert not list(folder.glob("*.init")) and not list(folder.glob("*.tmp"))
    with pytest.raises(WorkspaceError, match="already a leaktrace workspace"):
        store.init_workspace(folder)


def test_key_from_environment_writes_no_key_file(tmp_path, monkeypatch):
    monkeypatch.setenv(keys.ENV_VAR, keys.encode_key(keys.new_master_key()))
    with store.init_workspace(tmp_path / "ws") as ws:
        assert ws.config["workspace"]["key_file"] == ""
    assert not (tmp_path / "ws" / store.KEY_FILE_NAME).exists()
    store.open_workspace(tmp_path / "ws").close()
    monkeypatch.delenv(keys.ENV_VAR)
    with pytest.raises(WorkspaceError, match="No master key"):
        store.open_workspace(tmp_path / "ws")


def test_a_bad_key_in_the_environment_makes_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(keys.ENV_VAR, "not a key")
    with pytest.raises(WorkspaceError, match="does not hold a leaktrace master key"):
        store.init_workspace(tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_wrong_master_key_is_refused(tmp_path, monkeypatch):
    store.init_workspace(tmp_path / "ws").close()
    monkeypatch.setenv(keys.ENV_VAR, keys.encode_key(keys.new_master_key()))
    with pytest.raises(WorkspaceError, match="does not match this workspace"):
        store.open_workspace(tmp_path / "ws")


def test_a_key_version_the_workspace_has_no_keys_of_is_named(tmp_path):
    store.init_workspace(tmp_path / "ws").close()
    config = tmp_path / "ws" / store.CONFIG_NAME
    config.write_text(config.read_text().replace("key_version = 1", "key_version = 2"))
    with pytest.raises(WorkspaceError, match="sets key_version = 2, but this workspace's keys"):
        store.open_workspace(tmp_path / "ws")


def test_workspace_from_environment_and_missing_workspace(tmp_path, monkeypatch):
    store.init_workspace(tmp_path / "ws").close()
    monkeypatch.setenv(store.ENV_WORKSPACE, str(tmp_path / "ws"))
    store.open_workspace().close()
    with pytest.raises(WorkspaceError, match="not a leaktrace workspace"):
        store.open_workspace(tmp_path / "elsewhere")


def test_newer_schema_is_refused(tmp_path):
    with store.init_workspace(tmp_path / "ws") as ws:
        ws.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(WorkspaceError, match="newer than this leaktrace"):
        store.open_workspace(tmp_path / "ws")


def test_corrupt_store_and_config_are_one_line_errors(tmp_path):
    store.init_workspace(tmp_path / "ws").close()
    database = tmp_path / "ws" / store.DATABASE_NAME
    database.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WorkspaceError, match="not a readable leaktrace store"):
        store.open_workspace(tmp_path / "ws")
    (tmp_path / "ws" / store.CONFIG_NAME).write_text("[workspace\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="Cannot read"):
        store.open_workspace(tmp_path / "ws")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('key_version = "one"', "key_version = 'one' in \\[workspace\\] must be a whole number"),
        ("key_version = 0", "key_version in \\[workspace\\] must be 1 or more"),
        ("database = 5", "database = 5 in \\[workspace\\] must be a file name"),
        ('memory_limit = "lots"', "memory_limit = 'lots' .* is not a size DuckDB reads"),
    ],
)
def test_a_setting_of_the_wrong_kind_is_named(tmp_path, setting, message):
    """Not a traceback, and not "restore the store from a backup" for a healthy store."""
    store.init_workspace(tmp_path / "ws").close()
    config = tmp_path / "ws" / store.CONFIG_NAME
    name = setting.split(" =")[0]
    lines = [line for line in config.read_text(encoding="utf-8").splitlines()
             if not line.startswith(f"{name} =")]  # fmt: skip
    lines.insert(lines.index("[workspace]") + 1, setting)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match=message):
        store.open_workspace(tmp_path / "ws")


def test_a_workspace_in_use_by_another_process_is_refused(tmp_path):
    store.init_workspace(tmp_path / "ws").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from leaktrace import store; "
            f"ws = store.open_workspace({str(tmp_path / 'ws')!r}); print('open', flush=True); "
            "time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WorkspaceError, match="in use by another process"):
            store.open_workspace(tmp_path / "ws")
    finally:
        holder.kill()
        holder.wait()


def test_an_error_in_a_transaction_is_not_hidden_by_the_views_it_showed():
    """A statement that fails aborts the transaction, where unregistering a view fails too:
    the statement's error is the one raised, and the transaction is rolled back."""
    db = duckdb.connect()
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    with (
        pytest.raises(duckdb.ConstraintException),
        store.transaction(db),
        store._shown(db, repeated=pa.table({"a": [1, 1]})),
    ):
        db.execute("INSERT INTO t SELECT a FROM repeated")
    assert db.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    with store._shown(db, once=pa.table({"a": [1]})):
        db.execute("INSERT INTO t SELECT a FROM once")
    assert db.execute("SELECT count(*) FROM t").fetchall() == [(1,)]


def test_distinct_keys_counts_the_valid_rows_keys():
    db = duckdb.connect()
    db.execute(
        """CREATE TEMP TABLE access_keys AS SELECT * FROM (VALUES (1::UBIGINT, NULL),
        (1, NULL), (2, NULL), (3, 'bad timestamp')) t(event_key, reason)"""
    )
    assert store._distinct_keys(db) == 2
