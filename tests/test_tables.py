"""leaktrace.tables: every format, encoding and layout, and every way a source can be wrong.

SQL tests use the PostgreSQL and MariaDB servers on this machine (trust auth, database
``test``); each test creates its own uniquely named table and drops it. They are skipped when
a server does not answer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Person, make_people
from leaktrace import tables
from leaktrace.exceptions import SourceError
from leaktrace.tables import Table, discover, open_table

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"


def read(path: str, **options) -> tuple[Table, list[dict]]:
    """Open, read every batch, close; the table keeps its attributes after closing."""
    with open_table(path, **options) as table:
        rows = pa.Table.from_batches(list(table.batches()), table.schema).to_pylist()
    return table, rows


def csv_text(people: list[Person], delimiter: str = ",") -> str:
    lines = [Person.header(), *(p.row() for p in people)]
    return "".join(delimiter.join(line) + "\n" for line in lines)


def as_dicts(people: list[Person]) -> list[dict]:
    return [dict(zip(Person.header(), p.row(), strict=True)) for p in people]


def test_people_fixture_covers_the_hard_cases(people):
    assert any(p.resident_id.endswith("X") for p in people)
    assert all(p.account.startswith("000") and len(p.card) == 19 for p in people)


# --------------------------------------------------------------------------------------------
# Delimited text: encodings


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),  # no byte-order mark: told by the NUL high bytes
        ("utf-16-be", "utf-16-be"),
    ],
)
def test_csv_encodings(write, people, encoding, reported):
    path = write("customers.csv", csv_text(people), encoding)
    table, rows = read(path)
    assert (table.kind, table.encoding, table.delimiter) == ("csv", reported, ",")
    assert table.columns == Person.header()
    assert rows == as_dicts(people)


def test_a_stray_nul_in_a_text_file_is_kept_not_fatal(write, people):
    """One NUL in a value (a terminal's stray byte) is no reason to refuse the whole file; a
    file with NULs throughout still is binary."""
    text = csv_text(people).splitlines()
    text[3] = text[3].replace(",", ",\x00", 1)
    table, rows = read(write("nul.csv", "\n".join(text) + "\n", "utf-8"))
    assert table.encoding == "utf-8" and len(rows) == len(people)
    assert "\x00" in "".join(str(v) for v in rows[2].values())


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8", "utf-8-sig"])
def test_characters_outside_gbk(write, encoding):
    # 𠮷 (U+20BB7) is a four-byte GB18030 character that GBK cannot encode
    path = write("rare.csv", "姓名,手机\n𠮷三,13800000000\n", encoding)
    assert read(path)[1] == [{"姓名": "𠮷三", "手机": "13800000000"}]


def test_gbk_body_after_an_ascii_head_is_found(write):
    # the first 64 KB are ASCII; the probes through the file must find the GBK bytes
    head = "id,note\n" + "".join(f"{i},plain\n" for i in range(30_000))
    path = write("late.csv", head.encode() + "30000,张三\n".encode("gbk"))
    table, rows = read(path)
    assert table.encoding == "gb18030"
    assert rows[-1] == {"id": "30000", "note": "张三"}
    assert len(rows) == 30_001


def test_mixed_encodings_fail_with_one_line(write):
    head = "姓名,备注\n" + "".join(f"{i},普通\n" for i in range(30_000))
    tail = b"".join("李四,坏\n".encode("gbk") for _ in range(100))
    path = write("mixed.csv", head.encode("utf-8") + tail)
    # the probes see both encodings, so no sniffed encoding decodes the file
    with pytest.raises(SourceError, match=r"mixed\.csv: cannot tell the text encoding") as info:
        read(path)
    assert "\n" not in str(info.value)


def test_forced_encoding_that_breaks_later_is_a_source_error(write):
    body = "id,note\n" + "".join(f"{i},plain\n" for i in range(30_000))
    path = write("forced.csv", body.encode() + "1,张三\n".encode("gbk"))
    with pytest.raises(SourceError, match=r"forced\.csv: text that is not valid .*mixed encodings"):
        read(path, encoding="utf-8")


def test_big5_is_not_mistaken_for_gb18030(write):
    text = "姓名,電話,地址\n陳大文,0912345678,臺北市中正區測試路1號\n林小明,0987654321,高雄市\n"
    table, rows = read(write("tw.csv", text, "big5"))
    assert table.encoding == "big5"
    assert rows[0] == {"姓名": "陳大文", "電話": "0912345678", "地址": "臺北市中正區測試路1號"}


def test_encoding_override(write):
    path = write("big5.csv", "姓名,電話\n陳大文,0912345678\n", "big5")
    table, rows = read(path, encoding="big5")
    assert table.encoding == "big5"
    assert rows == [{"姓名": "陳大文", "電話": "0912345678"}]


def test_unknown_encoding_name(write):
    path = write("a.csv", "a,b\n1,2\n")
    with pytest.raises(SourceError, match="unknown encoding 'klingon'"):
        open_table(path, encoding="klingon")


# --------------------------------------------------------------------------------------------
# Delimited text: delimiters, headers, titles, raggedness


@pytest.mark.parametrize("delimiter", [",", "\t", "|", ";"])
def test_delimiters(write, people, delimiter):
    table, rows = read(write("list.txt", csv_text(people, delimiter)))
    assert table.delimiter == delimiter
    assert rows == as_dicts(people)


def test_whitespace_list_without_header(write, people):
    # runs of spaces, a tab and an ideographic space; the address keeps its inner space
    lines = [
        f"{people[0].name} {people[0].mobile}   北京市朝阳区 测试路1号",
        f"{people[1].name}\t{people[1].mobile}\u3000上海市浦东新区测试路2号",
        f"{people[2].name}  {people[2].mobile} 广州市天河区测试路3号",
    ]
    table, rows = read(write("leak.txt", "\n".join(lines) + "\n"))
    assert (table.delimiter, table.has_header) == (" ", False)
    assert table.columns == ["column_1", "column_2", "column_3"]
    assert rows[0] == {
        "column_1": people[0].name,
        "column_2": people[0].mobile,
        "column_3": "北京市朝阳区 测试路1号",
    }
    assert [r["column_2"] for r in rows] == [p.mobile for p in people[:3]]


def test_whitespace_list_with_header_and_bad_rows(write):
    text = "姓名 手机\n张三 13800000001\n李四\n王五 13800000003\n"
    table, rows = read(write("list.txt", text))
    assert table.has_header and table.columns == ["姓名", "手机"]
    assert [r["手机"] for r in rows] == ["13800000001", "13800000003"]
    assert table.bad_rows == 1


def test_whitespace_list_whose_header_sets_the_width(write):
    text = "姓名 手机 地址\n张三 13800000001 北京市 朝阳区\n李四 13800000002 上海市 浦东 测试路\n"
    table, rows = read(write("list.txt", text))
    assert table.columns == ["姓名", "手机", "地址"]
    assert [r["地址"] for r in rows] == ["北京市 朝阳区", "上海市 浦东 测试路"]


def test_comma_list_without_header(write, people):
    text = "".join(f"{p.name},{p.mobile},{p.resident_id}\n" for p in people)
    table, rows = read(write("leak.csv", text))
    assert not table.has_header
    assert rows == [
        {"column_1": p.name, "column_2": p.mobile, "column_3": p.resident_id} for p in people
    ]


def test_one_column_of_numbers(write, people):
    table, rows = read(write("numbers.txt", "".join(p.mobile + "\n" for p in people)))
    assert (table.delimiter, table.has_header, table.columns) == (None, False, ["column_1"])
    assert [r["column_1"] for r in rows] == [p.mobile for p in people]


def test_one_quoted_column_with_spaces_is_not_split(write, people):
    phones = [f"+86 {p.mobile[:3]}-{p.mobile[3:7]} {p.mobile[7:]}" for p in people]
    text = '"联系电话"\n' + "".join(f'"{phone}"\n' for phone in phones)
    table, rows = read(write("phones.csv", text))
    assert (table.has_header, table.columns) == (True, ["联系电话"])
    assert [r["联系电话"] for r in rows] == phones


@pytest.mark.parametrize(
    ("text", "has_header"),
    [
        ("姓名\n张三\n李四\n", True),  # a header word
        ("张三\n李四\n王五\n", False),  # a name among names
        ("客户,城市\n张三,北京\n李四,上海\n", True),
        ("name,phone\nAlice,13800000001\nBob,13800000002\n", True),
        ("手机号\n13800000001\n13800000002\n", True),
        ("13800000001\n13800000002\n", False),
        ("城市,性别\n北京,男\n上海,女\n", True),
        ("北京,男\n上海,女\n北京,女\n", False),  # first-row values repeat below
        ("部门,岗位\n销售部,经理\n后勤部,主管\n", True),
        ("张三,2024-01-02,12.50\n李四,2024-02-03,8.00\n", False),
        ("客户编号,开户日期\n0001,2024-01-02\n0002,2024-02-03\n", True),
        ("姓名,手机\n", True),  # a header alone
        ("张三,13800000001\n", False),  # a record alone
    ],
)
def test_header_or_data(write, text, has_header):
    assert open_table(write("t.csv", text)).has_header is has_header


@pytest.mark.parametrize("header", [True, False])
def test_header_override(write, header):
    table = open_table(write("t.csv", "张三\n李四\n"), header=header)
    assert table.has_header is header
    assert table.sample().num_rows == (1 if header else 2)


@pytest.mark.parametrize(
    ("above", "skipped"),
    [
        ("", 0),
        ("2024年3月客户名单\n", 1),
        ("2024年3月客户名单\n\n", 2),
        ("\n\n", 2),
        ("2024年3月客户名单,,,,,\n", 1),
        ("某某银行客户信息导出\n导出时间：2024-03-01 10:00\n\n", 3),
    ],
)
def test_title_rows_are_skipped(write, people, above, skipped):
    table, rows = read(write("export.csv", above + csv_text(people[:5])))
    assert (table.skipped_rows, table.has_header) == (skipped, True)
    assert table.columns == Person.header()
    assert rows == as_dicts(people[:5])


def test_title_rows_in_gbk_and_crlf(write, people):
    text = "2024年3月客户名单\r\n\r\n" + csv_text(people[:3]).replace("\n", "\r\n")
    table, rows = read(write("export.csv", text, "gbk"))
    assert (table.encoding, table.skipped_rows) == ("gb18030", 2)
    assert rows == as_dicts(people[:3])


def test_header_with_no_rows_is_an_empty_table(write):
    table, rows = read(write("empty.csv", "姓名,手机,身份证号\n"))
    assert table.columns == ["姓名", "手机", "身份证号"]
    assert rows == []
    with open_table(write("empty.csv", "姓名,手机,身份证号\n")) as table:
        assert table.sample().num_rows == 0


def test_header_names_are_cleaned(write):
    table = open_table(write("t.csv", " 姓名 ,,姓名,手机\n张三,x,y,13800000001\n"))
    assert table.columns == ["姓名", "column_2", "姓名_2", "手机"]


def test_ragged_rows_are_counted_not_fatal(write):
    # a row short of a field, a row with one too many, and a truncated last line
    text = (
        "姓名,手机,地址\n张三,13800000001,北京\n李四,13800000002\n"
        "王五,13800000003,上海,多余\n赵六,1380"
    )
    table, rows = read(write("ragged.csv", text))
    assert rows == [{"姓名": "张三", "手机": "13800000001", "地址": "北京"}]
    assert table.bad_rows == 3


def test_ragged_count_restarts_with_each_pass(write):
    table = open_table(write("ragged.csv", "a,b\n1,2\n3\n4,5\n"))
    for _ in range(2):
        assert sum(b.num_rows for b in table.batches()) == 2
        assert table.bad_rows == 1


def test_quoted_values(write):
    text = 'name,address,note\n张三,"北京市,朝阳区","第一行\n第二行"\n"李""四",上海,\n'
    rows = read(write("q.csv", text))[1]
    assert rows == [
        {"name": "张三", "address": "北京市,朝阳区", "note": "第一行\n第二行"},
        {"name": '李"四', "address": "上海", "note": None},
    ]


def test_a_stray_quote_does_not_swallow_the_file(write):
    rows = read(write("stray.csv", 'a,b\n1,"x\n2,y\n3,z\n'))[1]
    assert rows == [{"a": "1", "b": '"x'}, {"a": "2", "b": "y"}, {"a": "3", "b": "z"}]


def test_a_row_longer_than_a_block(write):
    path = write("long.csv", "a,b\n1," + "x" * (3 << 20) + "\n2,y\n")
    with pytest.raises(SourceError, match=r"long\.csv: a row longer than 1 MB, or a quoted value"):
        read(path)


def test_excel_text_wrapper_is_removed(write):
    text = '手机,账号\n="13800000001",="000123"\n="13800000002",="000456"\n'
    assert read(write("x.csv", text))[1] == [
        {"手机": "13800000001", "账号": "000123"},
        {"手机": "13800000002", "账号": "000456"},
    ]


def test_empty_cells_are_null(write):
    assert read(write("n.csv", "a,b,c\n1,,3\n"))[1] == [{"a": "1", "b": None, "c": "3"}]


def test_all_text_false_lets_pyarrow_type_columns(write):
    table, rows = read(write("t.csv", "name,amount\n张三,12.5\n李四,3\n"), all_text=False)
    assert table.schema.field("amount").type == pa.float64()
    assert rows[0]["amount"] == 12.5


def test_forced_delimiter(write):
    rows = read(write("t.txt", "a b,c\nd e,f\n"), delimiter=" ", header=False)[1]
    assert rows == [{"column_1": "a", "column_2": "b,c"}, {"column_1": "d", "column_2": "e,f"}]
    with pytest.raises(SourceError, match="one character"):
        open_table(write("u.txt", "a\n"), delimiter="::")


# --------------------------------------------------------------------------------------------
# Batches


def test_batches_have_the_asked_size_and_columns(write, people):
    path = write("p.csv", csv_text(make_people(1000)))
    with open_table(path) as table:
        sizes = [b.num_rows for b in table.batches(batch_rows=300)]
        assert sizes == [300, 300, 300, 100]
        picked = next(table.batches(batch_rows=5, columns=["mobile", "name"]))
        assert picked.schema.names == ["mobile", "name"]
        assert table.sample(7).num_rows == 7


def test_unknown_column(write):
    with open_table(write("p.csv", "a,b\n1,2\n")) as table, pytest.raises(SourceError) as info:
        next(table.batches(columns=["a", "zz"]))
    assert str(info.value).endswith("no column named 'zz'; the columns are a, b")


def test_closed_table_cannot_be_read(write):
    table = open_table(write("p.csv", "a,b\n1,2\n"))
    table.close()
    table.close()
    with pytest.raises(ValueError, match="closed"):
        table.batches()


def test_batches_of_every_row_source(tmp_path, people):
    """The row-based readers (XLSX, JSON) rebatch like the CSV reader."""
    workbook = openpyxl.Workbook()
    workbook.active.append(Person.header())
    for person in make_people(250):
        workbook.active.append(person.row())
    workbook.save(tmp_path / "p.xlsx")
    (tmp_path / "p.json").write_text(json.dumps(as_dicts(make_people(250)), ensure_ascii=False))
    for name in ("p.xlsx", "p.json"):
        with open_table(str(tmp_path / name)) as table:
            assert [b.num_rows for b in table.batches(batch_rows=100)] == [100, 100, 50]


# --------------------------------------------------------------------------------------------
# Spreadsheets


def test_xlsx(tmp_path, people):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "客户"
    sheet.append(["2024年3月客户名单"])
    sheet.append([])
    sheet.append(["姓名", "手机", "身份证号", "卡号", "开户日期", "时间", "余额", "VIP"])
    p = people[0]
    # the mobile as a number (Excel's habit), the card as text so it stays exact
    sheet.append(
        [
            p.name,
            int(p.mobile),
            p.resident_id,
            p.card,
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, 3, 4, 5),
            12.5,
            True,
        ]
    )
    sheet.append([])
    sheet.append([people[1].name, "0" + people[1].mobile])
    workbook.create_sheet("其他").append(["a"])
    workbook.save(tmp_path / "客户.xlsx")

    table, rows = read(str(tmp_path / "客户.xlsx"))
    assert (table.kind, table.sheet, table.skipped_rows, table.has_header) == (
        "xlsx",
        "客户",
        2,
        True,
    )
    assert rows == [
        {
            "姓名": p.name,
            "手机": p.mobile,
            "身份证号": p.resident_id,
            "卡号": p.card,
            "开户日期": "2024-01-02",
            "时间": "2024-01-02 03:04:05",
            "余额": "12.5",
            "VIP": "true",
        },
        {
            "姓名": people[1].name,
            "手机": "0" + people[1].mobile,
            "身份证号": None,
            "卡号": None,
            "开户日期": None,
            "时间": None,
            "余额": None,
            "VIP": None,
        },
    ]
    assert open_table(str(tmp_path / "客户.xlsx"), sheet="其他").columns == ["a"]
    with pytest.raises(SourceError, match="no sheet named 'x'; the sheets are 客户, 其他"):
        open_table(str(tmp_path / "客户.xlsx"), sheet="x")


def test_a_workbook_with_a_blank_first_sheet_is_read_from_the_first_filled(tmp_path):
    """No sheet named: the list on the second sheet is read, not "no data" from the blank
    cover sheet; a named sheet is still the one read."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.create_sheet("名单").append(["姓名", "手机"])
    workbook["名单"].append(["王芳", "13812345678"])
    workbook.save(tmp_path / "list.xlsx")
    with open_table(str(tmp_path / "list.xlsx")) as table:
        assert (table.sheet, table.columns) == ("名单", ["姓名", "手机"])
    with pytest.raises(SourceError, match="no data \\(sheet '说明'\\)"):
        open_table(str(tmp_path / "list.xlsx"), sheet="说明")
    book = xlwt.Workbook()
    book.add_sheet("空")
    book.add_sheet("名单").write(0, 0, "姓名")
    book.get_sheet(1).write(1, 0, "王芳")
    book.save(str(tmp_path / "list.xls"))
    with open_table(str(tmp_path / "list.xls")) as table:
        assert (table.sheet, table.columns) == ("名单", ["姓名"])


def test_xlsx_typed(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["n", "d"])
    workbook.active.append([3, dt.date(2024, 1, 2)])
    workbook.active.append([4.5, dt.date(2024, 1, 3)])
    workbook.save(tmp_path / "t.xlsx")
    table, rows = read(str(tmp_path / "t.xlsx"), all_text=False)
    assert table.schema.field("n").type == pa.float64()
    assert rows[1] == {"n": 4.5, "d": dt.datetime(2024, 1, 3)}


def test_xlsx_cells_beyond_the_last_column(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机"])
    for i in range(300):
        sheet.append([f"测试{i}", f"1380000{i:04d}"])
    sheet.cell(row=302, column=5, value="迟到的备注")  # beyond the columns seen in the sample
    workbook.save(tmp_path / "wide.xlsx")
    table, rows = read(str(tmp_path / "wide.xlsx"))
    assert table.columns == ["姓名", "手机"]
    assert len(rows) == 300 and table.bad_rows == 1


def test_xlsx_headerless(tmp_path, people):
    workbook = openpyxl.Workbook()
    for p in people[:5]:
        workbook.active.append([p.name, p.mobile, p.resident_id])
    workbook.save(tmp_path / "leak.xlsx")
    table, rows = read(str(tmp_path / "leak.xlsx"))
    assert not table.has_header
    assert [r["column_3"] for r in rows] == [p.resident_id for p in people[:5]]


def test_xls(tmp_path, people):
    book = xlwt.Workbook()
    sheet = book.add_sheet("名单")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for j, name in enumerate(["姓名", "手机", "账号", "生日"]):
        sheet.write(0, j, name)
    for i, p in enumerate(people[:3], start=1):
        sheet.write(i, 0, p.name)
        sheet.write(i, 1, int(p.mobile))  # stored as a float by Excel
        sheet.write(i, 2, p.account)
        sheet.write(i, 3, dt.date(1990, 1, i), date_style)
    book.add_sheet("空")
    book.save(str(tmp_path / "list.xls"))
    table, rows = read(str(tmp_path / "list.xls"))
    assert (table.kind, table.sheet, table.num_rows) == ("xls", "名单", 3)
    assert rows == [
        {"姓名": p.name, "手机": p.mobile, "账号": p.account, "生日": f"1990-01-0{i}"}
        for i, p in enumerate(people[:3], start=1)
    ]
    with pytest.raises(SourceError, match=r"no data \(sheet '空'\)"):
        open_table(str(tmp_path / "list.xls"), sheet="空")


def test_html_saved_as_xls(write, people):
    p, q = people[:2]
    html = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
    </head><body><table border="1">
    <tr><th>姓名</th><th>手机</th><th colspan="2">证件</th></tr>
    <tr><td>{p.name}</td><td style="mso-number-format:'\\@'">0{p.mobile}</td>
        <td>身份证</td><td>{p.resident_id}</td></tr>
    <tr><td>{q.name}<br>(副卡)</td><td>{q.mobile}</td><td>&nbsp;</td><td></td></tr>
    </table></body></html>"""
    table, rows = read(write("export.xls", html, "gb18030"))
    assert (table.kind, table.encoding) == ("html", "gb18030")
    assert table.columns == ["姓名", "手机", "证件", "column_4"]
    assert rows[0] == {
        "姓名": p.name,
        "手机": "0" + p.mobile,
        "证件": "身份证",
        "column_4": p.resident_id,
    }
    assert rows[1]["姓名"] == f"{q.name} (副卡)"


def test_spreadsheet_xml_saved_as_xls(write):
    xml = textwrap.dedent("""\
        <?xml version="1.0" encoding="UTF-8"?>
        <Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
                  xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
         <Worksheet ss:Name="其他"><Table><Row><Cell><Data ss:Type="String">x</Data></Cell></Row>
         </Table></Worksheet>
         <Worksheet ss:Name="名单"><Table>
          <Row><Cell><Data ss:Type="String">姓名</Data></Cell>
               <Cell><Data ss:Type="String">手机</Data></Cell>
               <Cell><Data ss:Type="String">备注</Data></Cell></Row>
          <Row><Cell><Data ss:Type="String">张三</Data></Cell>
               <Cell ss:Index="3"><Data ss:Type="String">无</Data></Cell></Row>
          <Row><Cell><Data ss:Type="String">李四</Data></Cell>
               <Cell><Data ss:Type="Number">13800000002</Data></Cell></Row>
         </Table></Worksheet>
        </Workbook>""")
    table, rows = read(write("export.xls", xml), sheet="名单")
    assert (table.kind, table.sheet) == ("xml", "名单")
    assert rows == [
        {"姓名": "张三", "手机": None, "备注": "无"},
        {"姓名": "李四", "手机": "13800000002", "备注": None},
    ]


def test_tab_separated_text_saved_as_xls(write):
    table, rows = read(write("export.xls", "姓名\t手机\n张三\t013800000001\n", "gbk"))
    assert (table.kind, table.delimiter) == ("csv", "\t")
    assert rows == [{"姓名": "张三", "手机": "013800000001"}]


# --------------------------------------------------------------------------------------------
# JSON


def test_json_array(write, people):
    contact = {"city": "北京", "zip": "010010"}
    records = [
        {"name": p.name, "mobile": p.mobile, "id": int(p.card), "balance": 12.0, "vip": True,
         "contact": contact}
        for p in people[:3]
    ]  # fmt: skip
    table, rows = read(write("a.json", json.dumps(records, ensure_ascii=False)))
    assert (table.kind, table.num_rows) == ("json", 3)
    assert table.columns == [
        "name",
        "mobile",
        "id",
        "balance",
        "vip",
        "contact.city",
        "contact.zip",
    ]
    assert rows[0] == {
        "name": people[0].name,
        "mobile": people[0].mobile,
        "id": people[0].card,
        "balance": "12",
        "vip": "true",
        "contact.city": "北京",
        "contact.zip": "010010",
    }


@pytest.mark.parametrize(
    "document",
    [
        {"data": [{"a": "01"}, {"a": 2}]},
        {"code": 0, "msg": "ok", "data": {"total": 2, "list": [{"a": "01"}, {"a": 2}]}},
        {"rows": [{"a": "01"}, {"a": 2}], "total": 2},
    ],
)
def test_json_wrappers(write, document):
    assert read(write("w.json", json.dumps(document)))[1] == [{"a": "01"}, {"a": "2"}]


def test_json_gbk_streams_in_chunks(write, monkeypatch):
    import leaktrace.tables as tables

    monkeypatch.setattr(tables, "_CHUNK_CHARS", 7)  # values straddle every chunk boundary
    records = [{"姓名": f"测试{i}", "卡号": 6222000000000000000 + i, "n": 1.5} for i in range(50)]
    table, rows = read(write("g.json", json.dumps(records, ensure_ascii=False), "gbk"))
    assert table.encoding == "gb18030"
    assert rows[49] == {"姓名": "测试49", "卡号": "6222000000000000049", "n": "1.5"}


def test_json_of_arrays_is_read_like_a_sheet(write):
    rows = read(write("a.json", '[["姓名","手机"],["张三","013800000001"]]'))[1]
    assert rows == [{"姓名": "张三", "手机": "013800000001"}]


def test_jsonl(write):
    text = '{"a": 1, "b": "x"}\n\nnot json\n[1, 2]\n{"a": 6222000000000000001, "c": 3}\n'
    table, rows = read(write("c.jsonl", text))
    assert table.kind == "jsonl"
    assert rows == [
        {"a": "1", "b": "x", "c": None},
        {"a": "6222000000000000001", "b": None, "c": "3"},
    ]
    assert table.bad_rows == 2


def test_json_lines_in_a_json_file(write):
    table, rows = read(write("c.json", '{"a": 1}\n{"a": 2}\n'))
    assert (table.kind, rows) == ("jsonl", [{"a": "1"}, {"a": "2"}])


def test_json_typed(write):
    table, rows = read(write("t.json", '[{"a": 1, "b": 2.5}, {"a": 2, "b": null}]'), all_text=False)
    assert [f.type for f in table.schema] == [pa.int64(), pa.float64()]
    assert rows == [{"a": 1, "b": 2.5}, {"a": 2, "b": None}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 1}, {"a": ', r"not valid JSON near character 17"),
        ("[]", r"no records in the JSON"),
        ("[1, 2]", r"the JSON records are not objects"),
        ('{"a": 1}', r"no array of records"),
        ("hello", r"not valid JSON"),
    ],
)
def test_bad_json(write, text, message):
    with pytest.raises(SourceError, match=message):
        read(write("bad.json", text))


# --------------------------------------------------------------------------------------------
# Parquet


def test_parquet(tmp_path, people):
    p = people[0]
    data = pa.table(
        {
            "name": [p.name, None],
            "id": pa.array([int(p.card), 1], pa.int64()),
            "mobile": [float(p.mobile), 0.5],
            "opened": [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5)],
            "born": [dt.date(1990, 1, 2), None],
            "tags": [["a", "b"], []],
            "code": pa.array(["010010", "x"]).dictionary_encode(),
        }
    )
    pq.write_table(data, tmp_path / "p.parquet")
    table, rows = read(str(tmp_path / "p.parquet"))
    assert (table.kind, table.num_rows) == ("parquet", 2)
    assert all(f.type == pa.string() for f in table.schema)
    assert rows == [
        {
            "name": p.name,
            "id": p.card,
            "mobile": p.mobile,
            "opened": "2024-01-02",
            "born": "1990-01-02",
            "tags": '["a", "b"]',
            "code": "010010",
        },
        {
            "name": None,
            "id": "1",
            "mobile": "0.5",
            "opened": "2024-01-02 03:04:05",
            "born": None,
            "tags": "[]",
            "code": "x",
        },
    ]
    typed, rows = read(str(tmp_path / "p.parquet"), all_text=False)
    assert typed.schema.field("id").type == pa.int64()
    assert rows[0]["id"] == int(p.card)
    with open_table(str(tmp_path / "p.parquet")) as again:
        assert next(again.batches(columns=["id"])).to_pylist() == [{"id": p.card}, {"id": "1"}]


# --------------------------------------------------------------------------------------------
# Identifiers survive every format


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=25)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(DIGITS, min_size=1, max_size=20))
def test_digit_strings_come_back_exact(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("exact")
    text = "账号\n" + "".join(v + "\n" for v in values)
    (folder / "a.csv").write_text(text)
    workbook = openpyxl.Workbook()
    workbook.active.append(["账号"])
    for v in values:
        workbook.active.append([v])
    workbook.save(folder / "a.xlsx")
    (folder / "a.json").write_text(json.dumps([{"账号": v} for v in values]))
    # JSON numbers (no leading zero) go through Python's exact integers
    numbers = [v.lstrip("0") or "0" for v in values]
    (folder / "n.json").write_text("[" + ",".join(f'{{"账号": {n}}}' for n in numbers) + "]")
    for name, expected in [
        ("a.csv", values),
        ("a.xlsx", values),
        ("a.json", values),
        ("n.json", numbers),
    ]:
        rows = read(str(folder / name), header=True)[1]
        assert [r["账号"] for r in rows] == expected, name


# --------------------------------------------------------------------------------------------
# Bad files


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", r"empty\.csv: empty file \(0 bytes\); export the data again"),
        ("blank.csv", b"\n \r\n\t\n", r"blank\.csv: no data \(only blank lines\)"),
        ("bin.csv", b"\x00\x01\x02abc", r"bin\.csv: not a text table \(binary content at byte 0\)"),
        ("bin2.csv", b"abc\x01\x02\x03\x04\x05\x06\x07\x08" * 500, r"not a text table"),
        ("noise.csv", bytes(range(0x80, 0x100)) * 50, r"cannot tell the text encoding"),
        ("x.csv", b"\x1f\x8b\x08\x00rest", r"x\.csv: a gzip-compressed file; decompress it first"),
        ("x.csv", b"%PDF-1.4\n...", r"a PDF document, not a table"),
        ("x.xlsx", b"a,b\n1,2\n", r"x\.xlsx: not an XLSX workbook \(not a ZIP archive\)"),
        ("x.parquet", b"a,b\n1,2\n", r"x\.parquet: not a Parquet file \(no PAR1 magic at byte 0\)"),
        ("x.parquet", b"PAR1\x00\x00garbage", r"x\.parquet: truncated or corrupt Parquet file"),
        (
            "x.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            r"x\.xls: truncated or corrupt XLS",
        ),
    ],
)
def test_bad_files(write, name, data, message):
    path = write(name, data)
    with pytest.raises(SourceError, match=message) as info:
        read(path)
    assert "\n" not in str(info.value)


def test_a_workbook_named_like_csv_is_read_as_a_workbook(tmp_path):
    """The content decides: openpyxl refuses a path without an Excel suffix, so the workbook is
    handed over as an open file."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "手机"])
    workbook.active.append(["王芳", "13812345678"])
    workbook.save(tmp_path / "list.csv")
    with open_table(str(tmp_path / "list.csv")) as table:
        assert table.kind == "xlsx"
        assert table.sample().column("手机").to_pylist() == ["13812345678"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('[{"姓名": "王芳", "手机": "13812345678"},\n {"姓名": "李强", "手机": null}\n]', "json"),
        ('{"姓名": "王芳", "手机": "13812345678"}\n{"姓名": "李强", "手机": null}\n', "jsonl"),
    ],
)
def test_json_records_named_like_csv_are_read_as_json(tmp_path, text, kind):
    """An API's export saved as .csv: read as the records it holds, not as a one-column CSV
    of braces; a CSV header in SQL Server's brackets stays CSV."""
    (tmp_path / "list.csv").write_text(text, encoding="utf-8")
    with open_table(str(tmp_path / "list.csv")) as table:
        assert table.kind == kind
        assert table.sample().column("手机").to_pylist() == ["13812345678", None]
    (tmp_path / "bracketed.csv").write_text("[姓名],[手机]\n王芳,13812345678\n", "utf-8")
    with open_table(str(tmp_path / "bracketed.csv")) as table:
        assert table.kind == "csv" and table.columns == ["[姓名]", "[手机]"]


def test_a_header_longer_than_the_sample_is_read_whole(tmp_path, monkeypatch):
    """9,000 columns make a header of ~100 KB, longer than the 64 KB sample: it was cut, and
    every row then had more fields than the header named."""
    letters = [chr(97 + i // 676) + chr(97 + i // 26 % 26) + chr(97 + i % 26) for i in range(9000)]
    names = [f"field_{n}" for n in letters]
    rows = [",".join(names)] + [",".join(str((r + j) % 10) for j in range(9000)) for r in range(4)]
    (tmp_path / "wide.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with open_table(str(tmp_path / "wide.csv")) as table:
        assert table.columns == names
        assert table.sample().num_rows == 4 and table.bad_rows == 0
    monkeypatch.setattr(tables, "_SNIFF_BYTES_AT_MOST", 1 << 20)
    (tmp_path / "one_line.csv").write_bytes(b"a," * (1 << 20))
    with pytest.raises(SourceError, match="no line break in the first 1 MB"):
        open_table(str(tmp_path / "one_line.csv"))


def test_zip_that_is_not_xlsx(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.xlsx", "w") as archive:
        archive.writestr("customers.csv", "a,b\n")
    with pytest.raises(SourceError, match=r"a\.xlsx: a ZIP archive, not an XLSX workbook; extract"):
        open_table(str(tmp_path / "a.xlsx"))
    with zipfile.ZipFile(tmp_path / "a.docx", "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(SourceError, match="a Word document, not a table"):
        open_table(str(tmp_path / "a.docx"))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_xlsx(tmp_path, keep):
    workbook = openpyxl.Workbook()
    for person in make_people(200):
        workbook.active.append(person.row())
    workbook.save(tmp_path / "full.xlsx")
    data = (tmp_path / "full.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SourceError, match=r"cut\.xlsx: truncated or corrupt XLSX"):
        read(str(tmp_path / "cut.xlsx"))


def test_corrupt_member_in_xlsx(tmp_path):
    workbook = openpyxl.Workbook()
    for person in make_people(200):
        workbook.active.append(person.row())
    workbook.save(tmp_path / "full.xlsx")
    with (
        zipfile.ZipFile(tmp_path / "full.xlsx") as source,
        zipfile.ZipFile(tmp_path / "bad.xlsx", "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the sheet XML ends mid-element
            target.writestr(item, data)
    with pytest.raises(SourceError, match=r"bad\.xlsx: cannot read XLSX"):
        read(str(tmp_path / "bad.xlsx"))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.csv: no such file; check the path"):
        open_table(str(tmp_path / "nope.csv"))
    with pytest.raises(SourceError, match=r": a folder with no table in it"):
        open_table(str(tmp_path))
    (tmp_path / "t.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r": is a folder, not a file"):
        open_table(str(tmp_path))


def test_permission_denied(write):
    path = write("secret.csv", "a,b\n1,2\n")
    os.chmod(path, 0)
    code = (
        "import sys\n"
        "from leaktrace.exceptions import SourceError\n"
        "from leaktrace.tables import open_table\n"
        "try:\n    open_table(sys.argv[1])\n"
        "except SourceError as e:\n    print(e)\n"
    )
    # root reads any file; drop to an unprivileged user when the tests run as root
    user = {"user": 65534, "group": 65534} if os.geteuid() == 0 else {}
    try:
        os.chmod(Path(path).parent, 0o755)
        done = subprocess.run(
            [sys.executable, "-c", code, path],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **user,
        )
    except PermissionError:
        pytest.skip("cannot switch user")
    if "Permission denied" in done.stderr and "python" in done.stderr.lower():
        pytest.skip("the unprivileged user cannot run the virtualenv")
    assert done.stdout.strip() == f"{path}: permission denied; check the file's permissions"


def test_permission_denied_message(write, monkeypatch):
    """The same mapping where the real test cannot drop root: the file open is refused."""
    import leaktrace.tables as tables

    path = write("secret.csv", "a,b\n1,2\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", args[0])

    monkeypatch.setattr(tables, "open", refuse, raising=False)
    with pytest.raises(SourceError) as info:
        open_table(path)
    assert str(info.value) == f"{path}: permission denied; check the file's permissions"


def test_query_is_for_urls_only(write):
    with pytest.raises(SourceError, match="query= applies to database URLs only"):
        open_table(write("a.csv", "a\n1\n"), query="SELECT 1")


# --------------------------------------------------------------------------------------------
# discover


def test_discover(write, tmp_path):
    for name in [
        "b/list.csv",
        "a/x.xlsx",
        "a/notes.md",
        "a/.hidden.csv",
        "a/~$x.xlsx",
        ".git/config.csv",
        "c/deep/d.JSONL",
        "top.parquet",
    ]:
        write(name, "x")
    found = [os.path.relpath(p, tmp_path) for p in discover([str(tmp_path)])]
    assert found == ["top.parquet", "a/x.xlsx", "b/list.csv", "c/deep/d.JSONL"]
    named = str(tmp_path / "a" / "notes.md")
    assert list(discover([named, PG_URL + "?table=t"])) == [named, PG_URL + "?table=t"]
    # A folder with no table comes through itself, for open_table to say so.
    notes = str(tmp_path / "notes")
    write("notes/readme.md", "x")
    assert list(discover([notes])) == [notes]
    with pytest.raises(SourceError, match="a folder with no table in it"):
        open_table(notes)
    with pytest.raises(SourceError, match="is a folder, not a file"):
        open_table(str(tmp_path / "a"))


# --------------------------------------------------------------------------------------------
# SQL: real servers on this machine


def _server(url: str) -> bool:
    try:
        open_table(url, query="SELECT 1 AS one").close()
    except SourceError:
        return False
    return True


@pytest.fixture(scope="module")
def pg() -> Iterator[object]:
    psycopg = pytest.importorskip("psycopg")
    if not _server(PG_URL):
        pytest.skip("no PostgreSQL at " + PG_URL)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def mysql() -> Iterator[object]:
    pymysql = pytest.importorskip("pymysql")
    if not _server(MYSQL_URL):
        pytest.skip("no MySQL/MariaDB at " + MYSQL_URL)
    conn = pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user="root",
        database="test",
        autocommit=True,
        charset="utf8mb4",
    )
    yield conn
    conn.close()


CREATE = (
    "CREATE TABLE {t} (name VARCHAR(40), mobile VARCHAR(20), card BIGINT, "
    "balance DECIMAL(12, 2), born DATE, seen TIMESTAMP NULL, vip BOOLEAN)"
)


def _rows(people: list[Person]) -> list[tuple]:
    seen = dt.datetime(2024, 1, 2, 3, 4, 5)
    return [
        (p.name, "0" + p.mobile, int(p.card[:18]), f"{i}.50", dt.date(1990, 1, 2), seen, i % 2 == 0)
        for i, p in enumerate(people)
    ]


@pytest.fixture
def pg_table(pg) -> Iterator[tuple[str, list[Person]]]:
    name = f"lt_test_{uuid.uuid4().hex[:10]}"
    people = make_people(1200, seed=7)
    pg.execute(CREATE.format(t=name))
    with pg.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s, %s, %s, %s, %s)", _rows(people))
    yield name, people
    pg.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def mysql_table(mysql) -> Iterator[tuple[str, list[Person]]]:
    name = f"lt_test_{uuid.uuid4().hex[:10]}"
    people = make_people(1200, seed=7)
    with mysql.cursor() as cursor:
        cursor.execute(CREATE.format(t=name) + " CHARSET utf8mb4")
        cursor.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s, %s, %s, %s, %s)", _rows(people))
    yield name, people
    with mysql.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture(params=["postgresql", "mysql"])
def sql_table(request) -> tuple[str, str, list[Person]]:
    if request.param == "postgresql":
        name, people = request.getfixturevalue("pg_table")
        return PG_URL, name, people
    name, people = request.getfixturevalue("mysql_table")
    return MYSQL_URL, name, people


def test_sql_table_as_text(sql_table):
    url, name, people = sql_table
    kind = url.split(":", 1)[0]
    for source in (f"{url}?table={name}", f"{url}/{name}"):
        with open_table(source) as table:
            assert (table.kind, table.source) == (kind, source)
            assert table.columns == ["name", "mobile", "card", "balance", "born", "seen", "vip"]
            batches = list(table.batches(batch_rows=500))
    assert [b.num_rows for b in batches] == [500, 500, 200]
    rows = pa.Table.from_batches(batches).to_pylist()
    rows.sort(key=lambda r: r["balance"].zfill(10))
    p = people[1]
    assert rows[1] == {
        "name": p.name, "mobile": "0" + p.mobile, "card": p.card[:18], "balance": "1.50",
        "born": "1990-01-02", "seen": "2024-01-02 03:04:05",
        "vip": "false" if kind == "postgresql" else "0",  # MySQL's BOOLEAN is TINYINT(1)
    }  # fmt: skip


def test_sql_query(sql_table):
    url, name, people = sql_table
    query = f"SELECT name, mobile FROM {name} WHERE balance < 2 ORDER BY balance"
    expected = [{"name": p.name, "mobile": "0" + p.mobile} for p in people[:2]]
    assert open_table(url, query=query + ";").sample().to_pylist() == expected
    from urllib.parse import quote

    assert open_table(f"{url}?query={quote(query)}").sample().to_pylist() == expected


def test_sql_percent_signs_are_not_placeholders(sql_table):
    url, name, people = sql_table
    query = f"SELECT '%s' AS p, count(*) AS n FROM {name} WHERE mobile LIKE '0%'"
    assert open_table(url, query=query).sample().to_pylist() == [{"p": "%s", "n": str(len(people))}]


def test_sql_sources_are_read_only(sql_table):
    url, name, people = sql_table
    with pytest.raises(SourceError, match="cannot read the query"):
        open_table(url, query=f"DELETE FROM {name}")
    with pytest.raises(SourceError, match="cannot read the query"):
        open_table(url, query=f"WITH d AS (DELETE FROM {name} RETURNING *) SELECT * FROM d")
    assert open_table(f"{url}?query=SELECT count(*) AS n FROM {name}").sample().to_pylist() == [
        {"n": str(len(people))}
    ]


def test_sql_typed(sql_table):
    url, name, people = sql_table
    table = open_table(f"{url}?table={name}", all_text=False)
    assert table.schema.field("card").type == pa.int64()
    assert table.schema.field("born").type == pa.date32()
    assert sum(b.num_rows for b in table.batches()) == len(people)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_sql_early_stop_does_not_read_the_rest(sql_table):
    # PyMySQL would drain the unread rows on close, or fail noisily in __del__ without them
    url, name, _ = sql_table
    with open_table(f"{url}?table={name}") as table:
        for _ in table.batches(batch_rows=10):
            break
        assert table.sample(3).num_rows == 3


def test_sql_password_is_never_shown(pg_table):
    name, _ = pg_table
    url = f"postgresql://postgres:hunter2@127.0.0.1:5432/test?table={name}&password=hunter2"
    with open_table(url) as table:  # trust auth ignores the password
        assert "hunter2" not in table.source and "hunter2" not in repr(table)
    with pytest.raises(SourceError) as info:
        open_table("postgresql://postgres:hunter2@127.0.0.1:1/test?table=x")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://postgres@127.0.0.1:1/test?table=t",
            r"^postgresql://postgres@127.0.0.1:1/test\?table=t: cannot connect \(.*refused\)",
        ),
        (
            "mysql://root:pw@127.0.0.1:1/test?table=t",
            r"^mysql://root@127.0.0.1:1/test\?table=t: cannot connect \(.*refused\)",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/no_such_db?table=t",
            r"cannot connect \(.*database \"no_such_db\" does not exist\)",
        ),
        (
            "mysql://root@127.0.0.1:3306/no_such_db?table=t",
            r"cannot connect \(Unknown database 'no_such_db'\)",
        ),
        (
            PG_URL + "?table=no_such_table",
            r"cannot read table 'no_such_table' \(relation \"no_such_table\" does not exist\)",
        ),
        (
            MYSQL_URL + "?table=no_such_table",
            r"cannot read table 'no_such_table' \(Table 'test.no_such_table' doesn't exist\)",
        ),
        (PG_URL + "?query=SELEC 1", r"cannot read the query \(syntax error at or near"),
        (MYSQL_URL + "?query=SELEC 1", r"cannot read the query \(You have an error in your SQL"),
        (PG_URL, r"name either a table \(\?table=customers\) or a query"),
        (PG_URL + "/a?table=b", r"the table is named twice"),
        ("postgresql://127.0.0.1?table=t", r"no database in the URL"),
        ("mysql://root@127.0.0.1:port/test?table=t", r"malformed URL"),
        ("https://example.com/list.csv", r"unsupported URL scheme 'https'"),
    ],
)
def test_sql_errors(url, message):
    with pytest.raises(SourceError, match=message) as info:
        open_table(url)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# Bounded memory


MEMORY_PROBE = """
import resource, sys
from leaktrace.tables import open_table
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = 0
with open_table(sys.argv[1]) as table:
    for batch in table.batches():
        rows += batch.num_rows
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(rows, growth // 1024)
"""


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_streaming_a_large_file_keeps_memory_bounded(tmp_path, encoding):
    people = make_people(2000)
    block = "".join(",".join(p.row()) + "\n" for p in people).encode(encoding)
    path = tmp_path / "big.csv"
    repeats = (200 << 20) // len(block) + 1
    with open(path, "wb") as f:
        f.write(",".join(Person.header()).encode() + b"\n")
        for _ in range(repeats):
            f.write(block)
    size_mb = path.stat().st_size >> 20
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rows, growth_mb = map(int, done.stdout.split())
    assert rows == repeats * len(people)
    assert size_mb >= 200
    assert growth_mb < 300, f"peak RSS grew by {growth_mb} MB reading {size_mb} MB"
