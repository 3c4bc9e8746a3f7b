"""Write a release in the format its file name asks for, batch by batch, and hash what was
written.

CSV keeps the source's encoding (GB18030 stays GB18030; a non-CSV source gives UTF-8 with a
byte-order mark, which Excel needs to read Chinese); XLSX, JSON (records), JSON Lines and
Parquet as usual. A :class:`Sink` takes tables one after the other (the first fixes the
schema) and, when closed, flushes the file to disk and gives its SHA-256.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
>>> with for_path(path).open(path) as sink:
...     sink.write(pa.table({"a": [1, 2]}))
...     sink.write(pa.table({"a": [3]}))
>>> path.read_text(encoding="utf-8-sig").split()
['"a"', '1', '2', '3']
>>> len(sink.sha256)
64
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import mmap
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from leaktrace.exceptions import ConfigError


class Sink:
    """An output file being written: :meth:`write` tables, then :meth:`close` (or use ``with``;
    an error inside the block closes the file without hashing it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema: pa.Schema | None = None
        self.sha256 = ""
        # Sinks that see every byte they write hash it on the way (no second pass over the file).
        self.digest: Any = None

    def write(self, table: pa.Table) -> None:
        """Append ``table``'s rows (cast to the first table's schema)."""
        if self.schema is None:
            self.schema = table.schema
            self._start(table.schema)
        self._write(table.cast(self.schema))

    def settle(self) -> None:
        """Hand what is written so far to the disk (a file sink; others wait for
        :meth:`close`), so that the flush at the end has only the rest to wait for."""

    def close(self) -> str:
        """Finish the file, flush it to disk; its SHA-256 (hex)."""
        self._finish()
        with self.path.open("rb") as handle:
            os.fsync(handle.fileno())
        self.sha256 = self.digest.hexdigest() if self.digest is not None else sha256(self.path)
        return self.sha256

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:
            self._abandon()

    def _start(self, schema: pa.Schema) -> None:
        raise NotImplementedError

    def _write(self, table: pa.Table) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _abandon(self) -> None:
        with contextlib.suppress(Exception):  # the error that stopped the writing is the one
            self._finish()


class _HashedFile:
    """A new binary file that hashes what is written to it (hashlib releases the GIL on large
    pieces, so the hash of one piece overlaps other threads' work), written around the page
    cache where the file system allows it (:class:`_DirectFile`)."""

    def __init__(self, path: Path, digest: Any) -> None:
        self._file: _DirectFile | BinaryIO = _DirectFile.open(path) or path.open("wb")
        self._digest = digest
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._digest.update(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def settle(self) -> None:
        self._file.flush()
        if not isinstance(self._file, _DirectFile):  # what it flushed is on the disk already
            os.fdatasync(self._file.fileno())

    def close(self) -> None:
        if not self.closed:  # Arrow's stream closes it, then the sink
            self._file.close()
            self.closed = True


class _DirectFile:
    """A new file written with ``O_DIRECT``: whole blocks go from a buffer of this object's
    straight to the disk, and only the last, partial block through the page cache.

    A release must be on the disk before its ledger entry, so its bytes are written to the
    disk anyway; through the page cache they were first copied into ~400 MB of memory the
    system had not touched, which cost a 10⁶-row export ~0.7 CPU s (a third of the writing
    thread's). Where the file system refuses ``O_DIRECT`` (some network file systems, tmpfs
    before Linux 6.6), :meth:`open` gives None and the caller writes through the page cache as
    usual.
    """

    BLOCK = 4096  # alignment of offsets, lengths and the buffer: any disk's logical block
    SIZE = 4 << 20  # bytes buffered between writes

    def __init__(self, descriptor: int) -> None:
        self._fd = descriptor
        self._buffer = mmap.mmap(-1, self.SIZE)  # page-aligned, as O_DIRECT needs
        self._held = 0  # bytes in the buffer not yet written

    @classmethod
    def open(cls, path: Path) -> _DirectFile | None:
        """``path`` created (or emptied) for direct writes; None where they are refused."""
        direct = getattr(os, "O_DIRECT", 0)
        if not direct:
            return None
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | direct, 0o666)
        except OSError as error:
            if error.errno == errno.EINVAL:
                return None
            raise
        return cls(descriptor)

    def write(self, data: bytes | memoryview) -> int:
        piece = memoryview(data).cast("B")
        size = len(piece)
        while piece:
            take = min(self.SIZE - self._held, len(piece))
            self._buffer[self._held : self._held + take] = piece[:take]
            self._held += take
            piece = piece[take:]
            if self._held == self.SIZE:
                self.flush()
        return size

    def flush(self, *, to_the_end: bool = False) -> None:
        """Write the whole blocks held (``to_the_end``: everything held); the rest stays."""
        count = self._held if to_the_end else self._held - self._held % self.BLOCK
        view = memoryview(self._buffer)
        done = 0
        try:
            while done < count:
                done += self._write(view[done:count])
        finally:
            view.release()
        self._buffer.move(0, count, self._held - count)
        self._held -= count

    def _write(self, view: memoryview) -> int:
        try:
            return os.write(self._fd, view)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            # The disk wants a larger alignment than a block of 4 KiB: the page cache, then.
            self._buffered()
            return os.write(self._fd, view)

    def _buffered(self) -> None:
        import fcntl  # POSIX; O_DIRECT, and so this object, exist on Linux only

        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)

    def close(self) -> None:
        """Write what is held, the last partial block through the page cache, and close."""
        try:
            self.flush()
            if self._held:
                self._buffered()
                self.flush(to_the_end=True)
        finally:
            os.close(self._fd)
            self._buffer.close()


class _FileSink(Sink):
    """A sink over one binary file handle, hashed as it is written."""

    handle: _HashedFile | None = None

    def _open(self) -> _HashedFile:
        self.digest = hashlib.sha256()
        return _HashedFile(self.path, self.digest)

    def settle(self) -> None:
        if self.handle is not None:
            self.handle.settle()

    def _finish(self) -> None:
        if self.handle is None:  # nothing was written: still a (header-less) file
            self.handle = self._open()
        self.handle.close()


class _CsvSink(_FileSink):
    """Arrow's CSV writer streaming into the hashed file: it formats a few thousand rows at a
    time, so neither a batch's whole text nor a copy of it is held (formatting each batch into
    memory first cost a 10⁶-row export 0.3 s of page faults)."""

    def __init__(self, path: Path, delimiter: str, encoding: str | None) -> None:
        super().__init__(path)
        self.delimiter = delimiter
        self.target = encoding or "utf-8-sig"
        self.csv: pacsv.CSVWriter | None = None

    def _start(self, schema: pa.Schema) -> None:
        self.handle = self._open()
        stream: Any = self.handle
        if codecs.lookup(self.target).name != "utf-8" or self.target == "utf-8-sig":
            stream = _Transcoded(self.handle, self.target)  # pyarrow writes UTF-8 only
        options = pacsv.WriteOptions(
            delimiter=self.delimiter, quoting_style="needed", batch_size=_CSV_ROWS
        )
        self.stream = pa.PythonFile(stream, mode="w")
        self.csv = pacsv.CSVWriter(self.stream, schema, write_options=options)

    def _write(self, table: pa.Table) -> None:
        assert self.csv is not None
        self.csv.write_table(table)

    def _finish(self) -> None:
        if self.csv is not None:
            self.csv.close()
            self.stream.close()  # and the transcoder, which writes what it still holds
        super()._finish()


class _Transcoded:
    """A writable over ``handle`` that re-encodes the UTF-8 written to it into ``encoding``
    (the encoder writes a byte-order mark once, where the encoding has one)."""

    def __init__(self, handle: _HashedFile, encoding: str) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self.encoder = codecs.getincrementalencoder(encoding)(errors="strict")
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self.handle.write(self.encoder.encode(self.decoder.decode(bytes(data))))
        return len(data)

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.write(self.encoder.encode(self.decoder.decode(b"", final=True), final=True))
        self.closed = True


class _ParquetSink(Sink):
    writer: Any = None  # a pyarrow.parquet.ParquetWriter, imported when a release is Parquet

    def _start(self, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.path, schema)

    def _write(self, table: pa.Table) -> None:
        assert self.writer is not None
        self.writer.write_table(table)

    def _finish(self) -> None:
        if self.writer is None:
            self._start(pa.schema([]))
        self.writer.close()


class _JsonLinesSink(_FileSink):
    def _start(self, schema: pa.Schema) -> None:
        self.handle = self._open()

    def _write(self, table: pa.Table) -> None:
        assert self.handle is not None
        for record in table.to_pylist():
            line = json.dumps(record, ensure_ascii=False, default=_plain) + "\n"
            self.handle.write(line.encode("utf-8"))


class _JsonSink(_FileSink):
    """A JSON array of records, one record a line."""

    first = True

    def _start(self, schema: pa.Schema) -> None:
        self.handle = self._open()
        self.handle.write(b"[")

    def _write(self, table: pa.Table) -> None:
        assert self.handle is not None
        for record in table.to_pylist():
            text = json.dumps(record, ensure_ascii=False, default=_plain)
            self.handle.write((("\n" if self.first else ",\n") + text).encode("utf-8"))
            self.first = False

    def _finish(self) -> None:
        if self.handle is None:
            self._start(pa.schema([]))
        assert self.handle is not None
        self.handle.write(b"\n]\n")
        super()._finish()


class _XlsxSink(Sink):
    def _start(self, schema: pa.Schema) -> None:
        from openpyxl import Workbook

        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("release")
        self.sheet.append(schema.names)

    def _write(self, table: pa.Table) -> None:
        for batch in table.to_batches(_CHUNK):
            columns = [column.to_pylist() for column in batch.columns]
            for row in zip(*columns, strict=True):
                self.sheet.append(list(row))

    def _finish(self) -> None:
        if self.schema is None:
            self._start(pa.schema([]))
        self.book.save(self.path)


_CHUNK = 65_536
_CSV_ROWS = 4_096  # rows formatted at a time (about 1.5 MB of a customer list)
_STOP = object()


class Background:
    """A sink written by a thread of its own: :meth:`write` queues a table (at most ``depth``
    wait) and returns, so that formatting, writing and hashing one batch (pyarrow, hashlib and
    file writes release the GIL) overlap with making the next. Use ``with``, like a sink; an
    error of the writing thread is raised by the next :meth:`write` or at the end."""

    def __init__(self, sink: Sink, depth: int = 1) -> None:
        self.sink = sink
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="release-writer", daemon=True)

    @property
    def sha256(self) -> str:
        """The written file's SHA-256 (hex), once closed."""
        return self.sink.sha256

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is None:
                try:
                    table = item() if callable(item) else item
                    del item  # what the table was made from is not kept while it is written
                    self.sink.write(table)
                    del table
                    # Flushed batch by batch here, off the producing thread: the file's flush
                    # at the end, which nothing overlaps, took 0.37 s of a 1M-row export.
                    self.sink.settle()
                except BaseException as error:  # handed to the producing thread
                    self._error = error

    def write(self, table: pa.Table | Callable[[], pa.Table]) -> None:
        """Queue ``table`` for writing, or a function that makes it in the writing thread (work
        that releases the GIL, taken off the producing thread)."""
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._queue.put(_STOP)
        self._thread.join()
        if kind is None and self._error is None:
            self.sink.close()
            return
        self.sink._abandon()
        if kind is None and self._error is not None:
            raise self._error


def sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    return str(value)


@dataclass(frozen=True)
class Writer:
    """One output format."""

    name: str
    make: Callable[[Path, str | None], Sink]

    def open(self, path: Path, *, encoding: str | None = None) -> Sink:
        """A sink writing to ``path`` (CSV in ``encoding``, else UTF-8 with a BOM)."""
        return self.make(path, encoding)

    def write(self, table: pa.Table, path: Path, *, encoding: str | None = None) -> str:
        """Write ``table`` to ``path`` (flushed to disk); the file's SHA-256 (hex)."""
        with self.open(path, encoding=encoding) as sink:
            sink.write(table)
        return sink.sha256


WRITERS = {
    ".csv": Writer("csv", lambda path, encoding: _CsvSink(path, ",", encoding)),
    ".txt": Writer("csv", lambda path, encoding: _CsvSink(path, ",", encoding)),
    ".tsv": Writer("tsv", lambda path, encoding: _CsvSink(path, "\t", encoding)),
    ".parquet": Writer("parquet", lambda path, _encoding: _ParquetSink(path)),
    ".jsonl": Writer("jsonl", lambda path, _encoding: _JsonLinesSink(path)),
    ".json": Writer("json", lambda path, _encoding: _JsonSink(path)),
    ".xlsx": Writer("xlsx", lambda path, _encoding: _XlsxSink(path)),
}


def new_output(output: str | os.PathLike[str]) -> tuple[Path, Writer]:
    """The absolute path of a release's output file and its writer, checked before anything
    is recorded: a format leaktrace writes, a file that does not exist yet (a release is never
    overwritten), in a folder that does and can be written."""
    out = Path(output).resolve()
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; name the file to write, such as {out / 'r.csv'}.")
    writer = for_path(out)
    if out.exists():
        raise ConfigError(f"{out} exists; leaktrace never overwrites a release. Choose a new name.")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent} is not a folder; create it or choose another output path.")
    if not os.access(out.parent, os.W_OK):
        raise ConfigError(f"{out.parent} cannot be written; choose another output folder.")
    return out, writer


def for_path(path: Path) -> Writer:
    """The writer for ``path``'s suffix, or a one-line error naming the ones there are."""
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ConfigError(
            f"{path.name}: cannot write {path.suffix or 'a file without a suffix'}; name the "
            f"output with one of {', '.join(WRITERS)}."
        )
    return writer
