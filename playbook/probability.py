"""The few probability distributions and tests the chapters use, on :mod:`scipy.special`.

Each function gives what the named :mod:`scipy.stats` call gives (tests/test_probability.py checks
them against it on grids that include the edge cases), without importing :mod:`scipy.stats`:
that import costs about 0.7 s of CPU, paid again by every kernel of the monthly report pack.

Inputs may be scalars, arrays or pandas Series; results are NumPy arrays (or floats for scalars).
Counts ``k`` may be floats (as pandas hands them over); they are floored like scipy.stats does.
"""
from __future__ import annotations

import numpy as np
from scipy import special


def norm_cdf(x):
    """P(Z <= x) for a standard normal Z (``scipy.stats.norm.cdf``)."""
    return _shape(special.ndtr(_f(x)))


def norm_sf(x):
    """P(Z > x) for a standard normal Z (``scipy.stats.norm.sf``)."""
    return _shape(special.ndtr(-_f(x)))


def norm_ppf(q):
    """The standard normal quantile of ``q`` (``scipy.stats.norm.ppf``): 1.96 for 0.975."""
    return _shape(special.ndtri(_f(q)))


def norm_isf(q):
    """The standard normal value exceeded with probability ``q`` (``scipy.stats.norm.isf``)."""
    return _shape(-special.ndtri(_f(q)))


def _count_args(k, n, p):
    k, n, p = np.broadcast_arrays(np.asarray(k, dtype="float64"), np.asarray(n, dtype="float64"),
                                  np.asarray(p, dtype="float64"))
    bad = ~((n >= 0) & (n == np.floor(n)) & (p >= 0) & (p <= 1)) | np.isnan(k)
    return np.floor(k), n, p, bad


def _ints(k, n, bad):
    """k clipped into [0, n] and n, as integers (scipy's float-count versions are deprecated)."""
    n_int = np.where(bad, 0, n).astype("int64")
    return np.clip(np.where(bad, 0, k), 0, n_int).astype("int64"), n_int


def binom_cdf(k, n, p):
    """P(X <= k) for X ~ Binomial(n, p) (``scipy.stats.binom.cdf``); NaN for an invalid n or p."""
    k, n, p, bad = _count_args(k, n, p)
    with np.errstate(invalid="ignore"):
        out = np.where(k < 0, 0.0, np.where(k >= n, 1.0, special.bdtr(*_ints(k, n, bad), p)))
    return _shape(np.where(bad, np.nan, out))


def binom_sf(k, n, p):
    """P(X > k) for X ~ Binomial(n, p) (``scipy.stats.binom.sf``); ``binom_sf(k - 1, n, p)`` is
    P(X >= k), the one-sided p-value of seeing k or more."""
    k, n, p, bad = _count_args(k, n, p)
    with np.errstate(invalid="ignore"):
        out = np.where(k < 0, 1.0, np.where(k >= n, 0.0, special.bdtrc(*_ints(k, n, bad), p)))
    return _shape(np.where(bad, np.nan, out))


def poisson_sf(k, mu):
    """P(X > k) for X ~ Poisson(mu) (``scipy.stats.poisson.sf``); NaN for a negative mu."""
    k, mu = np.broadcast_arrays(np.floor(np.asarray(k, dtype="float64")), np.asarray(mu, dtype="float64"))
    with np.errstate(invalid="ignore"):
        kk = np.where(np.isnan(k), 0, np.clip(k, 0, None)).astype("int64")
        out = np.where(k < 0, 1.0, special.pdtrc(kk, mu))
    return _shape(np.where((mu >= 0) & ~np.isnan(k), out, np.nan))


def t_sf(t, df):
    """P(T > t) for Student's T with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    return _shape(special.stdtr(_f(df), -_f(t)))


def t_ppf(q, df):
    """The quantile ``q`` of Student's T with ``df`` degrees of freedom (``scipy.stats.t.ppf``)."""
    return _shape(special.stdtrit(_f(df), _f(q)))


def chi2_sf(x, df):
    """P(X > x) for a chi-square X with ``df`` degrees of freedom (``scipy.stats.chi2.sf``)."""
    return _shape(special.chdtrc(_f(df), _f(x)))


def chisquare_p(observed, expected) -> float:
    """p-value of Pearson's goodness-of-fit test of ``observed`` counts against ``expected`` ones
    (``scipy.stats.chisquare(observed, expected).pvalue``; len - 1 degrees of freedom)."""
    o, e = np.asarray(observed, dtype="float64"), np.asarray(expected, dtype="float64")
    stat = float(((o - e) ** 2 / e).sum())
    return float(chi2_sf(stat, len(o) - 1))


def contingency_p(table) -> float:
    """p-value of the chi-square test of independence of a two-way table of counts, with Yates'
    continuity correction when it has one degree of freedom (``scipy.stats.chi2_contingency(table)[1]``).

    Raises ValueError when a row or column sums to zero (an expected count of zero), as scipy does.
    """
    obs = np.asarray(table, dtype="float64")
    total = obs.sum()
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / total if total else np.zeros_like(obs)
    if (expected == 0).any():
        raise ValueError("a row or column of the table sums to zero: the test has nothing to compare")
    dof = (obs.shape[0] - 1) * (obs.shape[1] - 1)
    if dof == 0:
        return 1.0
    if dof == 1:  # Yates: move each count half a unit towards its expected value (not past it)
        diff = expected - obs
        obs = obs + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    stat = float(((obs - expected) ** 2 / expected).sum())
    return float(chi2_sf(stat, dof))


def _f(x) -> np.ndarray:
    """Plain float arrays in, so that a pandas Series never comes back aligned on its own index."""
    return np.asarray(x, dtype="float64")


def _shape(out: np.ndarray):
    out = np.asarray(out)
    return out[()] if out.ndim == 0 else out
