"""The compiled loops of the address marks (head search, room parse, splice) give, value for
value, what the NumPy implementations they replaced gave, so that marks of real rows (and
trace's reading of old releases) are unchanged; the NumPy implementations are kept here as the
oracles."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import keys, synth
from leaktrace.release import _mark_loops, marks

RING = keys.Keyring(bytes(range(32)))
FIELDS = {"address": "address", "hukou": "address", "loan_balance": "amount",
          "credit_limit": "amount", "products": "list_order"}  # fmt: skip


def numpy_head_index(values: pa.Array) -> np.ndarray:
    """The head each value starts with, as the NumPy code before the compiled loop found it."""
    heads = marks._heads()
    texts = heads.texts.to_pylist()
    hashes = marks._hash_texts(texts)
    order = np.argsort(hashes)
    sorted_hashes = hashes[order]
    last_chars = np.array(sorted({marks._char_code(t[-1]) for t in texts}), dtype=np.int64)
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
    ending = run & np.isin(codes, last_chars)
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
            found = np.minimum(np.searchsorted(sorted_hashes, keys_), sorted_hashes.size - 1)
            hit = sorted_hashes[found] == keys_
            head[rows[hit]] = order[found[hit]]
    return head


def numpy_room_forms(offsets, data, valid, room_mark, units, unit_lengths):
    """Room slot and form per value, as the NumPy parse before the compiled loop found them
    (the arguments of ``_mark_loops.room_forms``; the words are 单元, 号楼, 栋)."""
    del units, unit_lengths  # the NumPy parse spelled its words out
    byte_at = marks._byte_at
    n = offsets.size - 1
    starts, ends = offsets[:-1], offsets[1:]
    length = ends - starts
    has_room = (length >= 3) & valid
    for i in range(3):
        has_room &= byte_at(data, ends - 3 + i, valid) == room_mark[i]
    end = ends - np.where(has_room, 3, 0)
    digits = np.zeros(n, dtype=np.int64)
    counting = valid.copy()
    for i in range(1, 6):
        byte = byte_at(data, end - i, counting & (end - i >= starts))
        counting &= (byte >= 48) & (byte <= 57) & (end - i >= starts)
        digits += counting
    before = end - digits
    tail6 = np.stack([byte_at(data, before - 6 + i, valid & (before - 6 >= starts))
                      for i in range(6)], axis=1)  # fmt: skip
    unit = np.zeros(n, dtype=bool)
    for word in ("单元", "号楼"):
        unit |= np.all(tail6 == np.frombuffer(word.encode(), np.uint8)[None, :], axis=1)
    unit |= np.all(tail6[:, 3:] == np.frombuffer("栋".encode(), np.uint8)[None, :], axis=1)
    room = valid & (digits >= 3) & (digits <= 4) & unit
    return room, np.where(room & ~has_room, 1, 0)


def numpy_splice(data, pool, valid, sources, lengths):
    """Row offsets and data of the spliced strings, as the NumPy gather before the compiled
    loop built them (the arguments and results of ``_mark_loops.splice``)."""
    combo = np.concatenate([data, pool])
    lengths = np.where(valid[:, None], lengths, 0).astype(np.int64)
    flat_lengths = lengths.ravel()
    total = int(flat_lengths.sum())
    out_start = np.cumsum(flat_lengths) - flat_lengths
    index = np.repeat(sources.ravel().astype(np.int64) - out_start, flat_lengths)
    index += np.arange(total, dtype=np.int64)
    out = combo[index] if total else np.zeros(0, np.uint8)
    row_offsets = np.zeros(len(valid) + 1, dtype=np.int64)
    np.cumsum(lengths.sum(axis=1), out=row_offsets[1:])
    return row_offsets, out


ROOMS = ["1单元1502室", "1单元1502", "3栋201室", "3栋201", "12号楼3301", "12号楼3301室",
         "1单元15室", "1单元150203室", "1单元12345", "单元1502", "栋201", "x栋201", "号楼1234室",
         "1单元1502室室", "1单元 1502", "1单元１５０２", "室", "", "1502室",
         "😀1单元1502"]  # fmt: skip


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
    """A 40,000-row marked table, column by column, as the NumPy head search, room parse and
    splice mark it."""
    tokens = keys.tokens(RING.key("match"), "customer", bank["customer_id"])
    key = RING.key("mark")
    marked = marks.mark_table(key, "R000042", tokens, bank, FIELDS, check=False)
    monkeypatch.setattr(marks, "_head_index", numpy_head_index)
    monkeypatch.setattr(_mark_loops, "room_forms", numpy_room_forms)
    monkeypatch.setattr(_mark_loops, "splice", numpy_splice)
    monkeypatch.delattr(marks.AddressRule, "mark")  # observe, choose and render, as before
    monkeypatch.delattr(marks.ListOrderRule, "mark")
    before = marks.mark_table(key, "R000042", tokens, bank, FIELDS, check=False)
    changed = 0
    for field in FIELDS:
        new, old = marked[field].combine_chunks(), before[field].combine_chunks()
        assert new.equals(old), field
        changed += int(pc.sum(pc.not_equal(new, bank[field])).as_py() or 0)
    assert changed > len(bank) // 2  # the marks did change many values


def test_room_forms_as_before_on_odd_values() -> None:
    values = pa.array(
        [None, *ROOMS, *("北京市朝阳区建国路1号" + r for r in ROOMS), *(r[1:] for r in ROOMS)]
    )
    for part in (values, values.slice(3, 30)):
        offsets, data, valid = marks._strings(part)
        args = (offsets, data, valid, *marks._room_words())
        new, old = _mark_loops.room_forms(*args), numpy_room_forms(*args)
        assert np.array_equal(new[0], old[0]) and np.array_equal(new[1], old[1])
        assert new[0].sum() >= 8


def test_splice_as_before_on_random_segments() -> None:
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, 5_000, dtype=np.uint8)
    pool = rng.integers(0, 256, 300, dtype=np.uint8)
    n = 2_000
    lengths = rng.integers(0, 12, (n, 3))
    sources = np.stack(
        [data.size + rng.integers(0, pool.size - 12, n), rng.integers(0, data.size - 12, n),
         rng.integers(0, data.size + pool.size - 12, n)], axis=1,
    )  # fmt: skip
    sources[:, 2] = np.where(sources[:, 2] > data.size - 12, data.size + 5, sources[:, 2])
    valid = rng.random(n) > 0.1
    new = _mark_loops.splice(data, pool, valid, sources, lengths)
    old = numpy_splice(data, pool, valid, sources, lengths)
    assert np.array_equal(new[0], old[0]) and np.array_equal(new[1], old[1])


def test_marked_addresses_with_rooms_byte_for_byte_as_before(monkeypatch) -> None:
    """Values with and without heads and rooms, nulls and a slice: the compiled room parse and
    splice mark them as the NumPy ones did."""
    texts = marks._heads().texts.to_pylist()[::5]
    values = pa.array(
        [None if i % 17 == 0 else texts[i % len(texts)] + "建设路8号" + ROOMS[i % len(ROOMS)]
         for i in range(3_000)]
    )  # fmt: skip
    table = pa.table({"address": values}).slice(7)
    tokens = keys.tokens(RING.key("match"), "customer", pa.array([str(i) for i in range(2_993)]))
    key = RING.key("mark")
    marked = marks.mark_table(key, "R000042", tokens, table, {"address": "address"}, check=False)
    monkeypatch.setattr(_mark_loops, "room_forms", numpy_room_forms)
    monkeypatch.setattr(_mark_loops, "splice", numpy_splice)
    monkeypatch.delattr(marks.AddressRule, "mark")
    before = marks.mark_table(key, "R000042", tokens, table, {"address": "address"}, check=False)
    assert marked["address"].combine_chunks().equals(before["address"].combine_chunks())
    assert pc.sum(pc.not_equal(marked["address"], table["address"])).as_py() > 500


def assert_mark_is_render(rule, values: pa.Array, rng: np.random.Generator, with_token) -> None:
    """``rule.mark`` writes what ``rule.render`` writes for the forms mark_table picks from
    random PRF words, a share ``with_token`` of the rows having a token."""
    words = rng.integers(0, 2**63, len(values), dtype=np.int64).astype(np.uint64)
    present = rng.random(len(values)) < with_token
    available, current = rule.observe(values)
    picked = marks.choices(words, rule.q, rule.slots)
    forms = np.where(available & present[:, None], picked, current)
    assert rule.mark(values, words, present).equals(rule.render(values, forms))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(0, 50), with_token=st.floats(0, 1))
def test_one_pass_marks_addresses_as_observe_choose_render(seed, start, with_token) -> None:
    """AddressRule.mark writes what the rule's render writes for the forms mark_table picks
    from the PRF words, on values with and without heads, rooms and tokens, nulls, empty and
    odd values, and a slice."""
    rng = np.random.default_rng(seed)
    texts = marks._heads().texts.to_pylist()
    odd = [None, "", "北", "😀北京市朝阳区", "abc", "北京市朝阳区" * 3, *ROOMS]
    picks = rng.integers(0, len(texts), 400)
    values = pa.array(
        [odd[i % len(odd)] if i % 9 == 0 else texts[p] + "建设路8号" + ROOMS[p % len(ROOMS)]
         for i, p in enumerate(picks.tolist())]
    ).slice(start)  # fmt: skip
    assert_mark_is_render(marks.AddressRule(), values, rng, with_token)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(0, 50), with_token=st.floats(0, 1))
def test_one_pass_marks_lists_as_observe_choose_render(seed, start, with_token) -> None:
    """ListOrderRule.mark writes what the rule's render writes for the forms mark_table picks,
    on lists of one to nine items, repeated items, empty items, nulls and a slice."""
    rng = np.random.default_rng(seed)
    items = ["借记卡", "信用卡", "手机银行", "理财", "基金", "", "借记卡", "a", "b"]
    values = pa.array(
        [None if rng.random() < 0.05 else "、".join(rng.choice(items, rng.integers(1, 10)))
         for _ in range(400)]
    ).slice(start)  # fmt: skip
    assert_mark_is_render(marks.ListOrderRule(), values, rng, with_token)


def numpy_float_units(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats in units of their last decimal place, as the seven full passes before the
    search that lets each value leave once held found them."""
    floats = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
    valid = ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    scale = np.full(floats.size, -1, dtype=np.int64)
    units = np.zeros(floats.size, dtype=np.int64)
    for decimals in range(6, -1, -1):
        scaled = floats * 10.0**decimals
        rounded = np.round(scaled)
        back = rounded / 10.0**decimals
        exact = (np.abs(back - floats) <= 4 * np.spacing(np.abs(floats))) & (
            np.abs(rounded) < 2.0**53
        )
        scale = np.where(exact, decimals, scale)
        units = np.where(exact, rounded, units).astype(np.int64)
    return units, valid & (scale >= 0), scale


def test_float_units_as_before() -> None:
    rng = np.random.default_rng(11)
    odd = [None, 0.0, -0.0, 0.1 + 0.2, 1073919.11, 1073919.1, 12000.0, 2.0**53, 2.0**60,
           -15713.35, 1e-7, 123.4567891, float("nan"), float("inf"), -float("inf"),
           5e-324]  # fmt: skip
    scale = 10.0 ** rng.integers(0, 8, 20_000)
    amounts = np.round(rng.lognormal(9, 2, 20_000) * scale) / scale * rng.choice([-1, 1], 20_000)
    values = pa.array(odd + amounts.tolist(), pa.float64())
    for part in (values, values.slice(9, 5_000)):
        new = marks.AmountRule._float_units(part)
        with np.errstate(invalid="ignore"):  # the oracle's infinities
            old = numpy_float_units(part)
        for a, b in zip(new, old, strict=True):
            assert np.array_equal(a, b)


_NUMBER_BYTES = np.zeros(256, dtype=np.int8)  # 1 digit, 2 ".", 3 ",", 4 sign
_NUMBER_BYTES[48:58] = 1
_NUMBER_BYTES[ord(".")] = 2
_NUMBER_BYTES[ord(",")] = 3
_NUMBER_BYTES[[ord("+"), ord("-")]] = 4


def numpy_plain_numbers(values: pa.Array) -> np.ndarray:
    """Which strings are plain numbers, as the NumPy passes before the compiled loop told."""
    offsets, data, valid = marks._strings(values)
    n = len(values)
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    ok = valid & (lengths > 0) & (lengths <= 24)
    if not ok.any():
        return ok
    body = data[offsets[0] : offsets[-1]]
    kind = _NUMBER_BYTES[body]
    row = np.repeat(np.arange(n), lengths)
    at = np.arange(body.size) - (starts - offsets[0])[row]  # position inside the value
    bad = np.bincount(row, weights=(kind == 0) | ((kind == 4) & (at > 0)), minlength=n)
    dots = np.bincount(row, weights=kind == 2, minlength=n)
    first_dot = np.full(n, 99, dtype=np.int64)
    dot_rows = row[kind == 2]
    first_dot[dot_rows[::-1]] = at[kind == 2][::-1]
    integer_digits = np.bincount(row, weights=(kind == 1) & (at < first_dot[row]), minlength=n)
    ok &= (bad == 0) & (dots <= 1) & (integer_digits >= 1) & (integer_digits <= 12)
    first = marks._byte_at(data, starts, ok)
    ok &= first != ord(",")
    lead = starts + ((first == ord("+")) | (first == ord("-")))
    ok &= marks._byte_at(data, ends - 1, ok) >= 48
    leading_zero = marks._byte_at(data, lead, ok) == 48
    leading_zero &= marks._byte_at(data, lead + 1, ok) >= 48
    leading_zero &= lead + 1 < ends
    return ok & ~leading_zero


def test_plain_numbers_as_before() -> None:
    """Amounts as text: the compiled check against the NumPy one on odd and random texts of
    number bytes (and a few others), whole and sliced."""
    rng = np.random.default_rng(19)
    odd = [None, "", "0", "00", "01", "-0", "+01", "1,234.50", ",12", "12,", "1.2.3", ".5",
           "5.", "-", "+", "1-2", "--1", "123456789012", "1234567890123", "1" * 25, "１２",
           "12a", " 12", "0.5", "-0.01", "3,,4", "9" * 12 + ".99", "1e5"]  # fmt: skip
    alphabet = np.array(list("0123456789.,+-0123456789a "))
    random = ["".join(rng.choice(alphabet, rng.integers(0, 16))) for _ in range(20_000)]
    values = pa.array(odd + random, pa.string())
    for part in (values, values.slice(7, 5_000)):
        found = marks._plain_numbers(part)
        assert np.array_equal(found, numpy_plain_numbers(part))
    assert 1_000 < marks._plain_numbers(values).sum() < 19_000


def test_compiled_siphash_as_the_numpy_one() -> None:
    """The PRF of the marks: the compiled loop against the NumPy SipHash (trace's, with a key
    per message) on random words, extreme words and a strided view."""
    rng = np.random.default_rng(17)
    words = rng.integers(0, 2**64 - 1, (20_000, 2), dtype=np.uint64, endpoint=True)
    words[:4] = [[0, 0], [2**64 - 1, 2**64 - 1], [0, 2**64 - 1], [1, 2**63]]
    for key in (bytes(16), bytes(range(16)), rng.bytes(16)):
        halves = marks.key_halves(key)
        for part in (words, words[::3]):
            expected = marks.siphash24_16_keyed(*halves, part)
            assert np.array_equal(marks.siphash24_16(key, part), expected)
