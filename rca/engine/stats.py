"""The few classical tests the engine runs, computed here with NumPy and the standard library.

``scipy.stats`` builds hundreds of distribution objects when it is imported, and even
``scipy.special`` takes about half a second to load: more than an investigation itself takes.
The engine needs six tests and three distributions, so it computes their statistics here (a few
lines each) and the distributions from the error function, the inverse normal of
:class:`statistics.NormalDist` and the regularized incomplete beta function (a continued
fraction). ``tests/test_engine_stats.py`` checks each one against ``scipy.stats``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_MAD_NORMAL = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample in standard deviations
_STANDARD = NormalDist()


def _elementwise(fn, *args):  # noqa: ANN001, ANN202 - a scalar function over arrays, scalars kept scalar
    arrays = [np.asarray(a, dtype=float) for a in args]
    out = np.vectorize(fn, otypes=[float])(*arrays)
    return float(out) if out.ndim == 0 else out


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if math.isnan(x) or math.isnan(a) or math.isnan(b):
        return float("nan")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_sf(t: float, dof: float) -> float:
    if math.isnan(t) or math.isnan(dof):
        return float("nan")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(dof / 2.0, 0.5, dof / (dof + t * t))
    return tail if t > 0 else 1.0 - tail


def _f_sf(f: float, dfn: float, dfd: float) -> float:
    if math.isnan(f):
        return float("nan")
    if f <= 0:
        return 1.0
    return betainc(dfd / 2.0, dfn / 2.0, dfd / (dfd + dfn * f))


def _kolmogorov(x: float) -> float:
    """P(K > x) for the limiting Kolmogorov distribution."""
    if x <= 0.0:
        return 1.0
    if x < 0.2:  # the series converges slowly here; the other form is exact enough (P is 1 to 1e-50)
        return 1.0 - math.sqrt(2 * math.pi) / x * sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x))
                                                          for k in range(1, 20))
    return min(1.0, 2.0 * sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101)))


def norm_sf(x: float | np.ndarray) -> float | np.ndarray:
    """P(Z > x) for a standard normal Z."""
    return _elementwise(lambda v: 0.5 * math.erfc(v / math.sqrt(2.0)), x)


def norm_isf(p: float | np.ndarray) -> float | np.ndarray:
    """The x with P(Z > x) = p."""

    def one(q: float) -> float:
        if q <= 0.0:
            return math.inf
        if q >= 1.0:
            return -math.inf
        return -_STANDARD.inv_cdf(q)

    return _elementwise(one, p)


def t_sf(t: float | np.ndarray, dof: float) -> float | np.ndarray:
    """P(T > t) for Student's t with ``dof`` degrees of freedom."""
    return _elementwise(_t_sf, t, dof)


def f_sf(f: float, dfn: float, dfd: float) -> float:
    """P(F > f) for the F distribution."""
    return float(_f_sf(float(f), float(dfn), float(dfd)))


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
    return float(min(1.0, _kolmogorov(float(np.sqrt(en) * d))))


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
