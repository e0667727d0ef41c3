"""The few classical tests the engine runs, on SciPy's special functions.

``scipy.stats`` builds hundreds of distribution objects when it is imported: about a second
of every ``rca investigate`` run, more than the investigation itself takes. The engine needs
six tests and three distributions, so it computes their statistics here (a few lines each)
and takes every distribution function from ``scipy.special``, which loads in a fraction of
that time. ``tests/test_engine_stats.py`` checks each one against ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

_MAD_NORMAL = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample in standard deviations


def norm_sf(x: float | np.ndarray) -> float | np.ndarray:
    """P(Z > x) for a standard normal Z."""
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_isf(p: float | np.ndarray) -> float | np.ndarray:
    """The x with P(Z > x) = p."""
    return -special.ndtri(np.asarray(p, dtype=float))


def t_sf(t: float | np.ndarray, dof: float) -> float | np.ndarray:
    """P(T > t) for Student's t with ``dof`` degrees of freedom."""
    return special.stdtr(dof, -np.asarray(t, dtype=float))


def f_sf(f: float, dfn: float, dfd: float) -> float:
    """P(F > f) for the F distribution."""
    return float(special.fdtrc(dfn, dfd, f))


def median_abs_deviation(x: np.ndarray) -> float:
    """The median absolute deviation, scaled to a normal's standard deviation."""
    x = np.asarray(x, dtype=float)
    return float(np.median(np.abs(x - np.median(x))) * _MAD_NORMAL)


def welch(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> tuple[float, float, float]:
    """Welch's t-test of mean(a) against mean(b): (t, degrees of freedom, p-value).

    ``alternative`` "greater" asks whether a's mean is larger, "less" smaller (as ``scipy.stats.ttest_ind``
    with ``equal_var=False``). NaN when a group has fewer than two values or no spread at all.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = va + vb
    if se2 <= 0:
        return float("nan"), float("nan"), float("nan")
    t = float((a.mean() - b.mean()) / np.sqrt(se2))
    dof = float(se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))
    if alternative == "greater":
        p = float(t_sf(t, dof))
    elif alternative == "less":
        p = float(t_sf(-t, dof))
    else:
        p = float(min(1.0, 2 * t_sf(abs(t), dof)))
    return t, dof, p


def ks_2samp(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov test's p-value (two-sided, asymptotic distribution)."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    n, m = len(a), len(b)
    if not n or not m:
        return float("nan")
    both = np.concatenate([a, b])
    d = float(np.max(np.abs(np.searchsorted(a, both, side="right") / n - np.searchsorted(b, both, side="right") / m)))
    en = n * m / (n + m)
    return float(min(1.0, special.kolmogorov(np.sqrt(en) * d)))


def brown_forsythe(a: np.ndarray, b: np.ndarray) -> float:
    """Levene's test centred on the medians (Brown-Forsythe) for two groups: its p-value."""
    za = np.abs(np.asarray(a, dtype=float) - np.median(a))
    zb = np.abs(np.asarray(b, dtype=float) - np.median(b))
    n = len(za) + len(zb)
    if len(za) < 2 or len(zb) < 2:
        return float("nan")
    grand = (za.sum() + zb.sum()) / n
    between = len(za) * (za.mean() - grand) ** 2 + len(zb) * (zb.mean() - grand) ** 2
    within = ((za - za.mean()) ** 2).sum() + ((zb - zb.mean()) ** 2).sum()
    if within <= 0:
        return float("nan")
    return f_sf(float((n - 2) * between / within), 1, n - 2)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control(p, method="bh")``)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if not m:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
