"""Column normalization for tokens: agrees with ``validate``, idempotent, format-blind."""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from leaktrace import synth
from leaktrace.identifiers import get, person_name
from leaktrace.identifiers._normalize import _CANONICAL, masked_parts, normalize_column

COLUMNS = {
    "mobile": "mobile",
    "resident_id": "id_number",
    "bank_card": "card_number",
    "email": "email",
    "plate": "plate",
    "person_name": "name",
}


@cache
def _people() -> pa.Table:
    return synth.customers(400, seed=5)


def _values(kind: str) -> list[str]:
    return [v for v in _people().column(COLUMNS[kind]).to_pylist() if v]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _spaced(text: str, every: int, separator: str) -> str:
    return separator.join(text[i : i + every] for i in range(0, len(text), every))


def _legacy_15(number: str) -> str:
    return number[:6] + number[8:17]


@cache
def _s2t() -> OpenCC:
    return OpenCC("s2t")


REFORMATS = {
    "mobile": [
        lambda v: f"{v[:3]}-{v[3:7]}-{v[7:]}",
        lambda v: _spaced(v, 4, " "),
        _fullwidth,
    ],
    "resident_id": [
        str.lower,
        lambda v: _spaced(v, 6, " "),
        _fullwidth,
        lambda v: _legacy_15(v) if v[6:8] == "19" else v,
    ],
    "bank_card": [lambda v: _spaced(v, 4, " "), lambda v: _spaced(v, 4, "-"), _fullwidth],
    "email": [str.upper, lambda v: f"  {v} ", lambda v: "mailto:" + v],
    "plate": [
        lambda v: v[:2] + "·" + v[2:],
        lambda v: v[:2] + " " + v[2:],
        lambda v: (v[:2] + "-" + v[2:]).lower(),
        _fullwidth,
    ],
    "person_name": [lambda v: _s2t().convert(v), lambda v: " ".join(v), _fullwidth],
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_column_agrees_with_validate(kind):
    module = get(kind)
    raw = [*_values(kind), "", "12345", "not a value", "***", "张*"]
    variants = raw + [f(v) for f in REFORMATS[kind] for v in raw]
    expected = []
    for value in variants:
        if kind == "person_name":
            usable = any(c.isalpha() for c in value) and not {"*", "＊"} & set(value)
            expected.append(person_name.compact(value) or None if usable else None)
        else:
            expected.append(module.validate(value) if module.is_valid(value) else None)
    assert normalize_column(kind, pa.array(variants)).to_pylist() == expected


@pytest.mark.parametrize("kind", sorted(COLUMNS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_normalize_is_idempotent_and_blind_to_reformatting(kind, data):
    value = data.draw(st.sampled_from(_values(kind)))
    steps = data.draw(
        st.lists(st.sampled_from(REFORMATS[kind]), min_size=1, max_size=3, unique=True)
    )
    reformatted = value
    for step in steps:
        reformatted = step(reformatted)
    if kind == "mobile":  # a country prefix goes in front of whatever the digits look like
        reformatted = (
            data.draw(st.sampled_from(["", "+86 ", "0086", "+86-", "(+86)"])) + reformatted
        )
    once = normalize_column(kind, pa.array([value, reformatted])).to_pylist()
    assert once[0] is not None
    assert once[1] == once[0]
    assert normalize_column(kind, pa.array(once)).to_pylist() == once


@pytest.mark.parametrize("kind", sorted(_CANONICAL))
def test_canonical_looking_valid_values_are_their_own_validate(kind):
    module = get(kind)
    values = _values(kind) if kind in COLUMNS else []
    for value in values:
        canonical = module.validate(value)
        assert module.validate(canonical) == canonical


def test_masked_parts_show_head_and_tail():
    parts = masked_parts(
        "resident_id", pa.array(["110105********002x", "110105194912310029", None])
    )
    assert parts.to_pylist() == [{"head": "110105", "tail": "002X"}, None, None]
    card = masked_parts("bank_card", pa.array(["6222 **** **** 0128"]))
    assert card.to_pylist() == [{"head": "6222", "tail": "0128"}]
