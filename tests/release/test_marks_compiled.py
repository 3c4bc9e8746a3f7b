"""The compiled address head search gives, value for value, what the NumPy implementation it
replaced gave, so that marks of real rows (and trace's reading of old releases) are unchanged;
the NumPy implementation is kept here as the oracle."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from leaktrace import keys, synth
from leaktrace.release import marks

RING = keys.Keyring(bytes(range(32)))
FIELDS = {"address": "address", "hukou": "address", "loan_balance": "amount",
          "credit_limit": "amount", "products": "list_order"}  # fmt: skip


def numpy_head_index(values: pa.Array) -> np.ndarray:
    """The head each value starts with, as the NumPy code before the compiled loop found it."""
    heads = marks._heads()
    offsets, data, valid = marks._strings(values)
    n = len(values)
    starts, ends = offsets[:-1], offsets[1:]
    width = heads.max_chars
    position = starts[None, :] + np.arange(3 * width, dtype=np.int64)[:, None]
    inside = (position < ends[None, :]) & valid[None, :]
    if data.size:
        matrix = data[np.minimum(position, data.size - 1)]
        matrix[~inside] = 0
    else:
        matrix = np.zeros(position.shape, np.uint8)
    b0 = matrix[0::3].astype(np.uint32)
    cjk = inside[2::3] & (b0 >= 0xE0) & (b0 < 0xF0)
    run = np.logical_and.accumulate(cjk, axis=0)
    codes = (b0 << 16) | (matrix[1::3].astype(np.uint32) << 8) | matrix[2::3]
    ending = run & np.isin(codes, heads.last_chars)
    head = np.full(n, -1, dtype=np.int64)
    hashes = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(width):
            rows = np.flatnonzero(ending[k])
            hashes *= marks._BASE
            hashes += codes[k]
            hashes += np.uint64(1)
            if not rows.size:
                continue
            keys_ = hashes[rows]
            found = np.minimum(np.searchsorted(heads.hashes, keys_), heads.hashes.size - 1)
            hit = heads.hashes[found] == keys_
            head[rows[hit]] = heads.head[found[hit]]
    return head


@pytest.fixture(scope="module")
def bank() -> pa.Table:
    return synth.customers(40_000, seed=23)


def test_head_index_as_before_on_odd_values() -> None:
    texts = marks._heads().texts.to_pylist()
    values = pa.array(
        [None, "", "北", "北京市", "北京市朝阳区", "北京朝阳区建国路1号", "😀北京市朝阳区",
         "北京市😀朝阳区", "ａ北京市", " 北京市朝阳区", "北京市朝阳区" * 5, "abc", "\x00北京"]
        + texts[::7] + [t[:-1] for t in texts[::11]] + [t + "路" for t in texts[::13]]
    )  # fmt: skip
    found = marks._head_index(values)
    assert (found >= 0).sum() > len(texts) // 10
    assert np.array_equal(found, numpy_head_index(values))
    sliced = values.slice(5, 400)
    assert np.array_equal(marks._head_index(sliced), numpy_head_index(sliced))


def test_marked_export_byte_for_byte_as_before(bank: pa.Table, monkeypatch) -> None:
    """A 40,000-row marked table, column by column, as the NumPy head search marks it."""
    tokens = keys.tokens(RING.key("match"), "customer", bank["customer_id"])
    key = RING.key("mark")
    marked = marks.mark_table(key, "R000042", tokens, bank, FIELDS, check=False)
    monkeypatch.setattr(marks, "_head_index", numpy_head_index)
    before = marks.mark_table(key, "R000042", tokens, bank, FIELDS, check=False)
    changed = 0
    for field in FIELDS:
        new, old = marked[field].combine_chunks(), before[field].combine_chunks()
        assert new.equals(old), field
        changed += int(pc.sum(pc.not_equal(new, bank[field])).as_py() or 0)
    assert changed > len(bank) // 2  # the marks did change many values
