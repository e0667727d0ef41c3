"""The engine's own test statistics agree with scipy.stats (which it does not import: start-up)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from rca.engine import stats


@pytest.mark.parametrize("seed", range(5))
def test_welch_matches_ttest_ind(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, 12 + seed), rng.normal(0.4, 2, 30)
    for alt in ("two-sided", "greater", "less"):
        res = sp.ttest_ind(a, b, equal_var=False, alternative=alt)
        t, dof, p = stats.welch(a, b, alternative=alt)
        assert (t, dof, p) == pytest.approx((res.statistic, res.df, res.pvalue), rel=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_brown_forsythe_matches_levene_on_medians(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_t(3, 40), 1.5 * rng.standard_t(3, 25 + seed)
    assert stats.brown_forsythe(a, b) == pytest.approx(sp.levene(a, b, center="median").pvalue, rel=1e-10)


def test_ks_is_the_two_sample_statistic_under_the_limiting_kolmogorov_distribution() -> None:
    rng = np.random.default_rng(2)
    for shift in (0.0, 0.2, 0.6):
        a, b = rng.normal(0, 1, 300), rng.normal(shift, 1, 200)
        res = sp.ks_2samp(a, b)
        limit = sp.kstwobign.sf(res.statistic * np.sqrt(300 * 200 / 500))
        assert stats.ks_2samp(a, b) == pytest.approx(limit, rel=1e-9, abs=1e-15)
        assert stats.ks_2samp(a, b) == pytest.approx(res.pvalue, rel=0.1, abs=1e-4)  # near SciPy's finite-n one


def test_benjamini_hochberg_matches_false_discovery_control() -> None:
    p = np.random.default_rng(3).uniform(0, 0.2, 40) ** 2
    assert stats.benjamini_hochberg(p) == pytest.approx(sp.false_discovery_control(p, method="bh"), rel=1e-12)


def test_distributions_and_mad() -> None:
    x = np.linspace(-4, 4, 17)
    assert stats.norm_sf(x) == pytest.approx(sp.norm.sf(x), rel=1e-12)
    assert stats.norm_isf(np.array([1e-9, 0.01, 0.5, 0.9])) == pytest.approx(sp.norm.isf([1e-9, 0.01, 0.5, 0.9]))
    assert stats.t_sf(x, 7.5) == pytest.approx(sp.t.sf(x, 7.5), rel=1e-10)
    assert stats.f_sf(2.3, 3, 40) == pytest.approx(sp.f.sf(2.3, 3, 40), rel=1e-10)
    y = np.random.default_rng(4).lognormal(0, 1, 101)
    assert stats.median_abs_deviation(y) == pytest.approx(sp.median_abs_deviation(y, scale="normal"), rel=1e-12)


def test_the_investigation_path_never_imports_scipy_stats() -> None:
    import subprocess
    import sys

    code = ("import sys; from rca.engine import investigate, Question, Window; import rca.engine.investigation;"
            "import rca.engine.checks; print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("dof", [1.0, 2.5, 7.5, 30.0, 331.0, 4_000.0, 250_000.0])
def test_student_t_tails_match_scipy_over_the_range_the_graph_check_asks(dof: float) -> None:
    t = np.concatenate([np.linspace(-12, 12, 97), [0.0, 1e-8, 40.0, -40.0, np.inf, -np.inf, np.nan]])
    mine, theirs = stats.t_sf(t, dof), sp.t.sf(t, dof)
    assert np.isnan(mine[-1]) and np.isnan(theirs[-1])
    assert mine[:-1] == pytest.approx(theirs[:-1], rel=1e-9, abs=1e-300)
    assert stats.t_sf(2.0, dof) == pytest.approx(float(sp.t.sf(2.0, dof)), rel=1e-10)  # scalars stay scalars
    assert isinstance(stats.t_sf(2.0, dof), float)


def test_incomplete_beta_and_f_and_kolmogorov_match_scipy() -> None:
    from scipy import special

    rng = np.random.default_rng(5)
    a, b, x = rng.uniform(0.2, 300, 400), rng.uniform(0.2, 300, 400), rng.uniform(0, 1, 400)
    assert stats.betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)
    for f, d1, d2 in [(0.01, 1, 5), (2.3, 3, 40), (40.0, 2, 1000), (1.0, 50, 50)]:
        assert stats.f_sf(f, d1, d2) == pytest.approx(sp.f.sf(f, d1, d2), rel=1e-10)
    for v in (0.05, 0.3, 0.8, 0.99, 1.0, 1.4, 3.0):
        assert stats.kolmogorov_sf(v) == pytest.approx(special.kolmogorov(v), rel=1e-10, abs=1e-300)
