"""Access logs, staff, applications and portfolios: guessing kinds and columns, tokens only at
rest, incremental loads without double counting, malformed lines reported by line number, and a
load killed by kill -9 (issue 6, acceptance items 4 and 5, and the load half of item 3)."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from leaktrace import access, customers, keys, monitor, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError, SourceError

CUSTOMERS = 3_000
STAFF = 40
DAYS = 6
SEED = 5
FILES = ("staff", "portfolios", "applications", "access_log")


@cache
def _world():
    return synth.institution(CUSTOMERS, staff=STAFF, seed=SEED, days=DAYS)


@cache
def _log() -> pa.Table:
    """The synthetic bank's access log (6 days, ~4,000 events)."""
    return synth.access_log(_world())


@cache
def _people() -> pa.Table:
    return synth.customers(CUSTOMERS, seed=SEED)


def _csv(table: pa.Table, path: Path) -> str:
    pacsv.write_csv(table, path)
    return str(path)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """The synthetic bank written as CSV and as Parquet, and its customer register."""
    folder = tmp_path_factory.mktemp("bank")
    for file_format in ("csv", "parquet"):
        synth.write_institution(
            folder / file_format,
            CUSTOMERS,
            staff=STAFF,
            days=DAYS,
            seed=SEED,
            file_format=file_format,
        )
    return folder


def _register(folder: Path) -> store.Workspace:
    """A new workspace holding the synthetic customers in its register."""
    ws = store.init_workspace(folder / "ws")
    customers.load(ws, _csv(_people(), folder / "customers.csv"), jobs=1)
    return ws


def _rows(path: Path) -> int:
    if path.suffix == ".csv":
        return pacsv.read_csv(path).num_rows
    return pq.ParquetFile(path).metadata.num_rows


def _events(ws: store.Workspace) -> int:
    """Every stored event row, recorded or not."""
    return ws.db.sql("SELECT count(*) FROM access_events").fetchall()[0][0]


# -- a whole bank -----------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_synthetic_bank_loads_whole(bank, tmp_path, file_format):
    folder = bank / file_format
    with _register(tmp_path) as ws:
        results = {}
        for name in FILES:
            path = folder / f"{name}.{file_format}"
            result = access.load(ws, str(path))
            assert (result.rows, result.rejected) == (_rows(path), 0), result.rejects
            results[result.kind] = result
        assert list(results) == ["staff", "portfolios", "applications", "events"]
        for result in results.values():
            assert result.loaded == result.rows and result.duplicates == 0
        assert results["events"].mapping.customer_type == access.NUMBER
        assert access.status(ws)["events"] == results["events"].rows
        # Every customer the files name is in the register, under the register's own id.
        log = pacsv.read_csv(bank / "csv" / "access_log.csv")
        expected = customers.register_ids(ws, log.column("customer_id").to_pylist())
        stored = ws.db.sql(
            "SELECT customer_id FROM access_events ORDER BY time, event_key"
        ).fetchall()
        assert sorted(i for (i,) in stored) == sorted(expected)
        # An event of a register customer holds its register id, not its token a second time.
        doubled = """SELECT count(*) FROM access_events
            WHERE customer_id IS NULL OR customer_token IS NOT NULL"""
        assert ws.db.sql(doubled).fetchall()[0][0] == 0
        for table in ("applications", "portfolios"):
            # Tokens are the register's own: every row's token is its customer's ref token.
            unmatched = ws.db.sql(
                f"""SELECT count(*) FROM {table} r ANTI JOIN customers c
                ON c.ref_token = r.customer_token AND c.customer_id = r.customer_id"""
            ).fetchall()[0][0]
            assert unmatched == 0, table
        staff = ws.db.sql("SELECT * FROM staff ORDER BY staff_id LIMIT 1").fetchall()[0]
        first = _world().staff.slice(0, 1).to_pylist()[0]
        assert staff[:5] == (
            first["staff_id"], first["role"], first["branch_code"], first["join_date"],
            first["leave_date"],
        )  # fmt: skip
        columns = [r[0] for r in ws.db.sql("DESCRIBE staff").fetchall()]
        assert "name" not in columns  # staff names are never stored


def test_a_log_in_many_chunks_names_the_customers_of_one_chunk(bank, tmp_path):
    """Customers seen in an earlier chunk are named again from the load's references, not
    tokenized anew: chunks of 500 rows (smaller than the references seen: each joined with its
    own) and of 2,000 (larger: joined with all) store the same events as one chunk does."""
    log = str(bank / "csv" / "access_log.csv")
    stored = []
    for chunk_rows in (access.CHUNK_ROWS, 500, 2_000):
        with _register(tmp_path / str(chunk_rows)) as ws:
            for name in ("staff", "portfolios", "applications"):
                access.load(ws, str(bank / "csv" / f"{name}.csv"))
            result = access.load(ws, log, chunk_rows=chunk_rows)
            assert (result.loaded, result.rejected) == (_rows(Path(log)), 0)
            unnamed = "SELECT count(*) FROM access_events WHERE customer_id IS NULL"
            assert ws.db.sql(unnamed).fetchall()[0][0] == 0
            stored.append(
                ws.db.sql("SELECT event_key, customer_id FROM access_events ORDER BY 1").fetchall()
            )
    assert stored[0] == stored[1] == stored[2]


def test_csv_and_parquet_give_the_same_events(bank, tmp_path):
    """The same log as CSV and as Parquet: same keys, so the second load is all duplicates."""
    with _register(tmp_path) as ws:
        first = access.load(ws, str(bank / "parquet" / "access_log.parquet"))
        second = access.load(ws, str(bank / "csv" / "access_log.csv"))
        assert (second.loaded, second.duplicates) == (0, first.loaded)


# -- guessing ---------------------------------------------------------------------------------

CHINESE_LOG = ("员工号", "访问时间", "客户号", "操作", "系统", "终端", "IP地址", "业务编号")


@pytest.mark.parametrize(
    ("columns", "kind", "expected"),
    [
        (
            CHINESE_LOG,
            "events",
            {"time": "访问时间", "staff_id": "员工号", "customer": "客户号", "action": "操作",
             "system": "系统", "business_ref": "业务编号", "terminal": "终端", "ip": "IP地址"},
        ),
        (
            ("柜员号", "时间", "身份证号", "动作"),
            "events",
            {"time": "时间", "staff_id": "柜员号", "customer": "身份证号", "action": "动作"},
        ),
        (
            ("工号", "姓名", "岗位", "所属机构", "入职日期", "离职日期"),
            "staff",
            {"staff_id": "工号", "role": "岗位", "branch_code": "所属机构",
             "join_date": "入职日期", "leave_date": "离职日期"},
        ),
        (
            ("申请编号", "客户号", "客户经理", "申请时间", "金额"),
            "applications",
            {"application_id": "申请编号", "customer": "客户号", "submitted": "申请时间",
             "staff_id": "客户经理"},
        ),
        (("客户经理号", "客户号"), "portfolios", {"staff_id": "客户经理号", "customer": "客户号"}),
        (
            ("User ID", "Access Time", "Customer No", "Operation", "System", "Ticket"),
            "events",
            {"time": "Access Time", "staff_id": "User ID", "customer": "Customer No",
             "action": "Operation", "system": "System", "business_ref": "Ticket"},
        ),
    ],
)  # fmt: skip
def test_kind_and_columns_are_guessed_from_headers(columns, kind, expected):
    mapping = access.guess_mapping(list(columns))
    assert (mapping.kind, mapping.columns) == (kind, expected)


def test_the_customer_column_type_comes_from_header_or_values():
    people = _people().slice(0, 200)
    sample = pa.table(
        {
            "用户": pa.array(["T1"] * 200),
            "时间": pa.array(["2025-01-02 10:00:00"] * 200),
            "查询对象": people.column("id_number"),
        }
    )
    guessed = access.guess_mapping(sample.column_names, given={"customer": "查询对象"},
                                   sample=sample)  # fmt: skip
    assert guessed.customer_type == "resident_id"  # by its values
    phones = access.guess_mapping(["用户", "时间", "手机号"])
    assert phones.customer_type == "mobile"  # by its header
    typed = access.guess_mapping(["用户", "时间", "证件"], given={"customer": "证件:resident_id"})
    assert (typed.columns["customer"], typed.customer_type) == ("证件", "resident_id")
    numbers = access.guess_mapping(["user", "time", "customer_id"])
    assert numbers.customer_type == access.NUMBER


def test_maps_and_kinds_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot tell whether"):
        access.guess_mapping(["a", "b"])
    with pytest.raises(ConfigError, match="no column 'nope'"):
        access.guess_mapping(["用户", "时间"], given={"customer": "nope"})
    with pytest.raises(ConfigError, match="holds role of staff"):
        access.guess_mapping(["用户", "备注"], kind="staff")
    # An access log has a portfolio's two columns: --kind portfolios would take every view
    # for "this manager serves this customer", unless the columns are mapped by hand.
    log = ["柜员号", "访问时间", "客户号", "操作"]
    with pytest.raises(ConfigError, match=r"header is that of an access log.*--kind events"):
        access.guess_mapping(log, kind="portfolios")
    mapped = access.guess_mapping(log, kind="portfolios", given={"staff_id": "柜员号"})
    assert mapped.columns == {"staff_id": "柜员号", "customer": "客户号"}
    assert access.guess_mapping(["a", "客户号", "柜员号"], kind="portfolios").kind == "portfolios"
    with pytest.raises(ConfigError, match="unknown field 'colour'"):
        access.parse_map(["colour=颜色"])
    with pytest.raises(ConfigError, match="FIELD=COLUMN"):
        access.parse_map(["time"])
    assert access.parse_map(["user=柜员", "customer_id=证件号码"]) == {
        "staff_id": "柜员",
        "customer": "证件号码",
    }
    with store.init_workspace(tmp_path / "ws") as ws:
        empty = tmp_path / "empty.csv"
        empty.write_text("员工号,访问时间\n", encoding="utf-8")
        with pytest.raises(SourceError, match="no rows"):
            access.load(ws, str(empty))
        with pytest.raises(SourceError, match="no such file"):
            access.load(ws, str(tmp_path / "missing.csv"))
        assert access.status(ws)["loads"] == {}


def test_a_log_without_a_customer_column_loads_with_a_warning(bank, tmp_path):
    """Events without customers are taken (a login log has none), but the load says that the
    monitor will see no customer touched in them."""
    log = pacsv.read_csv(bank / "csv" / "access_log.csv").slice(0, 300)
    staff_only = tmp_path / "no_customers.csv"
    pacsv.write_csv(log.select(["event_id", "time", "staff_id"]), staff_only)
    with _register(tmp_path) as ws:
        access.load(ws, str(bank / "csv" / "staff.csv"))
        result = access.load(ws, str(staff_only))
        assert result.loaded == 300
        (warning,) = result.warnings
        assert "no column was taken for the customer" in warning and "--map customer=" in warning
        assert result.summary()["warnings"] == [warning]
        full = access.load(ws, str(bank / "csv" / "access_log.csv"))
        assert full.warnings == []


# -- raw identifiers --------------------------------------------------------------------------


def _raw_log(column: str, header: str) -> pa.Table:
    """The access log with each customer named by a raw identifier, reformatted on every third
    row as logs and brokers do (``+86 138-1234-5678``, lower-case ``x``)."""
    log = _log()
    rows = pc.subtract(
        pc.cast(pc.utf8_slice_codeunits(log.column("customer_id"), 1), pa.int64()), 1
    )
    values = _people().column(column).take(rows).to_pylist()
    for i in range(0, len(values), 3):
        if column == "mobile":
            values[i] = f"+86 {values[i][:3]}-{values[i][3:7]}-{values[i][7:]}"
        else:
            values[i] = values[i].lower()
    return pa.table(
        {
            "柜员号": log.column("staff_id"),
            "访问时间": log.column("time"),
            header: pa.array(values),
            "操作": log.column("action"),
            "系统": log.column("system"),
        }
    )


def test_raw_identifiers_in_logs_are_tokenized_and_never_stored(tmp_path, find_bytes):
    """Logs that name customers by ID number and by phone: the events find their register
    customers, and a byte search of the whole workspace folder (UTF-8 and GBK) finds none of
    the numbers, as given or normalized (issue 6, acceptance 4)."""
    with _register(tmp_path) as ws:
        access.load(ws, _csv(_world().staff, tmp_path / "staff.csv"))
        loaded = {}
        for column, header, kind in (("id_number", "身份证号", "resident_id"),
                                     ("mobile", "手机号", "mobile")):  # fmt: skip
            path = _csv(_raw_log(column, header), tmp_path / f"log_{column}.csv")
            result = access.load(ws, path)
            assert result.mapping.customer_type == kind
            assert result.rejected == 0, result.rejects
            loaded[column] = (result.load_id, result.loaded)
        # ID-number and phone logs of the same events are different rows (a different
        # customer reference), each matched to the register customer it names.
        expected = sorted(customers.register_ids(ws, _log().column("customer_id").to_pylist()))
        for load_id, rows in loaded.values():
            assert rows == _log().num_rows
            ids = ws.db.execute(
                "SELECT customer_id FROM access_events WHERE load_id = ?", [load_id]
            ).fetchall()
            assert sorted(i for (i,) in ids) == expected
    blob = b"".join(p.read_bytes() for p in sorted((tmp_path / "ws").rglob("*")) if p.is_file())
    needles = set()
    for column in ("id_number", "mobile"):
        needles.update(v for v in _people().column(column).to_pylist() if v)  # normalized
        needles.update(_raw_log(column, "as logged").column("as logged").to_pylist())
    found = find_bytes(blob, {n.encode(e) for n in needles for e in ("utf-8", "gbk")})
    assert [n for n, at in found.items() if at] == []
    assert len(needles) > 2 * CUSTOMERS


def test_an_identifier_not_in_the_register_keeps_its_token(tmp_path):
    """Customers the register does not know are kept as tokens without a register id;
    identifiers that are not valid are rejected by line, never stored."""
    with store.init_workspace(tmp_path / "ws") as ws:
        people = _people().slice(0, 3).column("mobile").to_pylist()
        log = tmp_path / "log.csv"
        log.write_text(
            "用户,时间,手机号,操作\n"
            f"T1,2025-01-02 10:00:00,{people[0]},query\n"
            f"T1,2025-01-02 10:01:00,{people[1]},query\n"
            "T1,2025-01-02 10:02:00,12345,query\n"
            "T1,2025-01-02 10:03:00,,login\n",
            encoding="utf-8",
        )
        result = access.load(ws, str(log))
        assert (result.loaded, result.rejects) == (3, [(4, "invalid customer reference")])
        rows = ws.db.sql(
            "SELECT customer_token, customer_id FROM access_events ORDER BY time"
        ).fetchall()
        # The token is the identifier's match token, as the register would hold it.
        key = ws.keyring.key("match")
        assert rows == [(keys.token(key, "mobile", people[0]), None),
                        (keys.token(key, "mobile", people[1]), None), (None, None)]  # fmt: skip


# -- incremental loads ------------------------------------------------------------------------


def _days(log: pa.Table, first: int, last: int) -> pa.Table:
    """Events of days ``first``…``last`` (0-based) of the period."""
    day = pc.cast(pc.cast(log.column("time"), pa.date32()), pa.int32())
    start = pc.min(day).as_py()
    keep = pc.and_(pc.greater_equal(day, start + first), pc.less_equal(day, start + last))
    return log.filter(keep)


@pytest.mark.parametrize("with_event_id", [True, False])
def test_next_day_appends_and_overlaps_count_once(tmp_path, with_event_id):
    log = _log() if with_event_id else _log().drop_columns(["event_id"])
    with store.init_workspace(tmp_path / "ws") as ws:
        first = access.load(ws, _csv(_days(log, 0, 2), tmp_path / "d0-2.csv"))
        assert first.loaded == _days(log, 0, 2).num_rows
        again = access.load(ws, _csv(_days(log, 0, 2), tmp_path / "again.csv"))
        assert (again.loaded, again.duplicates) == (0, first.loaded)
        overlap = access.load(ws, _csv(_days(log, 1, 4), tmp_path / "d1-4.csv"))
        assert overlap.loaded == _days(log, 3, 4).num_rows
        assert overlap.duplicates == _days(log, 1, 2).num_rows
        nxt = access.load(ws, _csv(_days(log, 5, 5), tmp_path / "d5.csv"))
        assert (nxt.loaded, nxt.duplicates) == (_days(log, 5, 5).num_rows, 0)
        assert access.status(ws)["events"] == _events(ws) == log.num_rows
        keyed = ws.db.sql("SELECT count(DISTINCT event_key) FROM access_events").fetchall()[0][0]
        assert keyed == log.num_rows


def test_events_of_an_older_workspace_move_into_parts(tmp_path):
    """A workspace of schema 4 kept its events in a table: opening it moves them into Parquet
    parts, unchanged, and a re-load still finds every one of them."""
    log = _days(_log(), 0, 2)
    path = _csv(log, tmp_path / "log.csv")
    with store.init_workspace(tmp_path / "ws") as ws:
        access.load(ws, path)
        events = ws.db.sql("SELECT * FROM access_events ORDER BY event_key").fetchall()
        # back to schema 4: events in the table, no parts
        table = store.legacy_events(ws.db)
        ws.db.execute(f"INSERT INTO {table} SELECT * FROM access_events")
        ws.db.execute(f"ALTER TABLE {table} DROP COLUMN staff_key")
        ws.db.execute(f"ALTER TABLE {table} DROP COLUMN cust")
        ws.db.execute("DROP TABLE access_parts")
        ws.db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    for part in store.events_folder(tmp_path / "ws").iterdir():
        part.unlink()
    with store.open_workspace(tmp_path / "ws") as ws:
        assert ws.schema_version == store.SCHEMA_VERSION
        assert ws.db.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0
        moved = ws.db.sql("SELECT * FROM access_events ORDER BY event_key").fetchall()
        assert moved == events and len(moved) == log.num_rows
        again = access.load(ws, path)
        assert (again.loaded, again.duplicates) == (0, log.num_rows)


def test_parts_that_hold_the_customer_key_read_with_those_that_do_not(tmp_path):
    """Parts written before the monitor's customer key was computed as it is read hold it as
    a column of their own: they are read beside the parts without it, and the key is
    computed for both."""
    log = _log()
    with store.init_workspace(tmp_path / "ws") as ws:
        access.load(ws, _csv(_days(log, 0, 2), tmp_path / "d0-2.csv"))
        (part,) = store.events_folder(tmp_path / "ws").iterdir()
        old = pq.read_table(part)
        assert "cust" not in old.column_names
        stale = pa.array([-7] * old.num_rows, pa.int64())  # never read
        pq.write_table(old.append_column("cust", stale), part)
        access.load(ws, _csv(_days(log, 3, 4), tmp_path / "d3-4.csv"))
        assert len(list(store.events_folder(tmp_path / "ws").iterdir())) == 2
        counted = ws.db.sql(
            "SELECT count(*), count(cust), count(*) FILTER (WHERE cust = -7) FROM access_events"
        ).fetchall()[0]
        assert counted == (_days(log, 0, 4).num_rows, _days(log, 0, 4).num_rows, 0)


def test_a_line_repeated_within_a_file_counts_once(tmp_path):
    log = _days(_log(), 0, 0)
    doubled = pa.concat_tables([log, log.slice(0, 10)])
    with store.init_workspace(tmp_path / "ws") as ws:
        result = access.load(ws, _csv(doubled, tmp_path / "doubled.csv"))
        assert (result.loaded, result.duplicates) == (log.num_rows, 10)


def test_a_line_repeated_in_a_later_chunk_counts_once(tmp_path):
    """Repeats are found across the chunks of one load: the events stored are those of the
    same file loaded in one chunk."""
    log = _days(_log(), 0, 0)
    doubled = _csv(pa.concat_tables([log, log.slice(0, 10)]), tmp_path / "doubled.csv")
    # the columns that do not depend on the workspace's keys
    events = "SELECT * EXCLUDE (customer_token, cust) FROM access_events ORDER BY event_key"
    with store.init_workspace(tmp_path / "one") as whole:
        access.load(whole, doubled)
        expected = whole.db.sql(events).fetchall()
    with store.init_workspace(tmp_path / "ws") as ws:
        result = access.load(ws, doubled, chunk_rows=log.num_rows // 3)
        assert (result.loaded, result.duplicates) == (log.num_rows, 10)
        assert ws.db.sql(events).fetchall() == expected


def test_identical_rows_without_event_ids_are_separate_events(tmp_path):
    """Without event ids two identical rows are two events (a customer viewed twice in one
    second); loading the file again still adds nothing."""
    log = _days(_log(), 0, 0).drop_columns(["event_id"])
    doubled = pa.concat_tables([log, log.slice(0, 10)])
    with store.init_workspace(tmp_path / "ws") as ws:
        path = _csv(doubled, tmp_path / "doubled.csv")
        assert access.load(ws, path).loaded == doubled.num_rows
        again = access.load(ws, path)
        assert (again.loaded, again.duplicates) == (0, doubled.num_rows)


def test_staff_and_portfolio_reloads(tmp_path):
    world = _world()
    with store.init_workspace(tmp_path / "ws") as ws:
        staff = world.staff
        assert access.load(ws, _csv(staff, tmp_path / "s1.csv")).loaded == staff.num_rows
        # A leave date set and a role changed: two staff changed, the rest are duplicates.
        rows = staff.to_pylist()
        rows[0]["leave_date"] = rows[0]["join_date"].replace(year=2026)
        rows[1]["role"] = "it"
        changed = access.load(
            ws, _csv(pa.Table.from_pylist(rows, staff.schema), tmp_path / "s2.csv")
        )
        assert (changed.loaded, changed.duplicates) == (2, staff.num_rows - 2)
        assert (
            ws.db.execute(
                "SELECT role FROM staff WHERE staff_id = ?", [rows[1]["staff_id"]]
            ).fetchall()[0][0]
            == "it"
        )
        portfolios = pa.Table.from_batches(list(world.portfolio_batches()))
        first = access.load(ws, _csv(portfolios, tmp_path / "p1.csv"))
        assert first.loaded == portfolios.num_rows
        # One manager's new portfolio replaces that manager's old one only.
        manager = portfolios.column("staff_id")[0].as_py()
        mine = portfolios.filter(pc.equal(portfolios.column("staff_id"), manager)).slice(0, 3)
        second = access.load(ws, _csv(mine, tmp_path / "p2.csv"))
        assert second.loaded == 3
        counts = dict(ws.db.sql("SELECT staff_id, count(*) FROM portfolios GROUP BY 1").fetchall())
        assert counts[manager] == 3
        assert sum(counts.values()) == portfolios.num_rows - (
            pc.sum(pc.equal(portfolios.column("staff_id"), manager)).as_py() - 3
        )


# -- malformed lines --------------------------------------------------------------------------


def _malformed_log(folder: Path) -> Path:
    """A UTF-8 log of 300 lines with a bad timestamp (line 11), an unknown user (line 21), a
    truncated row (line 31), a line in GBK (line 41) and a missing time (line 51)."""
    lines = ["柜员号,访问时间,客户号,操作,系统"]
    staff = _world().staff.column("staff_id").to_pylist()
    for i in range(299):
        lines.append(
            f"{staff[i % 5]},2025-01-03 09:{i % 60:02d}:{i % 7:02d},C{i + 1:08d},查询,核心系统"
        )
    lines[10] = f"{staff[0]},2025-13-03 09:13:00,C00000002,查询,核心系统"
    lines[20] = "NOBODY,2025-01-03 09:13:00,C00000002,查询,核心系统"
    lines[30] = f"{staff[0]},2025-01-03 09:13:00"
    lines[50] = f"{staff[0]},,C00000002,查询,核心系统"
    encoded = [line.encode("utf-8") for line in lines]
    encoded[40] = f"{staff[0]},2025-01-03 09:14:00,C00000003,查询,旧系统".encode("gbk")
    path = folder / "malformed.csv"
    path.write_bytes(b"\n".join(encoded) + b"\n")
    return path


def test_malformed_lines_are_counted_with_line_numbers_and_the_rest_loads(tmp_path):
    """Issue 6, acceptance 5: bad timestamps, unknown users, truncated rows and text in the
    wrong encoding are reported by line number; they never stop the load."""
    with store.init_workspace(tmp_path / "ws") as ws:
        access.load(ws, _csv(_world().staff, tmp_path / "staff.csv"))
        result = access.load(ws, str(_malformed_log(tmp_path)))
        expected = [
            (11, "bad timestamp"),
            (21, "unknown user"),
            (31, "wrong number of fields"),
            (41, "not valid UTF-8 text"),
            (51, "missing time"),
        ]
        assert (result.rows, result.loaded, result.rejected) == (299, 294, 5)
        assert result.rejects == expected
        assert store.access_rejects(ws.db, result.load_id) == expected
        assert "line 11 bad timestamp" in result.message()
        # Rejected lines are kept by number and reason only.
        columns = [r[0] for r in ws.db.sql("DESCRIBE access_rejects").fetchall()]
        assert columns == ["load_id", "line", "reason"]
        # Once the user is in the directory, loading the file again takes that line.
        rows = _world().staff.to_pylist()
        rows.append({**rows[0], "staff_id": "NOBODY"})
        access.load(ws, _csv(pa.Table.from_pylist(rows, _world().staff.schema), tmp_path / "s.csv"))
        again = access.load(ws, str(tmp_path / "malformed.csv"))
        assert (again.loaded, again.duplicates, again.rejected) == (1, 294, 4)


def test_malformed_json_lines_and_parquet_strings(tmp_path):
    with store.init_workspace(tmp_path / "ws") as ws:
        path = tmp_path / "log.jsonl"
        records = [
            {"user": "T1", "time": "2025-01-02 10:00:00", "customer_id": "C1", "action": "view"},
            {"user": "T1", "time": "2025-01-02 10:01:00", "customer_id": "C2", "action": "view"},
        ]
        text = [json.dumps(r) for r in records]
        text.insert(1, "{not json")
        text.append(json.dumps({**records[0], "time": "yesterday"}))
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
        result = access.load(ws, str(path))
        assert result.rejects == [(2, "not a JSON object"), (4, "bad timestamp")]
        assert result.loaded == 2
        # Times as text in Parquet are parsed too (and row numbers stand for lines).
        table = pa.table(
            {
                "staff_id": ["T2", "T2", "T2"],
                "time": ["2025/01/03 08:00:00", "20250103080100", "3 January"],
                "customer_id": ["C1", "C2", "C3"],
            }
        )
        pq.write_table(table, tmp_path / "log.parquet")
        result = access.load(ws, str(tmp_path / "log.parquet"))
        assert (result.loaded, result.rejects) == (2, [(3, "bad timestamp")])
        times = ws.db.sql(
            "SELECT time::VARCHAR FROM access_events WHERE staff_id = 'T2' ORDER BY time"
        ).fetchall()
        assert times == [("2025-01-03 08:00:00",), ("2025-01-03 08:01:00",)]


# -- kill -9 ----------------------------------------------------------------------------------

_LOADER = """
import sys
from leaktrace import access, store
ws = store.open_workspace(sys.argv[1])
def progress(rows, total):
    if rows >= 3000:
        print("loading", flush=True)
        sys.stdin.readline()  # the test kills this process here, in the middle of the load
access.load(ws, sys.argv[2], progress=progress, chunk_rows=1000)
"""


def _snapshot(folder: Path) -> tuple:
    """Everything the access tables hold, as the next command sees it (it clears an
    unfinished load)."""
    with store.open_workspace(folder) as ws:
        return (
            access.status(ws),
            ws.db.sql("SELECT * FROM access_events ORDER BY event_key").fetchall(),
            ws.db.sql("SELECT * FROM access_rejects ORDER BY line").fetchall(),
            ws.db.sql("SELECT load_id, kind, rows FROM access_loads").fetchall(),
        )


def test_a_load_killed_midway_leaves_nothing_visible(tmp_path):
    ws = store.init_workspace(tmp_path / "ws")
    access.load(ws, _csv(_world().staff, tmp_path / "staff.csv"))
    access.load(ws, _csv(_days(_log(), 0, 0), tmp_path / "day0.csv"))
    ws.close()
    before = _snapshot(tmp_path / "ws")
    rest = _csv(_days(_log(), 1, DAYS - 1), tmp_path / "rest.csv")
    loader = subprocess.Popen(
        [sys.executable, "-c", _LOADER, str(tmp_path / "ws"), rest],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert loader.stdout.readline().strip() == "loading"
    finally:
        os.kill(loader.pid, signal.SIGKILL)
        loader.wait()
    assert loader.returncode == -signal.SIGKILL
    parts = store.events_folder(tmp_path / "ws")
    with store.open_workspace(tmp_path / "ws", read_only=True) as ws:
        # Three chunks were written as parts, but the load never recorded them: they count
        # for nothing…
        recorded = ws.db.sql("SELECT count(*) FROM access_parts").fetchall()[0][0]
        assert len(list(parts.iterdir())) >= recorded + 3
        assert access.status(ws) == before[0]
    assert _snapshot(tmp_path / "ws") == before  # …and are gone once the workspace is opened
    assert len(list(parts.iterdir())) == recorded
    with store.open_workspace(tmp_path / "ws") as ws:
        result = access.load(ws, rest)
        assert result.loaded == _days(_log(), 1, DAYS - 1).num_rows
        assert _events(ws) == _log().num_rows


# -- the command ------------------------------------------------------------------------------


def test_access_load_and_status_commands(bank, tmp_path):
    runner = CliRunner()
    store.init_workspace(tmp_path / "ws").close()
    workspace = ["--workspace", str(tmp_path / "ws")]
    staff = runner.invoke(app, ["access", "load", str(bank / "csv" / "staff.csv"), *workspace])
    assert staff.exit_code == 0, staff.output
    assert "staff (new or changed) loaded" in staff.output
    log = str(bank / "parquet" / "access_log.parquet")
    result = runner.invoke(app, ["access", "load", log, "--json", *workspace])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "events" and data["rejected"] == 0
    assert data["mapping"]["columns"]["staff_id"] == "staff_id"
    with store.open_workspace(tmp_path / "ws", read_only=True) as ws:
        assert _events(ws) == data["loaded"] == _rows(Path(log))
        # the load left trace's touch summary current: a reader uses it, builds none
        assert not store.touch_summary(ws.db, None).startswith("temp")
    status = runner.invoke(app, ["access", "status", "--json", *workspace])
    assert json.loads(status.output)["events"] == data["loaded"]
    assert json.loads(status.output)["loads"]["events"]["loaded"] == data["loaded"]
    wrong = runner.invoke(app, ["access", "load", log, "--kind", "nonsense", *workspace])
    assert wrong.exit_code == 2
    assert wrong.output.strip().count("\n") == 0 and "Unknown kind" in wrong.output
    missing = runner.invoke(app, ["access", "load", str(tmp_path / "none.csv"), *workspace])
    assert missing.exit_code == 3
    unmapped = runner.invoke(app, ["access", "load", log, "--map", "customer=nope", *workspace])
    assert unmapped.exit_code == 2 and "no column 'nope'" in unmapped.output


def test_a_guarantor_listed_on_the_application_covers_the_credit_query(tmp_path, bank):
    """A credit report on a guarantor or co-borrower has its purpose when the application lists
    that customer as another row of the same application; a stranger's report has none."""
    ws = _register(tmp_path)
    access.load(ws, str(bank / "csv" / "staff.csv"))
    staff_id = pacsv.read_csv(bank / "csv" / "staff.csv")["staff_id"][0].as_py()
    applicant, guarantor, stranger = _people()["customer_id"].to_pylist()[:3]
    queried = datetime.datetime(2025, 1, 3, 10, 0)
    applications = pa.table(
        {
            "application_id": ["LA1", "LA1"],
            "customer_id": [applicant, guarantor],
            "staff_id": [staff_id, staff_id],
            "submitted": [queried - datetime.timedelta(days=1)] * 2,
        }
    )
    log = pa.table(
        {
            "event_id": [1, 2, 3],
            "time": [queried + datetime.timedelta(minutes=m) for m in range(3)],
            "staff_id": [staff_id] * 3,
            "system": ["credit"] * 3,
            "action": ["credit_report"] * 3,
            "customer_id": [applicant, guarantor, stranger],
            "business_ref": pa.array([None] * 3, pa.string()),
        }
    )
    access.load(ws, _csv(applications, tmp_path / "applications.csv"), kind="applications")
    access.load(ws, _csv(log, tmp_path / "access_log.csv"), kind="events")
    store.monitor_prepare(ws.db, None)
    store.monitor_add_days(ws.db, monitor.Settings().query(), queried.date(), queried.date())
    credit = ws.db.execute(
        "SELECT sum(credit_customers), sum(credit_no_app) FROM monitor_days"
    ).fetchone()
    ws.close()
    assert credit == (3, 1)
