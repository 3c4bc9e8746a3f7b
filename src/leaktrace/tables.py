"""Tabular sources as Arrow record batches: CSV/TSV/TXT, XLSX/XLS, JSON/JSONL, Parquet and SQL.

Every command that reads customer data (scan, customers load, export, access load, trace) opens
its input here, so a leaked list, an Excel export or a database table all look the same to it:
a :class:`Table` with a schema and an iterator of ``pyarrow.RecordBatch`` of bounded size.

CSV as RFC 4180 describes it (https://www.rfc-editor.org/rfc/rfc4180), read by pyarrow
(https://arrow.apache.org/docs/python/csv.html); Chinese text in GB 18030-2022, the superset of
GBK and GB 2312.

API
---
``open_table(source, *, sheet=None, query=None, all_text=True, header=None, encoding=None,
delimiter=None) -> Table`` opens and sniffs; ``Table.batches(batch_rows=65536, columns=None)``
streams record batches (each call starts again from the first row); ``Table.sample(rows=1000)``
returns the first rows; ``Table.close()`` (or ``with``) releases files. A Table tells what was
found: ``source`` (no password), ``kind``, ``schema``/``columns``, ``encoding``, ``delimiter``,
``has_header``, ``skipped_rows``, ``num_rows`` (when cheap), ``sheet``, ``bad_rows``,
``bad_lines``.
``discover(paths)`` expands folders to the supported files in them.

What is sniffed, and how
------------------------
* **Kind** from the content first, the file name second: ``PK\\x03\\x04`` is an XLSX (ZIP)
  workbook, ``D0 CF 11 E0`` a legacy XLS (OLE2), ``PAR1`` Parquet, ``<table``/``<html`` an HTML
  table (what many Chinese systems save as ``.xls``), ``urn:schemas-microsoft-com:office:
  spreadsheet`` an Excel 2003 XML workbook; ``.json``/``.jsonl``/``.ndjson`` JSON; everything else
  that is text is delimited text (``kind="csv"``, whatever its suffix).
* **Encoding** of text (64 KB at the head plus a few line-aligned probes through the file): a
  UTF-8 or UTF-16 byte-order mark; else UTF-16 without one where NUL bytes sit on one side of
  the characters; else UTF-8 if every probe decodes; else GB18030 (a superset of GBK and GB2312)
  if every probe decodes; else charset-normalizer's guess. NUL bytes (more than one in a
  thousand) or many control characters mean binary content: :class:`SourceError`. Non-UTF-8
  text is transcoded to UTF-8 on the fly by pyarrow's CSV reader (a streaming codec, so memory
  stays bounded).
  Big5 bytes decode as GB18030 too; when that yields private-use characters (which GBK text
  hardly has) and Big5 decodes, Big5 is taken. Pass ``encoding=`` when a guess is wrong.
* **Delimiter**: the one of ``,`` ``\\t`` ``|`` ``;`` that splits the most sample lines into the
  same number (≥ 2) of fields (in ragged files: that splits 80 % of lines at all); failing that,
  runs of spaces, tabs or ideographic spaces (``"张三 13812345678 北京市…"``, ``delimiter=" "``:
  the last column keeps any further spaces); failing that, one column per line
  (``delimiter=None``). Quoting (``"``) is honoured only when the sample
  shows quoted fields, so a stray quote cannot swallow the rest of a file. Excel's ``="0123"``
  wrapper (written to keep leading zeros) is removed.
* **Title rows**: blank lines and lines with one (or, over wide tables, two) non-empty cells above
  the header, as Excel exports have (``2024年3月客户名单``), are skipped and counted in
  ``skipped_rows``.
* **Header**: the first remaining row is a header unless its cells look like data: a digit-shaped
  cell (phone, ID, amount, date) votes *data*; a known header word (``姓名``, ``手机号``,
  ``phone``…) or a word above a column of digit-shaped values votes *header*; a first-row value
  repeated below, or one of the same script and length as those below (``张三`` over names),
  votes *data*. A tie means header. Headerless tables get ``column_1``,
  ``column_2``…; empty header cells get ``column_<n>``; duplicates get ``_2``, ``_3``.
  ``header=True/False`` overrides the guess.

Values
------
With ``all_text=True`` (the default) every value is a string or null, so identifiers never go
through a float: leading zeros stay, 18-digit IDs and 19-digit card numbers stay exact.
Spreadsheet numbers stored as floats lose nothing further: ``13812345678.0`` becomes
``"13812345678"``, dates become ISO ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM:SS`` with a time), booleans
``"true"``/``"false"``. Empty cells are null. With ``all_text=False`` CSV columns are typed by
pyarrow's inference, Parquet keeps its types, and row sources (spreadsheets, JSON, SQL) get the
type pyarrow infers from the first rows.

Rows that do not fit
--------------------
A delimited row with too many or too few fields (a truncated last line, an unquoted delimiter in
a value) is skipped and counted in ``Table.bad_rows`` (as is a JSON line that is not an object or
array, and a spreadsheet row with cells beyond the last column, which is kept without them).
``bad_rows`` counts the latest pass of :meth:`Table.batches`; ``bad_lines`` lists the skipped
rows it can number as (line, reason): delimited rows with the wrong number of fields, JSON lines
that are not objects (the record number in a JSON array) and, opened with ``skip_bad_text``,
rows of a UTF-8 file that are not UTF-8 (lines saved in another encoding; without it they make
the file unreadable). Line numbers count the
file's lines from 1, header and title rows included (blank lines amid the data are not counted,
and a quoted value that spans lines counts as one). A file with a header and no rows is an
empty table; an empty (0-byte or all-blank) file is a :class:`SourceError`.

SQL
---
``postgresql://user[:password]@host[:port]/db?table=customers`` (or ``…/db/customers``, or
``?table=schema.customers``) reads a table; ``?query=SELECT …`` (percent-encoded; or the
``query=`` argument of :func:`open_table`) reads a query. ``mysql://`` (MariaDB too, also
``mariadb://``) takes the same forms. Rows stream through a server-side cursor (psycopg named
cursor, PyMySQL ``SSCursor``); values are read as the server's text. Passwords are never shown:
``Table.source`` drops them. A missing password is taken from the usual places (libpq's
``PGPASSWORD``/``~/.pgpass``; ``MYSQL_PWD`` for MySQL).

Errors
------
Anything wrong with a source raises :class:`leaktrace.exceptions.SourceError` with one line that
says what is wrong and what to do; library exceptions are chained, never leaked.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "list.csv").write_bytes("姓名,手机\\n张三,013800000000\\n".encode("gbk"))
>>> with open_table(str(folder / "list.csv")) as table:
...     table.encoding, table.delimiter, table.columns, table.sample().to_pylist()
('gb18030', ',', ['姓名', '手机'], [{'姓名': '张三', '手机': '013800000000'}])
>>> _ = (folder / "leak.txt").write_text("王芳 13900000000\\n李四 13700000000\\n")
>>> with open_table(str(folder / "leak.txt")) as table:
...     table.has_header, table.columns, table.sample().num_rows
(False, ['column_1', 'column_2'], 2)
>>> [pathlib.Path(p).name for p in discover([str(folder)])]
['leak.txt', 'list.csv']
>>> import shutil; shutil.rmtree(folder)
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import math
import os
import re
import stat
import sys
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import charset_normalizer
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from leaktrace.exceptions import SourceError

__all__ = ["DEFAULT_BATCH_ROWS", "SUPPORTED_SUFFIXES", "Table", "discover", "open_table"]

SUPPORTED_SUFFIXES = frozenset(
    {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".json", ".jsonl", ".ndjson", ".parquet"}
)
DEFAULT_BATCH_ROWS = 65_536
SQL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb")

_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 3  # whole lines a text sample holds at least: a header and rows under it
_SNIFF_BYTES_AT_MOST = 64 << 20
_PROBE_BYTES = 16 * 1024
_PROBES = 8
_SNIFF_ROWS = 200
_CSV_BLOCK = 1 << 20
_CHUNK_CHARS = 1 << 20
_MAX_JSON_VALUE = 64 << 20

_STRING = pa.string()
Row = list[Any]
Reader = Callable[[int, "list[str] | None"], Iterator[pa.RecordBatch]]


@dataclass(eq=False)
class Table:
    """An opened tabular source. Read it with :meth:`batches`; close it (or use ``with``).

    ``source`` is the path or URL as given, with any password removed. ``kind`` is one of
    ``csv`` (all delimited text), ``xlsx``, ``xls``, ``html``, ``xml``, ``json``, ``jsonl``,
    ``parquet``, ``postgresql``, ``mysql``. ``num_rows`` is set when it is known without a pass
    over the data (Parquet metadata, XLS, small JSON), else ``None``.
    """

    source: str
    kind: str
    schema: pa.Schema
    encoding: str | None = None
    delimiter: str | None = None
    has_header: bool = True
    skipped_rows: int = 0
    num_rows: int | None = None
    sheet: str | None = None
    bad_rows: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    _reader: Reader | None = field(default=None, repr=False)
    _closer: Callable[[], None] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self.schema.names)

    def batches(
        self, batch_rows: int = DEFAULT_BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of ``batch_rows`` rows (the last may be shorter), from the first row.

        Each call reads the source again from the start. ``columns`` picks and orders columns.
        """
        if self._closed or self._reader is None:
            raise ValueError(f"{self.source}: the table is closed")
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        picked = self._pick(columns)
        schema = (
            self.schema if picked is None else pa.schema([self.schema.field(c) for c in picked])
        )
        self.bad_rows = 0
        self.bad_lines = []
        return self._guarded(_rebatch(self._reader(batch_rows, picked), batch_rows, schema))

    def sample(self, rows: int = 1000) -> pa.Table:
        """The first ``rows`` rows as a ``pyarrow.Table`` (fewer if the source is shorter)."""
        got: list[pa.RecordBatch] = []
        count = 0
        stream = self.batches(batch_rows=max(1, min(rows, DEFAULT_BATCH_ROWS)))
        try:
            for batch in stream:
                got.append(batch.slice(0, rows - count))
                count += got[-1].num_rows
                if count >= rows:
                    break
        finally:
            stream.close()
        return pa.Table.from_batches(got, self.schema)

    def unread_note(self, shown: int = 3) -> str | None:
        """What the latest pass skipped, for a warning (None: nothing).

        >>> table = Table("list.csv", "csv", pa.schema([]), bad_rows=1,
        ...               bad_lines=[(3, "wrong number of fields")])
        >>> table.unread_note()
        '1 row of list.csv could not be read and was left out (line 3: wrong number of fields); fix it and run again to include it'
        """  # noqa: E501
        if not self.bad_rows:
            return None
        where = "; ".join(f"line {line}: {why}" for line, why in self.bad_lines[:shown])
        if len(self.bad_lines) > shown:
            where += f"; {len(self.bad_lines) - shown:,} more"
        one = self.bad_rows == 1
        rows, was, them = ("row", "was", "it") if one else ("rows", "were", "them")
        return (
            f"{self.bad_rows:,} {rows} of {self.source} could not be read and {was} left out"
            f"{f' ({where})' if where else ''}; fix {them} and run again to include {them}"
        )

    def close(self) -> None:
        """Release open files and workbooks. Safe to call twice."""
        if not self._closed:
            self._closed = True
            if self._closer is not None:
                self._closer()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pick(self, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        if isinstance(columns, str):
            raise TypeError("columns must be a list of names, not a string")
        missing = [c for c in columns if c not in self.schema.names]
        if missing:
            raise SourceError(
                f"{self.source}: no column named {missing[0]!r}; "
                f"the columns are {', '.join(self.schema.names)}"
            )
        return list(columns)

    def _guarded(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except SourceError:
            raise
        except _library_errors() as error:
            raise _source_error(self.source, self.kind, error) from error
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()


def open_table(
    source: str | os.PathLike[str],
    *,
    sheet: str | None = None,
    query: str | None = None,
    all_text: bool = True,
    header: bool | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    skip_bad_text: bool = False,
) -> Table:
    """Open a file or SQL URL as a :class:`Table`, sniffing what the module docstring lists.

    ``sheet`` names a worksheet (default: the first). ``query`` is SQL for a database URL.
    ``header``, ``encoding`` and ``delimiter`` override what would be sniffed (``delimiter=" "``
    means runs of whitespace). With ``skip_bad_text``, a UTF-8 text file with a few lines in
    another encoding is read as UTF-8 and those lines are skipped (``bad_lines``) instead of
    failing. Raises :class:`SourceError` for anything that cannot be read.
    """
    text = os.fspath(source)
    if _is_url(text):
        return _open_sql(text, query=query, all_text=all_text)
    if query is not None:
        raise SourceError(f"{text}: query= applies to database URLs only; drop it for files")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError as error:
            raise SourceError(
                f"{text}: unknown encoding {encoding!r}; try utf-8 or gb18030"
            ) from error
    path = _check_file(text)
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
            size = os.fstat(f.fileno()).st_size
    except PermissionError as error:
        raise SourceError(f"{text}: permission denied; check the file's permissions") from error
    except OSError as error:
        raise SourceError(f"{text}: cannot read ({_first_line(error)})") from error
    if not head:
        raise SourceError(f"{text}: empty file (0 bytes); export the data again")
    kind = _detect_kind(text, path, head)
    if kind == "csv" and len(head) < size and head.count(b"\n") < _SNIFF_LINES:
        head = _longer_head(text, path, head, size)
    opts = _Options(text, path, sheet, all_text, header, encoding, delimiter, skip_bad_text)
    try:
        if kind == "xlsx":
            return _open_xlsx(opts)
        if kind == "xls":
            return _open_xls(opts)
        if kind == "parquet":
            return _open_parquet(opts)
        if kind in ("html", "xml"):
            return _open_markup(opts, kind, head, size)
        if kind in ("json", "jsonl"):
            return _open_json(opts, kind, head, size)
        return _open_text(opts, head, size)
    except SourceError:
        raise
    except _library_errors() as error:
        raise _source_error(text, kind, error) from error


def _longer_head(source: str, path: str, head: bytes, size: int) -> bytes:
    """The head of a text file read on until it holds :data:`_SNIFF_LINES` whole lines (a
    header of thousands of columns is longer than the usual sample, and cut, it would name
    too few columns for every row), up to :data:`_SNIFF_BYTES_AT_MOST`."""
    with open(path, "rb") as f:
        f.seek(len(head))
        while len(head) < size and head.count(b"\n") < _SNIFF_LINES:
            if len(head) >= _SNIFF_BYTES_AT_MOST:
                raise SourceError(
                    f"{source}: no line break in the first {_SNIFF_BYTES_AT_MOST >> 20} MB; not "
                    "a table of lines (check the file, or export it as CSV or XLSX)"
                )
            head += f.read(len(head))
    return head


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Expand folders (recursively, sorted) to the supported files in them.

    Files named explicitly and URLs pass through unchanged (whatever their suffix; open_table
    reports what is wrong with them). Inside folders, hidden entries and Office lock files
    (``~$name.xlsx``) are skipped.
    """
    for item in paths:
        text = os.fspath(item)
        if _is_url(text) or not os.path.isdir(text):
            yield text
            continue
        found = list(_tables_in(text))
        # A folder with no table is yielded itself: open_table says so, and the other sources
        # are still read (else a scan of a wrong folder would pass as one that found nothing).
        yield from found or [text]


def _tables_in(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith((".", "~$")):
                continue
            if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                yield os.path.join(root, name)


# --------------------------------------------------------------------------------------------
# Errors


# Errors of the readers' libraries that mean "this source cannot be read". The database and
# XLS drivers' own errors are added once a reader has imported them: importing them up front
# costs every command ~0.5 s, and a driver not imported cannot have raised.
_DRIVER_ERRORS = {"xlrd": "XLRDError", "psycopg": "Error", "pymysql": "MySQLError"}


def _library_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        OSError,
        ValueError,
        UnicodeError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        csv.Error,
        zipfile.BadZipFile,
        zlib.error,
        ElementTree.ParseError,
        pa.ArrowException,
    ]
    for module, name in _DRIVER_ERRORS.items():
        if module in sys.modules:
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _first_line(error: BaseException) -> str:
    args = error.args
    # PyMySQL errors are (code, message) pairs
    text = args[1] if len(args) == 2 and isinstance(args[1], str) else str(error)
    text = text.strip() or type(error).__name__
    return " ".join(text.split("\n", 1)[0].split())[:200]


def _source_error(source: str, kind: str, error: BaseException) -> SourceError:
    """One line for a library error met while reading; never the data that caused it."""
    reason = _first_line(error)
    if isinstance(error, UnicodeDecodeError) or "invalid UTF8" in reason:
        return SourceError(
            f"{source}: text that is not valid in the sniffed encoding further into the file "
            "(mixed encodings?); pass the right encoding or re-save the file as UTF-8"
        )
    if isinstance(error, pa.ArrowException):
        # pyarrow quotes the offending cell or row: that may be a customer's identifier.
        reason = ": ".join(_QUOTED.sub("'…'", reason).split(": ", 2)[:2])
        if "straddl" in reason:
            return SourceError(
                f"{source}: a row longer than {_CSV_BLOCK >> 20} MB, or a quoted value that "
                'does not end (unbalanced "); fix the quoting or export the file again'
            )
        if "conversion error" in reason:
            return SourceError(
                f"{source}: a column changes type further into the file ({reason}); "
                "open it as text (all_text)"
            )
    if isinstance(error, zipfile.BadZipFile | zlib.error | EOFError):
        return SourceError(f"{source}: truncated or corrupt {kind.upper()} file; export it again")
    return SourceError(f"{source}: cannot read {kind.upper()} ({reason})")


# --------------------------------------------------------------------------------------------
# Files: checks and kind


@dataclass
class _Options:
    source: str
    path: str
    sheet: str | None
    all_text: bool
    header: bool | None
    encoding: str | None
    delimiter: str | None
    skip_bad_text: bool = False


def _is_url(text: str) -> bool:
    scheme = text.split("://", 1)[0].lower().split("+", 1)[0] if "://" in text else ""
    return scheme in SQL_SCHEMES or (len(scheme) > 1 and scheme.isalpha() and "://" in text)


def _check_file(text: str) -> str:
    try:
        info = os.stat(text)
    except FileNotFoundError as error:
        raise SourceError(f"{text}: no such file; check the path") from error
    except PermissionError as error:
        raise SourceError(f"{text}: permission denied; check the folder's permissions") from error
    except OSError as error:
        raise SourceError(f"{text}: cannot open ({_first_line(error)})") from error
    if stat.S_ISDIR(info.st_mode):
        if next(_tables_in(text), None) is None:
            raise SourceError(
                f"{text}: a folder with no table in it (no file ending in "
                f"{', '.join(sorted(SUPPORTED_SUFFIXES))}); check the path"
            )
        raise SourceError(f"{text}: is a folder, not a file; name a file or scan the folder")
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(f"{text}: not a regular file; copy the data to a file first")
    return text


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OTHER_MAGIC = (
    (b"\x1f\x8b", "a gzip-compressed file; decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; extract it first"),
    (b"Rar!", "a RAR archive; extract it first"),
    (b"%PDF", "a PDF document, not a table; export the data as CSV or XLSX"),
    (b"SQLite format 3\x00", "an SQLite database; export the table as CSV"),
)


def _detect_kind(source: str, path: str, head: bytes) -> str:
    suffix = Path(path).suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(source, path)
    if head.startswith(_OLE2):
        return "xls"
    if head.startswith(b"PAR1"):
        return "parquet"
    if suffix == ".parquet":
        raise SourceError(
            f"{source}: not a Parquet file (no PAR1 magic at byte 0); check the file or export "
            "it again"
        )
    for magic, what in _OTHER_MAGIC:
        if head.startswith(magic):
            raise SourceError(f"{source}: {what}")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024].lower()
    if start.startswith(b"<"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return "xml"
        if b"<table" in head.lower() or b"<html" in start:
            return "html"
    if suffix in (".xlsx", ".xlsm"):
        raise SourceError(
            f"{source}: not an XLSX workbook (not a ZIP archive); open it in Excel and save it "
            "as XLSX or CSV"
        )
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    return _json_by_content(head.lstrip(b"\xef\xbb\xbf \t\r\n")) or "csv"


def _json_by_content(start: bytes) -> str | None:
    """JSON records under another name (an API export saved as .csv or .txt): an array whose
    first item is an object, or objects one a line. A CSV header never opens that way (SQL
    Server's ``[Name],[Phone]`` opens with ``[`` but not ``[{``).

    >>> _json_by_content(b'[\\n  {"name": 1}]'), _json_by_content(b'{"a": 1}\\n{"a": 2}\\n')
    ('json', 'jsonl')
    >>> _json_by_content(b"[name],[phone]\\n"), _json_by_content(b"name,phone\\n")
    (None, None)
    """
    if re.match(rb"\[\s*\{", start):
        return "json"
    if start.startswith(b"{"):
        first = start.split(b"\n", 1)[0]
        try:
            return "jsonl" if isinstance(json.loads(first), dict) else "json"
        except ValueError:
            return "json"
    return None


def _zip_kind(source: str, path: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise SourceError(
            f"{source}: truncated or corrupt XLSX (ZIP) file; export it again"
        ) from error
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        raise SourceError(f"{source}: an XLSB (binary) workbook; save it as XLSX or CSV")
    if any(n.startswith("word/") for n in names):
        raise SourceError(f"{source}: a Word document, not a table; export the data as CSV or XLSX")
    raise SourceError(
        f"{source}: a ZIP archive, not an XLSX workbook; extract it and open the files inside"
    )


# --------------------------------------------------------------------------------------------
# Cells and batches


def _cell_text(value: Any) -> str | None:
    """A cell value as text; identifiers stored as floats come back as their digits."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "\\x" + raw.hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _infer_schema(names: list[str], rows: list[Row], all_text: bool) -> pa.Schema:
    if all_text or not rows:
        return pa.schema([(n, _STRING) for n in names])
    fields = []
    for j, name in enumerate(names):
        values = [row[j] if j < len(row) else None for row in rows]
        try:
            kind = pa.array(values).type
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            kind = _STRING
        if pa.types.is_null(kind) or pa.types.is_nested(kind) or pa.types.is_binary(kind):
            kind = _STRING
        elif pa.types.is_decimal(kind):
            kind = pa.decimal128(38, kind.scale)  # later values may be wider than the sample's
        fields.append((name, kind))
    return pa.schema(fields)


def _rows_batch(rows: list[Row], schema: pa.Schema, source: str) -> pa.RecordBatch:
    arrays = []
    width = len(schema)
    columns = list(zip(*(row + [None] * (width - len(row)) for row in rows), strict=True))
    for j, f in enumerate(schema):
        values = columns[j] if columns else ()
        if f.type == _STRING:
            arrays.append(pa.array([_cell_text(v) for v in values], _STRING))
            continue
        try:
            arrays.append(pa.array(values, f.type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
            raise SourceError(
                f"{source}: column {f.name!r} holds values of several types; open it as text "
                "(all_text)"
            ) from error
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _row_batches(
    rows: Iterable[Row], schema: pa.Schema, batch_rows: int, source: str
) -> Iterator[pa.RecordBatch]:
    pending: list[Row] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= batch_rows:
            yield _rows_batch(pending, schema, source)
            pending = []
    if pending:
        yield _rows_batch(pending, schema, source)


def _select(batch: pa.RecordBatch, columns: list[str] | None) -> pa.RecordBatch:
    if columns is None:
        return batch
    return pa.RecordBatch.from_arrays(
        [batch.column(batch.schema.get_field_index(c)) for c in columns], names=columns
    )


def _rebatch(
    batches: Iterator[pa.RecordBatch], rows: int, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``rows`` rows but the last, whatever sizes the reader produced."""
    pending: list[pa.RecordBatch] = []
    count = 0
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if not pending and batch.num_rows == rows:
                yield batch
                continue
            pending.append(batch)
            count += batch.num_rows
            while count >= rows:
                table = pa.Table.from_batches(pending, schema)
                yield table.slice(0, rows).combine_chunks().to_batches()[0]
                pending = table.slice(rows).to_batches()
                count -= rows
        if count:
            yield pa.Table.from_batches(pending, schema).combine_chunks().to_batches()[0]
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


# --------------------------------------------------------------------------------------------
# Layout: title rows, header, column names


_DATA_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?")
_DATA_DATE = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_DATA_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_HEADER_WORDS_CJK = (
    "姓名", "名字", "名称", "客户", "用户", "联系人", "手机", "电话", "号码", "联系",
    "身份证", "证件", "地址", "住址", "邮箱", "邮件", "卡号", "账号", "帐号", "账户",
    "开户", "银行", "日期", "时间", "金额", "余额", "额度", "收入", "编号", "序号",
    "性别", "年龄", "生日", "出生", "备注", "说明", "车牌", "单位", "公司", "职业",
    "职务", "学校", "学生", "家长", "班级", "户籍", "籍贯", "社保", "公积金", "贷款",
    "信用", "征信", "状态", "类型", "来源", "省份", "城市", "区县", "邮编", "微信",
    "部门", "岗位", "民族", "学历", "婚姻", "专业", "年级", "产品", "项目", "渠道",
    "网点", "机构", "分行", "支行", "员工", "工号", "业务", "经理", "负责人", "等级",
    "级别", "会员", "积分", "标签", "归属", "区域", "房产", "车辆", "保单", "保险",
)  # fmt: skip
_HEADER_WORDS_EN = frozenset((
    "name", "id", "phone", "mobile", "tel", "telephone", "cell", "email", "mail", "address",
    "addr", "city", "province", "date", "time", "amount", "balance", "no", "number", "code",
    "gender", "sex", "age", "birthday", "birth", "remark", "remarks", "note", "notes", "card",
    "account", "type", "status", "company", "customer", "user", "wechat", "qq", "zip",
))  # fmt: skip


def _is_data_like(cell: str) -> bool:
    s = cell.strip()
    digits = sum(c.isdigit() for c in s)
    return bool(
        _DATA_NUMBER.fullmatch(s)
        or _DATA_DATE.fullmatch(s)
        or _DATA_EMAIL.fullmatch(s)
        or (digits >= 3 and 2 * digits >= len(s))
    )


def _header_words(cell: str) -> set[str]:
    found = {w for w in _HEADER_WORDS_CJK if w in cell}
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", cell).lower()
    return found | (set(re.split(r"[^a-z]+", spaced)) & _HEADER_WORDS_EN)


def _header_votes(first: Row, data: list[Row]) -> int:
    """Positive: the first row is a header; negative: it is data (see the module docstring)."""
    votes = 0
    for j, raw in enumerate(first):
        head = (raw or "").strip()
        if not head:
            continue
        values = [c.strip() for r in data if j < len(r) and (c := r[j]) and c.strip()]
        if _is_data_like(head):
            votes -= 2
            continue
        words = _header_words(head) if len(head) <= 16 else set()
        if words and not any(sum(w in v.lower() for v in values) * 2 > len(values) for w in words):
            votes += 2
        elif values and sum(map(_is_data_like, values)) >= 0.8 * len(values):
            votes += 1
        elif head in values or _same_shape(head, values):
            votes -= 1
    return votes


def _shape(cell: str) -> str:
    if all("\u3400" <= c <= "\u9fff" or c in "·•" for c in cell):
        return "cjk"
    return "latin" if cell.isascii() and cell.replace(" ", "").isalpha() else "other"


def _same_shape(head: str, values: list[str]) -> bool:
    """Whether ``head`` could be one more of ``values`` (a name among names): same script,
    length within theirs."""
    if len(values) < 2 or _shape(head) == "other":
        return False
    alike = [v for v in values if _shape(v) == _shape(head)]
    lengths = [len(v) for v in alike]
    return len(alike) >= 0.8 * len(values) and min(lengths) <= len(head) <= max(lengths)


def _filled(row: Row) -> int:
    return sum(1 for c in row if c is not None and str(c).strip())


def _title_rows(rows: list[Row]) -> int:
    """Blank and title rows above the header: leading rows much sparser than the rows below."""
    i = 0
    while i < min(len(rows), 10):
        n = _filled(rows[i])
        if n:
            below = sorted(f for r in rows[i + 1 : i + 51] if (f := _filled(r)))
            typical = below[len(below) // 2] if below else 0
            if typical < 2 or not (n == 1 or (n == 2 and typical >= 6)):
                break
        i += 1
    return i if i < len(rows) else 0


def _column_names(cells: Row, width: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for j in range(width):
        raw = cells[j] if j < len(cells) else None
        name = " ".join(str(raw).split()) if raw is not None else ""
        name = name or f"column_{j + 1}"
        base, k = name, 2
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


@dataclass
class _Layout:
    skipped: int  # leading rows (in the sample's row numbering) above the header or first row
    has_header: bool
    names: list[str]


def _layout(rows: list[Row], header: bool | None, *, ragged: bool) -> _Layout:
    """Title rows, header and names for sample ``rows`` (cells as text or None).

    ``ragged`` (delimited text): the width is the most common field count of the data rows,
    since pyarrow skips rows of any other width. Otherwise (spreadsheets) the widest row counts.
    """
    skipped = _title_rows(rows)
    body = rows[skipped:]
    if not body:
        return _Layout(skipped, bool(header), [])
    first, data = body[0], [r for r in body[1:] if _filled(r)]
    if header is None:
        header = (
            _header_votes(first, data) >= 0 if data else not any(map(_is_data_like_cell, first))
        )
    data_rows = data if header else [first, *data]

    def last_filled(r: Row) -> int:
        return max((j + 1 for j, c in enumerate(r) if c is not None and str(c).strip()), default=0)

    if ragged:
        counts = collections.Counter(len(r) for r in data_rows)
        width = max(counts, key=lambda w: (counts[w], w == len(first)), default=len(first))
        # The header decides unless nearly every row disagrees with it (a trailing delimiter
        # on the header line, or one missing).
        if header and counts[len(first)] >= 0.2 * len(data_rows):
            width = len(first)
    else:
        width = max(map(last_filled, [first, *data]), default=0)
    return _Layout(skipped, header, _column_names(first if header else [], max(width, 1)))


def _is_data_like_cell(cell: Any) -> bool:
    return cell is not None and bool(str(cell).strip()) and _is_data_like(str(cell))


# --------------------------------------------------------------------------------------------
# Delimited text


_WS_RUN = re.compile(r"[ \t\u3000]+")
_DELIMITERS = (",", "\t", "|", ";")
_NO_DELIMITER = "\x1f"  # ASCII unit separator: one column per line
_EXCEL_TEXT = re.compile(r'^="(.*)"$', re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _utf16_without_bom(head: bytes) -> str | None:
    r"""``utf-16-le`` or ``utf-16-be`` for text saved as UTF-16 without a byte-order mark: NUL
    bytes on one side of most characters (the high byte of ASCII), and the head decodes.

    >>> _utf16_without_bom("姓名,手机\n王芳,13812345678\n".encode("utf-16-le"))
    'utf-16-le'
    >>> _utf16_without_bom(b"a,b\n1,\x002\n") is None
    True
    """
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if even + odd < max(8, len(head) // 20) or max(even, odd) < 0.95 * (even + odd):
        return None
    codec = "utf-16-le" if odd > even else "utf-16-be"
    try:  # the head may end inside a character
        codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return codec


def _sniff_encoding(
    source: str, path: str, head: bytes, size: int, skip_bad_text: bool = False
) -> tuple[str, str]:
    """(codec name to report, decoded head text); raise SourceError for binary or unknown.
    With ``skip_bad_text``, UTF-8 with a few lines in another encoding counts as UTF-8."""
    if head.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "gb18030"]
        nul = head.find(b"\x00")
        if nul >= 0:
            wide = _utf16_without_bom(head)
            if wide is not None:
                encodings = [wide]
            elif head.count(b"\x00") > len(head) // 1000:
                raise SourceError(
                    f"{source}: not a text table (binary content at byte {nul}); export it as "
                    "CSV or XLSX"
                )
            # else a stray NUL or two in text: read as text; the value keeps it.
    probes = [head] + ([] if encodings[0].startswith("utf-16") else _probes(path, size))
    at_end = len(head) >= size
    chosen = next((e for e in encodings if _decodes(probes, e, at_end)), None)
    if skip_bad_text and chosen in (None, "gb18030") and _mostly_utf8(probes):
        chosen = "utf-8"  # a few lines saved in another encoding: skipped as bad lines
    if chosen == "gb18030" and _private_use(probes) and _decodes(probes, "big5", at_end):
        # Big5 bytes decode as GB18030 too, but land in the private-use area, which GBK text
        # hardly ever uses.
        chosen = "big5"
    if chosen is None:
        best = charset_normalizer.from_bytes(b"\n".join(probes)).best()
        guess = codecs.lookup(best.encoding).name if best is not None else None
        if guess is None or not _decodes(probes, guess, at_end):
            raise SourceError(
                f"{source}: cannot tell the text encoding (not UTF-8 or GB18030); re-save it as "
                "UTF-8"
            )
        chosen = guess
    text = codecs.getincrementaldecoder(chosen)(errors="replace").decode(head, at_end)
    return chosen, text


def _probes(path: str, size: int) -> list[bytes]:
    """Line-aligned chunks through the file: a head of ASCII does not prove a body of UTF-8."""
    if size <= _SNIFF_BYTES:
        return []
    chunks = []
    with open(path, "rb") as f:
        for k in range(1, _PROBES + 1):
            f.seek(max(_SNIFF_BYTES, (size - _PROBE_BYTES) * k // _PROBES))
            chunk = f.read(_PROBE_BYTES)
            # 0x0A is never part of a UTF-8 or GB18030 multibyte character: a safe boundary.
            start, end = chunk.find(b"\n") + 1, chunk.rfind(b"\n") + 1
            if f.tell() >= size:
                end = len(chunk)
            if 0 < start < end:
                chunks.append(chunk[start:end])
    return chunks


def _mostly_utf8(probes: list[bytes]) -> bool:
    """Whether all but a few (≤ 5 %) of the lines with non-ASCII bytes are UTF-8: GBK text
    hardly ever is, so this is UTF-8 text with stray lines in another encoding."""
    lines = [line for probe in probes for line in probe.split(b"\n")[:-1] if not line.isascii()]
    if len(lines) < 10:
        return False
    invalid = 0
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
    return invalid * 20 <= len(lines)


def _private_use(probes: list[bytes]) -> bool:
    text = "".join(codecs.decode(p, "gb18030", "replace") for p in probes)
    return any("\ue000" <= c <= "\uf8ff" for c in text)


def _decodes(probes: list[bytes], encoding: str, at_end: bool) -> bool:
    for k, probe in enumerate(probes):
        try:
            # The head may end inside a character; the probes end on line boundaries.
            codecs.getincrementaldecoder(encoding)().decode(probe, at_end or k > 0)
        except (UnicodeDecodeError, LookupError):
            return False
    return True


def _parse_lines(
    text: str, delimiter: str, quoting: bool, width: int = 0
) -> tuple[list[Row], list[int]]:
    """Rows of ``text`` and the physical line each row ends on (``width``: whitespace fields)."""
    rows: list[Row] = []
    ends: list[int] = []
    if delimiter == " ":
        # the same line breaks as Python's universal newlines, which the reader uses
        for n, line in enumerate(_LINE_BREAK.split(text), 1):
            rows.append(_ws_split(line.strip(), width) if line.strip() else [])
            ends.append(n)
        return rows, ends
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        strict=False,
    )
    with contextlib.suppress(csv.Error):
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
            if len(rows) >= 5 * _SNIFF_ROWS:
                break
    return rows, ends


def _stray_quote(rows: list[Row], text: str, *, at_end: bool) -> bool:
    """Whether a quote opens a value that swallows the lines after it, not real quoting."""
    if any(c.count("\n") > 10 for r in rows for c in r):
        return True
    last = rows[-1][-1] if rows and rows[-1] else ""
    # a value still open at the end of the whole file was never closed
    return at_end and "\n" in last.rstrip("\r\n") and text.rstrip().endswith(last.rstrip())


def _consistency(rows: list[Row]) -> tuple[float, int]:
    counts = collections.Counter(len(r) for r in rows if r)
    if not counts:
        return 0.0, 0
    width, hits = counts.most_common(1)[0]
    return hits / sum(counts.values()), width


def _sniff_delimiter(text: str) -> str:
    best: tuple[float, int, str] = (0.0, 0, _NO_DELIMITER)
    for delimiter in _DELIMITERS:
        rows = [r for r in _parse_lines(text, delimiter, True)[0][:_SNIFF_ROWS] if r]
        share, width = _consistency(rows)
        # ragged rows lower the share of the usual width, not the share of lines it splits
        splits = sum(len(r) >= 2 for r in rows) >= 0.8 * len(rows)
        if width >= 2 and (share >= 0.6 or splits) and (share, width) > best[:2]:
            best = (share, width, delimiter)
    if best[2] != _NO_DELIMITER:
        return best[2]
    # One quoted value per line ("+86 138-1234-5678"): its spaces are inside the value.
    lines = [line.strip() for line in text.splitlines()[:_SNIFF_ROWS] if line.strip()]
    quoted = sum(len(line) > 1 and line[0] == line[-1] == '"' for line in lines)
    if quoted >= 0.8 * len(lines):
        return _NO_DELIMITER
    # Whitespace lists: the last column (an address) may hold spaces itself, so look for the
    # widest k such that nearly every line has at least k fields.
    counts = [len(r) for r in _parse_lines(text, " ", False)[0][:_SNIFF_ROWS] if r]
    return " " if _whitespace_width(counts) >= 2 else _NO_DELIMITER


def _ws_split(line: str, width: int) -> list[str]:
    """At most ``width`` fields (any number for 0); the last keeps its inner spaces."""
    return [line] if width == 1 else _WS_RUN.split(line, maxsplit=max(width - 1, 0))


def _whitespace_width(counts: list[int]) -> int:
    for k in range(max(counts, default=0), 1, -1):
        if sum(c >= k for c in counts) >= 0.75 * len(counts):
            return k
    return 1


def _open_text(opts: _Options, head: bytes, size: int) -> Table:
    source = opts.source
    if opts.encoding is not None:
        encoding = opts.encoding
        errors = "replace" if opts.skip_bad_text and encoding.startswith("utf-8") else "strict"
        try:
            text = codecs.getincrementaldecoder(encoding)(errors).decode(head, len(head) >= size)
        except UnicodeDecodeError as error:
            raise SourceError(
                f"{source}: the text is not {encoding}; check the encoding"
            ) from error
    else:
        encoding, text = _sniff_encoding(source, opts.path, head, size, opts.skip_bad_text)
    if len(_CONTROL.findall(text[:8192])) > max(8, len(text[:8192]) // 100):
        raise SourceError(f"{source}: not a text table (binary content); export it as CSV or XLSX")
    if len(head) < size:  # drop the partial last line of the sample
        text = text[: text.rfind("\n") + 1] or text
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise SourceError(f"{source}: no data (only blank lines); export the data again")

    if opts.delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t", "space": " ", "": _NO_DELIMITER}.get(
            opts.delimiter, opts.delimiter
        )
        if delimiter != " " and len(delimiter) != 1:
            raise SourceError(
                f"{source}: the delimiter must be one character, got {opts.delimiter!r}"
            )
    else:
        delimiter = _sniff_delimiter(text)
    quoting = delimiter != " " and bool(
        re.search(rf'(?:^|{re.escape(delimiter)})[ ]*"', text, re.M)
    )
    width = 0
    if delimiter == " ":
        counts = [len(r) for r in _parse_lines(text, " ", False)[0][:_SNIFF_ROWS] if r]
        width = _whitespace_width(counts)
    rows, ends = _parse_lines(text, delimiter, quoting, width)
    if quoting and _stray_quote(rows, text, at_end=len(head) >= size):
        quoting = False
        rows, ends = _parse_lines(text, delimiter, quoting, width)
    cells: list[Row] = [[c if c.strip() else None for c in r] for r in rows[:_SNIFF_ROWS]]
    layout = _layout(cells, opts.header, ragged=True)
    if delimiter == " " and layout.has_header:
        # a header names the columns; further spaces belong to the last one (an address)
        named = len(rows[layout.skipped])
        layout.names = layout.names[: max(named, 1)]
    skipped_lines = ends[layout.skipped - 1] if layout.skipped else 0
    multiline = quoting and any("\n" in c or "\r" in c for r in rows for c in r)
    body = rows[layout.skipped + (1 if layout.has_header else 0) :]
    unwrap = [
        layout.names[j]
        for j in range(len(layout.names))
        if any(j < len(r) and r[j].startswith('="') for r in body[:_SNIFF_ROWS])
    ]
    schema = pa.schema([(n, _STRING) for n in layout.names])
    table = Table(
        source=source,
        kind="csv",
        schema=schema,
        encoding=encoding,
        delimiter=None if delimiter == _NO_DELIMITER else delimiter,
        has_header=layout.has_header,
        skipped_rows=skipped_lines,
    )
    if delimiter == " ":
        reader = _whitespace_reader(table, opts.path, encoding, skipped_lines)
    else:
        reader = _csv_reader(table, opts, encoding, delimiter, quoting, multiline, unwrap)
    table._reader = reader
    if not opts.all_text:
        # Types come from pyarrow's inference over the first block.
        with contextlib.closing(reader(DEFAULT_BATCH_ROWS, None)) as first:
            batch = next(first, None)
        table.schema = schema if batch is None else batch.schema
    return table


def _csv_reader(
    table: Table,
    opts: _Options,
    encoding: str,
    delimiter: str,
    quoting: bool,
    multiline: bool,
    unwrap: list[str],
) -> Reader:
    def on_bad_row(row: Any) -> str:
        table.bad_rows += 1
        if row.number is not None:
            table.bad_lines.append((row.number, "wrong number of fields"))
        return "skip"

    names = table.schema.names
    utf8 = encoding in ("utf-8", "utf-8-sig")
    skip_bad_text = utf8 and opts.skip_bad_text

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        read_options = pacsv.ReadOptions(
            # pyarrow skips a UTF-8 byte-order mark itself; its UTF-8 path is not transcoded.
            encoding="utf8" if utf8 else encoding,
            skip_rows=table.skipped_rows,
            column_names=names,
            skip_rows_after_names=1 if table.has_header else 0,
            block_size=_CSV_BLOCK,
            use_threads=False,  # the reader streams anyway; threads would hide line numbers
        )
        parse_options = pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"' if quoting else False,
            newlines_in_values=multiline,
            invalid_row_handler=on_bad_row,
        )
        convert_options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, _STRING) if opts.all_text else None,
            strings_can_be_null=True,
            null_values=[""] if opts.all_text else None,
            include_columns=columns,
            # With skip_bad_text, UTF-8 is checked row by row below, so that a line in
            # another encoding is skipped like a ragged one rather than failing the file.
            check_utf8=not skip_bad_text,
        )
        reader = pacsv.open_csv(
            opts.path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        first_line = table.skipped_rows + (1 if table.has_header else 0) + 1
        position = 0  # rows the parser produced so far
        try:
            for batch in reader:
                rows = batch.num_rows
                if skip_bad_text:
                    batch = _drop_invalid_text(table, batch, first_line, position)
                position += rows
                for name in unwrap:
                    j = batch.schema.get_field_index(name)
                    if j >= 0 and batch.schema.field(j).type == _STRING:
                        fixed = pc.replace_substring_regex(batch.column(j), r'^="(.*)"$', r"\1")
                        batch = batch.set_column(j, name, fixed)
                yield batch
        finally:
            reader.close()

    return read


def _drop_invalid_text(
    table: Table, batch: pa.RecordBatch, first_line: int, position: int
) -> pa.RecordBatch:
    """``batch`` without the rows whose text is not valid UTF-8, recorded as bad lines."""
    try:
        batch.validate(full=True)
        return batch
    except pa.ArrowInvalid:
        pass
    bad = np.zeros(batch.num_rows, dtype=bool)
    for column in batch.columns:
        if pa.types.is_string(column.type):
            for i, value in enumerate(column.cast(pa.binary()).to_pylist()):
                if value is not None and not bad[i]:
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        bad[i] = True
    # A row's line: its position among the parsed rows, plus the lines above the data and
    # the ragged lines the parser skipped before it.
    ragged = sorted(line for line, why in table.bad_lines if why == "wrong number of fields")
    skipped_at = np.asarray(ragged, np.int64) - first_line - np.arange(len(ragged))
    rows = np.flatnonzero(bad) + position
    lines = first_line + rows + np.searchsorted(skipped_at, rows, side="right")
    table.bad_rows += int(bad.sum())
    table.bad_lines.extend((int(line), "not valid UTF-8 text") for line in lines)
    return batch.filter(pa.array(~bad))


def _whitespace_reader(table: Table, path: str, encoding: str, skip: int) -> Reader:
    """Fields separated by runs of whitespace; pyarrow's CSV reader cannot split on runs."""

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        width = len(table.schema)

        def rows() -> Iterator[Row]:
            with open(path, encoding=encoding, newline=None) as f:
                for n, line in enumerate(f):
                    if n < skip + table.has_header or not (line := line.strip()):
                        continue
                    row = _ws_split(line, width)
                    if len(row) == width:
                        yield row
                    else:
                        table.bad_rows += 1

        for batch in _row_batches(rows(), table.schema, batch_rows, table.source):
            yield _select(batch, columns)

    return read


# --------------------------------------------------------------------------------------------
# Spreadsheets and markup tables: sources that yield rows of Python values


def _sheet_table(
    opts: _Options,
    kind: str,
    rows: Callable[[], Iterator[Row]],
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    num_rows: Callable[[int, bool], int | None] | None = None,
    closer: Callable[[], None] | None = None,
) -> Table:
    """A Table over ``rows()`` (re-iterable), with layout sniffed from its first rows."""
    sample: list[Row] = []
    with contextlib.closing(rows()) as it:
        for row in it:
            sample.append(row)
            if len(sample) >= _SNIFF_ROWS:
                break
    text_sample = [[_cell_text(c) for c in r] for r in sample]
    layout = _layout(text_sample, opts.header, ragged=False)
    if not layout.names:
        if closer is not None:
            closer()
        where = f" (sheet {sheet!r})" if sheet else ""
        raise SourceError(f"{opts.source}: no data{where}; check the sheet or export it again")
    width = len(layout.names)
    start = layout.skipped + (1 if layout.has_header else 0)
    body = [r[:width] for r in sample[start:] if _filled(r)]
    schema = _infer_schema(layout.names, body, opts.all_text)
    table = Table(
        source=opts.source,
        kind=kind,
        schema=schema,
        encoding=encoding,
        has_header=layout.has_header,
        skipped_rows=layout.skipped,
        sheet=sheet,
        num_rows=num_rows(start, layout.has_header) if num_rows else None,
        _closer=closer,
    )

    def data_rows() -> Iterator[Row]:
        with contextlib.closing(rows()) as it:
            for n, row in enumerate(it):
                if n < start or not _filled(row):
                    continue
                if len(row) > width:
                    if _filled(row[width:]):
                        table.bad_rows += 1
                    row = row[:width]
                    if not _filled(row):
                        continue
                yield list(row)

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        for batch in _row_batches(data_rows(), schema, batch_rows, opts.source):
            yield _select(batch, columns)

    table._reader = read
    return table


def _pick_sheet(
    source: str, names: list[str], sheet: str | None, filled: Callable[[int], bool] | None = None
) -> int:
    """The sheet named ``sheet``; without a name, the first that is ``filled`` where that can
    be told (a workbook whose first sheet is a blank or a chart and whose list is on the
    second), else the first."""
    if sheet is None:
        if not names:
            raise SourceError(f"{source}: the workbook has no sheets; export it again")
        return next((i for i in range(len(names)) if filled(i)), 0) if filled else 0
    if sheet in names:
        return names.index(sheet)
    raise SourceError(f"{source}: no sheet named {sheet!r}; the sheets are {', '.join(names)}")


def _open_xlsx(opts: _Options) -> Table:
    import openpyxl

    # A file object, not the path: openpyxl refuses a path whose suffix is not .xlsx, and a
    # workbook saved as "list.csv" is still a workbook (the content decided it is one).
    handle = open(opts.path, "rb")  # noqa: SIM115 - closed with the workbook
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as error:
        handle.close()
        raise SourceError(
            f"{opts.source}: truncated or corrupt XLSX file; open it in Excel and save it again"
        ) from error
    except BaseException:
        handle.close()
        raise

    def close() -> None:
        workbook.close()
        handle.close()

    try:
        index = _pick_sheet(
            opts.source, workbook.sheetnames, opts.sheet, partial(_xlsx_filled, workbook)
        )
        worksheet = workbook.worksheets[index]
        if _chart_sheet(worksheet):
            raise SourceError(
                f"{opts.source}: sheet {workbook.sheetnames[index]!r} holds no cells; name "
                "another sheet"
            )
    except BaseException:
        close()
        raise

    def rows() -> Iterator[Row]:
        for values in worksheet.iter_rows(values_only=True):
            yield list(values)

    return _sheet_table(opts, "xlsx", rows, sheet=workbook.sheetnames[index], closer=close)


def _chart_sheet(sheet: Any) -> bool:
    """Whether an openpyxl sheet is a chart (no cells to read)."""
    return not hasattr(sheet, "iter_rows")


def _xlsx_filled(workbook: Any, index: int) -> bool:
    sheet = workbook.worksheets[index]
    if _chart_sheet(sheet):
        return False
    rows = sheet.iter_rows(max_row=_SNIFF_ROWS, values_only=True)
    return any(_filled(list(row)) for row in rows)


def _xls_filled(book: Any, index: int) -> bool:
    sheet = book.sheet_by_index(index)
    return any(_filled(sheet.row_values(i)) for i in range(min(sheet.nrows, _SNIFF_ROWS)))


def _open_xls(opts: _Options) -> Table:
    import xlrd

    try:
        book = xlrd.open_workbook(opts.path, on_demand=True)
    except xlrd.XLRDError as error:
        reason = _first_line(error)
        if "encrypt" in reason.lower() or "Can't find workbook" in reason:
            raise SourceError(
                f"{opts.source}: password-protected or not an Excel workbook; remove the password "
                "and save it as XLSX or CSV"
            ) from error
        raise SourceError(f"{opts.source}: corrupt XLS file ({reason}); save it again") from error
    except Exception as error:  # xlrd's parser raises a zoo of types on damaged files
        raise SourceError(
            f"{opts.source}: truncated or corrupt XLS file; open it in Excel and save it again"
        ) from error
    try:
        index = _pick_sheet(
            opts.source,
            book.sheet_names(),
            opts.sheet,
            partial(_xls_filled, book),
        )
        sheet = book.sheet_by_index(index)
    except BaseException:
        book.release_resources()
        raise

    def cell(kind: int, value: Any) -> Any:
        if kind == xlrd.XL_CELL_DATE:
            with contextlib.suppress(xlrd.xldate.XLDateError, ValueError, OverflowError):
                return xlrd.xldate_as_datetime(value, book.datemode)
        if kind == xlrd.XL_CELL_BOOLEAN:
            return bool(value)
        if kind == xlrd.XL_CELL_ERROR:
            return xlrd.error_text_from_code.get(value, "#ERR")
        if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
            return None
        return value

    def rows() -> Iterator[Row]:
        for i in range(sheet.nrows):
            yield [cell(k, v) for k, v in zip(sheet.row_types(i), sheet.row_values(i), strict=True)]

    def count(start: int, _header: bool) -> int:
        return sum(1 for i in range(start, sheet.nrows) if _filled(sheet.row_values(i)))

    return _sheet_table(
        opts, "xls", rows, sheet=book.sheet_names()[index], num_rows=count,
        closer=book.release_resources,
    )  # fmt: skip


def _text_stream(path: str, encoding: str) -> Iterator[str]:
    with open(path, encoding=encoding, newline="") as f:
        while chunk := f.read(_CHUNK_CHARS):
            yield chunk


class _HtmlRows(HTMLParser):
    """Rows of ``<tr>`` cells (``<td>``/``<th>``), ``colspan`` kept as empty cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.done: list[Row] = []
        self.row: Row | None = None
        self.cell: list[str] | None = None
        self.span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._end_row()
            self.row = []
        elif tag in ("td", "th"):
            self._end_cell()
            if self.row is None:
                self.row = []
            self.cell = []
            span = dict(attrs).get("colspan") or "1"
            self.span = int(span) if span.isdigit() else 1
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "table"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def _end_cell(self) -> None:
        if self.cell is not None and self.row is not None:
            text = " ".join("".join(self.cell).split())
            self.row.extend([text or None] + [None] * (min(self.span, 256) - 1))
        self.cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self.row is not None:
            self.done.append(self.row)
        self.row = None

    def close(self) -> None:
        super().close()
        self._end_row()


def _open_markup(opts: _Options, kind: str, head: bytes, size: int) -> Table:
    if kind == "xml":
        return _open_spreadsheet_xml(opts)
    encoding = opts.encoding or _sniff_encoding(opts.source, opts.path, head, size)[0]

    def rows() -> Iterator[Row]:
        parser = _HtmlRows()
        for chunk in _text_stream(opts.path, encoding):
            parser.feed(chunk)
            yield from parser.done
            parser.done = []
        parser.close()
        yield from parser.done

    return _sheet_table(opts, "html", rows, encoding=encoding)


def _open_spreadsheet_xml(opts: _Options) -> Table:
    """Excel 2003 XML (SpreadsheetML), another thing Chinese systems save as ``.xls``."""
    ns = "{urn:schemas-microsoft-com:office:spreadsheet}"
    names: list[str] = []
    for _, element in ElementTree.iterparse(opts.path, events=("start",)):
        if element.tag == f"{ns}Worksheet":
            names.append(element.get(f"{ns}Name") or f"Sheet{len(names) + 1}")
    index = _pick_sheet(opts.source, names, opts.sheet)

    def rows() -> Iterator[Row]:
        sheet = -1
        for event, element in ElementTree.iterparse(opts.path, events=("start", "end")):
            if event == "start":
                sheet += element.tag == f"{ns}Worksheet"
                continue
            if element.tag == f"{ns}Row" and sheet == index:
                row: Row = []
                for cell in element.iter(f"{ns}Cell"):
                    position = cell.get(f"{ns}Index")
                    if position and position.isdigit():
                        row.extend([None] * (int(position) - 1 - len(row)))
                    data = cell.find(f"{ns}Data")
                    row.append("".join(data.itertext()) if data is not None else None)
                yield row
                element.clear()
            elif element.tag == f"{ns}Worksheet":
                element.clear()
                if sheet > index:
                    return

    return _sheet_table(opts, "xml", rows, sheet=names[index])


# --------------------------------------------------------------------------------------------
# JSON and JSON Lines (Python's json keeps integers exact; pyarrow.json cannot read a number
# into a string column)


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class _JsonReader:
    """Records of a JSON document without loading it whole: the top-level array, or the first
    array found in a wrapper object such as ``{"data": [...]}`` or ``{"data": {"list": [...]}}``.
    """

    def __init__(self, stream: Iterator[str]) -> None:
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.decoder = json.JSONDecoder()

    def _peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _more(self) -> bool:
        chunk = next(self.stream, "")
        if not chunk:
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                # Read on only while the value could still be incomplete; a broken file must
                # not end up whole in memory.
                if len(self.buf) - self.pos < _MAX_JSON_VALUE and self._more():
                    continue
                raise
            # a number at the very end of the buffer may continue in the next chunk
            if end == len(self.buf) and self._more():
                continue
            self.pos = end
            return value

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise json.JSONDecodeError(f"expected {char!r}", self.buf, self.pos)
        self.pos += 1

    def records(self) -> Iterator[Any]:
        first = self._peek()
        if first == "[":
            yield from self._array()
        elif first == "{":
            yield from self._find_array(depth=0)
        else:
            raise json.JSONDecodeError("expected [ or {", self.buf, self.pos)

    def _array(self) -> Iterator[Any]:
        self._expect("[")
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            yield self._value()
            char = self._peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                raise json.JSONDecodeError("expected , or ]", self.buf, self.pos - 1)

    def _find_array(self, depth: int) -> Iterator[Any]:
        self._expect("{")
        while self._peek() not in ("}", ""):
            self._value()  # the key
            self._expect(":")
            char = self._peek()
            if char == "[":
                yield from self._array()
                return
            if char == "{" and depth < 2:
                found = False
                for record in self._find_array(depth + 1):
                    found = True
                    yield record
                if found:
                    return
            else:
                self._value()
            if self._peek() == ",":
                self.pos += 1
        raise json.JSONDecodeError("no array of records in the object", self.buf, self.pos)


def _open_json(opts: _Options, kind: str, head: bytes, size: int) -> Table:
    source = opts.source
    encoding = opts.encoding or _sniff_encoding(source, opts.path, head, size)[0]
    if kind == "json":
        text = head.decode(encoding, "replace").lstrip("\ufeff \t\r\n")
        first_line = text.split("\n", 1)[0].strip()
        if first_line.startswith("{") and "\n" in text.strip():
            with contextlib.suppress(ValueError):
                if isinstance(json.loads(first_line), dict):
                    kind = "jsonl"  # one object per line in a .json file

    def values() -> Iterator[Any]:
        stream = _text_stream(opts.path, encoding)
        if kind == "json":
            try:
                yield from _JsonReader(stream).records()
            except json.JSONDecodeError as error:
                raise SourceError(
                    f"{source}: not valid JSON near character {error.pos} ({error.msg}); expected "
                    "an array of objects"
                ) from error
            return
        pending = ""
        for chunk in stream:
            lines = (pending + chunk).split("\n")
            pending = lines.pop()
            yield from map(_json_line, lines)
        yield _json_line(pending)

    # keys of the first records; later unseen keys count as bad rows
    keys: dict[str, None] = {}
    positional = False
    sample: list[Any] = []
    with contextlib.closing(values()) as it:
        for value in it:
            if value is _BLANK:
                continue
            sample.append(value)
            if isinstance(value, dict):
                keys.update(dict.fromkeys(_flatten(value)))
            positional = positional or isinstance(value, list)
            if len(sample) >= 1000:
                break
    if positional and not keys:
        return _json_arrays(opts, kind, values, encoding)
    names = _column_names(list(keys), len(keys))
    if not sample:
        raise SourceError(f"{source}: no records in the JSON; expected an array of objects")
    if not names:
        raise SourceError(f"{source}: the JSON records are not objects; expected objects")
    index = {k: j for j, k in enumerate(keys)}
    body = [[_flatten(v).get(k) for k in keys] for v in sample if isinstance(v, dict)]
    schema = _infer_schema(names, body, opts.all_text)
    table = Table(
        source=source, kind=kind, schema=schema, encoding=encoding, has_header=True,
        num_rows=len(body) if len(sample) < 1000 and len(head) >= size else None,
    )  # fmt: skip

    def rows() -> Iterator[Row]:
        # JSON Lines yield one value per line (blank ones too): ``number`` is the line.
        for number, value in enumerate(values(), 1):
            if value is _BLANK:
                continue
            if not isinstance(value, dict):
                table.bad_rows += 1
                table.bad_lines.append((number, "not a JSON object"))
                continue
            row: Row = [None] * len(keys)
            extra = False
            for k, v in _flatten(value).items():
                j = index.get(k)
                if j is None:
                    extra = True
                else:
                    row[j] = v
            table.bad_rows += extra
            yield row

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        for batch in _row_batches(rows(), schema, batch_rows, source):
            yield _select(batch, columns)

    table._reader = read
    return table


_BLANK = object()
_BAD = object()


def _json_line(line: str) -> Any:
    line = line.strip().lstrip("\ufeff")
    if not line:
        return _BLANK
    try:
        return json.loads(line)
    except ValueError:
        return _BAD


def _json_arrays(
    opts: _Options, kind: str, values: Callable[[], Iterator[Any]], encoding: str
) -> Table:
    """JSON whose records are arrays (``[["姓名", "手机"], ["张三", "138…"]]``): like a sheet."""

    def rows() -> Iterator[Row]:
        for value in values():
            if isinstance(value, list):
                yield value
            elif value is not _BLANK and value is not _BAD:
                yield [value]

    return _sheet_table(opts, kind, rows, encoding=encoding)


# --------------------------------------------------------------------------------------------
# Parquet


def _open_parquet(opts: _Options) -> Table:
    import pyarrow.parquet as pq  # here: ~10 ms of every command that reads no Parquet

    try:
        parquet = pq.ParquetFile(opts.path)
    except (pa.ArrowException, OSError) as error:
        raise SourceError(
            f"{opts.source}: truncated or corrupt Parquet file; write it again"
        ) from error
    native = parquet.schema_arrow
    schema = pa.schema([(f.name, _STRING) for f in native]) if opts.all_text else native
    names = _column_names(native.names, len(native))
    schema = pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)])

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        wanted = None if columns is None else [native.names[names.index(c)] for c in columns]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            if opts.all_text:
                arrays = [_arrow_text(a) for a in batch.columns]
            else:
                arrays = list(batch.columns)
            yield pa.RecordBatch.from_arrays(arrays, names=columns or names)

    return Table(
        source=opts.source,
        kind="parquet",
        schema=schema,
        num_rows=parquet.metadata.num_rows,
        _reader=read,
        _closer=parquet.close,
    )


def _arrow_text(array: pa.Array) -> pa.Array:
    """An Arrow column as text, with the same conventions as spreadsheet cells."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _arrow_text(array.dictionary_decode())
    if kind == _STRING:
        return array
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return array.cast(_STRING)
    if pa.types.is_floating(kind):
        # Arrow writes 13812345678.0 as "1.3812345678e+10": integral values go through int64.
        whole = pc.and_(pc.equal(pc.floor(array), array), pc.less(pc.abs(array), 2.0**63))
        as_int = pc.cast(pc.if_else(whole, array, 0.0), pa.int64(), safe=False).cast(_STRING)
        return pc.if_else(whole, as_int, array.cast(_STRING))
    if pa.types.is_timestamp(kind):
        local = array.cast(pa.timestamp(kind.unit))  # wall-clock time, without the zone
        midnight = pc.equal(pc.cast(pc.cast(local, pa.date32()), local.type), local)
        seconds = local.cast(pa.timestamp("s"), safe=False)
        whole = pc.equal(seconds.cast(local.type), local)
        full = pc.if_else(
            whole,
            pc.strftime(seconds, "%Y-%m-%d %H:%M:%S"),
            pc.strftime(local, "%Y-%m-%d %H:%M:%S"),  # with the fraction
        )
        return pc.if_else(midnight, pc.strftime(local, "%Y-%m-%d"), full)
    try:
        return array.cast(_STRING)
    except (pa.ArrowException, TypeError):
        return pa.array([_cell_text(v) for v in array.to_pylist()], _STRING)


# --------------------------------------------------------------------------------------------
# SQL


@dataclass
class _SqlSource:
    kind: str  # "postgresql" or "mysql"
    display: str
    host: str
    port: int | None
    user: str | None
    password: str | None
    database: str
    params: list[tuple[str, str]]
    table: str | None
    query: str | None


def _parse_sql_url(url: str, query: str | None) -> _SqlSource:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SourceError(f"{_hide_password(url)}: malformed URL ({_first_line(error)})") from error
    scheme = parts.scheme.lower().split("+", 1)[0]
    if scheme not in SQL_SCHEMES:
        raise SourceError(
            f"{_hide_password(url)}: unsupported URL scheme {parts.scheme!r}; use postgresql:// "
            "or mysql://"
        )
    kind = "postgresql" if scheme.startswith("postgres") else "mysql"
    params = parse_qsl(parts.query, keep_blank_values=True)
    table = next((v for k, v in params if k == "table"), None)
    query = query if query is not None else next((v for k, v in params if k == "query"), None)
    params = [(k, v) for k, v in params if k not in ("table", "query")]
    path = [unquote(p) for p in parts.path.split("/") if p]
    if len(path) > 2:
        raise SourceError(f"{_hide_password(url)}: the path must be /database or /database/table")
    if len(path) == 2:
        if table is not None:
            raise SourceError(f"{_hide_password(url)}: the table is named twice (path and table=)")
        table = path[1]
    display = _hide_password(url)
    if not path:
        raise SourceError(f"{display}: no database in the URL; add /database after the host")
    if (table is None) == (query is None or not query.strip()):
        raise SourceError(
            f"{display}: name either a table (?table=customers) or a query (?query=SELECT …)"
        )
    return _SqlSource(
        kind=kind,
        display=display,
        host=parts.hostname or "localhost",
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        database=path[0],
        params=params,
        table=table,
        query=query.strip().rstrip(";").strip() if query else None,
    )


def _hide_password(url: str) -> str:
    """The URL without a password, in the netloc or as a ``password=`` parameter."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
        query = parts.query
        params = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in params):
            query = urlencode([(k, v) for k, v in params if k.lower() != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://…"


def _open_sql(url: str, *, query: str | None, all_text: bool) -> Table:
    spec = _parse_sql_url(url, query)
    opener = _pg_rows if spec.kind == "postgresql" else _mysql_rows
    with contextlib.closing(opener(spec, all_text, _SNIFF_ROWS)) as probe:
        names = next(probe)
        # text needs no sample; typed columns are inferred from the first rows
        sample = [] if all_text else [row for _, row in zip(range(1000), probe, strict=False)]
    schema = _infer_schema(_column_names(names, len(names)), [list(r) for r in sample], all_text)

    def read(batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        it = opener(spec, all_text, batch_rows)
        try:
            next(it)
            rows = (list(r) for r in it)
            for batch in _row_batches(rows, schema, batch_rows, spec.display):
                yield _select(batch, columns)
        finally:
            it.close()

    return Table(source=spec.display, kind=spec.kind, schema=schema, _reader=read)


def _sql_error(spec: _SqlSource, error: BaseException, connected: bool) -> SourceError:
    reason = _first_line(error).removeprefix("connection failed: ")
    if isinstance(error, ImportError):
        return SourceError(
            f"{spec.display}: the {spec.kind} driver is not installed; pip install 'leaktrace[sql]'"
        )
    if not connected:
        return SourceError(
            f"{spec.display}: cannot connect ({reason}); check the host, port, user, password "
            "and database"
        )
    what = f"table {spec.table!r}" if spec.table else "the query"
    return SourceError(f"{spec.display}: cannot read {what} ({reason}); check the name or the SQL")


def _pg_rows(spec: _SqlSource, all_text: bool, batch_rows: int) -> Iterator[Any]:
    """Yield the column names, then rows, from a PostgreSQL server-side cursor."""
    try:
        import psycopg
        import psycopg.postgres
        from psycopg import sql
        from psycopg.types.string import TextLoader
    except ImportError as error:
        raise _sql_error(spec, error, False) from error
    netloc = (f"{spec.user}@" if spec.user else "") + (
        f"[{spec.host}]" if ":" in spec.host else spec.host
    )
    netloc += f":{spec.port}" if spec.port else ""
    conninfo = urlunsplit(("postgresql", netloc, f"/{spec.database}", urlencode(spec.params), ""))
    options: dict[str, Any] = {"password": spec.password} if spec.password is not None else {}
    if not any(k == "connect_timeout" for k, _ in spec.params):
        options["connect_timeout"] = 10
    try:
        conn = psycopg.connect(conninfo, **options)
    except psycopg.Error as error:
        raise _sql_error(spec, error, False) from error
    try:
        conn.read_only = True  # a source is read, never changed, whatever the query says
        if all_text:
            # Load every type as the server's text form: numbers exact, dates ISO.
            for info in psycopg.postgres.types:
                conn.adapters.register_loader(info.oid, TextLoader)
                if info.array_oid:
                    conn.adapters.register_loader(info.array_oid, TextLoader)
            conn.adapters.register_loader("bool", _pg_bool_loader())
        if spec.table is not None:
            statement: Any = sql.SQL("SELECT * FROM {}").format(
                sql.Identifier(*spec.table.split("."))
            )
        else:
            statement = spec.query
        cursor = conn.cursor(name=f"leaktrace_{uuid.uuid4().hex[:12]}")
        cursor.itersize = batch_rows
        cursor.execute(statement)
        yield [d.name for d in cursor.description or ()]
        while rows := cursor.fetchmany(batch_rows):
            yield from rows
    except psycopg.Error as error:
        raise _sql_error(spec, error, True) from error
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def _pg_bool_loader() -> type:
    from psycopg.adapt import Loader

    class BoolText(Loader):
        """``t``/``f`` as ``true``/``false``, as booleans read from every other source."""

        def load(self, data: Any) -> str:
            return "true" if bytes(data) == b"t" else "false"

    return BoolText


def _mysql_rows(spec: _SqlSource, all_text: bool, batch_rows: int) -> Iterator[Any]:
    """Yield the column names, then rows, from a MySQL/MariaDB unbuffered (SS) cursor."""
    try:
        import pymysql
        import pymysql.converters
        import pymysql.cursors
    except ImportError as error:
        raise _sql_error(spec, error, False) from error
    params = dict(spec.params)
    options: dict[str, Any] = {
        "host": spec.host,
        "port": spec.port or 3306,
        "user": spec.user or "root",
        "password": spec.password if spec.password is not None else os.environ.get("MYSQL_PWD", ""),
        "database": spec.database,
        "charset": params.get("charset", "utf8mb4"),
        "connect_timeout": 10,
        "cursorclass": pymysql.cursors.SSCursor,
    }
    if "unix_socket" in params:
        options["unix_socket"] = params["unix_socket"]
    if all_text:
        # Without decoders PyMySQL returns the server's text for every column (bytes for binary).
        options["conv"] = {
            k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)
        }
    try:
        conn = pymysql.connect(**options)
    except pymysql.MySQLError as error:
        raise _sql_error(spec, error, False) from error
    cursor = None
    finished = False
    try:
        if spec.table is not None:
            statement = "SELECT * FROM " + ".".join(
                "`" + part.replace("`", "``") + "`" for part in spec.table.split(".")
            )
        else:
            statement = spec.query or ""
        cursor = conn.cursor()
        # a source is read, never changed, whatever the query says
        cursor.execute("START TRANSACTION READ ONLY")
        cursor.execute(statement)
        yield [d[0] for d in cursor.description or ()]
        while rows := cursor.fetchmany(batch_rows):
            yield from rows
        finished = True
    except pymysql.MySQLError as error:
        finished = True
        raise _sql_error(spec, error, True) from error
    finally:
        if not finished and cursor is not None:
            # Closing an unbuffered cursor reads every remaining row; when the reader stopped
            # early, drop the connection instead and tell PyMySQL there is nothing to drain.
            result = getattr(cursor, "_result", None)
            if result is not None:
                result.unbuffered_active = False
        with contextlib.suppress(pymysql.MySQLError, OSError):
            conn.close()
