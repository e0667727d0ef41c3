"""The few classical tests the engine runs, computed here with NumPy and the standard library.

``scipy.stats`` builds hundreds of distribution objects when it is imported, and even
``scipy.special`` takes about half a second to load (it pulls in NumPy's testing and f2py
modules): more than a whole investigation computes. The engine needs six tests and four
distributions, so it computes their statistics here (a few lines each) and the distributions
from the error function, :class:`statistics.NormalDist`'s inverse and the regularized incomplete
beta function, a continued fraction evaluated for a whole array at once (the graph check asks
for ~20,000 Student t tails per investigation: one NumPy loop, not 20,000 Python ones).
``tests/test_engine_stats.py`` checks each one against ``scipy.stats``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_MAD_NORMAL = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample in standard deviations
_STANDARD = NormalDist()
_TINY, _EPS, _MAX_TERMS = 1e-300, 1e-15, 5000


def _floats(x: float | np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _same_shape(out: np.ndarray, like: float | np.ndarray) -> float | np.ndarray:
    return float(out) if np.ndim(like) == 0 else out


def _lgamma(v: np.ndarray) -> np.ndarray:
    """log Gamma of each value (the distinct values once: a test's degrees of freedom repeat)."""
    values, where = np.unique(v, return_inverse=True)
    return np.array([math.lgamma(u) for u in values])[where].reshape(v.shape)


def _beta_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The incomplete beta's continued fraction (modified Lentz), every element at once until each converges."""
    h = np.ones_like(x)
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    live = np.ones(x.shape, dtype=bool)
    for m in range(1, _MAX_TERMS):
        m2 = 2.0 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = np.where(live, d * c, 1.0)
            h *= delta
        live &= np.abs(delta - 1.0) >= _EPS
        if not live.any():
            break
    return h


def betainc(a: float | np.ndarray, b: float | np.ndarray, x: float | np.ndarray,
            complement: float | np.ndarray | None = None) -> float | np.ndarray:
    """The regularized incomplete beta function I_x(a, b), element by element (NaN in, NaN out).

    ``complement`` is 1 - x when the caller knows it more exactly than ``1 - x`` computes it (a
    Student t near zero gives an x within a rounding error of 1).
    """
    a_, b_, x_ = np.broadcast_arrays(_floats(a), _floats(b), _floats(x))
    y_ = np.broadcast_to(_floats(complement), x_.shape) if complement is not None else 1.0 - x_
    out = np.full(x_.shape, np.nan)
    known = ~(np.isnan(a_) | np.isnan(b_) | np.isnan(x_) | np.isnan(y_))
    out[known & (x_ <= 0.0)] = 0.0
    out[known & (y_ <= 0.0)] = 1.0
    inside = known & (x_ > 0.0) & (y_ > 0.0)
    if inside.any():
        a1, b1, x1, y1 = a_[inside], b_[inside], x_[inside], y_[inside]
        # The fraction converges fast below the mean of the beta; above it, I_x(a, b) = 1 - I_(1-x)(b, a).
        flip = x1 >= (a1 + 1.0) / (a1 + b1 + 2.0)
        p, q = np.where(flip, b1, a1), np.where(flip, a1, b1)
        u, v = np.where(flip, y1, x1), np.where(flip, x1, y1)
        front = np.exp(_lgamma(p + q) - _lgamma(p) - _lgamma(q) + p * np.log(u) + q * np.log(v))
        part = front * _beta_fraction(p, q, u) / p
        out[inside] = np.where(flip, 1.0 - part, part)
    return _same_shape(out, x if np.ndim(x) else a if np.ndim(a) else b)


def norm_sf(x: float | np.ndarray) -> float | np.ndarray:
    """P(Z > x) for a standard normal Z."""
    v = _floats(x)
    out = np.array([0.5 * math.erfc(u / math.sqrt(2.0)) if not math.isnan(u) else math.nan for u in v.ravel()])
    return _same_shape(out.reshape(v.shape), x)


def norm_isf(p: float | np.ndarray) -> float | np.ndarray:
    """The x with P(Z > x) = p."""

    def one(q: float) -> float:
        if math.isnan(q):
            return math.nan
        if q <= 0.0:
            return math.inf
        if q >= 1.0:
            return -math.inf
        return -_STANDARD.inv_cdf(q)

    v = _floats(p)
    return _same_shape(np.array([one(q) for q in v.ravel()]).reshape(v.shape), p)


def t_sf(t: float | np.ndarray, dof: float | np.ndarray) -> float | np.ndarray:
    """P(T > t) for Student's t with ``dof`` degrees of freedom."""
    tt, df = np.broadcast_arrays(_floats(t), _floats(dof))
    with np.errstate(invalid="ignore", divide="ignore"):
        t2 = tt * tt
        tail = 0.5 * _floats(betainc(df / 2.0, 0.5, df / (df + t2), complement=t2 / (df + t2)))
    out = np.where(tt > 0, tail, 1.0 - tail)
    out = np.where(np.isinf(tt), np.where(tt > 0, 0.0, 1.0), out)
    return _same_shape(np.where(np.isnan(tt) | np.isnan(df), np.nan, out), t if np.ndim(t) else dof)


def f_sf(f: float, dfn: float, dfd: float) -> float:
    """P(F > f) for the F distribution."""
    f, dfn, dfd = float(f), float(dfn), float(dfd)
    if math.isnan(f):
        return math.nan
    if f <= 0:
        return 1.0
    return float(betainc(dfd / 2.0, dfn / 2.0, dfd / (dfd + dfn * f), complement=dfn * f / (dfd + dfn * f)))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the limiting Kolmogorov distribution."""
    if x <= 0.0:
        return 1.0
    if x < 1.0:  # the alternating series converges slowly below 1; this form converges fast there
        s = sum(math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 40))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / x * s))
    return min(1.0, 2.0 * sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101)))


def percentile_interval(draws: list[float] | np.ndarray, confidence: float,
                        point: float | None = None) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap ``draws`` (non-finite draws left out); with fewer
    than two draws, ``(point, point)`` when a point estimate is given, else NaN at both ends."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return (point, point) if point is not None else (math.nan, math.nan)
    alpha = 1 - confidence
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


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
    return float(min(1.0, kolmogorov_sf(math.sqrt(en) * d)))


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
