"""Every registered identifier module keeps the same contract and survives junk."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import identifiers
from leaktrace.exceptions import ValidationError
from leaktrace.law import LegalCategory

MODULES = list(identifiers.registry().values())
JUNK = [
    "",
    " ",
    "€",
    "-",
    "０",
    "１２３",
    "\x00",
    "None",
    "null",
    "\ufeff",
    "a" * 500,
    "1" * 40,
    "张",
]


@pytest.fixture(params=MODULES, ids=lambda m: m.NAME)
def module(request):
    return request.param


def test_contract(module):
    assert re.fullmatch(r"[a-z_]+", module.NAME)
    assert module.LABEL
    assert module.JRT_CLASS in {"C1", "C2", "C3"}
    assert isinstance(module.SENSITIVE, bool)
    assert isinstance(module.CATEGORY, LegalCategory)
    assert all(h == h.lower() for h in module.HEADERS)
    for function in ("compact", "validate", "is_valid", "mask", "find", "valid_column"):
        assert callable(getattr(module, function)), function


@pytest.mark.parametrize("junk", JUNK)
def test_junk_is_rejected_not_crashed(module, junk):
    assert module.is_valid(junk) is False
    with pytest.raises(ValidationError):
        module.validate(junk)
    assert list(module.find(junk)) == [] or module.NAME in {"person_name", "address"}


def test_column_path_rejects_junk_and_nulls(module):
    column = pa.array([*JUNK, None], pa.string())
    result = module.valid_column(column)
    assert isinstance(result, np.ndarray) and result.dtype == bool
    assert result.shape == (len(JUNK) + 1,)
    assert not result.any()


def test_registry_order_is_by_priority():
    priorities = [m.PRIORITY for m in MODULES]
    assert priorities == sorted(priorities)
    assert identifiers.get("mobile").NAME == "mobile"
    with pytest.raises(KeyError):
        identifiers.get("no_such_type")


# Valid and near-valid forms of every type: the column path must agree with validate on each.
FORMS = [
    "13812345678", "8613812345678", "+86 138-1234-5678", "0086 13812345678", "86138123456",
    "11010519491231002X", "11010519491231002x", "110105491231002", "11010519491231002",
    "6222021234567890128", "6222 0212 3456 7890 128", "010-12345678", "(0755)88881234",
    "ming_luo1676@qq.com", "京A·12345", "粤BD12345", "E12345678", "91350100M000100Y43",
    "王芳", "欧阳娜娜", "北京市朝阳区建国路88号",
]  # fmt: skip


def test_column_path_agrees_with_validate(module):
    expected = [module.is_valid(value) for value in FORMS]
    assert module.valid_column(pa.array(FORMS)).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(FORMS),
            st.text(st.sampled_from("0123456789 +-()１"), max_size=15),
            st.from_regex(r"1[0-9]{10}", fullmatch=True),
        ),
        max_size=12,
    )
)
def test_mobile_column_path_agrees_with_validate(values):
    """Compact eleven-digit values take a shorter path through mobile.valid_column."""
    mobile = identifiers.get("mobile")
    expected = [value is not None and mobile.is_valid(value) for value in values]
    assert mobile.valid_column(pa.array(values, pa.string())).tolist() == expected
