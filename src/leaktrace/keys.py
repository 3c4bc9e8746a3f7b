"""The master key, the keys derived from it per purpose, and keyed tokens.

One random master key per workspace lives apart from the data: in a key file that only its
owner may read (mode 0600), or in the ``LEAKTRACE_MASTER_KEY`` environment variable. Every key
leaktrace uses is derived from it with HKDF-SHA256 (RFC 5869) for one purpose — ``match``
(tokens of identifiers), ``mark`` (keyed marks), ``decoy`` (decoy customers), ``ledger`` (the
ledger's HMAC chain), ``subset`` (which customers a sampled release holds) — and one key
version, so a compromised purpose key can be rotated without touching the others.

A token is ``HMAC-SHA256(k_match, type ‖ 0x00 ‖ normalized value)`` truncated to 128 bits: the
same customer gives the same token in every table, and nobody without the key can go back from
a token to the value, or even test a guess.

>>> ring = Keyring(bytes(32))
>>> token(ring.key("match"), "mobile", "13812345678").hex()
'3ce2c6b56d74ee71060f59202c798ba9'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from leaktrace._compiled import Loops
from leaktrace.exceptions import WorkspaceError

PURPOSES = ("match", "mark", "decoy", "ledger", "subset")
ENV_VAR = "LEAKTRACE_MASTER_KEY"
KEY_BYTES = 32
TOKEN_BYTES = 16
_SALT = b"leaktrace master key v1"
_SHA256_BLOCK = 64
# Below this many values a command that has not loaded the loop hashes in Python: the compiled
# loop's first use costs about a second (numba's import and the cached loop's load).
COMPILED_TOKENS = 50_000
THREAD_MIN_BYTES = 1 << 20  # bytes of values a thread hashes at least (~10⁵ customer numbers)

try:  # CPython's own SHA-256 copies its state faster than OpenSSL's (0.8 against 1.0 µs a token)
    from _sha2 import sha256 as _sha256  # Python 3.12+
except ImportError:
    try:
        from _sha256 import sha256 as _sha256  # Python 3.11
    except ImportError:
        _sha256 = hashlib.sha256


class Keyring:
    """The master key and the purpose keys derived from it at one key version.

    The master key never appears in ``repr`` or in messages.
    """

    __slots__ = ("_master", "version")

    def __init__(self, master: bytes, version: int = 1) -> None:
        if len(master) != KEY_BYTES:
            raise WorkspaceError(
                f"The master key must be {KEY_BYTES} bytes; this one is {len(master)}. "
                "Use the key `leaktrace init` wrote, or generate one with `leaktrace init`."
            )
        self._master = master
        self.version = version

    def __repr__(self) -> str:
        return f"Keyring(version={self.version}, check={self.check_value()})"

    def key(self, purpose: str) -> bytes:
        """The 256-bit key for ``purpose`` (one of :data:`PURPOSES`) at this key version."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}; expected one of {PURPOSES}")
        return _derive(self._master, f"{purpose} v{self.version}")

    def check_value(self) -> str:
        """A key check value: 8 hex digits that identify the master key and reveal nothing of it.

        The workspace stores it, so that a wrong key is refused instead of silently matching
        nothing.
        """
        return _derive(self._master, "key check value")[:4].hex()


@cache
def _derive(master: bytes, info: str) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT, info=info.encode())
    return kdf.derive(master)


def new_master_key() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The text form of a key, as written to key files and ``LEAKTRACE_MASTER_KEY``."""
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """The key bytes of a text form; ``where`` names its origin for the error message."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise WorkspaceError(
            f"{where} does not hold a leaktrace master key (expected {KEY_BYTES} bytes in "
            "URL-safe base64, as `leaktrace init` writes)."
        ) from None
    if len(key) != KEY_BYTES:
        raise WorkspaceError(
            f"{where} holds {len(key)} bytes, not a {KEY_BYTES}-byte leaktrace master key."
        )
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``key``; never overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WorkspaceError(
            f"{path} already exists; leaktrace never overwrites a key file. Move it away first."
        ) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(encode_key(key) + "\n")


def read_key_file(path: Path) -> bytes:
    """The master key in ``path``; refused when others than its owner may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise WorkspaceError(
            f"The master key file {path} is missing. Restore it from your backup, or set {ENV_VAR}."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise WorkspaceError(f"Cannot read the master key file {path}: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WorkspaceError(
            f"The master key file {path} is readable by others; run `chmod 600 {path}`."
        )
    return decode_key(text, str(path))


def master_key(key_file: Path | None) -> bytes:
    """The master key from ``LEAKTRACE_MASTER_KEY`` if set, else from ``key_file``."""
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return decode_key(from_env, ENV_VAR)
    if key_file is None:
        raise WorkspaceError(f"No master key: set {ENV_VAR} or key_file in leaktrace.toml.")
    return read_key_file(key_file)


def token(key: bytes, kind: str, value: str) -> bytes:
    """The 128-bit token of one normalized value of one kind (identifier or composite)."""
    return hmac.digest(key, kind.encode() + b"\x00" + value.encode(), "sha256")[:TOKEN_BYTES]


def tokens(key: bytes, kind: str, values: pa.Array | Iterable[str | None]) -> pa.Array:
    """Tokens of many normalized values (a ``binary(16)`` array; null stays null).

    Equal to :func:`token` value by value, computed as HMAC (RFC 2104) from its two pads
    hashed once. A long Arrow column (or any, once that loop is loaded) is hashed by the compiled
    loop of :mod:`leaktrace._hmac_loops`, split over this process's threads; otherwise each
    value costs two copies of a SHA-256 state in Python, about a third of a one-shot
    ``hmac.digest`` per value (registers and access logs tokenize millions).
    """
    block = key.ljust(_SHA256_BLOCK, b"\x00") if len(key) <= _SHA256_BLOCK else None
    if block is None:  # keys longer than a block are hashed first (RFC 2104); ours never are
        block = hashlib.sha256(key).digest().ljust(_SHA256_BLOCK, b"\x00")
    prefix = kind.encode() + b"\x00"
    if isinstance(values, pa.ChunkedArray):
        from leaktrace.identifiers import _vector

        values = _vector.flat(values)
    if isinstance(values, pa.Array) and _compiled_wanted(len(values)):
        return _compiled_tokens(block, prefix, values)
    inner = _sha256(bytes(b ^ 0x36 for b in block))
    inner.update(prefix)
    outer = _sha256(bytes(b ^ 0x5C for b in block))
    texts = values.to_pylist() if isinstance(values, pa.Array) else values
    out: list[bytes | None] = []
    append, inner_copy, outer_copy = out.append, inner.copy, outer.copy
    for text in texts:
        if text is None:
            append(None)
            continue
        h = inner_copy()
        h.update(text.encode())
        o = outer_copy()
        o.update(h.digest())
        append(o.digest()[:TOKEN_BYTES])
    return pa.array(out, type=pa.binary(TOKEN_BYTES))


_LOOPS = Loops("leaktrace._hmac_loops")


def _compiled_wanted(count: int) -> bool:
    """Whether ``count`` values are worth the compiled loop, numba's import and the loop's
    load (~1 s) included: a long column, or the loop loaded already (:mod:`leaktrace._compiled`),
    and a libcrypto to call."""
    return _LOOPS.wanted(count, COMPILED_TOKENS) and _LOOPS.module().ready()


def _compiled_tokens(block: bytes, prefix: bytes, values: pa.Array) -> pa.Array:
    """:func:`tokens` of a column by :func:`leaktrace._hmac_loops.hmac_16`, in runs of at
    least :data:`THREAD_MIN_BYTES`, one a thread."""
    from leaktrace.identifiers import _vector

    hmac_16 = _LOOPS.module().hmac_16
    key_block = np.frombuffer(block, np.uint8)
    prefix_bytes = np.frombuffer(prefix, np.uint8)

    def hashed(run: pa.Array) -> np.ndarray:
        offsets, data = _vector.raw_buffers(run)
        valid = np.ones(len(run), bool) if run.null_count == 0 else run.is_valid().to_numpy(False)
        return hmac_16(key_block, prefix_bytes, offsets, data, valid)

    parts = [digests for _, digests in _vector.in_runs(hashed, values, THREAD_MIN_BYTES)]
    mask = None if values.null_count == 0 else values.is_valid().buffers()[1]
    return pa.Array.from_buffers(
        pa.binary(TOKEN_BYTES),
        len(values),
        [mask, pa.py_buffer(np.concatenate(parts))],
        values.null_count,
    )
