"""A release file's SHA-256, taken as it is written, is the SHA-256 of the bytes on disk, for
every format; CSV keeps the source's encoding (UTF-8 with a byte-order mark by default)."""

from __future__ import annotations

import codecs
import hashlib

import numpy as np
import pyarrow as pa
import pytest

from leaktrace.release import writers


def _table(rows: int, start: int = 0) -> pa.Table:
    numbers = np.arange(start, start + rows)
    return pa.table(
        {
            "customer_id": pa.array([f"C{n:09d}" for n in numbers]),
            "address": pa.array([f"北京市朝阳区建国路{n % 997}号" for n in numbers]),
            "loan_balance": pa.array((numbers * 7.31).round(2)),
        }
    )


@pytest.mark.parametrize(
    ("suffix", "encoding", "rows"),
    [
        (".csv", None, 150_000),  # formatted and hashed a few thousand rows at a time
        (".csv", "gb18030", 150_000),  # transcoded from those pieces
        (".tsv", "utf-8", 5),
        (".jsonl", None, 3_000),  # a piece per record: hashed inline
        (".json", None, 3_000),
        (".parquet", None, 3_000),
        (".xlsx", None, 300),
    ],
)
def test_the_hash_is_the_written_bytes(tmp_path, suffix, encoding, rows) -> None:
    path = tmp_path / f"out{suffix}"
    sink = writers.for_path(path).open(path, encoding=encoding)
    with writers.Background(sink) as out:
        out.write(_table(rows))
        out.write(lambda: _table(rows // 2, rows))  # a batch made in the writing thread
    assert out.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert out.sha256 == writers.sha256(path)
    if suffix == ".csv":
        written = path.read_bytes()
        assert written.startswith(codecs.BOM_UTF8) == (encoding is None)
        text = written.decode(encoding or "utf-8-sig")
        assert text.count("\n") == rows + rows // 2 + 1
        assert "北京市朝阳区建国路996号" in text


def _pieces(seed: int) -> list[bytes]:
    """Pieces of awkward sizes: some smaller than a block, some larger than the buffer."""
    rng = np.random.default_rng(seed)
    sizes = [1, 4095, 4097, writers._DirectFile.SIZE + 3, 17, writers._DirectFile.SIZE, 2]
    return [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in sizes]


def test_a_direct_file_holds_every_byte_in_order(tmp_path) -> None:
    path = tmp_path / "direct.bin"
    direct = writers._DirectFile.open(path)
    if direct is None:
        pytest.skip("this file system refuses O_DIRECT")
    pieces = _pieces(1)
    for piece in pieces:
        assert direct.write(piece) == len(piece)
        direct.flush()  # a batch's settle: whole blocks out, the partial one kept
    direct.close()
    assert path.read_bytes() == b"".join(pieces)


def test_a_disk_that_refuses_the_alignment_gets_the_page_cache(tmp_path) -> None:
    path = tmp_path / "direct.bin"
    direct = writers._DirectFile.open(path)
    if direct is None:
        pytest.skip("this file system refuses O_DIRECT")
    direct.BLOCK = 1000  # no disk's block: the kernel refuses the write (EINVAL)
    pieces = _pieces(2)
    for piece in pieces:
        direct.write(piece)
        direct.flush()
    direct.close()
    assert path.read_bytes() == b"".join(pieces)
