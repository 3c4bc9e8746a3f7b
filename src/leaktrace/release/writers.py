"""Write a release in the format its file name asks for, and hash what was written.

CSV keeps the source's encoding (GB18030 stays GB18030; a non-CSV source gives UTF-8 with a
byte-order mark, which Excel needs to read Chinese); XLSX, JSON (records), JSON Lines and
Parquet as usual. Every writer returns the SHA-256 of the bytes it wrote.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leaktrace.exceptions import ConfigError

_CHUNK = 65_536


@dataclass(frozen=True)
class Writer:
    """One output format."""

    name: str
    write_file: Callable[[pa.Table, Path, str | None], None]

    def write(self, table: pa.Table, path: Path, *, encoding: str | None = None) -> str:
        """Write ``table`` to ``path`` (flushed to disk); the file's SHA-256 (hex)."""
        self.write_file(table, path, encoding)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        return sha256(path)


def sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csv(delimiter: str) -> Callable[[pa.Table, Path, str | None], None]:
    def write(table: pa.Table, path: Path, encoding: str | None) -> None:
        options = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
        target = encoding or "utf-8-sig"
        if codecs.lookup(target).name in ("utf-8",) and target != "utf-8-sig":
            pacsv.write_csv(table, str(path), write_options=options)
            return
        # pyarrow writes UTF-8 only: transcode block by block.
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, write_options=options)
        text = buffer.getvalue().decode("utf-8")
        with path.open("w", encoding=target, newline="", errors="strict") as handle:
            for start in range(0, len(text), _CHUNK):
                handle.write(text[start : start + _CHUNK])

    return write


def _parquet(table: pa.Table, path: Path, _encoding: str | None) -> None:
    pq.write_table(table, path)


def _jsonl(table: pa.Table, path: Path, _encoding: str | None) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in table.to_pylist():
            handle.write(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")


def _json(table: pa.Table, path: Path, _encoding: str | None) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(table.to_pylist(), handle, ensure_ascii=False, default=_plain, indent=1)


def _xlsx(table: pa.Table, path: Path, _encoding: str | None) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("release")
    sheet.append(table.column_names)
    for batch in table.to_batches(_CHUNK):
        columns = [column.to_pylist() for column in batch.columns]
        for row in zip(*columns, strict=True):
            sheet.append(list(row))
    book.save(path)


def _plain(value: Any) -> Any:
    return str(value)


WRITERS = {
    ".csv": Writer("csv", _csv(",")),
    ".txt": Writer("csv", _csv(",")),
    ".tsv": Writer("tsv", _csv("\t")),
    ".parquet": Writer("parquet", _parquet),
    ".jsonl": Writer("jsonl", _jsonl),
    ".json": Writer("json", _json),
    ".xlsx": Writer("xlsx", _xlsx),
}


def for_path(path: Path) -> Writer:
    """The writer for ``path``'s suffix, or a one-line error naming the ones there are."""
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ConfigError(
            f"{path.name}: cannot write {path.suffix or 'a file without a suffix'}; name the "
            f"output with one of {', '.join(WRITERS)}."
        )
    return writer
