"""HMAC-SHA-256 of a whole column in one compiled pass, each SHA-256 computed by OpenSSL.

:func:`leaktrace.keys.tokens` hashes value by value with Python's SHA-256 objects: two state
copies and four calls a value, 1–2 µs on the machines measured, nearly all of it the
interpreter's. Registers, access logs and exports tokenize millions of values. This loop calls
the ``libcrypto`` that Python's own :mod:`hashlib` is linked with (``SHA256_Update`` and
``SHA256_Final`` on copies of the two pads' states, as the Python loop does), about 0.2 µs a
value, and releases the GIL, so that threads can share a column. Compiled by numba
(``cache=True``), imported on first use; :func:`ready` says whether this process has a
``libcrypto`` that the loop can call, and :func:`leaktrace.keys.tokens` falls back on Python
where it has not.

>>> import hmac, numpy as np
>>> ready()
True
>>> key = bytes(range(32))
>>> block, prefix = np.frombuffer(key.ljust(64, b"\\0"), np.uint8), np.frombuffer(b"k\\0", np.uint8)
>>> out = hmac_16(block, prefix, np.array([0, 3]), np.frombuffer(b"abc", np.uint8),
...               np.ones(1, bool))
>>> out[0].tobytes() == hmac.digest(key, b"k\\0abc", "sha256")[:16]
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib  # noqa: F401  (loads the libcrypto that ready() looks for)
from functools import cache
from pathlib import Path

import llvmlite.binding
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from leaktrace.keys import TOKEN_BYTES

# OpenSSL's SHA256_CTX is 112 bytes (1.1 and 3.x); room to spare costs nothing.
_STATE_BYTES = 128
_DIGEST_BYTES = 32
_SYMBOLS = ("SHA256_Init", "SHA256_Update", "SHA256_Final")

_sha256_init = types.ExternalFunction("SHA256_Init", types.int32(types.voidptr))
_sha256_update = types.ExternalFunction(
    "SHA256_Update", types.int32(types.voidptr, types.voidptr, types.uintp)
)
_sha256_final = types.ExternalFunction("SHA256_Final", types.int32(types.voidptr, types.voidptr))


def _loaded_libcrypto() -> str | None:
    """The path of the libcrypto this process has loaded for hashlib (Linux), else the one the
    system would load."""
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            path = line.rpartition(" ")[2]
            if "/libcrypto" in path:
                return path
    return ctypes.util.find_library("crypto")


@cache
def ready() -> bool:
    """Whether this process has a libcrypto with OpenSSL's SHA-256 functions, now made visible
    to the compiled loop."""
    path = _loaded_libcrypto()
    if path is None:
        return False
    try:
        library = ctypes.CDLL(path)
        if not all(hasattr(library, name) for name in _SYMBOLS):
            return False
        llvmlite.binding.load_library_permanently(path)
    except (OSError, RuntimeError):
        return False
    return True


@intrinsic
def _pointer(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.uintp), codegen


@njit(cache=True, nogil=True)
def _pad_state(block: np.ndarray, pad: int, prefix: np.ndarray) -> np.ndarray:
    """The SHA-256 state after the key block XOR ``pad`` and then ``prefix``."""
    state = np.zeros(_STATE_BYTES, np.uint8)
    padded = block ^ np.uint8(pad)
    _sha256_init(_pointer(state.ctypes.data))
    _sha256_update(_pointer(state.ctypes.data), _pointer(padded.ctypes.data), padded.size)
    if prefix.size:
        _sha256_update(_pointer(state.ctypes.data), _pointer(prefix.ctypes.data), prefix.size)
    return state


@njit(cache=True, nogil=True)
def hmac_16(
    block: np.ndarray, prefix: np.ndarray, offsets: np.ndarray, data: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """The first 16 bytes of HMAC-SHA-256 under the key ``block`` (a key of at most 64 bytes,
    zero-padded to 64) of ``prefix`` followed by each string ``data[offsets[i]:offsets[i+1]]``
    where ``valid[i]``; zeros elsewhere. One row of 16 bytes a string."""
    count = offsets.size - 1
    out = np.zeros((count, TOKEN_BYTES), np.uint8)
    inner = _pad_state(block, 0x36, prefix)
    outer = _pad_state(block, 0x5C, prefix[:0])
    state = np.empty(_STATE_BYTES, np.uint8)
    digest = np.empty(_DIGEST_BYTES, np.uint8)
    state_at, digest_at = _pointer(state.ctypes.data), _pointer(digest.ctypes.data)
    base = data.ctypes.data
    for i in range(count):
        if not valid[i]:
            continue
        state[:] = inner
        _sha256_update(state_at, _pointer(base + offsets[i]), offsets[i + 1] - offsets[i])
        _sha256_final(digest_at, state_at)
        state[:] = outer
        _sha256_update(state_at, digest_at, _DIGEST_BYTES)
        _sha256_final(digest_at, state_at)
        out[i, :] = digest[:TOKEN_BYTES]
    return out
