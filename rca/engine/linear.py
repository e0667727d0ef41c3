"""Exact, vectorised evaluation of DoWhy's Shapley set functions for linear additive-noise models.

When every mechanism upstream of the target is a linear additive-noise model (or an empirical
root), the set functions behind ``gcm.attribute_anomalies(attribute_mean_deviation=True)`` and
``gcm.distribution_change`` (mean difference) have closed forms: the target is a linear function
of the upstream noise terms, and a node's mean is its intercept plus its coefficients times its
parents' means. This module computes those quantities exactly, with no Monte Carlo sampling, for
a whole batch of bootstrap refits at once (ordinary least squares through batched normal
equations, so a refit is the same estimator ``gcm.fit`` uses for a linear regressor). It is the
same model and the same Shapley attribution as DoWhy's, only evaluated in closed form; the tests
check it against DoWhy on small graphs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import factorial

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Structure:
    """The columns upstream of (and including) a target, in topological order, with parent indices."""

    columns: tuple[str, ...]
    parents: tuple[tuple[int, ...], ...]
    target: int
    log: tuple[bool, ...] = ()  # per column: log-linear (X = exp(f(parents) + N)) instead of linear

    @property
    def roots(self) -> np.ndarray:
        return np.array([len(p) == 0 for p in self.parents])

    @property
    def logs(self) -> np.ndarray:
        return np.array(self.log if self.log else [False] * len(self.columns))

    @property
    def additive(self) -> bool:
        """True when the target is a linear function of the noise terms (no log-linear column)."""
        return not self.logs.any()


@dataclass(frozen=True)
class Params:
    """Parameters of ``B`` refits: intercepts (a root's mean) ``(B, m)`` and coefficients per column."""

    intercept: np.ndarray  # (B, m): a root's mean, a child's regression intercept
    coef: tuple[np.ndarray, ...]  # per column, (B, p_j)

    @property
    def draws(self) -> int:
        return self.intercept.shape[0]


def structure(dag: nx.DiGraph, target: str, log_columns: frozenset[str] = frozenset()) -> Structure:
    """The target's ancestral subgraph (what DoWhy attributes over) in a fixed topological order."""
    keep = nx.ancestors(dag, target) | {target}
    sub = dag.subgraph(keep)
    order = list(nx.lexicographical_topological_sort(sub, key=str))
    index = {c: i for i, c in enumerate(order)}
    parents = tuple(tuple(sorted(index[p] for p in sub.predecessors(c))) for c in order)
    log = tuple(c in log_columns and bool(parents[i]) for i, c in enumerate(order))
    return Structure(columns=tuple(order), parents=parents, target=index[target], log=log)


def whole(dag: nx.DiGraph, log_columns: frozenset[str] = frozenset()) -> Structure:
    """Every column of the graph in a fixed topological order (the target field is unused: 0)."""
    order = list(nx.lexicographical_topological_sort(dag, key=str))
    index = {c: i for i, c in enumerate(order)}
    parents = tuple(tuple(sorted(index[p] for p in dag.predecessors(c))) for c in order)
    log = tuple(c in log_columns and bool(parents[i]) for i, c in enumerate(order))
    return Structure(columns=tuple(order), parents=parents, target=0, log=log)


def fit(s: Structure, x: np.ndarray, ridge: float = 1e-9, weights: np.ndarray | None = None) -> Params:
    """OLS of every child on its parents (roots: their mean) for data ``x`` of shape ``(B, n, m)``.

    A ridge of 1e-9 (on standardised parents) only keeps a bootstrap resample with a constant
    column solvable; it does not move well-posed estimates. ``weights`` (``(n,)`` or ``(B, n)``)
    make it weighted least squares and weighted means, each row counting that many times (a ratio's
    denominator: a week of one commit counts as one commit).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 2:
        x = x[None]
    b, n, m = x.shape
    w = np.ones((b, n)) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), (b, n))
    w = w * (n / np.sum(w, axis=1, keepdims=True))  # mean 1 per refit, so the ridge keeps its scale
    sw = np.sqrt(w)
    intercept = np.empty((b, m))
    coefs: list[np.ndarray] = []
    logs = s.logs
    # Centre (and weight) every column once: each is a parent of several children.
    mean = np.einsum("bn,bnm->bm", w, x) / n
    xc = (x - mean[:, None, :]) * sw[:, :, None]
    # Solve on standardised parents: metrics differ in scale by 1e8 (seconds vs ratios), and a
    # ridge must be relative to each column, not to the largest one.
    sd = np.sqrt(np.einsum("bnm,bnm->bm", xc, xc) / n)
    sd = np.where(sd > 0, sd, 1.0)
    xs = xc / sd[:, None, :]
    for j, pa in enumerate(s.parents):
        if logs[j]:
            y = np.log(np.maximum(x[:, :, j], 1e-300))
            ym = np.einsum("bn,bn->b", w, y) / n
            yc = (y - ym[:, None]) * sw
        else:
            ym, yc = mean[:, j], xc[:, :, j]
        if not pa:
            intercept[:, j] = ym
            coefs.append(np.zeros((b, 0)))
            continue
        cols = list(pa)
        zs = xs[:, :, cols]
        gram = np.einsum("bnp,bnq->bpq", zs, zs)
        rhs = np.einsum("bnp,bn->bp", zs, yc)
        a = np.linalg.solve(gram + ridge * n * np.eye(len(pa)), rhs[..., None])[..., 0] / sd[:, cols]
        coefs.append(a)
        intercept[:, j] = ym - np.einsum("bp,bp->b", mean[:, cols], a)
    return Params(intercept=intercept, coef=tuple(coefs))


def fit_resampled(s: Structure, x: np.ndarray, resamples: np.ndarray, max_values: int = 4_000_000,
                  weights: np.ndarray | None = None) -> Params:
    """:func:`fit` on rows ``x[resamples[b]]`` for each of ``B`` index rows, a few refits at a time.

    Bootstrap refits never hold ``B x n x m`` values at once: a 100,000-row window with 40
    columns and 200 resamples would need 6 GB; in chunks of ``max_values`` it needs 32 MB.
    ``weights`` ``(n,)`` are resampled with the rows.
    """
    x = np.asarray(x, dtype=float)
    resamples = np.atleast_2d(resamples)
    per = max(1, int(max_values // max(1, resamples.shape[1] * x.shape[1])))
    w = None if weights is None else np.asarray(weights, dtype=float)
    parts = [fit(s, x[resamples[i : i + per]], weights=None if w is None else w[resamples[i : i + per]])
             for i in range(0, len(resamples), per)]
    return Params(
        intercept=np.concatenate([p.intercept for p in parts]),
        coef=tuple(np.concatenate([p.coef[j] for p in parts]) for j in range(len(s.columns))),
    )


def noise(s: Structure, p: Params, x: np.ndarray) -> np.ndarray:
    """Each column's noise for rows ``x`` ``(n, m)`` under each refit, ``(B, n, m)``; a root's: its value."""
    x = np.asarray(x, dtype=float)
    out = np.repeat(x[None], p.draws, axis=0)
    logs = s.logs
    for j, pa in enumerate(s.parents):
        if pa:
            y = np.log(np.maximum(x[:, j], 1e-300)) if logs[j] else x[:, j]
            out[:, :, j] = (
                y[None] - p.intercept[:, None, j] - np.einsum("np,bp->bn", x[:, list(pa)], p.coef[j])
            )
    return out


def predict(s: Structure, p: Params, x: np.ndarray, draw: int = 0) -> np.ndarray:
    """Each child column's fitted value from its observed parents in rows ``x`` ``(n, m)``; a root's: its mean."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    for j, pa in enumerate(s.parents):
        z = p.intercept[draw, j] + (x[:, list(pa)] @ p.coef[j][draw] if pa else 0.0)
        out[:, j] = np.exp(np.minimum(z, 700.0)) if s.logs[j] else z
    return out


def evaluate(
    s: Structure, p: Params, draw: int, noise_values: np.ndarray, fixed: dict[int, float] | None = None
) -> np.ndarray:
    """Every column's value from noise ``(..., m)`` under refit ``draw``; ``fixed`` columns held (do())."""
    noise_values = np.asarray(noise_values, dtype=float)
    one = Params(p.intercept[draw : draw + 1], tuple(c[draw : draw + 1] for c in p.coef))
    flat = noise_values.reshape(1, -1, noise_values.shape[-1])
    return evaluate_all(s, one, flat, fixed).reshape(noise_values.shape)


def evaluate_all(s: Structure, p: Params, noise_values: np.ndarray, fixed: dict[int, float] | None = None) -> np.ndarray:
    """Every column's value from noise ``(B, n, m)`` under each of the ``B`` refits at once; ``fixed`` columns
    held (do())."""
    vals = np.empty_like(noise_values, dtype=float)
    logs = s.logs
    for j, pa in enumerate(s.parents):
        if fixed and j in fixed:
            vals[..., j] = fixed[j]
        elif not pa:
            vals[..., j] = noise_values[..., j]
        else:
            z = p.intercept[:, None, j] + (vals[..., list(pa)] @ p.coef[j][:, :, None])[..., 0] + noise_values[..., j]
            vals[..., j] = np.exp(np.minimum(z, 700.0)) if logs[j] else z
    return vals


def noise_means(s: Structure, p: Params) -> np.ndarray:
    """E[N_j] under each refit: a root's mean; zero for an OLS child (its residuals average to zero)."""
    return np.where(s.roots[None, :], p.intercept, 0.0)


def total_effects(s: Structure, p: Params) -> np.ndarray:
    """d target / d N_j for every column j under each refit, ``(B, m)`` (1 for the target itself)."""
    eff = np.zeros((p.draws, len(s.columns)))
    eff[:, s.target] = 1.0
    # Walk backwards: a column's effect is the sum over its children of (edge coefficient x child's effect).
    for j in range(len(s.columns) - 1, -1, -1):
        for k, pa in enumerate(s.parents):
            if j in pa:
                eff[:, j] += p.coef[k][:, pa.index(j)] * eff[:, k]
    return eff


def means(s: Structure, old: Params, new: Params, masks: np.ndarray, players: np.ndarray) -> np.ndarray:
    """The target's mean when the ``players`` set in each row of ``masks`` use ``new`` parameters.

    ``masks`` is ``(K, k)`` booleans over ``players`` (column indices); every other column uses
    ``old``. Works on a single refit (``B == 1``) and returns ``(K,)``.
    """
    k_sets = masks.shape[0]
    use_new = np.zeros((k_sets, len(s.columns)), dtype=bool)
    use_new[:, players] = masks
    mu = np.zeros((k_sets, len(s.columns)))
    for j, pa in enumerate(s.parents):
        mo = old.intercept[0, j] + (mu[:, list(pa)] @ old.coef[j][0] if pa else 0.0)
        mn = new.intercept[0, j] + (mu[:, list(pa)] @ new.coef[j][0] if pa else 0.0)
        mu[:, j] = np.where(use_new[:, j], mn, mo)
    return mu[:, s.target]


def all_subsets(k: int) -> np.ndarray:
    """Every subset of ``k`` players as a ``(2**k, k)`` boolean mask, indexed by its bit pattern."""
    codes = np.arange(2**k)
    return ((codes[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)


def exact_shapley(values: np.ndarray, k: int) -> np.ndarray:
    """Shapley values from a set function given on all ``2**k`` subsets (bit-pattern order)."""
    codes = np.arange(2**k)
    sizes = np.array([bin(c).count("1") for c in codes])
    weight = np.array(
        [factorial(s) * factorial(k - s - 1) / factorial(k) if s < k else 0.0 for s in range(k + 1)]
    )
    phi = np.zeros(k)
    for i in range(k):
        without = codes[((codes >> i) & 1) == 0]
        phi[i] = np.sum(weight[sizes[without]] * (values[without | (1 << i)] - values[without]))
    return phi


def permutation_shapley(
    value_of: Callable[[np.ndarray], np.ndarray], k: int, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Shapley values estimated from ``permutations`` random orderings (antithetic pairs) for many players."""
    phi = np.zeros(k)
    count = 0
    for _ in range(max(1, permutations // 2)):
        perm = rng.permutation(k)
        for order in (perm, perm[::-1]):
            masks = np.zeros((k + 1, k), dtype=bool)
            for step, player in enumerate(order):
                masks[step + 1 :, player] = True
            v = value_of(masks)
            phi[order] += np.diff(v)
            count += 1
    return phi / count
