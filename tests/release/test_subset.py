"""Keyed subsets: deterministic under the key, minimal overlap between recipients, unbiased."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.release.subset import allocate, count_released, prf_order

KEY = bytes(range(32))


def test_same_key_and_recipient_give_the_same_subset():
    pool = range(1, 1001)
    assert allocate(KEY, "team-a", pool, 50) == allocate(KEY, "team-a", pool, 50)
    assert allocate(KEY, "team-a", pool, 50) != allocate(KEY, "team-b", pool, 50)
    assert allocate(bytes(32), "team-a", pool, 50) != allocate(KEY, "team-a", pool, 50)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(2, 300), data=st.data())
def test_second_recipient_overlaps_only_when_it_must(size, data):
    count = data.draw(st.integers(1, size))
    pool = list(range(10, 10 + size))
    first = allocate(KEY, "r1", pool, count)
    second = allocate(KEY, "r2", pool, count, already=count_released(first, pool))
    assert len(first) == len(second) == count
    assert len(set(first) & set(second)) == max(0, 2 * count - size)


def test_every_customer_is_equally_likely():
    pool = np.arange(200)
    picked = np.zeros(200)
    for recipient in range(400):
        picked[allocate(KEY, f"recipient-{recipient}", pool, 20)] += 1
    expected = 400 * 20 / 200
    chi2 = ((picked - expected) ** 2 / expected).sum()
    assert chi2 < 280  # 199 degrees of freedom: p ≈ 0.0002 at 280


def test_prf_order_is_64_bit_and_spread():
    values = prf_order(KEY, "r", range(10_000))
    assert values.dtype == np.uint64 and len(set(values.tolist())) == 10_000
    assert 0.45 < (values > 2**63).mean() < 0.55
