"""The exact discrete Gaussian sampler against its exact pmf."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fbh.crypto import dgauss


def _chi_square_pvalue(draws: np.ndarray, sigma2: float) -> float:
    """Pearson chi-square of the draws against the exact pmf; bins with < 5 expected are pooled."""
    n = draws.size
    lo, hi = int(draws.min()), int(draws.max())
    support = np.arange(lo, hi + 1)
    expected = dgauss.pmf(support, sigma2) * n
    keep = expected >= 5
    observed = np.bincount(draws - lo, minlength=support.size)
    obs = np.append(observed[keep], observed[~keep].sum() + 0.0)
    exp_ = np.append(expected[keep], n - expected[keep].sum())
    return float(stats.chisquare(obs, exp_, ddof=0).pvalue)


def test_seeded_draws_match_the_exact_pmf_chi_square_1e6():
    sigma2 = 12.0  # t = 4, m = 3: exactly representable
    draws = dgauss.sample_seeded(1_000_000, sigma2, seed=2024)
    assert _chi_square_pvalue(draws, sigma2) > 1e-3
    assert abs(draws.var() / sigma2 - 1) < 0.01


def test_os_csprng_draws_match_the_pmf_and_variance():
    sigma2 = 2.5**2  # rounded up to t*m = 3*3 = 9
    t, m = dgauss.exact_variance(sigma2)
    assert (t, m) == (3, 3)
    draws = dgauss.sample(300_000, sigma2)
    assert _chi_square_pvalue(draws, t * m) > 1e-4
    assert abs(draws.mean()) < 0.03


@pytest.mark.parametrize("sigma2", [1.0, 1e4, 1e8])
def test_variance_and_symmetry_at_scale(sigma2):
    t, m = dgauss.exact_variance(sigma2)
    draws = dgauss.sample_seeded(200_000, sigma2, seed=int(sigma2))
    # var of the sample variance of a near-normal: 2 s^4 / n -> 5 standard errors ~ 1.6 %.
    assert abs(draws.var() / (t * m) - 1) < 0.016
    assert abs(draws.mean()) < 5 * np.sqrt(t * m / draws.size)


def test_a_wrong_pmf_is_detected():
    """The test statistic has power: draws at sigma^2 = 12 are not N_Z(0, 13)."""
    draws = dgauss.sample_seeded(1_000_000, 12.0, seed=7)
    assert _chi_square_pvalue(draws, 13.0) < 1e-6


def test_exact_variance_rounds_up_by_less_than_one_sigma():
    for sigma2 in [0.3, 1.0, 2.0, 12.0, 99.5, 1e6 + 0.5, 3.3e9, float(dgauss.MAX_VARIANCE)]:
        t, m = dgauss.exact_variance(sigma2)
        assert t * m >= sigma2
        assert t * m - sigma2 <= max(1.0, np.sqrt(sigma2)) + 1


@pytest.mark.parametrize("bad", [0.0, -1.0, float(dgauss.MAX_VARIANCE) * 2, float("nan")])
def test_invalid_variance_is_refused(bad):
    with pytest.raises(ValueError, match="variance"):
        dgauss.sample(3, bad)


def test_seeded_stream_is_reproducible_and_os_stream_is_not():
    assert np.array_equal(dgauss.sample_seeded(1000, 50.0, 1), dgauss.sample_seeded(1000, 50.0, 1))
    assert not np.array_equal(dgauss.sample(1000, 50.0), dgauss.sample(1000, 50.0))


def test_pmf_sums_to_one():
    xs = np.arange(-400, 401)
    assert dgauss.pmf(xs, 100.0).sum() == pytest.approx(1.0, abs=1e-12)
