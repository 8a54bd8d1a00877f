"""playbook.probability gives what scipy.stats gives, edge cases included, and a few textbook values."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from playbook import probability as pr

K = np.array([-3, -1, 0, 0.0, 1, 2.7, 5, 9, 10, 11, 40, np.nan])
N = np.array([10, 10, 0, 10, 10, 10, 10, 10, 10, 10, 50, 10])


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64"), rtol=1e-9,
                               atol=1e-12, equal_nan=True)


def test_textbook_values():
    assert pr.norm_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert pr.norm_isf(0.025) == pytest.approx(1.959964, abs=1e-6)
    assert pr.norm_cdf(0.0) == 0.5
    # P(X >= 8) for X ~ Binomial(10, 0.5) = (45 + 10 + 1) / 1024
    assert pr.binom_sf(7, 10, 0.5) == pytest.approx(56 / 1024)
    # P(X > 2) for X ~ Poisson(1) = 1 - e^-1 (1 + 1 + 1/2)
    assert pr.poisson_sf(2, 1.0) == pytest.approx(1 - np.exp(-1) * 2.5)
    # two-sided 95% t quantile with 10 degrees of freedom, from the t table
    assert pr.t_ppf(0.975, 10) == pytest.approx(2.228, abs=1e-3)


@pytest.mark.parametrize("p", [0.0, 1e-6, 0.3, 0.5, 1 - 1e-6, 1.0, 1.2, np.nan])
def test_binomial_matches_scipy(p):
    close(pr.binom_cdf(K, N, p), stats.binom.cdf(K, N, p))
    close(pr.binom_sf(K, N, p), stats.binom.sf(K, N, p))
    close(pr.binom_sf(K - 1, N, p), stats.binom.sf(K - 1, N, p))
    assert np.isscalar(pr.binom_sf(3, 10, 0.2)) or np.ndim(pr.binom_sf(3, 10, 0.2)) == 0


@pytest.mark.parametrize("mu", [0.0, 0.4, 3.0, 25.0, -1.0])
def test_poisson_matches_scipy(mu):
    close(pr.poisson_sf(K, mu), stats.poisson.sf(K, mu))
    close(pr.poisson_sf(K - 1, mu), stats.poisson.sf(K - 1, mu))


def test_normal_and_t_match_scipy():
    x = np.array([-5, -1.96, 0, 0.5, 1.96, 8, np.inf, -np.inf, np.nan])
    close(pr.norm_cdf(x), stats.norm.cdf(x))
    close(pr.norm_sf(x), stats.norm.sf(x))
    q = np.array([0, 1e-9, 0.025, 0.5, 0.8, 0.975, 1, np.nan])
    close(pr.norm_ppf(q), stats.norm.ppf(q))
    close(pr.norm_isf(q), stats.norm.isf(q))
    df = np.array([1, 2.5, 10, 300, 1.0, 4, 7, 30, 12])
    close(pr.t_sf(x, df), stats.t.sf(x, df))
    close(pr.t_ppf(q[1:-1], 10), stats.t.ppf(q[1:-1], 10))
    close(pr.chi2_sf(np.array([0, 0.5, 3.84, 20]), 1), stats.chi2.sf([0, 0.5, 3.84, 20], 1))


def test_tests_match_scipy():
    counts, expected = [18, 22, 31, 29], [25, 25, 25, 25]
    assert pr.chisquare_p(counts, expected) == pytest.approx(stats.chisquare(counts, expected).pvalue)
    for table in ([[12, 30], [40, 410]], [[3, 0], [5, 9]], [[1, 1], [1, 1]], [[10, 20, 30], [6, 9, 17]]):
        assert pr.contingency_p(table) == pytest.approx(stats.chi2_contingency(table)[1])
    with pytest.raises(ValueError, match="sums to zero"):
        pr.contingency_p([[0, 0], [4, 5]])


def test_series_in_gives_arrays_out_not_realigned_series():
    import pandas as pd

    t, df = pd.Series([2.0, 1.0], index=[7, 9]), pd.Series([50.0, 10.0], index=[7, 9])
    for out in (pr.t_sf(t, df), pr.t_ppf(pd.Series([0.9, 0.95]), df), pr.norm_sf(t), pr.binom_sf(t, df, 0.1)):
        assert isinstance(out, np.ndarray) and out.shape == (2,)
