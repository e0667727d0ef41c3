"""Decide whether the target really got worse, or moved within its normal noise.

* **anomaly** (a point or short window against the fit window): a robust z-score, the
  distance of the window's mean from the fit window's median in units of its scaled median
  absolute deviation (falling back to the standard deviation when more than half the values
  are equal). Detected when it exceeds ``z_threshold`` in the bad direction.
* **change** (two windows): Welch's t-test on the target, one-sided in the bad direction;
  the score is the t statistic signed so that positive means worse. Detected when the
  one-sided p-value is below ``alpha``.

A ratio with a denominator (bug fixes per commit, with the commits of each bucket) is judged by
its pooled value (all events of a window together) against a quasi-binomial spread: the
binomial variance of that many events, times the over-dispersion the fit window shows. A week
of one commit that is a fix then counts as one commit, not as a 100% week.

Both report the method in the result so a reader can check the arithmetic.
"""

from __future__ import annotations

import numpy as np

from rca.engine import stats
from results import Regression


def robust_scale(x: np.ndarray) -> float:
    """The spread of ``x`` in standard deviations: the scaled MAD, or the standard deviation where
    more than half the values are one value (mostly-zero error counts)."""
    mad = stats.median_abs_deviation(x)
    if mad > 0:
        return mad
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return sd


def pooled(values: np.ndarray, weights: np.ndarray) -> float:
    """A ratio's pooled value over rows: events over opportunities (the weighted mean)."""
    w = np.asarray(weights, dtype=float)
    return float(np.sum(np.asarray(values, dtype=float) * w) / np.sum(w)) if np.sum(w) > 0 else float("nan")


def dispersion(values: np.ndarray, weights: np.ndarray) -> float:
    """How much more a ratio varies between rows than binomial noise of its denominators (at least 1)."""
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = w > 0
    v, w = v[keep], w[keep]
    p = pooled(v, w)
    if len(v) < 3 or not 0 < p < 1:
        return 1.0
    return max(1.0, float(np.sum(w * (v - p) ** 2) / (p * (1 - p)) / (len(v) - 1)))


def _is_ratio(*arrays: np.ndarray) -> bool:
    return all(np.all((a >= 0) & (a <= 1)) for a in arrays)


def anomaly_regression(
    reference: np.ndarray, current: np.ndarray, higher_is_worse: bool, z_threshold: float = 3.5,
    weights: tuple[np.ndarray, np.ndarray] | None = None, tail: float = 0.01,
) -> Regression:
    ref = np.asarray(reference, dtype=float)
    if weights is not None and _is_ratio(ref, np.asarray(current, dtype=float)) and np.sum(weights[1]) > 0:
        p_ref, p_cur = pooled(ref, weights[0]), pooled(current, weights[1])
        phi = dispersion(ref, weights[0])
        events = float(np.sum(weights[1]))
        var = phi * p_ref * (1 - p_ref) / events if 0 < p_ref < 1 else 0.0
        z = (p_cur - p_ref) / np.sqrt(var) if var > 0 else (0.0 if p_cur == p_ref else np.sign(p_cur - p_ref) * 1e6)
        signed = float(z if higher_is_worse else -z)
        return Regression(
            detected=bool(signed > z_threshold), score=signed,
            method=(f"quasi-binomial z of the pooled ratio ({events:g} events) vs the fit window's "
                    f"(dispersion {phi:.2g}), threshold {z_threshold}"),
            p_value=float(stats.norm_sf(signed)),
        )
    cur = float(np.mean(current))
    scale = robust_scale(ref)
    centre = float(np.median(ref))
    if scale == 0:
        z = 0.0 if cur == centre else float(np.sign(cur - centre)) * 1e6
    else:
        # A window of k rows averages its noise: scale the spread by sqrt(k).
        z = (cur - centre) / (scale / np.sqrt(max(1, len(np.atleast_1d(current)))))
    signed = z if higher_is_worse else -z
    p = float(stats.norm_sf(signed))
    # Heavy tails (latencies, durations) make large robust z-scores common on ordinary rows: the
    # window must also lie beyond all but ``tail`` of the fit window's own windows of its length.
    k = max(1, len(np.atleast_1d(current)))
    tail_p = _tail_p(ref, cur, k, higher_is_worse)
    if tail_p is not None and tail_p > tail:
        signed = min(signed, float(stats.norm_isf(tail_p)))
        p = max(p, tail_p)
    return Regression(
        detected=bool(signed > z_threshold and (tail_p is None or tail_p <= tail)),
        score=float(signed),
        method=(f"robust z-score of the window mean vs the fit window (median/MAD), threshold {z_threshold}, "
                f"and beyond all but {tail:.0%} of the fit window's own values"),
        p_value=p,
    )


def _tail_p(ref: np.ndarray, value: float, k: int, higher_is_worse: bool) -> float | None:
    """The share of the fit window's ``k``-row means at least as bad as ``value`` (None: too few rows)."""
    if len(ref) < max(20, 3 * k):
        return None
    means = np.convolve(ref, np.ones(k) / k, mode="valid") if k > 1 else ref
    worse = means >= value if higher_is_worse else means <= value
    return float((1 + np.sum(worse)) / (len(means) + 1))


def change_regression(
    baseline: np.ndarray, current: np.ndarray, higher_is_worse: bool, alpha: float = 0.01,
    weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> Regression:
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    if weights is not None and _is_ratio(a, b) and np.sum(weights[0]) > 0 and np.sum(weights[1]) > 0:
        pa, pb = pooled(a, weights[0]), pooled(b, weights[1])
        na, nb = float(np.sum(weights[0])), float(np.sum(weights[1]))
        p = (pa * na + pb * nb) / (na + nb)
        phi = max(dispersion(a, weights[0]), dispersion(b, weights[1]))
        var = phi * p * (1 - p) * (1 / na + 1 / nb)
        z = (pb - pa) / np.sqrt(var) if var > 0 else 0.0
        signed = float(z if higher_is_worse else -z)
        p_value = float(stats.norm_sf(signed))
        return Regression(
            detected=bool(p_value < alpha), score=signed,
            method=(f"quasi-binomial test of the pooled ratios ({na:g} vs {nb:g} events, dispersion {phi:.2g}), "
                    f"one-sided in the bad direction, alpha {alpha}"),
            p_value=p_value,
        )
    if np.ptp(np.concatenate([a, b])) == 0:
        return Regression(
            detected=False, score=0.0, method="Welch t-test (one-sided, bad direction)", p_value=1.0
        )
    t, _, p = stats.welch(b, a, alternative="greater" if higher_is_worse else "less")
    t = t if np.isfinite(t) else 0.0
    signed = t if higher_is_worse else -t
    p = p if np.isfinite(p) else 1.0
    return Regression(
        detected=bool(p < alpha),
        score=signed,
        method=f"Welch t-test, one-sided in the bad direction, alpha {alpha}",
        p_value=p,
    )
