"""Decide whether the target really got worse, or moved within its normal noise.

* **anomaly** (a point or short window against the fit window): a robust z-score, the
  distance of the window's mean from the fit window's median in units of its scaled median
  absolute deviation (falling back to the standard deviation when more than half the values
  are equal). Detected when it exceeds ``z_threshold`` in the bad direction.
* **change** (two windows): Welch's t-test on the target, one-sided in the bad direction;
  the score is the t statistic signed so that positive means worse. Detected when the
  one-sided p-value is below ``alpha``.

Both report the method in the result so a reader can check the arithmetic.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from results import Regression


def _scale(x: np.ndarray) -> float:
    mad = float(stats.median_abs_deviation(x, scale="normal"))
    if mad > 0:
        return mad
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return sd


def anomaly_regression(
    reference: np.ndarray, current: np.ndarray, higher_is_worse: bool, z_threshold: float = 3.5
) -> Regression:
    ref = np.asarray(reference, dtype=float)
    cur = float(np.mean(current))
    scale = _scale(ref)
    centre = float(np.median(ref))
    if scale == 0:
        z = 0.0 if cur == centre else float(np.sign(cur - centre)) * 1e6
    else:
        # A window of k rows averages its noise: scale the spread by sqrt(k).
        z = (cur - centre) / (scale / np.sqrt(max(1, len(np.atleast_1d(current)))))
    signed = z if higher_is_worse else -z
    p = float(stats.norm.sf(signed))
    return Regression(
        detected=bool(signed > z_threshold),
        score=float(signed),
        method=f"robust z-score of the window mean vs the fit window (median/MAD), threshold {z_threshold}",
        p_value=p,
    )


def change_regression(
    baseline: np.ndarray, current: np.ndarray, higher_is_worse: bool, alpha: float = 0.01
) -> Regression:
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    if np.ptp(np.concatenate([a, b])) == 0:
        return Regression(
            detected=False, score=0.0, method="Welch t-test (one-sided, bad direction)", p_value=1.0
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.ttest_ind(b, a, equal_var=False, alternative="greater" if higher_is_worse else "less")
    t = float(res.statistic) if np.isfinite(res.statistic) else 0.0
    signed = t if higher_is_worse else -t
    p = float(res.pvalue) if np.isfinite(res.pvalue) else 1.0
    return Regression(
        detected=bool(p < alpha),
        score=signed,
        method=f"Welch t-test, one-sided in the bad direction, alpha {alpha}",
        p_value=p,
    )
