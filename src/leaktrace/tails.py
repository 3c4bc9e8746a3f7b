"""Exact binomial upper tails for the thousands of tests one trace runs.

A trace tests every release (release set, keyed marks) and every user of the access logs, each
with an exact tail of a binomial of up to the leak's size; ``lgamma`` once per tail term in
Python would take most of a minute with 10,000 releases and 20,000 users against a 10,000-row
leak. Here the log-factorials are
computed once per process and shared, and a tail stops where its terms underflow to zero (the
log-pmf is concave, so past its peak terms only fall): the same terms, the same arithmetic,
the same sums but for the order in which zeros are left out.
"""

from __future__ import annotations

import math

import numpy as np

_UNDERFLOW = 750.0  # exp(-750) is 0.0 in float64: terms this far below the largest add nothing
_FIRST_BLOCK = 1024
_log_factorials = np.zeros(1)


def log_factorials(n: int) -> np.ndarray:
    """``lgamma(x + 1)`` for x = 0 … n (at least), computed once and kept."""
    global _log_factorials
    have = len(_log_factorials)
    if n >= have:
        more = [math.lgamma(x + 1.0) for x in range(have, max(n + 1, 2 * have))]
        _log_factorials = np.concatenate([_log_factorials, np.array(more)])
    return _log_factorials


def _log_terms(k: int, stop: int, n: int, p: float, table: np.ndarray) -> np.ndarray:
    """Log-pmf of Binomial(n, p) at k … stop - 1."""
    i = np.arange(k, stop, dtype=np.float64)
    return (
        table[n]
        - table[k:stop]
        - table[n - stop + 1 : n - k + 1][::-1]
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
    )


def binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for X ~ Binomial(n, p), exactly.

    >>> round(binomial_tail(3, 3, 0.5), 12)
    0.125
    >>> binomial_tail(0, 10, 0.3)
    1.0
    """
    if not 0 <= p <= 1 or n < 0:
        raise ValueError("need 0 <= p <= 1 and n >= 0")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p in (0.0, 1.0):
        return float(p == 1.0)
    table = log_factorials(n)
    mode = min(n, max(k, math.floor((n + 1) * p)))
    stop = min(n + 1, mode + _FIRST_BLOCK)
    while True:
        log_terms = _log_terms(k, stop, n, p, table)
        top = log_terms.max()
        if stop > n or log_terms[-1] < top - _UNDERFLOW:
            break
        stop = min(n + 1, k + 2 * (stop - k))
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


def binomial_pmf(n: int, p: float) -> tuple[int, np.ndarray]:
    """Binomial(n, p)'s pmf where it is not 0.0 in float64: (first x, pmf from x on)."""
    table = log_factorials(n)
    i = np.arange(n + 1, dtype=np.float64)
    log_pmf = (
        table[n] - (table[: n + 1] + table[n::-1]) + i * math.log(p) + (n - i) * math.log1p(-p)
    )
    pmf = np.exp(log_pmf)
    nonzero = np.flatnonzero(pmf)
    if not len(nonzero):
        return 0, pmf[:1]
    return int(nonzero[0]), pmf[nonzero[0] : nonzero[-1] + 1]


def sum_of_binomials_tail(tests: list[tuple[int, int, float]]) -> float:
    """``P(X_1 + … + X_k >= k_1 + … + k_k)`` for independent X_j ~ Binomial(n_j, p_j), exactly
    (the binomials' distributions convolved where they are not 0.0).

    >>> round(sum_of_binomials_tail([(2, 2, 0.5), (1, 1, 0.5)]), 6)
    0.125
    >>> sum_of_binomials_tail([])
    1.0
    """
    observed = sum(k for k, _, _ in tests)
    if observed <= 0:
        return 1.0
    first, distribution = 0, np.ones(1)
    for _, n, p in tests:
        if n == 0:
            continue
        start, pmf = binomial_pmf(n, p)
        first += start
        distribution = np.convolve(distribution, pmf)
    if observed >= first + len(distribution):
        return 0.0
    return float(min(1.0, distribution[max(0, observed - first) :].sum()))
