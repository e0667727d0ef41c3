"""Attribute a target's anomaly or change to the nodes upstream of it, with DoWhy ``gcm``.

Two questions share one shape of answer, contributions in the target's own units that add up
to the observed deviation. For linear models (the default) the Shapley values of DoWhy's set
functions are computed exactly in closed form by :mod:`rca.engine.linear`, with bootstrap
refits vectorised; graphs with nonlinear mechanisms fall back to the DoWhy calls below.

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
copies (``x[t-k]``) are folded back into their node by :func:`rca.engine.ranking.fold`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rca.engine import linear, stats
from rca.engine.evidence import Evidence
from rca.engine.fitting import gcm

SAMPLED_DRAWS = 20  # bootstrap refits when DoWhy must sample (each one costs a full attribution), both questions


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
    p = np.nanmin([stats.welch(a, b)[2], stats.ks_2samp(a, b)])
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
        p_chow = stats.f_sf(max(f, 0.0), df1, df2)
    mask = g == 1
    p = np.nanmin([p_chow, stats.brown_forsythe(resid0[mask], resid0[~mask])])
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
    return ShapleyConfig(
        approximation_method=ShapleyApproximationMethods.PERMUTATION, num_permutations=20, n_jobs=1
    )


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


def bootstrap(
    draws: int,
    seed: int,
    once: Callable[[np.random.Generator], dict[str, float] | None],
) -> list[dict[str, float]]:
    """Run ``once`` on ``draws`` seeded generators and keep the answers that came back.

    Each draw gets its own generator, its seed drawn beforehand, so a draw's answer does not
    depend on which draws ran before it: they may run in any order, on a Dask cluster's workers
    (:func:`rca.engine.parallel.tasks`). A ``once`` that uses NumPy's global generator (DoWhy
    does) must seed it from its own generator first.
    """
    from rca.engine.parallel import tasks

    rng = np.random.default_rng(seed)
    seeds = [int(rng.integers(0, 2**32 - 1)) for _ in range(draws)]
    return [res for res in tasks(lambda child: once(np.random.default_rng(child)), seeds) if res is not None]


def benjamini_hochberg(p_values: dict[str, float], alpha: float) -> dict[str, bool]:
    """Which hypotheses are rejected at false-discovery rate ``alpha`` (DoWhy's default control)."""
    if not p_values:
        return {}
    names = list(p_values)
    adjusted = stats.benjamini_hochberg(np.array([p_values[n] for n in names]))
    return {name: bool(q <= alpha) for name, q in zip(names, adjusted, strict=True)}


def changed_mechanisms(s: linear.Structure, old: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """p-value per column that its mechanism changed between the windows (full windows, no subsampling)."""
    joint = np.vstack([old, new])
    indicator = np.r_[np.zeros(len(old)), np.ones(len(new))]
    out: dict[str, float] = {}
    for j, pa in enumerate(s.parents):
        if pa:
            out[s.columns[j]] = conditional_change_p(joint[:, j], indicator, joint[:, list(pa)])
        else:
            out[s.columns[j]] = root_change_p(joint[:, j], indicator)
    return out


@dataclass(frozen=True)
class Attribution:
    """Per-column contributions (point and bootstrap draws) and what the reader needs to judge them."""

    point: dict[str, float]
    draws: list[dict[str, float]]
    changed: dict[str, bool]
    p_values: dict[str, float]
    effects: np.ndarray | None = None  # (B+1, m) total effects, point first (linear anomaly path)
    structure: linear.Structure | None = None
    params: linear.Params | None = None  # (B+1) refits behind the point and the draws


@dataclass(frozen=True)
class Attributed:
    """An attribution with what a reader needs beside it: per-node evidence, the method, its costs."""

    att: Attribution
    evidence: Evidence
    method: str
    timings: dict[str, float]
    caveats: tuple[str, ...] = ()
    explained: tuple[tuple[str, str], ...] = ()  # (Y, X): X's own change is Y's, seen through a missing edge


def timed(run: Callable[[int], Attribution], bootstrap: int) -> tuple[Attribution, dict[str, float]]:
    """The point estimate (``run(0)``), then with ``bootstrap`` resamples, timing each step."""
    t0 = time.perf_counter()
    att = run(0)
    timings = {"attribute": time.perf_counter() - t0}
    t0 = time.perf_counter()
    if bootstrap:
        att = run(bootstrap)
    timings["intervals"] = time.perf_counter() - t0
    return att, timings


def weighted_mean(rows: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Column means of ``rows`` ``(..., n, m)``, weighted by ``weights`` ``(n,)`` when given (pooled ratios)."""
    if weights is None:
        return rows.mean(axis=-2)
    w = np.asarray(weights, dtype=float)
    return np.einsum("...nm,n->...m", rows, w) / w.sum()


def _as_dicts(s: linear.Structure, rows: np.ndarray) -> list[dict[str, float]]:
    return [{c: float(v) for c, v in zip(s.columns, row, strict=True)} for row in rows]


def linear_anomaly(
    s: linear.Structure,
    reference: np.ndarray,
    current: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
    params: linear.Params | None = None,
) -> Attribution:
    """Exact Shapley contributions to ``mean(current[target]) - E[target]`` for a linear SCM.

    The target is ``sum_j T_j N_j`` plus a constant, so DoWhy's mean-deviation set function is
    additive and node j's Shapley value is ``T_j (mean n_j - E[N_j])``; with ``weights`` (the
    current rows' denominators of a ratio target) the mean is the pooled one. Bootstrap: refit
    on resampled reference rows (a few refits at a time) and recompute; ``params`` are those
    refits when already made (:func:`anomaly_refits`, same rows, draws and generator).
    """
    if params is None:
        params = anomaly_refits(s, reference, draws, rng)
    effects = linear.total_effects(s, params)
    contrib = effects * (weighted_mean(linear.noise(s, params, current), weights) - linear.noise_means(s, params))
    return Attribution(
        point=_as_dicts(s, contrib[:1])[0],
        draws=_as_dicts(s, contrib[1:]),
        changed={},
        p_values={},
        effects=effects,
        structure=s,
        params=params,
    )


def anomaly_refits(s: linear.Structure, reference: np.ndarray, draws: int, rng: np.random.Generator) -> linear.Params:
    """The fit (refit 0) and ``draws`` bootstrap refits on resampled reference rows."""
    n = len(reference)
    resamples = np.vstack([np.arange(n)[None], rng.integers(0, n, (draws, n))])
    return linear.fit_resampled(s, reference, resamples)


def sampled_anomaly(
    s: linear.Structure,
    reference: np.ndarray,
    current: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
    samples: int = 256,
    permutations: int = 64,
) -> Attribution:
    """DoWhy's mean-deviation Shapley values by Monte Carlo, for structures with log-linear columns.

    The same set function as ``gcm.attribute_anomalies(attribute_mean_deviation=True)``: players
    outside a coalition take noise drawn independently per column from the fit window's noise.
    Evaluated vectorised with common random numbers (one set of draws and orderings for every
    coalition) and antithetic permutations; the target's row also carries the Monte Carlo gap
    between the model's expectation and the fit window's mean, so the rows add up. Bootstrap
    refits use a quarter of the evaluations (half the orderings, half the samples): their Monte
    Carlo noise only widens the intervals a little, and it makes them 4x cheaper.
    """
    n, m = reference.shape
    resamples = np.vstack([np.arange(n)[None], rng.integers(0, n, (draws, n))])
    params = linear.fit_resampled(s, reference, resamples)
    perms = []
    for _ in range(max(1, permutations // 2)):
        p = rng.permutation(m)
        perms += [p, p[::-1]]
    masks = np.zeros((len(perms), m + 1, m), dtype=bool)
    for k, order in enumerate(perms):
        for step, player in enumerate(order):
            masks[k, step + 1 :, player] = True
    out = np.zeros((len(resamples), m))
    for b, rows in enumerate(resamples):
        used = perms if b == 0 else perms[: max(2, len(perms) // 2)]
        flat = masks[: len(used)].reshape(-1, m)
        size = samples if b == 0 else max(32, samples // 2)
        chunk = max(1, 4_000_000 // (size * m))
        one = linear.Params(params.intercept[b : b + 1], tuple(c[b : b + 1] for c in params.coef))
        ref_noise = linear.noise(s, one, reference[rows])[0]
        dist = ref_noise[rng.integers(0, n, (size, m)), np.arange(m)]
        star = linear.noise(s, one, current)[0]  # (r, m)
        phi = np.zeros(m)
        for row in star:
            values = np.empty(len(flat))
            for start in range(0, len(flat), chunk):
                sel = flat[start : start + chunk]
                mixed = np.where(sel[:, None, :], row[None, None, :], dist[None, :, :])
                values[start : start + chunk] = linear.evaluate(s, params, b, mixed)[..., s.target].mean(
                    axis=1
                )
            chain = values.reshape(len(used), m + 1)
            gains = np.diff(chain, axis=1)
            for k, order in enumerate(used):
                phi[order] += gains[k]
        phi /= len(used) * len(star)
        baseline = reference[rows][:, s.target].mean()
        phi[s.target] += (current[:, s.target].mean() - baseline) - phi.sum()
        out[b] = phi
    return Attribution(
        point=_as_dicts(s, out[:1])[0],
        draws=_as_dicts(s, out[1:]),
        changed={},
        p_values={},
        structure=s,
        params=params,
    )


def _select(s: linear.Structure, a: linear.Params, b: linear.Params, use_b: np.ndarray) -> linear.Params:
    intercept = np.where(use_b[None, :], b.intercept, a.intercept)
    coef = tuple(b.coef[j] if use_b[j] else a.coef[j] for j in range(len(s.columns)))
    return linear.Params(intercept=intercept, coef=coef)


def _change_shapley(
    s: linear.Structure,
    old: linear.Params,
    new: linear.Params,
    players: np.ndarray,
    rng: np.random.Generator,
    exact_limit: int = 12,
) -> np.ndarray:
    k = len(players)
    phi = np.zeros(len(s.columns))
    if k == 0:
        return phi
    if k <= exact_limit:
        values = linear.means(s, old, new, linear.all_subsets(k), players)
        phi[players] = linear.exact_shapley(values, k)
    else:
        phi[players] = linear.permutation_shapley(
            lambda m: linear.means(s, old, new, m, players), k, 200, rng
        )
    return phi


def linear_change(
    s: linear.Structure,
    old: np.ndarray,
    new: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
    alpha: float,
    weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> Attribution:
    """Exact Shapley contributions to ``mean(new[target]) - mean(old[target])`` for a linear SCM.

    As ``gcm.distribution_change`` does: test each mechanism for a change (FDR-controlled), fit
    changed mechanisms per window and unchanged ones on both windows together, and attribute the
    difference in the target's mean to the changed mechanisms by exact Shapley values (means of a
    linear SCM propagate exactly, so no sampling is needed). The small remainder between the
    model's and the observed difference (noise means of unchanged mechanisms in a finite window)
    is given to the target, so the contributions add up to the observed change (with ``weights``,
    the old and new rows' denominators of a ratio target, the change in its pooled value). Bootstrap:
    resample both windows, refit, recompute, keeping the changed set of the point estimate.
    """
    wo, wn = weights if weights is not None else (np.ones(len(old)), np.ones(len(new)))
    p_values = changed_mechanisms(s, old, new)
    flagged = benjamini_hochberg(p_values, alpha)
    use_new = np.array([flagged[c] for c in s.columns])
    players = np.flatnonzero(use_new)

    def one(
        o: np.ndarray, n: np.ndarray, po: linear.Params, pn: linear.Params, pj: linear.Params, b: int,
        w: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        def pick(p: linear.Params) -> linear.Params:
            return linear.Params(p.intercept[b : b + 1], tuple(c[b : b + 1] for c in p.coef))

        old_p = _select(s, pick(pj), pick(po), use_new)
        new_p = _select(s, pick(pj), pick(pn), use_new)
        phi = _change_shapley(s, old_p, new_p, players, rng)
        observed = np.average(n[:, s.target], weights=w[1]) - np.average(o[:, s.target], weights=w[0])
        phi[s.target] += observed - phi.sum()
        return phi, linear.total_effects(s, new_p)[0]

    po, pn, pj = linear.fit(s, old), linear.fit(s, new), linear.fit(s, np.vstack([old, new]))
    point, effect = one(old, new, po, pn, pj, 0, (wo, wn))
    out: list[tuple[np.ndarray, np.ndarray]] = []
    if draws:
        oi = rng.integers(0, len(old), (draws, len(old)))
        ni = rng.integers(0, len(new), (draws, len(new)))
        po_b, pn_b = linear.fit_resampled(s, old, oi), linear.fit_resampled(s, new, ni)
        pj_b = linear.fit_resampled(s, np.vstack([old, new]), np.hstack([oi, ni + len(old)]))
        out = [one(old[oi[b]], new[ni[b]], po_b, pn_b, pj_b, b, (wo[oi[b]], wn[ni[b]])) for b in range(draws)]
    effects = np.vstack([effect] + [e for _, e in out])
    return Attribution(
        point=_as_dicts(s, point[None])[0],
        draws=_as_dicts(s, np.array([p for p, _ in out])),
        changed=flagged,
        p_values=p_values,
        effects=effects,
        structure=s,
    )
