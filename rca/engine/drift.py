"""Which dependencies changed over a history: each pair of metrics' correlation in its earlier and later half.

A graph learnt from years of weekly data keeps what held across them (``rca graph suggest`` keeps edges
found in most stretches of the history); a dependence that appeared or faded half-way is in neither the
graph nor the reader's view. Measured on real histories: jinja's commits a week and files per commit
were uncorrelated (r 0.01 around the trend) in its first 60% and correlated (0.44) in its last 40%, and a
graph learnt from the first part failed the check on the second. This module names such pairs so the
suggestion can say so and point at the later years: Fisher's z test of the difference between the two
halves' correlations (of the deviations from the trend, as the learner sees them), adjusted over all
pairs (Benjamini-Hochberg), and only where the graph's structure is at stake: a dependence found in one
half and not the other, or one that reversed. A dependence that only strengthened (authors and commits
a week, r 0.65 then 0.85 in most histories) changes no edge and is not named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rca.engine.checks import partial_corr
from rca.engine.stats import benjamini_hochberg, norm_sf

MIN_HALF = 20  # rows per half: below this, a correlation's interval spans most of [-1, 1]


@dataclass(frozen=True)
class Drift:
    """A pair of metrics whose correlation differs between the history's earlier and later half."""

    a: str
    b: str
    early: float  # correlation in the earlier half
    late: float  # in the later half
    p_value: float
    q_value: float  # adjusted over every pair tested
    kind: str  # "appeared" (found in the later half only), "faded" (the earlier only), "reversed" (sign)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "kind": self.kind, "early_r": round(self.early, 3),
                "late_r": round(self.late, 3), "p_value": float(f"{self.p_value:.3g}"),
                "q_value": float(f"{self.q_value:.3g}")}


@dataclass(frozen=True)
class Halves:
    """Where the history was split and what changed between the halves."""

    early: tuple[str, str]  # first and last bucket of the earlier half (ISO dates)
    late: tuple[str, str]
    pairs: tuple[Drift, ...]  # those whose change passes the test, strongest first
    tested: int
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {"early": list(self.early), "late": list(self.late), "tested": self.tested, "alpha": self.alpha,
                "changed": [d.to_dict() for d in self.pairs]}


def halves(x: np.ndarray, names: Sequence[str], index: pd.Index, *, alpha: float = 0.01) -> Halves | None:
    """Compare each pair of ``names`` (columns of ``x``, rows in time order at ``index``) between the halves.

    ``x`` is what the learner sees (deviations from the trend). None when a half has fewer than
    :data:`MIN_HALF` rows or fewer than two columns are given.
    """
    n, p = x.shape
    mid = n // 2
    if p < 2 or mid < MIN_HALF or n - mid < MIN_HALF:
        return None
    first, second = x[:mid], x[mid:]
    with np.errstate(all="ignore"):
        r1, r2 = np.corrcoef(first, rowvar=False), np.corrcoef(second, rowvar=False)
    se = math.sqrt(1 / (len(first) - 3) + 1 / (len(second) - 3))
    pairs, ps = [], []
    for i in range(p):
        for j in range(i + 1, p):
            if not (np.isfinite(r1[i, j]) and np.isfinite(r2[i, j])):
                continue
            (a, p_a), (b, p_b) = partial_corr(r1, i, j, [], mid), partial_corr(r2, i, j, [], n - mid)
            z = (np.arctanh(a) - np.arctanh(b)) / se
            pairs.append((names[i], names[j], a, b, _kind(a, p_a <= alpha, b, p_b <= alpha)))
            ps.append(2 * float(norm_sf(abs(z))))
    q = benjamini_hochberg(np.array(ps)) if ps else np.array([])
    changed = [Drift(a, b, r_a, r_b, pv, float(qv), kind)
               for (a, b, r_a, r_b, kind), pv, qv in zip(pairs, ps, q, strict=True) if qv <= alpha and kind]
    changed.sort(key=lambda d: d.p_value)

    def iso(ts: object) -> str:
        return pd.Timestamp(ts).strftime("%Y-%m-%d")

    return Halves((iso(index[0]), iso(index[mid - 1])), (iso(index[mid]), iso(index[-1])), tuple(changed),
                  len(pairs), alpha)


def _kind(r1: float, found1: bool, r2: float, found2: bool) -> str:
    """How a pair's dependence changed between the halves, if its structure did: "" when it is found in both
    with one sign (only its strength changed) or in neither."""
    if found1 and found2:
        return "reversed" if r1 * r2 < 0 else ""
    return "appeared" if found2 else "faded" if found1 else ""


__all__ = ["MIN_HALF", "Drift", "Halves", "halves"]
