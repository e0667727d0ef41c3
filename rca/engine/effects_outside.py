"""Columns the graph does not adjust for, though the data tie them to both the treatment and the outcome.

An adjustment is only as good as the graph: a confounder the graph leaves out (a column the data
hold but the graph does not name, or a node the graph keeps off the back-door paths) biases the
estimate while every refutation check passes. Investigations name such columns from the graph
check's missing dependencies; effect questions test each candidate directly:

- candidates: observed graph nodes that are not adjusted for and not downstream of the treatment,
  and numeric columns of the data the graph does not name (never the treatment or the outcome,
  nor their lagged copies);
- a candidate is *tied to both* when its partial correlation with the treatment given the
  adjustment set, and with the outcome given the treatment and the adjustment set, are both
  significant (Benjamini-Hochberg over all tests at 1%, as the graph check decides).

The graph may still be right (a column that is a consequence of the treatment looks the same), so
the finding is a caveat; the question's own estimator then re-estimates with the column adjusted
for too, and when that moves the estimate beyond its interval the answer is unreliable.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from rca.engine import stats
from rca.engine.effects_data import EffectData
from results.effects import OutsideColumn

ALPHA = 0.01
MAX_NAMED = 3


def _residual(v: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    z = np.column_stack([np.ones(len(v)), x]) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(z, v * np.sqrt(w), rcond=None)
    return v - np.column_stack([np.ones(len(v)), x]) @ coef


def _partial(a: np.ndarray, b: np.ndarray, given: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted partial correlation of ``a`` and ``b`` given ``given``, and its two-sided p-value."""
    ra, rb = _residual(a, given, w), _residual(b, given, w)
    den = np.sqrt(np.sum(w * ra**2) * np.sum(w * rb**2))
    r = float(np.clip(np.sum(w * ra * rb) / den, -0.999999, 0.999999)) if den > 0 else 0.0
    dof = len(a) - 2 - given.shape[1]
    if dof <= 0:
        return r, 1.0
    t = r * np.sqrt(dof / (1 - r * r))
    return r, float(2 * stats.t_sf(abs(t), dof))


def candidates(q: EffectData, adjust: list[str]) -> dict[str, tuple[np.ndarray, bool]]:
    """Column -> (values, whether it is a graph node), for every column worth testing."""
    down: set[str] = set()
    for t in q.tcols:
        down |= nx.descendants(q.dag, t)
    skip_nodes = {q.treatment, q.outcome}
    out: dict[str, tuple[np.ndarray, bool]] = {}
    for col in q.data.columns:
        node = q.columns.get(col, (col, 0))[0]
        if col in adjust or col in down or col in q.tcols or node in skip_nodes or col == q.weight_column:
            continue
        values = q.data[col].to_numpy(float)
        if np.ptp(values) > 0:
            out[col] = (values, True)
    for col in q.extra.columns:
        values = q.extra[col].to_numpy(float)
        if col not in out and np.ptp(values) > 0:
            out[col] = (values, False)
    return out


def tied_to_both(q: EffectData, adjust: list[str]) -> list[OutsideColumn]:
    """The candidates tied to both treatment and outcome, the most strongly tied first."""
    cands = candidates(q, adjust)
    if not cands or len(q.data) < len(adjust) + len(q.tcols) + 8:
        return []
    w = q.w()
    t = q.data[list(q.tcols)].to_numpy(float).sum(axis=1)
    y = q.data[q.outcome].to_numpy(float)
    x_adj = q.data[adjust].to_numpy(float) if adjust else np.empty((len(y), 0))
    x_both = np.column_stack([q.data[list(q.tcols)].to_numpy(float), x_adj])
    tests = {}
    for col, (values, _) in cands.items():
        tests[col] = (_partial(values, t, x_adj, w), _partial(values, y, x_both, w))
    names = list(tests)
    p = np.array([tests[c][0][1] for c in names] + [tests[c][1][1] for c in names])
    q_values = stats.benjamini_hochberg(p)
    found = []
    for i, col in enumerate(names):
        if q_values[i] <= ALPHA and q_values[len(names) + i] <= ALPHA:
            (r_t, _), (r_y, _) = tests[col]
            found.append(OutsideColumn(col, r_t, r_y, cands[col][1]))
    found.sort(key=lambda o: -min(abs(o.r_treatment), abs(o.r_outcome)))
    return found[:MAX_NAMED]


def with_column(q: EffectData, column: str) -> pd.DataFrame:
    """The question's rows with an outside column beside them (a column of the data the graph does not name)."""
    if column in q.data.columns:
        return q.data
    return q.data.assign(**{column: q.extra[column].to_numpy(float)})
