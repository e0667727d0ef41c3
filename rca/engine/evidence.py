"""Each node's own evidence: how unusual is the part of its deviation its parents do not explain?

Attribution says how much of the target's deviation each node's noise carries; it does not
say where the deviation starts. A node whose own noise (its value minus what its parents
predict) is far outside its normal range is a place where something happened; a node that
only passes on its parents' deviation is not. This module scores that, robustly, per node:

* **anomaly** (a few rows against the fit window): the distance of the rows' mean noise from
  the fit window's median noise, in robust standard deviations (scaled MAD, or the standard
  deviation where more than half the noise is one value, as in mostly-zero error counts), for
  a window of ``k`` rows divided by ``sqrt(k)``. It is called unusual when it passes
  ``threshold`` *and* lies beyond every fit-window row but a ``tail`` share of them: heavy-tailed
  noise makes large robust z-scores common, the empirical tail keeps them honest.
* **change** (two windows): the mechanism-change test's p-value (see
  :func:`rca.engine.attribution.changed_mechanisms`) as a z-score, unusual when the test flags
  the mechanism after false-discovery control.

A node whose rows carry a denominator (a ratio of few events) has its noise scaled by
``sqrt(n / median n)`` first: a 100% bug-fix week of one commit is not unusual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rca.engine import stats
from rca.engine.detection import robust_scale as _scale


@dataclass(frozen=True)
class Evidence:
    """Per column: a signed robust z-score of its own deviation, and whether it is unusual."""

    score: dict[str, float]
    unusual: dict[str, bool]


def anomaly(
    columns: tuple[str, ...],
    ref_noise: np.ndarray,
    cur_noise: np.ndarray,
    *,
    weights: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    threshold: float = 3.5,
    tail: float = 0.01,
) -> Evidence:
    """Scores from noise ``(n, m)`` of the fit window and ``(k, m)`` of the rows asked about.

    ``weights`` maps a column index to its (reference, current) denominators.
    """
    ref = np.asarray(ref_noise, dtype=float)
    cur = np.asarray(cur_noise, dtype=float)
    k = max(1, len(cur))
    score: dict[str, float] = {}
    unusual: dict[str, bool] = {}
    for j, col in enumerate(columns):
        r, c = ref[:, j], cur[:, j]
        if weights and j in weights:
            wr, wc = weights[j]
            typical_n = float(np.median(wr[wr > 0])) if np.any(wr > 0) else 1.0
            centre = float(np.average(r, weights=np.maximum(wr, 1e-12)))
            r = centre + (r - centre) * np.sqrt(np.maximum(wr, 0) / typical_n)
            c = centre + (c - centre) * np.sqrt(np.maximum(wc, 0) / typical_n)
        centre = float(np.median(r))
        scale = _scale(r)
        dev = float(np.mean(c)) - centre
        z = dev / (scale / np.sqrt(k)) if scale > 0 else (0.0 if abs(dev) < 1e-12 else float(np.sign(dev)) * 1e6)
        # How many ordinary rows deviate at least as far as the asked-about rows do, on average.
        beyond = float(np.mean(np.abs(r - centre) >= abs(dev))) if len(r) else 0.0
        score[col] = float(np.clip(z, -1e6, 1e6))
        unusual[col] = bool(abs(z) >= threshold and beyond <= tail)
    return Evidence(score, unusual)


def change(columns: tuple[str, ...], p_values: dict[str, float], flagged: dict[str, bool],
           direction: dict[str, float]) -> Evidence:
    """Scores from mechanism-change p-values, signed by the way the column's noise moved."""
    score = {}
    for col in columns:
        p = min(max(p_values.get(col, 1.0), 1e-300), 1.0)
        z = float(stats.norm_isf(p / 2)) if p < 1.0 else 0.0
        score[col] = z if direction.get(col, 0.0) >= 0 else -z
    return Evidence(score, {c: bool(flagged.get(c, False)) for c in columns})
