"""Attribute a target's anomaly or change to the nodes upstream of it, with DoWhy ``gcm``.

Two questions share one shape of answer, contributions in the target's own units that add up
to the observed deviation:

* **anomaly**: ``gcm.attribute_anomalies`` with the target's value as the score and
  ``attribute_mean_deviation=True``, so each node's Shapley value is its share of
  ``x - E[X]`` for the anomalous row(s) (averaged over rows for a short window);
* **distribution change**: ``gcm.distribution_change`` with the difference in means as
  the measure, so contributions add up to ``mean(current) - mean(baseline)``.

DoWhy's default mechanism-change test is a kernel test that takes ~95% of the time. Here a
node's mechanism is tested with classical tests that suit the linear mechanisms we fit: for
a root, Welch's t-test and Kolmogorov-Smirnov; for a child, a Chow test (does adding the
window and its interactions with the parents improve the regression?) and Brown-Forsythe on
the residuals (did the noise scale change?), Bonferroni-combined. Contributions of lagged
copies (``x[t-k]``) are folded back into their node.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from rca.engine.fitting import gcm


def _groups(indicator: np.ndarray) -> np.ndarray:
    flat = np.asarray(indicator).reshape(-1).astype(str)
    return flat == flat[0]


def root_change_p(x: np.ndarray, indicator: np.ndarray) -> float:
    """p-value that a root node's distribution differs between the two windows."""
    x = np.asarray(x, dtype=float).reshape(-1)
    g = _groups(indicator)
    a, b = x[g], x[~g]
    if np.ptp(x) == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_t = stats.ttest_ind(a, b, equal_var=False).pvalue
        p_ks = stats.ks_2samp(a, b).pvalue
    p = np.nanmin([p_t, p_ks])
    return float(min(1.0, 2 * p)) if np.isfinite(p) else 1.0


def conditional_change_p(y: np.ndarray, indicator: np.ndarray, parents: np.ndarray) -> float:
    """p-value that a node's mechanism (its regression on its parents, or its noise) changed."""
    y = np.asarray(y, dtype=float).reshape(-1)
    z = np.asarray(parents, dtype=float)
    z = z.reshape(len(y), -1)
    g = _groups(indicator).astype(float)
    n = len(y)
    base = np.column_stack([np.ones(n), z])
    full = np.column_stack([base, g[:, None], z * g[:, None]])
    if n <= full.shape[1] + 1 or np.ptp(y) == 0:
        return 1.0
    rss0, resid0 = _ols_rss(base, y)
    rss1, _ = _ols_rss(full, y)
    df1 = full.shape[1] - base.shape[1]
    df2 = n - full.shape[1]
    p_chow = 1.0
    if rss1 > 0 and df2 > 0:
        f = ((rss0 - rss1) / df1) / (rss1 / df2)
        p_chow = float(stats.f.sf(max(f, 0.0), df1, df2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = g == 1
        p_bf = float(stats.levene(resid0[mask], resid0[~mask], center="median").pvalue)
    p = np.nanmin([p_chow, p_bf])
    return float(min(1.0, 2 * p)) if np.isfinite(p) else 1.0


def _ols_rss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return float(resid @ resid), resid


def shapley_config(players: int) -> object:
    """Exact Shapley values for up to 8 players, a fixed number of permutations beyond."""
    from dowhy.gcm.shapley import ShapleyApproximationMethods, ShapleyConfig

    if players <= 8:
        return ShapleyConfig(approximation_method=ShapleyApproximationMethods.EXACT, n_jobs=1)
    return ShapleyConfig(approximation_method=ShapleyApproximationMethods.PERMUTATION, num_permutations=20, n_jobs=1)


def _mean_difference(old: np.ndarray, new: np.ndarray) -> float:
    return float(np.mean(new) - np.mean(old))


def change_contributions(
    scm: object,
    target: str,
    old: pd.DataFrame,
    new: pd.DataFrame,
    *,
    num_samples: int,
    alpha: float = 0.05,
) -> tuple[dict[str, float], dict[str, bool]]:
    """Per-column contributions to ``mean(new[target]) - mean(old[target])`` and which mechanisms changed."""
    g = gcm()
    players = len(scm.graph.nodes)  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contributions, changed, _, _ = g.distribution_change(
            scm,
            old,
            new,
            target,
            num_samples=num_samples,
            difference_estimation_func=_mean_difference,
            independence_test=root_change_p,
            conditional_independence_test=conditional_change_p,
            mechanism_change_test_significance_level=alpha,
            return_additional_info=True,
            shapley_config=shapley_config(players),
        )
    return {k: float(v) for k, v in contributions.items()}, {k: bool(v) for k, v in changed.items()}


class _ValueScorer:
    """The target's own value as its anomaly score, so contributions are in the target's units."""

    def fit(self, x: np.ndarray) -> None:  # noqa: D102 - the AnomalyScorer protocol
        return None

    def score(self, x: np.ndarray) -> np.ndarray:  # noqa: D102
        return np.asarray(x, dtype=float).reshape(-1)


def anomaly_contributions(
    scm: object,
    target: str,
    rows: pd.DataFrame,
    *,
    num_samples: int,
) -> dict[str, float]:
    """Per-column contributions to ``mean(rows[target]) - E[target]`` under the fitted model."""
    g = gcm()
    ancestors = len(scm.graph.nodes)  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = g.attribute_anomalies(
            scm,
            target,
            anomaly_samples=rows,
            anomaly_scorer=_ValueScorer(),
            attribute_mean_deviation=True,
            num_distribution_samples=num_samples,
            shapley_config=shapley_config(ancestors),
        )
    return {k: float(np.mean(v)) for k, v in raw.items()}


def fold_lags(contributions: dict[str, float], columns: dict[str, tuple[str, int]]) -> dict[str, float]:
    """Add each lagged column's contribution to its node."""
    out: dict[str, float] = {}
    for col, value in contributions.items():
        node = columns.get(col, (col, 0))[0]
        out[node] = out.get(node, 0.0) + value
    return out


def bootstrap(
    draws: int,
    seed: int,
    once: Callable[[np.random.Generator], dict[str, float] | None],
) -> list[dict[str, float]]:
    """Run ``once`` on ``draws`` seeded generators and keep the answers that came back."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        child = np.random.default_rng(rng.integers(0, 2**32 - 1))
        res = once(child)
        if res is not None:
            out.append(res)
    return out
