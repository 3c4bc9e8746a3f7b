"""E-mail address (电子邮箱).

An address is ``local-part@domain`` (RFC 5321 §4.1.2, RFC 5322 §3.4.1). leaktrace accepts the
dot-atom form people actually use: a local part of ASCII letters, digits and ``. _ % + -``
(no leading, trailing or doubled dot, at most 64 characters) and a domain of dot-separated labels
(letters, digits, inner hyphens, at most 63 characters each) ending in an alphabetic or
``xn--`` top-level label, at most 254 characters in all. Quoted local parts and address
literals (``user@[192.0.2.1]``) are legal but do not occur in customer lists and are refused.

Labels may start with a digit: the big Chinese providers are ``163.com``, ``126.com``,
``139.com`` next to ``qq.com``, ``foxmail.com``, ``sina.com`` and ``sohu.com``, and a mailbox
named after a mobile number (``13812345678@163.com``) is an e-mail address, not a mobile number.
Addresses normalize to lower case (DESIGN.md: brokers change case; matching must not care).

Finding addresses in Chinese text needs ASCII bounds: a ``\\w`` pattern (Presidio's) glues the
Chinese text before an address onto its local part (PEERS.md: ``发送至`` came back with it).

https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2

>>> validate(" Mei_Lin0006@QQ.com ")
'mei_lin0006@qq.com'
>>> validate("１３８１２３４５６７８＠１６３．ｃｏｍ")
'13812345678@163.com'
>>> mask("mei_lin0006@qq.com")
'm***6@qq.com'
>>> is_valid("ming..luo@qq.com"), is_valid("ming@localhost")
(False, False)
>>> [(s.type, s.start, s.value) for s in find_all("发送至mei_lin0006@qq.com。")]
[('email', 3, 'mei_lin0006@qq.com')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.exceptions import InvalidComponent, InvalidFormat, InvalidLength
from leaktrace.identifiers import Span, _vector, find_all, halfwidth
from leaktrace.law import LegalCategory

NAME = "email"
LABEL = "电子邮箱"
JRT_CLASS = "C2"
SENSITIVE = False
CATEGORY = LegalCategory.OTHER
HEADERS = (
    "邮箱", "电子邮箱", "邮箱地址", "电子邮件", "邮件", "邮件地址", "email", "e-mail",
    "email address", "mail", "mailbox",
)  # fmt: skip
# An address must win over the numbers inside it (13812345678@qq.com). find_all's alternation
# tries pattern types before the shared digits group, so at one start position the address is
# taken; the lowest priority also puts it ahead of the other pattern types (USCC, passport).
PRIORITY = 5

_ATOM = r"[A-Za-z0-9_%+\-]+"
_LOCAL = rf"{_ATOM}(?:\.{_ATOM})*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9\-]{1,59})"
_DOMAIN = rf"(?:{_LABEL}\.)+{_TLD}"
# The same syntax, as one full-match pattern that both Python's re and RE2 (valid_column) accept.
ADDRESS_PATTERN = rf"{_LOCAL}@{_DOMAIN}"
# Candidates in free text: bounded by ASCII classes, never \w, so CJK neighbours stay outside; a
# trailing full stop ends the address but a dot followed by a label continues it.
PATTERN = rf"(?<![A-Za-z0-9._%+\-]){ADDRESS_PATTERN}(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
MAX_LENGTH = 254
MAX_LOCAL = 64

_LOCAL_RE = re.compile(_LOCAL)
_DOMAIN_RE = re.compile(_DOMAIN)
_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def compact(value: str) -> str:
    """Half-width, lower case, without spaces or a ``mailto:`` prefix; no validation."""
    value = _SPACES.sub("", halfwidth(str(value)))
    return _MAILTO.sub("", value).lower()


def validate(value: str) -> str:
    """The lower-case address, or raise ``ValidationError``."""
    address = compact(value)
    if not address.isascii() or address.count("@") != 1:
        raise InvalidFormat()
    if len(address) > MAX_LENGTH or address.index("@") > MAX_LOCAL:
        raise InvalidLength()
    local, domain = address.split("@")
    if not local or not domain:
        raise InvalidFormat()
    if not _LOCAL_RE.fullmatch(local):
        raise InvalidFormat("The local part of the address has an invalid format.")
    if not _DOMAIN_RE.fullmatch(domain):
        raise InvalidComponent("The domain of the address is not a valid host name.")
    return address


def is_valid(value: str) -> bool:
    """Whether ``value`` is an e-mail address."""
    try:
        return bool(validate(value))
    except ValueError:
        return False


def mask(value: str) -> str:
    """First and last character of the local part, domain in clear: ``m***6@qq.com``."""
    address = compact(value)
    local, at, domain = address.rpartition("@")
    if not at:
        return "*" * len(address)
    kept = local[0] + "***" + local[-1] if len(local) > 2 else local[:1] + "***"
    return f"{kept}@{domain}"


def find(text: str) -> Iterator[Span]:
    """E-mail addresses in free text."""
    return iter(find_all(text, [NAME]))


def valid_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorized :func:`is_valid` over a column."""
    folded = _vector.remove(_vector.fold(values), r"\s+")
    folded = _vector.remove(folded, r"^(?i:mailto:)")
    valid = _vector.full_match(folded, ADDRESS_PATTERN)
    short = pc.less_equal(pc.utf8_length(folded), MAX_LENGTH)
    local_short = pc.less_equal(pc.find_substring(folded, "@"), MAX_LOCAL)
    return valid & _vector.to_numpy_bool(pc.and_(short, local_short))
