"""The column building blocks: folding, whitespace removal, the hash index and the table cache."""

from __future__ import annotations

import pickle
import time
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.identifiers import _vector

# Characters on both sides of the NFKC shortcut: ASCII and CJK ideographs (stable), full-width
# forms, the ideographic space, compatibility ideographs, circled and squared forms, combining
# marks, characters outside the Basic Multilingual Plane.
ALPHABET = "a1 \t-·京陳\u3400\u4dbf\u9fff\ua000１ｘ\u3000\u33ff㈱\uf900e\u0301é\U00020000\u00a0"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(ALPHABET), max_size=8)), max_size=8))
def test_fold_is_nfkc_and_trim(values):
    for array in (pa.array(values, pa.string()), pa.array(["x", *values], pa.large_string())[1:]):
        expected = pc.utf8_trim_whitespace(pc.utf8_normalize(array, "NFKC"))
        assert _vector.fold(array).to_pylist() == expected.to_pylist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(ALPHABET), max_size=8)), max_size=8))
def test_remove_spaces_is_the_regex(values):
    array = pa.array(["前 缀", *values], pa.string())[1:]
    assert _vector.remove_spaces(array).to_pylist() == _vector.remove(array, r"\s+").to_pylist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(st.sampled_from(ALPHABET), max_size=8)), max_size=12),
    st.sampled_from([r"\s+", "-", "^a", "[京陳]+", "1$"]),
)
def test_remove_is_one_replacement(values, pattern):
    """Replacing only in the values that match gives what one replacement over all gives."""
    for array in (pa.array(values, pa.string()), pa.array(["a-1", *values], pa.large_string())[1:]):
        expected = pc.replace_substring_regex(array, pattern, "")
        found = _vector.remove(array, pattern)
        assert found.type == array.type
        assert found.to_pylist() == expected.to_pylist()


def test_key_index_finds_every_key_and_nothing_else():
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.uint64))
    index = _vector.KeyIndex(keys)
    assert index.find(keys).tolist() == list(range(len(keys)))
    others = rng.integers(0, 2**63, 5000, dtype=np.uint64)
    others = others[~np.isin(others, keys)]
    assert (index.find(others) == -1).all()
    assert _vector.KeyIndex(np.zeros(0, dtype=np.uint64)).find(keys[:3]).tolist() == [-1] * 3


def test_stored_builds_once_per_source_contents(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "words.txt"
    source.write_text("王\n李\n", encoding="utf-8")
    builds = []

    def build():
        builds.append(1)
        return source.read_text(encoding="utf-8").split()

    assert _vector.stored("words", [source], build) == ["王", "李"]
    assert _vector.stored("words", [source], build) == ["王", "李"]
    assert len(builds) == 1
    source.write_text("张\n", encoding="utf-8")
    assert _vector.stored("words", [source], build) == ["张"]
    assert len(builds) == 2
    # another checkout (the first sources) finds its version still there
    source.write_text("王\n李\n", encoding="utf-8")
    assert _vector.stored("words", [source], build) == ["王", "李"]
    assert len(builds) == 2


def test_stored_keeps_the_versions_used_last(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "words.txt"
    for n in range(_vector.KEPT_VERSIONS + 2):
        source.write_text(str(n), encoding="utf-8")
        assert _vector.stored("words", [source], source.read_text) == str(n)
        time.sleep(0.02)  # file times move in steps of a few milliseconds
        if n == 3:  # the first version, used again: it stays, and 1 and 2 are the oldest
            source.write_text("0", encoding="utf-8")
            assert _vector.stored("words", [source], lambda: "rebuilt") == "0"
            time.sleep(0.02)
    kept = {pickle.loads(p.read_bytes()) for p in (tmp_path / "cache").glob("words-*.pickle")}
    assert kept == {"0", *(str(n) for n in range(3, _vector.KEPT_VERSIONS + 2))}


def test_stored_without_a_writable_cache_still_builds(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LEAKTRACE_CACHE", str(blocked / "cache"))
    assert _vector.stored("numbers", [blocked], lambda: [1, 2]) == [1, 2]


@pytest.mark.parametrize("junk", [b"", b"not a pickle", b"\x80\x05K"])
def test_stored_rebuilds_a_damaged_file(tmp_path, monkeypatch, junk):
    monkeypatch.setenv("LEAKTRACE_CACHE", str(tmp_path))
    source = tmp_path / "source.txt"
    source.write_text("x", encoding="utf-8")
    _vector.stored("value", [source], lambda: "first")
    [path] = tmp_path.glob("value-*.pickle")
    path.write_bytes(junk)
    assert _vector.stored("value", [source], lambda: "again") == "again"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(st.sampled_from("0123456789１ a٣"), max_size=5))),
    st.integers(0, 5),
)
def test_plain_digits_is_the_regex(values, width):
    for array in (pa.array(values, pa.string()), pa.array(["9", *values], pa.large_string())[1:]):
        expected = _vector.full_match(array, f"[0-9]{{{width}}}")
        assert _vector.plain_digits(array, width).tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(
                st.sampled_from(ALPHABET + "\x1f\x85\u2028。\u1680\u2009\u205f\x0b\u180e\u200b"),
                max_size=6,
            ),
        )
    )
)
def test_trim_whitespace_is_arrows(values):
    for array in (pa.array(values, pa.string()), pa.array(["x", *values], pa.large_string())[1:]):
        expected = pc.utf8_trim_whitespace(array).to_pylist()
        assert _vector.trim_whitespace(array).to_pylist() == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 70_000), max_size=60),
    st.sampled_from(["i8", "u8", "u4", "i2"]),
)
def test_distinct_is_np_unique(values, dtype):
    """Whether counted (small non-negative values) or sorted."""
    array = np.array(values, dtype=np.int64).astype(dtype)  # wrapped into smaller types
    assert np.array_equal(_vector.distinct(array), np.unique(array))
    assert _vector.distinct(array).dtype == array.dtype


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 3), max_size=60),
    st.integers(1, 4),
)
def test_count_distinct_across_the_threads_cuts(values, jobs):
    """The values are cut into one range a thread: a value on both sides of a cut (or
    spanning several ranges) counts once."""
    with (
        patch.object(_vector, "_SORTED_A_THREAD", 1),
        patch.object(_vector._pool, "thread_jobs", lambda: jobs),
    ):
        assert _vector.count_distinct(np.array(values, dtype=np.uint64)) == len(set(values))
