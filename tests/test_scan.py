"""The scanner: column typing, free-text findings, full scans, databases, bad sources."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import uuid

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pymysql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import scan, synth
from leaktrace.identifiers import mobile, resident_id

PG = "postgresql://postgres@127.0.0.1:5432/test"
MYSQL = "mysql://root@127.0.0.1:3306/test"
COLUMNS = ["name", "mobile", "id_number", "card_number", "email", "plate", "loan_balance"]
EXPECTED = {
    "name": "person_name",
    "mobile": "mobile",
    "id_number": "resident_id",
    "card_number": "bank_card",
    "email": "email",
    "plate": "plate",
    "loan_balance": "loan_balance",
}


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    return synth.customers(300, seed=3, columns=COLUMNS)


def _typed(result: scan.SourceResult) -> dict[str, str | None]:
    return {c.name: c.detected for c in result.columns}


@pytest.mark.parametrize(
    ("header", "values", "expected"),
    [
        ("电话", ["13812345678", "+86 139-1234-5678", "１５０００００１２３４"], "mobile"),
        ("x", ["11010519491231002X", "110105491231002", "11010519491231002x"], "resident_id"),
        ("手机", ["138****5678", "139****0000", "150****1234"], "mobile"),
        ("卡", ["6222 0212 3456 7890 128", "4111111111111111", "6222021234567890128"], "bank_card"),
        ("车牌", ["京A·12345", "粤B D12345", "沪a-b1234"], "plate"),
        ("户籍", ["湖南省邵阳市武冈县", "江西省鹰潭市月湖区", "四川省乐山市市中区"], "hukou"),
        ("车身颜色", ["白色", "黑色", "银色", "红色"], "vehicle"),
        ("贷款余额", ["12345.67", "8000.00", "150000.32"], "loan_balance"),
        ("备注", ["客户来电，回拨13912345678", "核实身份证11010519491231002X", "无"], "free_text"),
        ("状态", ["正常", "正常", "冻结"], None),
        ("订单号", ["20231001123456789012", "20231001123456789013"], None),
    ],
)
def test_classify_column(header, values, expected):
    assert scan.classify_column(header, pa.array(values)).detected == expected


@settings(max_examples=15, deadline=None)
@given(
    share=st.floats(0.5, 0.6),
    arrangement=st.sampled_from(["identifiers last", "identifiers first", "shuffled"]),
    seed=st.integers(0, 2**16),
)
def test_the_precheck_types_a_column_as_checking_every_value_does(share, arrangement, seed):
    """A type is first tried on a random subset of a long column's values: a column just over
    the hit ratio, however its values are ordered, is still typed and counted in full."""
    size = 4 * scan.PRECHECK_VALUES + 100
    hits = round(share * size)
    phones = synth.customers(hits, seed=seed, columns=["mobile"]).column("mobile").to_pylist()
    values = phones + [f"状态{i % 7}" for i in range(size - hits)]
    if arrangement == "identifiers last":
        values = values[hits:] + phones
    elif arrangement == "shuffled":
        random.Random(seed).shuffle(values)
    prechecked = scan.classify_column("x", pa.array(values))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "PRECHECK_VALUES", size)  # no precheck on a column this short
        every_value = scan.classify_column("x", pa.array(values))
    assert prechecked.detected == every_value.detected == "mobile"
    assert prechecked.hits == every_value.hits == hits


def test_identifier_examples_are_masked():
    result = scan.classify_column("手机", pa.array(["13812345678", "13912345678"]))
    assert result.examples == ["138****5678", "139****5678"]
    assert result.hit_ratio == 1.0


def test_empty_and_blank_columns_are_typed_as_nothing():
    result = scan.classify_column("手机", pa.array([None, "", "  "], pa.string()))
    assert (result.detected, result.non_empty) == (None, 0)


def test_free_text_can_be_left_untyped():
    remarks = pa.array(["客户来电，回拨13912345678", "核实身份证11010519491231002X", "无"])
    assert scan.classify_column("备注", remarks).kind == "free_text"
    untyped = scan.classify_column("备注", remarks, free_text=False)
    assert (untyped.detected, untyped.kind, untyped.findings) == (None, "none", {})
    assert scan.classify_column("手机", pa.array(["13812345678"]), free_text=False).detected


@pytest.mark.parametrize(
    "values",
    [
        ["客户来电，回拨13912345678", "核实身份证11010519491231002X", "无"],
        ["客户王芳来电要求变更住址为北京市朝阳区建国路88号", "联系人李强已于上周办理完毕所有手续"],
        ["短信 13912345678"] + ["正常 办理"] * 60,  # short: strict identifiers in 1 row of 61
        ["短信 13912345678"] + ["正常 办理"] * 250,  # too few for short texts
        ["联系 王芳"] * 10,  # short, names alone: not free text
    ],
)
def test_typing_without_findings_gives_the_same_kind(values):
    """A full scan types the sample without its findings (it counts them over every batch)."""
    column = pa.array(values)
    with_findings = scan.classify_column("备注", column)
    kind_only = scan.classify_column("备注", column, findings=False)
    assert (kind_only.detected, kind_only.kind) == (with_findings.detected, with_findings.kind)
    if kind_only.kind == "free_text" and with_findings.findings.keys() - {"person_name", "address"}:
        assert kind_only.findings == {}  # told by the strict types alone, no finder ran


def test_free_text_findings_carry_cell_offsets():
    texts = ["无", "客户王芳来电，回拨13912345678，邮箱wang@qq.com"]
    counts, findings = scan.find_in_column(pa.array(texts))
    assert counts["mobile"] == 1 and counts["email"] == 1
    phone = next(f for f in findings if f.type == "mobile")
    assert phone.row == 1
    assert texts[1][phone.start : phone.end] == "13912345678"
    assert phone.example == mobile.mask("13912345678")


def test_full_scan_counts_every_row(tmp_path, customers):
    path = tmp_path / "customers.csv"
    rows = customers.to_pydict()
    rows["mobile"][-1] = "not a phone"
    pacsv.write_csv(pa.table(rows), path)
    (sampled,) = scan.scan([str(path)], sample_rows=100)
    (full,) = scan.scan([str(path)], full=True, sample_rows=100)
    assert sampled.sampled and sampled.rows_scanned == 100
    assert not full.sampled and full.rows_scanned == customers.num_rows
    phones = next(c for c in full.columns if c.name == "mobile")
    assert (phones.non_empty, phones.hits) == (300, 299)
    assert _typed(full) == EXPECTED
    summary = full.to_dict()["summary"]
    assert summary["category"] == "credit"  # loan balances are credit information
    assert {"resident_id", "bank_card", "loan_balance"} <= set(summary["sensitive"])


def test_workers_count_what_one_process_counts(tmp_path, monkeypatch):
    """Batches reach worker processes through shared memory; the counts do not change, no
    batch file is left behind, and only the columns the full scan counts are read again."""
    monkeypatch.setattr(scan, "_shared_folder", lambda jobs: str(tmp_path))
    table = synth.customers(600, seed=5, columns=COLUMNS, remarks=True)
    asked: list[list[str]] = []

    def batches(columns: list[str]) -> list[pa.RecordBatch]:
        asked.append(columns)
        return table.select(columns).to_batches(max_chunksize=128)

    one = scan.scan_arrow(table.slice(0, 200), full_batches=batches, jobs=1).to_dict()
    two = scan.scan_arrow(table.slice(0, 200), full_batches=batches, jobs=2).to_dict()
    assert one == two
    assert one["rows_scanned"] == 600
    assert one["columns"][-1]["findings"]  # the remarks hold identifiers
    assert "loan_balance" not in asked[0] and "remark" in asked[0]
    assert not list(tmp_path.iterdir())


def test_full_scan_of_a_table_without_identifiers_counts_rows():
    table = pa.table({"备注": ["无"] * 50, "金额": ["12.50"] * 50})
    asked: list[list[str]] = []

    def batches(columns: list[str]) -> list[pa.RecordBatch]:
        asked.append(columns)
        return table.select(columns).to_batches(max_chunksize=20)

    result = scan.scan_arrow(table.slice(0, 10), full_batches=batches, jobs=2)
    assert result.rows_scanned == 50 and asked == [["备注"]]


def test_a_bad_source_does_not_stop_the_others(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("身份证\n11010519491231002X\n", encoding="utf-8")
    binary = tmp_path / "fake.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    results = list(scan.scan([str(binary), str(tmp_path / "missing.csv"), str(good)]))
    assert [r.error is None for r in results] == [False, False, True]
    assert all("\n" not in r.error for r in results[:2])
    assert _typed(results[2]) == {"身份证": "resident_id"}


def test_scan_postgresql_table(customers):
    table = f"lt_scan_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
        conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} text' for c in COLUMNS)})")
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for row in zip(*(customers.column(c).to_pylist() for c in COLUMNS), strict=True):
                copy.write_row([None if v is None else str(v) for v in row])
        conn.commit()
        try:
            (result,) = scan.scan([f"{PG}?table={table}"], full=True)
            assert result.error is None and result.kind == "postgresql"
            assert result.rows_scanned == customers.num_rows
            assert _typed(result) == EXPECTED
        finally:
            conn.execute(f"DROP TABLE {table}")
            conn.commit()


def test_scan_mariadb_table(customers):
    table = f"lt_scan_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        with conn.cursor() as cursor:
            columns = ", ".join(f"{c} varchar(200)" for c in COLUMNS)
            cursor.execute(f"CREATE TABLE {table} ({columns}) CHARACTER SET utf8mb4")
            rows = zip(*(customers.column(c).to_pylist() for c in COLUMNS), strict=True)
            cursor.executemany(
                f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(COLUMNS))})",
                [[None if v is None else str(v) for v in row] for row in rows],
            )
        conn.commit()
        (result,) = scan.scan([f"{MYSQL}?table={table}"])
        assert result.error is None and result.kind == "mysql"
        assert _typed(result) == EXPECTED
        ids = next(c for c in result.columns if c.name == "id_number")
        assert ids.examples
        assert all(re.fullmatch(resident_id.MASKED_PATTERN, e) for e in ids.examples)
        shown = " ".join(ids.examples)
        assert not any(v in shown for v in customers.column("id_number").to_pylist())
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
        conn.close()


def test_unreachable_database_is_one_line():
    (result,) = scan.scan(["postgresql://postgres@127.0.0.1:1/test?table=t"])
    assert result.error and "\n" not in result.error and "127.0.0.1:1" in result.error


_WORKER_CHECK = """
import pyarrow as pa
from leaktrace import _checksum_loops, scan, synth
from leaktrace.identifiers import _digit_loops, _key_loops, _span_loops, _token_loops, _token_scan

def signatures():
    modules = (_checksum_loops, _digit_loops, _key_loops, _span_loops, _token_loops, _token_scan)
    loops = [getattr(m, name) for m in modules for name in dir(m)]
    return {f.__name__: len(f.signatures) for f in loops if hasattr(f, "signatures")}

def count():
    before = signatures()
    batch = synth.customers(300, 3, remarks=True).to_batches()[0]
    typed = [("id_number", "resident_id"), ("card_number", "bank_card"), ("mobile", "mobile")]
    scan._count_batch(batch, typed, ["remark"], 0)
    return sorted(name for name, n in before.items() if not n), before == signatures()

with scan._workers(2) as pool:
    print(pool.submit(count).result())
"""


def test_workers_inherit_the_text_engines_compiled_loops():
    """The scanner loads the compiled loops before it forks, for the kinds of arguments the
    scanner passes them (Arrow's read-only buffers): no worker sets numba up again, nor loads
    another version of a loop as it counts a batch."""
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_CHECK], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "([], True)"
