"""Keys: HKDF derivation (checked against RFC 5869 written out), key files, tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import _hmac_loops, keys
from leaktrace.exceptions import WorkspaceError


def _rfc5869(master: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(salt, master, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def test_purpose_keys_are_hkdf_of_the_master_key():
    master = bytes(range(32))
    ring = keys.Keyring(master, version=3)
    for purpose in keys.PURPOSES:
        expected = _rfc5869(master, b"leaktrace master key v1", f"{purpose} v3".encode())
        assert ring.key(purpose) == expected


def test_purposes_and_versions_give_different_keys():
    master = keys.new_master_key()
    derived = {keys.Keyring(master, v).key(p) for v in (1, 2) for p in keys.PURPOSES}
    assert len(derived) == 2 * len(keys.PURPOSES)
    with pytest.raises(ValueError):
        keys.Keyring(master).key("backup")


def test_check_value_identifies_the_key_and_hides_it():
    a, b = keys.new_master_key(), keys.new_master_key()
    assert keys.Keyring(a).check_value() == keys.Keyring(a).check_value()
    assert keys.Keyring(a).check_value() != keys.Keyring(b).check_value()
    assert a.hex() not in repr(keys.Keyring(a))


def test_token_is_truncated_hmac_of_kind_and_value():
    key = b"k" * 32
    expected = hmac.new(key, b"mobile\x0013812345678", hashlib.sha256).digest()[:16]
    assert keys.token(key, "mobile", "13812345678") == expected
    column = keys.tokens(key, "mobile", pa.array(["13812345678", None]))
    assert column.type == pa.binary(16)
    assert column.to_pylist() == [expected, None]
    # The kind separates values that are equal as text.
    assert keys.token(key, "bank_card", "13812345678") != expected


@given(
    key=st.binary(min_size=1, max_size=100),
    kind=st.text(max_size=20),
    values=st.lists(st.none() | st.text(max_size=40), max_size=8),
)
def test_tokens_equal_the_standard_hmac_of_each_value(key, kind, values):
    # tokens() computes HMAC from precomputed pads; it must agree with the library's HMAC for
    # every key length (longer than a SHA-256 block included), kind and value.
    expected = [
        None
        if value is None
        else hmac.new(key, kind.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()[:16]
        for value in values
    ]
    assert keys.tokens(key, kind, values).to_pylist() == expected


def _reference_tokens(key: bytes, kind: str, values: list[str | None]) -> list[bytes | None]:
    prefix = kind.encode() + b"\x00"
    return [
        None if value is None else hmac.new(key, prefix + value.encode(), "sha256").digest()[:16]
        for value in values
    ]


def test_this_machine_has_the_compiled_loop():
    # The fast path must not fall back on Python unnoticed where it is measured.
    assert _hmac_loops.ready()


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=100),
    kind=st.text(max_size=20),
    values=st.lists(st.none() | st.text(max_size=150), max_size=12),
    skip=st.integers(0, 3),
    large=st.booleans(),
    per_thread=st.integers(1, 40),
)
def test_compiled_tokens_equal_the_standard_hmac(key, kind, values, skip, large, per_thread):
    # Slices, large strings, nulls, values longer than a SHA-256 block, keys longer than one,
    # and columns split over threads in runs of ``per_thread`` bytes or more.
    column = pa.array(values, pa.large_string() if large else pa.string()).slice(skip)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keys, "COMPILED_TOKENS", 0)
        patch.setattr(keys, "THREAD_MIN_BYTES", per_thread)
        got = keys.tokens(key, kind, column)
        chunked = keys.tokens(key, kind, pa.chunked_array([column, column], column.type))
    assert got.type == pa.binary(16)
    got.validate(full=True)
    assert got.to_pylist() == _reference_tokens(key, kind, values[skip:])
    assert chunked.to_pylist() == got.to_pylist() * 2


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "master.key"
    key = keys.new_master_key()
    keys.write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.read_key_file(path) == key
    with pytest.raises(WorkspaceError, match="never overwrites"):
        keys.write_key_file(path, keys.new_master_key())
    os.chmod(path, 0o644)
    with pytest.raises(WorkspaceError, match="chmod 600"):
        keys.read_key_file(path)


@pytest.mark.parametrize("text", ["not base64 at all!", keys.encode_key(b"short"), ""])
def test_bad_key_text_is_refused(text):
    with pytest.raises(WorkspaceError):
        keys.decode_key(text, "the key")


def test_environment_key_wins_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "master.key"
    keys.write_key_file(path, keys.new_master_key())
    other = keys.new_master_key()
    monkeypatch.setenv(keys.ENV_VAR, keys.encode_key(other))
    assert keys.master_key(path) == other
    monkeypatch.delenv(keys.ENV_VAR)
    assert keys.master_key(path) != other
    with pytest.raises(WorkspaceError, match="missing"):
        keys.master_key(tmp_path / "gone.key")


def test_a_short_column_is_hashed_in_python_until_the_loop_is_loaded():
    """numba imported (by another thread, say) is not the loop loaded: short columns do not
    wait for it; once a long column has loaded the loop, short ones use it too."""
    code = (
        "import numba, sys, pyarrow as pa\n"
        "from leaktrace import keys\n"
        "short = pa.array([str(i) for i in range(100)])\n"
        "first = keys.tokens(bytes(32), 'mobile', short)\n"
        "print('leaktrace._hmac_loops' in sys.modules)\n"
        "long = pa.array([str(i) for i in range(keys.COMPILED_TOKENS)])\n"
        "keys.tokens(bytes(32), 'mobile', long)\n"
        "print(keys._compiled_wanted(len(short)))\n"
        "assert keys.tokens(bytes(32), 'mobile', short).equals(first)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
