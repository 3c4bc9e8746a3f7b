"""Every registered identifier module keeps the same contract and survives junk."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

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
