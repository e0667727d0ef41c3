"""Estimators of an average effect, on numpy alone: (weighted) least squares, doubly robust, front-door, IV.

Each takes the prepared question (:class:`~rca.engine.effects_data.EffectData`) first and returns
an :class:`~results.effects.Estimate` per unit of the treatment (a sustained change: the sum of
the treatment's and its lagged copies' slopes), or of switching a binary treatment on:

- **linear regression** of the outcome on the treatment columns and the adjustment set, weighted
  by the question's row weights, with its exact t interval (the engine's fitted models are linear,
  and this is the estimator DoWhy's ``backdoor.linear_regression`` runs);
- **doubly robust** (augmented inverse-probability weighting, AIPW) for a binary treatment: a
  linear outcome model per arm and a logistic propensity model; it is right when either model is,
  and its interval comes from its influence function. Regression adjustment is shown beside it;
- **front-door two-stage regression** (treatment -> mediators, mediators -> outcome given the
  treatment) and **instrumental variables** (Wald / two-stage least squares), with bootstrap
  intervals;
- the **naive** slope with no adjustment, so a report can show what the adjustment changed.

Every row resample a bootstrap makes is drawn first, in order, and the re-estimates then run in any
order (on a Dask cluster when one is configured: :func:`rca.engine.parallel.tasks`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from rca.engine.effects_data import EffectData
from rca.engine.parallel import tasks
from results.effects import Estimate, Overlap

WEIGHT = "\x00weight"  # the row-weight column refutations and bootstraps carry along with the rows


def t_quantile(confidence: float, dof: float) -> float:
    """The two-sided critical value of Student's t for ``confidence`` (normal when ``dof`` is huge)."""
    p = 0.5 + confidence / 2
    if dof > 1e6:
        return float(-special.ndtri(1 - p))
    return float(special.stdtrit(dof, p))


def t_pvalue(t: float, dof: float) -> float:
    return float(2 * special.stdtr(dof, -abs(t)))


@dataclass(frozen=True)
class LinearFit:
    """A weighted least-squares fit with an intercept (column 0 of ``params``)."""

    params: np.ndarray
    cov: np.ndarray  # classical covariance of the parameters
    dof: float
    resid: np.ndarray  # unweighted residuals

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diag(self.cov), 0.0))

    @property
    def tvalues(self) -> np.ndarray:
        se = self.bse
        return np.divide(self.params, se, out=np.zeros_like(self.params), where=se > 0)


def wls(y: np.ndarray, x: np.ndarray, w: np.ndarray | None = None) -> LinearFit:
    """Least squares of ``y`` on ``x`` (with an intercept), each row weighted by ``w`` (normalised to mean 1)."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    z = np.column_stack([np.ones(len(y)), x])
    sw = np.ones(len(y)) if w is None else np.sqrt(np.asarray(w, dtype=float) * len(y) / float(np.sum(w)))
    zw, yw = z * sw[:, None], y * sw
    params, *_ = np.linalg.lstsq(zw, yw, rcond=None)
    resid = y - z @ params
    dof = float(len(y) - np.linalg.matrix_rank(zw))
    sigma2 = float(np.sum((resid * sw) ** 2) / max(dof, 1.0))
    cov = np.linalg.pinv(zw.T @ zw) * sigma2
    return LinearFit(params, cov, dof, resid)


def weights_of(data: pd.DataFrame) -> np.ndarray | None:
    return data[WEIGHT].to_numpy(float) if WEIGHT in data.columns else None


def with_weights(q: EffectData) -> pd.DataFrame:
    """The question's rows with their weights as a column, so resamples and shuffles keep them aligned."""
    return q.data.assign(**{WEIGHT: q.w()}) if q.weights is not None else q.data


def contrast(fit: LinearFit, k: int, confidence: float, method: str) -> Estimate:
    """The sum of the first ``k`` slopes (a sustained change of a treatment and its lagged copies)."""
    c = np.zeros(len(fit.params))
    c[1 : k + 1] = 1.0
    value = float(c @ fit.params)
    se = float(np.sqrt(max(c @ fit.cov @ c, 0.0)))
    q = t_quantile(confidence, fit.dof)
    p = t_pvalue(value / se, fit.dof) if se > 0 else 0.0
    return Estimate(method, value, (value - q * se, value + q * se), se, p)


def regression(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str], confidence: float,
               method: str) -> tuple[Estimate, LinearFit]:
    """Weighted least squares of the outcome on the treatment columns and ``adjust``; the effect is the slopes' sum."""
    fit = wls(data[outcome].to_numpy(float), data[tcols + adjust].to_numpy(float), weights_of(data))
    return contrast(fit, len(tcols), confidence, method), fit


def ols_effect(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str]) -> float:
    """The regression estimate alone (no interval): fast, for refutations and bootstraps."""
    # Column by column: selecting a list of columns costs pandas six times as much, 150 times a question.
    z = np.column_stack([np.ones(len(data))] + [data[c].to_numpy(float) for c in tcols + adjust])
    y = data[outcome].to_numpy(float)
    w = weights_of(data)
    zw = z if w is None else z * w[:, None]
    try:  # the normal equations: ten times faster than an SVD, and these fits are well posed
        coef = np.linalg.solve(zw.T @ z, zw.T @ y)
    except np.linalg.LinAlgError:
        sw = np.ones(len(y)) if w is None else np.sqrt(w)
        coef, *_ = np.linalg.lstsq(z * sw[:, None], y * sw, rcond=None)
    return float(coef[1 : 1 + len(tcols)].sum())


def naive(q: EffectData, confidence: float) -> Estimate:
    est, _ = regression(with_weights(q), list(q.tcols), q.outcome, [], confidence, "naive_regression")
    return est


# --- binary treatments ----------------------------------------------------------------------------------

def propensity(x: np.ndarray, t: np.ndarray, w: np.ndarray | None = None, iterations: int = 50) -> np.ndarray:
    """P(T=1 | x) from a (weighted) logistic regression fitted by Newton's method (standardised x, a tiny ridge)."""
    x = np.asarray(x, dtype=float).reshape(len(t), -1)
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    z = np.column_stack([np.ones(len(t)), x])
    w = np.ones(len(t)) if w is None else np.asarray(w, dtype=float)
    beta = np.zeros(z.shape[1])
    ridge = 1e-6 * np.eye(z.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (w * (t - p))
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))


def _arm_prediction(x: np.ndarray, y: np.ndarray, w: np.ndarray, arm: np.ndarray) -> np.ndarray:
    """A linear outcome model fitted on one arm's rows, predicted for every row."""
    fit = wls(y[arm], x[arm], w[arm])
    return np.column_stack([np.ones(len(x)), x]) @ fit.params


def _aipw_scores(data: pd.DataFrame, tcol: str, outcome: str, adjust: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = data[tcol].to_numpy(float)
    y = data[outcome].to_numpy(float)
    w = weights_of(data)
    w = np.ones(len(t)) if w is None else w
    x = data[adjust].to_numpy(float) if adjust else np.zeros((len(t), 0))
    raw = propensity(x, t, w) if adjust else np.full(len(t), float(np.average(t, weights=w)))
    ps = np.clip(raw, 0.01, 0.99)
    on = t == 1
    if on.sum() <= x.shape[1] + 1 or (~on).sum() <= x.shape[1] + 1:
        raise ValueError("an arm has too few rows for its outcome model")
    mu1, mu0 = _arm_prediction(x, y, w, on), _arm_prediction(x, y, w, ~on)
    psi = mu1 - mu0 + t * (y - mu1) / ps - (1 - t) * (y - mu0) / (1 - ps)
    return psi, w, raw


def aipw_effect(data: pd.DataFrame, tcol: str, outcome: str, adjust: list[str]) -> float:
    """The doubly robust (AIPW) estimate alone, for refutations."""
    psi, w, _ = _aipw_scores(data, tcol, outcome, adjust)
    return float(np.sum(w * psi) / np.sum(w))


def doubly_robust(q: EffectData, adjust: list[str], confidence: float) -> tuple[Estimate, Overlap]:
    """AIPW with its influence-function interval, and the propensity scores' overlap."""
    psi, w, raw = _aipw_scores(with_weights(q), q.tcols[0], q.outcome, adjust)
    value = float(np.sum(w * psi) / np.sum(w))
    n = len(psi)
    se = float(np.sqrt(np.sum(w**2 * (psi - value) ** 2)) / np.sum(w)) * math.sqrt(n / max(n - 1, 1))
    z = t_quantile(confidence, n - 1)
    t = q.data[q.tcols[0]].to_numpy(float)
    overlap = Overlap(float(raw.min()), float(raw.max()), float(np.mean((raw < 0.05) | (raw > 0.95))),
                      int((t == 1).sum()), int((t == 0).sum()))
    p = t_pvalue(value / se, n - 1) if se > 0 else 0.0
    return Estimate("doubly_robust", value, (value - z * se, value + z * se), se, p), overlap


# --- front-door and instrumental variables ------------------------------------------------------------------

def frontdoor_effect(data: pd.DataFrame, tcol: str, outcome: str, mediators: list[str]) -> float:
    """Two-stage regression: (treatment -> each mediator) x (mediator -> outcome, given the treatment), summed."""
    w = weights_of(data)
    t = data[[tcol]].to_numpy(float)
    first = [wls(data[m].to_numpy(float), t, w).params[1] for m in mediators]
    second = wls(data[outcome].to_numpy(float), data[mediators + [tcol]].to_numpy(float), w).params[1 : 1 + len(mediators)]
    return float(np.dot(first, second))


def iv_effect(data: pd.DataFrame, tcol: str, outcome: str, instruments: list[str]) -> float:
    """Two-stage least squares (the Wald ratio with one instrument)."""
    w = weights_of(data)
    z = data[instruments].to_numpy(float)
    first = wls(data[tcol].to_numpy(float), z, w)
    fitted = np.column_stack([np.ones(len(z)), z]) @ first.params
    return float(wls(data[outcome].to_numpy(float), fitted, w).params[1])


def bootstrap_interval(fn, data: pd.DataFrame, confidence: float, seed: int, draws: int
                       ) -> tuple[tuple[float, float], float | None]:
    """Percentile interval of ``fn`` over ``draws`` row resamples (drawn first, then estimated in any order)."""
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(data), len(data)) for _ in range(draws)]

    def once(rows: np.ndarray) -> float | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return fn(data.iloc[rows])
            except Exception:  # a degenerate resample (a treatment arm left empty) is skipped
                return None

    arr = np.asarray([v for v in tasks(once, resamples) if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    if len(arr) < 2:
        return (math.nan, math.nan), None
    alpha = 1 - confidence
    lo, hi = np.quantile(arr, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi)), float(np.std(arr, ddof=1))


def durbin_watson(resid: np.ndarray) -> float:
    r = np.asarray(resid, dtype=float)
    denom = float(r @ r)
    return float(np.sum(np.diff(r) ** 2) / denom) if denom > 0 else 2.0
