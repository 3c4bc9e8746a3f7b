"""Access logs (访问日志) and what they are checked against: the staff directory, loan
applications and customer managers' portfolios, loaded into the workspace for the monitor.

A source is anything :mod:`leaktrace.tables` opens (CSV/TSV/TXT, JSONL/JSON, Parquet, XLSX,
SQL URLs). Its *kind* — ``events``, ``staff``, ``applications`` or ``portfolios`` — and which
column holds which field are guessed from the header names, English or Chinese (``员工号``,
``柜员号``, ``访问时间``, ``客户号``, ``身份证号``, ``操作``, ``系统``, ``业务编号`` …), or given.

The customer of an event, application or portfolio row is kept as a match token, never as the
value the source holds: a customer number becomes the token the register keeps for it
(:func:`leaktrace.customers.customer_refs`), a raw ID number or phone is normalized and becomes
its identifier token (:func:`leaktrace.keys.tokens`), and the register id is added where the
register knows the token. Only distinct references are tokenized, each once per load. Staff
names are never read.

Loads are incremental: events whose key (a 64-bit hash of the source's event id, time and user
when the source has event ids, else of the normalized row) is already stored are counted as
duplicates and not added again, so the next day's file appends and a file loaded twice (or two
overlapping exports) counts each event once. Applications are keyed by their id; a portfolio
file replaces the portfolios of the managers it names; a staff file adds and updates staff.

Lines that cannot be taken — a bad or missing timestamp, a user missing from the staff
directory (once one is loaded), an invalid customer identifier, a row with the wrong number of
fields, text in the wrong encoding — are counted and recorded in ``access_rejects`` by line
number and reason (never their content); the load goes on. A load counts once it is recorded
in ``access_loads``; a load killed midway leaves nothing visible and is cleared by the next
command that opens the workspace for writing.

Parquet files are read by DuckDB directly, a range of row groups at a time; other sources as
Arrow batches. Either way DuckDB parses, joins and builds the rows; Python only tokenizes the
distinct customer references. Events are written as Parquet parts in the workspace folder (one
a chunk, recorded with the load; see :class:`leaktrace.store.AccessLoad`), not into the store's
tables: a Parquet file is written several times faster than DuckDB inserts the same strings
into a table, and Arrow's writer, fed by DuckDB's result stream, takes less CPU than DuckDB's
own (benchmarks/RESULTS.md).

>>> import tempfile, pathlib
>>> from leaktrace import store
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "log.csv").write_text(
...     "柜员号,访问时间,客户号,操作\\nT001,2025-01-03 09:12:00,C00000001,查询\\n"
...     "T001,2025-13-03 09:13:00,C00000002,查询\\n", encoding="utf-8")
>>> with store.init_workspace(folder / "ws") as ws:
...     result = load(ws, str(folder / "log.csv"))
>>> result.kind, result.loaded, result.rejected, result.rejects
('events', 1, 1, [(3, 'bad timestamp')])
"""

from __future__ import annotations

import contextlib
import datetime
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leaktrace import customers, keys, scan, store, tables
from leaktrace.attributes import header_hint
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.identifiers._normalize import normalize_column

KINDS = store.ACCESS_KINDS
# The fields of each kind: (required, optional). ``customer`` is a customer number or a raw
# identifier (see CUSTOMER_TYPES).
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "events": (
        ("time", "staff_id"),
        ("customer", "action", "system", "business_ref", "terminal", "ip", "event_id"),
    ),
    "staff": (("staff_id", "role"), ("branch_code", "join_date", "leave_date")),
    "applications": (("application_id", "customer", "submitted"), ("staff_id",)),
    "portfolios": (("staff_id", "customer"), ()),
}
NUMBER = "number"  # the institution's own customer number
CUSTOMER_TYPES = (NUMBER, *customers.EXACT_KINDS)
ALIASES = {"staff": "staff_id", "user": "staff_id", "customer_id": "customer", "id": "event_id"}
REJECTS_SHOWN = 10  # rejected lines named in a result's message
# Rows per transaction from Parquet: each chunk pays a scan of the load's references (all the
# customers seen so far) and a few statements. At 10^8 events (10^7 customers) 25M-row chunks
# took 56 s and 105 CPU s against 69 s and 126 CPU s for 4M, the whole process staying under
# 3 GB (RESULTS.md); 4M had measured 18 % less CPU than 1M on 20M events.
CHUNK_ROWS = 25_000_000
BATCH_ROWS = 262_144
SAMPLE_ROWS = 2_000

# Header words per field, compared after folding (NFKC, lower case, no spaces, ``_-.()``).
_HEADERS: dict[str, tuple[str, ...]] = {
    "event_id": (
        "eventid", "logid", "recordid", "eventno", "logno", "seq", "seqno",
        "日志id", "日志号", "日志编号", "事件id", "事件号", "事件编号", "记录号", "记录编号",
        "记录id",
    ),
    "time": (
        "time", "timestamp", "datetime", "eventtime", "accesstime", "logtime", "optime",
        "operationtime", "querytime", "visittime", "occurredat", "createdat", "logdate",
        "时间", "访问时间", "操作时间", "查询时间", "发生时间", "记录时间", "日志时间", "登录时间",
        "交易时间", "日期时间", "访问日期", "操作日期",
    ),
    "staff_id": (
        "staffid", "staff", "staffno", "employeeid", "employee", "empid", "empno", "userid",
        "user", "username", "login", "loginname", "loginid", "operator", "operatorid",
        "operatorno", "tellerid", "tellerno", "teller", "agentid", "managerid", "manager",
        "员工号", "员工编号", "员工id", "员工", "工号", "柜员号", "柜员", "柜员编号", "柜员id",
        "用户", "用户名", "用户号", "用户id", "用户编号", "操作员", "操作员号", "操作员编号",
        "操作员id",
        "操作人", "操作人员", "经办人", "经办人号", "客户经理", "客户经理号", "客户经理编号",
        "坐席号", "坐席工号", "登录名", "登录账号", "查询人", "查询员",
    ),
    "customer_number": (
        "customerid", "customer", "custid", "customerno", "custno", "customernumber",
        "clientid", "clientno", "client", "cif", "cifno", "客户号", "客户编号", "客户id",
        "客户代码", "客户号码", "客户编码", "客户", "客户标识",
    ),
    "customer_identifier": (
        "idnumber", "idno", "idcard", "idcardno", "nationalid", "certno", "certificateno",
        "mobile", "phone", "phoneno", "mobileno", "tel", "cellphone", "身份证号", "身份证",
        "身份证号码", "证件号", "证件号码", "手机号", "手机", "手机号码", "电话", "联系电话",
        "客户证件号", "被查询人证件号码", "被查询人证件号", "查询对象证件号", "客户手机号",
    ),
    "action": (
        "action", "operation", "op", "optype", "event", "eventtype", "activity", "actiontype",
        "operationtype", "操作", "动作", "操作类型", "行为", "操作行为", "查询类型", "事件类型",
        "操作名称",
    ),
    "system": (
        "system", "sys", "systemname", "sysname", "app", "appname", "module", "系统", "系统名称",
        "业务系统", "应用", "应用系统", "模块", "子系统", "系统名",
    ),
    "terminal": (
        "terminal", "terminalid", "term", "device", "deviceid", "host", "hostname",
        "workstation", "machine", "终端", "终端号", "终端编号", "设备", "设备号", "机器名",
        "主机名",
    ),
    "ip": (
        "ip", "ipaddress", "ipaddr", "clientip", "srcip", "sourceip", "remoteip", "ip地址",
        "登录ip", "访问ip", "来源ip", "终端ip",
    ),
    "business_ref": (
        "businessref", "businessreference", "bizref", "reference", "ref", "refno", "ticket",
        "ticketno", "ticketid", "workorder", "workorderno", "orderno", "caseno",
        "applicationid", "applicationno", "loanid", "业务编号", "业务号", "业务流水号", "申请编号",
        "申请号", "贷款申请号", "工单号", "工单编号", "单号", "关联业务", "业务单号", "授权编号",
        "交易流水号", "流水号", "业务参考号",
    ),
    "role": (
        "role", "position", "title", "jobtitle", "job", "post", "角色", "岗位", "职务", "职位",
    ),
    "branch_code": (
        "branchcode", "branch", "branchid", "branchno", "orgcode", "org", "orgid",
        "organization", "department", "dept", "deptcode", "机构号", "机构", "机构代码", "机构编号",
        "网点", "网点号", "网点代码", "支行", "部门", "所属机构", "所属网点", "所属部门",
        "机构编码",
    ),
    "join_date": (
        "joindate", "hiredate", "startdate", "joined", "hired", "entrydate", "入职日期",
        "入职时间", "入行日期", "入职",
    ),
    "leave_date": (
        "leavedate", "enddate", "terminationdate", "left", "exitdate", "resigndate", "离职日期",
        "离职时间", "离行日期", "离职",
    ),
    "application_id": (
        "applicationid", "applicationno", "appid", "appno", "loanapplicationid", "loanid",
        "申请编号", "申请号", "贷款申请号", "申请单号", "进件编号",
    ),
    "submitted": (
        "submitted", "submittime", "submittedat", "applied", "appliedat", "applicationdate",
        "applicationtime", "applydate", "applytime", "created", "createdat", "time", "date",
        "申请时间", "申请日期", "提交时间", "受理时间", "进件时间",
    ),
}  # fmt: skip
_NOUNS = {"events": "events", "staff": "staff (new or changed)",
          "applications": "applications", "portfolios": "portfolio entries"}  # fmt: skip
_FOLD = re.compile(r"[\s_\-.()（）:：/]")

Progress = Callable[[int, int | None], object]


@dataclass
class AccessMapping:
    """What a source holds (``kind``), which column holds each field (``columns``: field →
    column), and what the customer column holds (``customer_type``: ``number`` for the
    institution's customer number, else an identifier type such as ``resident_id``)."""

    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    customer_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The mapping as JSON-ready data."""
        return {"kind": self.kind, "columns": dict(self.columns),
                "customer_type": self.customer_type}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccessLoadResult:
    """What one ``access load`` did: rows read, loaded, duplicates and rejected lines (the
    first :data:`REJECTS_SHOWN` as (line, reason); all of them are in ``access_rejects``)."""

    load_id: int
    kind: str
    source: str
    rows: int
    loaded: int
    duplicates: int
    rejected: int
    rejects: list[tuple[int, str]]
    mapping: AccessMapping
    seconds: float

    @property
    def warnings(self) -> list[str]:
        """What the load could take but the monitor will miss: events with no customer column
        count no customer touched (a login log has none; a query log whose customer column was
        not recognized needs ``--map customer=COLUMN``)."""
        if self.kind == "events" and "customer" not in self.mapping.columns:
            return [
                f"{self.source}: no column was taken for the customer of each event, so the "
                "monitor sees no customer touched in these events; if one holds it, load again "
                "with --map customer=COLUMN"
            ]
        return []

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "load_id": self.load_id,
            "kind": self.kind,
            "source": self.source,
            "rows": self.rows,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejects": [{"line": line, "reason": reason} for line, reason in self.rejects],
            "mapping": self.mapping.as_dict(),
            "seconds": round(self.seconds, 2),
            "warnings": self.warnings,
        }

    def message(self) -> str:
        """One line for people."""
        noun = _NOUNS[self.kind]
        text = (
            f"{self.source}: {self.rows:,} rows → {self.loaded:,} {noun} loaded, "
            f"{self.duplicates:,} duplicates, {self.rejected:,} lines rejected"
        )
        if self.rejects:
            shown = ", ".join(f"line {line} {reason}" for line, reason in self.rejects)
            more = " …" if self.rejected > len(self.rejects) else ""
            text += f" ({shown}{more})"
        return text + f" in {self.seconds:.1f} s"


# -- mappings ---------------------------------------------------------------------------------


def _fold(header: str) -> str:
    return _FOLD.sub("", unicodedata.normalize("NFKC", header)).lower()


def parse_map(specs: Sequence[str]) -> dict[str, str]:
    """Fields from ``field=column`` options (``staff_id=柜员号``, ``customer=身份证号``, or with
    the customer column's type: ``customer=证件号码:resident_id``)."""
    known = {f for required, optional in FIELDS.values() for f in (*required, *optional)}
    mapped: dict[str, str] = {}
    for spec in specs:
        name, sep, column = spec.partition("=")
        name, column = ALIASES.get(name.strip(), name.strip()), column.strip()
        if not sep or not column:
            raise ConfigError(f"--map {spec!r}: write FIELD=COLUMN, e.g. --map customer=身份证号.")
        if name not in known:
            raise ConfigError(
                f"--map {spec!r}: unknown field {name!r}; use one of {', '.join(sorted(known))}."
            )
        mapped[name] = column
    return mapped


def _split_type(column: str, columns: Sequence[str]) -> tuple[str, str | None]:
    """``column:type`` → (column, type), unless the whole text is a column name."""
    head, sep, tail = column.rpartition(":")
    if sep and tail in CUSTOMER_TYPES and column not in columns:
        return head, tail
    return column, None


def guess_mapping(
    columns: Sequence[str],
    kind: str | None = None,
    given: dict[str, str] | None = None,
    sample: pa.Table | None = None,
    source: str = "<source>",
) -> AccessMapping:
    """The kind of a source and its field → column map, from its header names (and, for the
    customer column's type, a ``sample`` of its rows). ``given`` fields win over guesses.

    >>> plan = guess_mapping(["柜员号", "访问时间", "身份证号", "操作", "备注"])
    >>> plan.kind, plan.customer_type
    ('events', 'resident_id')
    >>> plan.columns
    {'time': '访问时间', 'staff_id': '柜员号', 'customer': '身份证号', 'action': '操作'}
    """
    given = dict(given or {})
    customer_type = None
    if "customer" in given:
        given["customer"], customer_type = _split_type(given["customer"], columns)
    missing = [c for c in given.values() if c not in columns]
    if missing:
        raise ConfigError(
            f"{source}: no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(columns)}."
        )
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    free = [c for c in columns if c not in given.values()]
    candidates: dict[str, list[str]] = {}
    for column in free:
        folded = _fold(column)
        for name, words in _HEADERS.items():
            if folded in words:
                candidates.setdefault(name, []).append(column)
    found = set(candidates) | set(given)
    if kind is None:
        kind = _guess_kind(found, source, columns)
    elif not given:
        _check_kind(kind, found, source)
    required, optional = FIELDS[kind]
    mapped = {f: c for f, c in given.items() if f in (*required, *optional)}
    for name in (*required, *optional):
        if name in mapped:
            continue
        choices = (
            candidates.get("customer_number", []) + candidates.get("customer_identifier", [])
            if name == "customer"
            else candidates.get(name, [])
        )
        choices = [c for c in choices if c not in mapped.values()]
        if choices:
            mapped[name] = choices[0]
    absent = [f for f in required if f not in mapped]
    if absent:
        raise ConfigError(
            f"{source}: cannot tell which column holds {', '.join(absent)} of {kind}; name it "
            f"with --map {absent[0]}=COLUMN (columns: {', '.join(columns)})."
        )
    if "customer" in mapped and customer_type is None:
        customer_type = _customer_type(mapped["customer"], sample)
    ordered = {f: mapped[f] for f in (*required, *optional) if f in mapped}
    return AccessMapping(kind=kind, columns=ordered, customer_type=customer_type)


_KIND_NAMES = {
    "events": "an access log",
    "staff": "a staff directory",
    "applications": "loan applications",
    "portfolios": "portfolios",
}


def _check_kind(kind: str, found: set[str], source: str) -> None:
    """Refuse a ``--kind`` that the header contradicts (an access log has the two columns of a
    portfolio, so it would load as 'who serves whom' from every view), unless the columns are
    mapped by hand."""
    try:
        header_says = _guess_kind(found, source, ())
    except ConfigError:  # the header does not say: --kind decides
        return
    if header_says != kind:
        raise ConfigError(
            f"{source}: its header is that of {_KIND_NAMES[header_says]}, not "
            f"{_KIND_NAMES[kind]}; pass --kind {header_says}, or map the columns with --map "
            "FIELD=COLUMN if it really is what --kind says."
        )


def _guess_kind(found: set[str], source: str, columns: Sequence[str]) -> str:
    customer = bool({"customer", "customer_number", "customer_identifier"} & found)
    if {"application_id", "submitted"} <= found and customer and not {"action", "system"} & found:
        return "applications"
    if {"time", "staff_id"} <= found:
        return "events"
    if "staff_id" in found and customer and not {"role", "join_date", "leave_date"} & found:
        return "portfolios"
    if "staff_id" in found and {"role", "join_date", "leave_date"} & found:
        return "staff"
    raise ConfigError(
        f"{source}: cannot tell whether this is an access log, a staff directory, applications "
        f"or portfolios (columns: {', '.join(columns)}); pass --kind and --map FIELD=COLUMN."
    )


def _customer_type(column: str, sample: pa.Table | None) -> str:
    """What a customer column holds: the header says so, else its values do."""
    folded = _fold(column)
    if folded in _HEADERS["customer_number"]:
        return NUMBER
    hinted = [(name, score) for name, score in header_hint(column) if name in CUSTOMER_TYPES]
    if hinted and hinted[0][1] >= 0.9:
        return hinted[0][0]
    if sample is not None and column in sample.column_names:
        result = scan.classify_column(column, sample.column(column))
        if result.kind == "identifier" and result.detected in customers.EXACT_KINDS:
            return result.detected
    return NUMBER


# -- customer references ----------------------------------------------------------------------


def reference_tokens(key: bytes, customer_type: str, values: pa.Array) -> pa.Array:
    """Match tokens of customer references: the register's token of a customer number, or
    the identifier token of a normalized ID number, phone … (null where not valid).

    >>> ring = keys.Keyring(bytes(32))
    >>> tokens = reference_tokens(ring.key("match"), "mobile",
    ...                           pa.array(["+86 138-1234-5678", "13812345678", "12345"]))
    >>> phone, same, invalid = tokens.to_pylist()
    >>> phone == same == keys.token(ring.key("match"), "mobile", "13812345678"), invalid
    (True, None)
    """
    if customer_type == NUMBER:
        return customers.customer_refs(key, values)
    return keys.tokens(key, customer_type, normalize_column(customer_type, values))


_REFERENCES = pa.schema(
    [("value", pa.string()), ("token", pa.binary()), ("customer_id", pa.int64())]
)


class _References:
    """Customer references seen in this load (the source's values, in memory only) with their
    token and register id; DuckDB sees those a chunk's events are joined with as the view
    ``access_refs``.

    A chunk at least as large as the references seen so far (Parquet's, of millions of rows)
    is joined with all of them, and only its new values come out of the engine; a smaller one
    (a CSV's batches, against millions of customers seen) is joined with its own references,
    which come out with their tokens: its join then builds on a few hundred thousand values,
    not on every customer (0.03 against 0.3 s a 262,144-row batch at 10^7 references)."""

    def __init__(self, workspace: store.Workspace, customer_type: str | None) -> None:
        self.db = workspace.db
        self.key = workspace.keyring.key("match")
        self.customer_type = customer_type
        self.parts: list[pa.Table] = [_REFERENCES.empty_table()]
        self.db.register("access_refs", self.parts[0])

    def add(self, source_sql: str, types: dict[str, str], trim: bool, rows: int) -> None:
        """Tokenize the references of a chunk of ``rows`` rows not seen before, and show the
        chunk's (or all) references."""
        if self.customer_type is None:
            return
        seen = pa.concat_tables(self.parts)
        if rows >= seen.num_rows:
            shown = seen
            new = store.access_new_refs(self.db, source_sql, types, trim, seen)
        else:
            found = store.access_chunk_refs(self.db, source_sql, types, trim, seen)
            is_seen = found.column("seen")
            shown = found.filter(is_seen).select(_REFERENCES.names).cast(_REFERENCES)
            new = found.column("value").filter(pc.invert(is_seen)).combine_chunks()
        if len(new):
            tokens = reference_tokens(self.key, self.customer_type, new)
            kind = customers.EXACT_KINDS.get(self.customer_type)
            ids = store.register_ids_of_tokens(self.db, tokens, kind)
            self.parts.append(
                pa.table({"value": new, "token": tokens, "customer_id": ids}).cast(_REFERENCES)
            )
            shown = pa.concat_tables([shown, self.parts[-1]])
        self.db.register("access_refs", shown)

    def close(self) -> None:
        self.db.unregister("access_refs")
        self.parts = []
        with contextlib.suppress(duckdb.Error):
            store.drop_register_copy(self.db)


# -- load -------------------------------------------------------------------------------------


def load(
    workspace: store.Workspace,
    source: str,
    kind: str | None = None,
    mapping: AccessMapping | dict[str, str] | None = None,
    progress: Progress | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> AccessLoadResult:
    """Load access events, the staff directory, loan applications or portfolios from
    ``source`` into ``workspace``.

    ``kind`` and ``mapping`` (field → column, see :func:`parse_map`; or a full
    :class:`AccessMapping`) are guessed from the header where not given. ``progress`` is called
    as ``progress(rows_read, total_rows_or_None)``. Raises :class:`SourceError` for a source
    that cannot be read and :class:`ConfigError` for a mapping that does not fit it; bad lines
    do not stop the load (they are counted in the result).
    """
    started_clock = time.perf_counter()
    started = datetime.datetime.now(datetime.UTC)
    with tables.open_table(source, skip_bad_text=True) as table:
        if isinstance(mapping, AccessMapping):
            plan = mapping
            guess_mapping(table.columns, plan.kind, _with_type(plan), source=table.source)
        else:
            sample = table.sample(SAMPLE_ROWS)
            plan = guess_mapping(table.columns, kind, mapping, sample, table.source)
        chunks = _chunks(workspace.db, table, plan, chunk_rows)
        loader = store.AccessLoad(
            workspace, plan.kind, customer_numbers=plan.customer_type in (None, NUMBER)
        )
        references = _References(workspace, plan.customer_type)
        try:
            rows = valid = loaded = rejected = 0
            for chunk in chunks:
                if chunk.bad_lines:
                    loader.reject_lines(chunk.bad_lines)
                    rejected += len(chunk.bad_lines)
                rows += chunk.rows + len(chunk.bad_lines)
                if chunk.rows:
                    done = loader.add(
                        chunk.sql,
                        chunk.types,
                        trim=chunk.trim,
                        keyed_by_id="event_id" in plan.columns,
                        references=partial(
                            references.add, chunk.sql, chunk.types, chunk.trim, chunk.rows
                        ),
                    )
                    valid += done.valid
                    loaded += done.loaded
                    rejected += done.rejected
                if progress is not None:
                    progress(rows, table.num_rows)
            if rows == 0:
                raise SourceError(f"{table.source}: the table has no rows; nothing was loaded.")
            loaded = loader.finish(
                table.source, started, rows, rejected, valid, loaded, plan.as_dict()
            )
        except BaseException:
            loader.rollback()
            raise
        finally:
            references.close()
    return AccessLoadResult(
        load_id=loader.load_id,
        kind=plan.kind,
        source=table.source,
        rows=rows,
        loaded=loaded,
        duplicates=valid - loaded,
        rejected=rejected,
        rejects=store.access_rejects(workspace.db, loader.load_id, REJECTS_SHOWN),
        mapping=plan,
        seconds=time.perf_counter() - started_clock,
    )


def _with_type(plan: AccessMapping) -> dict[str, str]:
    columns = dict(plan.columns)
    if "customer" in columns and plan.customer_type:
        columns["customer"] = f"{columns['customer']}:{plan.customer_type}"
    return columns


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Part of a source as DuckDB sees it: a query yielding ``line`` and the fields, their
    DuckDB types, whether text needs trimming, the rows it holds and the lines skipped before
    it that the reader could not take."""

    sql: str
    types: dict[str, str]
    trim: bool
    rows: int
    bad_lines: list[tuple[int, str]]


def _chunks(db: Any, table: tables.Table, plan: AccessMapping, chunk_rows: int) -> Iterator[_Chunk]:
    """(source SQL, field types, rows, bad line numbers) per chunk of the source."""
    if table.kind == "parquet":
        native = pq.ParquetFile(table.source)
        if list(native.schema_arrow.names) == table.columns:
            yield from _parquet_chunks(db, table.source, native, plan, chunk_rows)
            return
    yield from _arrow_chunks(db, table, plan, chunk_rows)


def _parquet_chunks(
    db: Any, path: str, native: pq.ParquetFile, plan: AccessMapping, chunk_rows: int
) -> Iterator[_Chunk]:
    """Row-group ranges of a Parquet file, read by DuckDB."""
    metadata = native.metadata
    first = end = 0
    types: dict[str, str] | None = None
    for group in range(metadata.num_row_groups):
        end += metadata.row_group(group).num_rows
        if end - first < chunk_rows and group < metadata.num_row_groups - 1:
            continue
        relation = store.parquet_relation(path, first, end)
        source_sql = store.access_source_sql(relation, plan.columns, "file_row_number + 1")
        if types is None:
            types = store.relation_types(db, source_sql)
        yield _Chunk(source_sql, types, False, end - first, [])
        first = end


def _arrow_chunks(
    db: Any, table: tables.Table, plan: AccessMapping, chunk_rows: int
) -> Iterator[_Chunk]:
    """Arrow batches of the source, shown to DuckDB as the view ``access_batch``.

    Rows are numbered by the line they came from (the row number in sources without lines):
    the reader skips lines it cannot take (in ``Table.bad_lines`` as it goes), and a row's line
    is its position plus the lines above the data and the skipped lines before it.
    """
    columns = list(dict.fromkeys(plan.columns.values()))
    text_types = dict.fromkeys(plan.columns, "VARCHAR")
    has_lines = table.kind in ("csv", "xlsx", "xls", "html", "xml")
    first_line = table.skipped_rows + (1 if table.has_header else 0) + 1 if has_lines else 1
    position = reported = 0
    batches = table.batches(min(chunk_rows, BATCH_ROWS), columns=columns)
    try:
        for batch in batches:
            bad = sorted(table.bad_lines)
            new_bad = table.bad_lines[reported:]
            reported = len(table.bad_lines)
            # A skipped line's position among the rows read: its line minus the lines before
            # it that are not rows (above the data, or skipped before it).
            skipped_at = np.array([line for line, _ in bad], np.int64)
            skipped_at -= first_line + np.arange(len(bad))
            index = np.arange(position, position + batch.num_rows, dtype=np.int64)
            lines = first_line + index + np.searchsorted(skipped_at, index, side="right")
            view = pa.RecordBatch.from_arrays(
                [pa.array(lines), *batch.columns], names=["__line", *batch.schema.names]
            )
            db.register("access_batch", view)
            relation = store.access_source_sql("access_batch", plan.columns, "__line")
            yield _Chunk(relation, text_types, True, batch.num_rows, new_bad)
            position += batch.num_rows
        new_bad = table.bad_lines[reported:]
        if table.kind == "csv":  # rows the whitespace reader skipped cannot be numbered
            new_bad += [(0, "wrong number of fields")] * (table.bad_rows - len(table.bad_lines))
        if new_bad:
            yield _Chunk("", {}, True, 0, new_bad)
    finally:
        batches.close()
        with contextlib.suppress(duckdb.Error):  # nothing registered when there were no rows
            db.unregister("access_batch")


# -- status -----------------------------------------------------------------------------------


def status(workspace: store.Workspace) -> dict[str, Any]:
    """What the workspace holds of access data: rows per table, loads per kind, rejected lines
    by reason and the events' time span."""
    return store.access_status(workspace.db)
