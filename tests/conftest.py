"""Shared fixtures: synthetic people, a file writer, a byte search and a switch of checksum paths.

Every value is generated here (Faker's zh_CN names and addresses, random digits with valid
check digits); none belongs to a real person.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import ahocorasick
import pytest
from faker import Faker
from hypothesis import settings

from leaktrace.checksums import gb11643_check_char, luhn_check_digit

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) draws the same examples every time, so that a landing
# is not refused for an example no earlier run drew; a developer's runs keep drawing new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@dataclass(frozen=True)
class Person:
    """One synthetic customer with the identifiers that trip up naive readers."""

    name: str
    mobile: str  # 11 digits
    resident_id: str  # 18 characters, some ending in X
    card: str  # 19-digit UnionPay-style number (Luhn-valid)
    account: str  # 12 digits with leading zeros
    address: str

    @classmethod
    def header(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def row(self) -> list[str]:
        return list(astuple(self))


def make_people(n: int, seed: int = 0) -> list[Person]:
    """``n`` synthetic people, the same for the same seed."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people = []
    for _ in range(n):
        born = f"{rng.randrange(1950, 2005)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        region = rng.choice(["110105", "310104", "440305", "510107"])
        first17 = f"{region}{born}{rng.randrange(1000):03d}"
        payload = f"62{rng.randrange(10**16):016d}"
        people.append(
            Person(
                name=fake.name(),
                mobile=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                resident_id=first17 + gb11643_check_char(first17),
                card=payload + luhn_check_digit(payload),
                account=f"000{rng.randrange(10**9):09d}",
                address=fake.address().split(" ")[0],
            )
        )
    return people


@pytest.fixture
def people() -> list[Person]:
    """Fifty synthetic people."""
    return make_people(50)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., str]:
    """Write ``data`` (bytes, or text in ``encoding``) to ``tmp_path / name``; return the path."""

    def write(name: str, data: bytes | str, encoding: str = "utf-8") -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
        return str(path)

    return write


def occurrences(blob: bytes, needles: set[bytes]) -> dict[bytes, list[int]]:
    """Each needle's start offsets in ``blob``, overlapping ones included, in one pass of an
    Aho-Corasick automaton (a find per needle over a workspace takes minutes for 100,000
    needles). Bytes map one-to-one onto Latin-1 characters, so offsets are byte offsets."""
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle.decode("latin-1"), needle)
    found: dict[bytes, list[int]] = {needle: [] for needle in needles}
    if not needles:
        return found
    automaton.make_automaton()
    for end, needle in automaton.iter(blob.decode("latin-1")):
        found[needle].append(end - len(needle) + 1)
    return found


@pytest.fixture
def find_bytes() -> Callable[[bytes, set[bytes]], dict[bytes, list[int]]]:
    """:func:`occurrences`: where each of many byte strings occurs in a blob (the searches of
    a workspace for raw identifiers)."""
    return occurrences


@pytest.fixture
def checksum_path(monkeypatch) -> Callable[[bool], None]:
    """A switch between the two ways a column's check digits are checked: the compiled loops
    (``True``) or the NumPy matrices (``False``), whatever the column's size."""
    from leaktrace import checksums

    def use(compiled: bool) -> None:
        monkeypatch.setattr(checksums, "compiled_wanted", lambda count: compiled)

    return use
