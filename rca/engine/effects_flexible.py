"""The flexible cross-check: double machine learning with learners chosen by cross-validation.

Linear regression is right when the confounders act linearly. When team size enters as a square,
adjusting for it linearly leaves most of its confounding in place and the estimate can even get
the sign wrong, while every refutation check still passes. Double ML (Chernozhukov et al. 2018,
the partially linear model EconML's ``LinearDML`` fits) removes what the adjustment set predicts of
the outcome and of the treatment with any learner, cross-fitted, and regresses residual on
residual. Here each of those predictions is made by the learner that predicts it best out of fold:

- ``linear``: least squares (what the linear regression assumes);
- ``splines``: an additive cubic-spline model with a cross-validated ridge penalty (smooth
  curves such as a square, reliable from a couple of hundred rows);
- ``boosting``: histogram gradient boosting (interactions and thresholds).

The relationships are called non-linear when a flexible learner's out-of-fold error is clearly
(10%) below the linear one's for the outcome or the treatment; the estimate is then the flexible
one. The learners run at every size of data, bounded in time: 5 folds below 500 rows, 3 from
there, each boosting model at most 60 shallow trees fitted on at most 5,000 rows.

The estimate is made here rather than by EconML: importing EconML takes longer (6-12 s) than the
whole question may; scikit-learn supplies the learners. The final stage solves the orthogonal
("IV-type") score, its interval is heteroskedasticity-robust with Student's t, and its degrees of
freedom are reduced by the parameters the nuisance models spent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rca.engine.effects_data import EffectData
from rca.engine.effects_estimators import WEIGHT, t_pvalue, t_quantile
from results.effects import Estimate

CLEARLY_BETTER = 0.9  # a flexible learner's out-of-fold error at most this share of the linear one's
MAX_TRAIN = 5000
LEARNERS = ("linear", "splines", "boosting")


@dataclass(frozen=True)
class Nuisance:
    """Cross-fitted residuals and which learner made each prediction.

    ``treatment`` holds ``V = T - E[T | W]`` per treatment column, ``outcome`` holds
    ``R = Y - E[Y - theta0 T | W]`` (the outcome freed of what the adjustment set does to it on its
    own), and ``raw`` the treatment columns themselves: the estimate solves ``sum w V (R - T theta) = 0``.
    """

    outcome: np.ndarray  # (n,)
    treatment: np.ndarray  # (n, k): V
    raw: np.ndarray  # (n, k): T
    weights: np.ndarray  # (n,), mean 1
    chosen: dict[str, str]  # "outcome" / treatment column -> learner
    errors: dict[str, dict[str, float]]  # target -> learner -> out-of-fold mean squared error
    nonlinear: bool  # a flexible learner predicts clearly better than the linear one
    spent: float = 0.0  # parameters the nuisance models spent, for the degrees of freedom

    def frame(self) -> pd.DataFrame:
        """The residuals as a frame (``r``, then ``v0``... and ``t0``...), for re-estimation by refutations."""
        k = self.treatment.shape[1]
        cols = {"r": self.outcome, **{f"v{j}": self.treatment[:, j] for j in range(k)},
                **{f"t{j}": self.raw[:, j] for j in range(k)}}
        return pd.DataFrame({**cols, WEIGHT: self.weights})

    def treatment_columns(self) -> list[str]:
        k = self.treatment.shape[1]
        return [f"v{j}" for j in range(k)] + [f"t{j}" for j in range(k)]


def single_threaded():
    """One BLAS/OpenMP thread: on a busy 2-core machine boosting with its default threads took 4-18 s for a fit
    that takes 0.1-0.4 s on one (oversubscription). The learners' libraries are loaded first: a limit set
    before a library's thread pool is loaded does not reach it."""
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def learner(name: str, seed: int, rows: int):
    """A fresh scikit-learn regressor for one of :data:`LEARNERS` (for EconML's nuisance models)."""
    if name == "linear":
        from sklearn.linear_model import LinearRegression

        return LinearRegression()
    return _make(name, seed, rows)


def _make(name: str, seed: int, rows: int):
    if name == "splines":
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import SplineTransformer

        return make_pipeline(SplineTransformer(n_knots=5, degree=3), RidgeCV(alphas=np.logspace(-7, 2, 19)))
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=60, learning_rate=0.15, max_leaf_nodes=15,
                                         min_samples_leaf=max(5, min(20, rows // 20)), early_stopping=False,
                                         random_state=seed)


def _predict(name: str, x_train: np.ndarray, y_train: np.ndarray, w_train: np.ndarray, x_test: np.ndarray,
             seed: int) -> np.ndarray:
    if name == "linear":
        z = np.column_stack([np.ones(len(x_train)), x_train]) * np.sqrt(w_train)[:, None]
        coef, *_ = np.linalg.lstsq(z, y_train * np.sqrt(w_train), rcond=None)
        return np.column_stack([np.ones(len(x_test)), x_test]) @ coef
    model = _make(name, seed, len(x_train))
    weighted = not np.allclose(w_train, w_train[0])  # equal weights: skip them (boosting runs slower with them)
    if name == "splines":
        model.fit(x_train, y_train, **({"ridgecv__sample_weight": w_train} if weighted else {}))
    else:
        model.fit(x_train, y_train, **({"sample_weight": w_train} if weighted else {}))
    return model.predict(x_test)


def _spent(name: str, features: int) -> float:
    """Parameters a nuisance model spends, for the small-sample correction: a spline basis of 7 per feature."""
    return features + 1.0 if name == "linear" else 7.0 * features + 1.0


def cross_fit(q: EffectData, adjust: list[str], seed: int) -> Nuisance:
    """Out-of-fold residuals of the outcome and each treatment column given ``adjust``, by the best learner.

    The outcome's nuisance is fitted twice with the chosen learner: first ``E[Y | W]`` (to choose the
    learner and get a first estimate ``theta0``), then ``E[Y - theta0 T | W]``, whose errors are not
    tied to the treatment model's: with the first alone, the two models' shared estimation error pulls
    the estimate towards zero by a few percent on a few hundred rows.
    """
    y = q.data[q.outcome].to_numpy(float)
    t = q.data[list(q.tcols)].to_numpy(float)
    w = q.w()
    n = len(y)
    if not adjust:  # nothing to adjust for: residuals around the weighted means
        rt = t - np.average(t, axis=0, weights=w)
        return Nuisance(y - np.average(y, weights=w), rt, rt, w, {}, {}, False, 1.0)
    x = q.data[adjust].to_numpy(float)
    rng = np.random.default_rng(seed)
    k = 5 if n < 500 else 3
    fold = rng.permutation(n) % k
    trains = []
    for f in range(k):
        train = np.flatnonzero(fold != f)
        trains.append(np.sort(rng.choice(train, MAX_TRAIN, replace=False)) if len(train) > MAX_TRAIN else train)
    targets = {"outcome": y, **{c: t[:, j] for j, c in enumerate(q.tcols)}}

    def out_of_fold(name: str, values: np.ndarray) -> np.ndarray:
        resid = np.empty(n)
        for f, train in enumerate(trains):
            test = fold == f
            resid[test] = values[test] - _predict(name, x[train], values[train], w[train], x[test], seed)
        return resid

    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore")
        resid = {name: {key: out_of_fold(name, values) for key, values in targets.items()} for name in LEARNERS}
        errors = {key: {name: float(np.average(resid[name][key] ** 2, weights=w)) for name in LEARNERS}
                  for key in targets}
        chosen = {key: min(LEARNERS, key=lambda name, key=key: errors[key][name]) for key in targets}
        v = np.column_stack([resid[chosen[c]][c] for c in q.tcols])
        theta0 = np.linalg.lstsq(v * np.sqrt(w)[:, None], resid[chosen["outcome"]]["outcome"] * np.sqrt(w),
                                 rcond=None)[0]
        r = y - (y - t @ theta0 - out_of_fold(chosen["outcome"], y - t @ theta0))
    nonlinear = any(chosen[key] != "linear" and errors[key][chosen[key]] < CLEARLY_BETTER * errors[key]["linear"]
                    for key in targets)
    spent = sum(_spent(chosen[key], x.shape[1]) for key in targets)
    return Nuisance(r, v, t, w, chosen, errors, nonlinear, spent)


def final_stage(r: np.ndarray, v: np.ndarray, t: np.ndarray, w: np.ndarray, extra: np.ndarray | None = None,
                spent: float = 0.0) -> tuple[float, float, float]:
    """Solve ``sum w V (R - T theta) = 0`` (``extra`` columns serve as their own instruments): the slopes' sum,
    its heteroskedasticity-robust standard error and the degrees of freedom left.

    The variance is scaled by ``n / (n - p - spent)``: the parameters the nuisance models spent are data
    the estimate cannot use twice (on 200 rows the uncorrected interval covered 91% instead of 95%).
    """
    v = np.asarray(v, dtype=float).reshape(len(r), -1)
    t = np.asarray(t, dtype=float).reshape(len(r), -1)
    k = v.shape[1]
    if extra is not None:
        v, t = np.column_stack([v, extra]), np.column_stack([t, extra])
    j = (v * w[:, None]).T @ t
    j_inv = np.linalg.pinv(j)
    theta = j_inv @ ((v * w[:, None]).T @ r)
    e = r - t @ theta
    n, p = v.shape
    score = v * (w * e)[:, None]  # each row's contribution to the estimating equation
    dof = max(n - p - spent, 2.0)
    cov = j_inv @ (score.T @ score) @ j_inv.T * (n / dof)
    c = np.zeros(p)
    c[:k] = 1.0
    return float(c @ theta), float(np.sqrt(max(c @ cov @ c, 0.0))), float(dof)


def residual_effect(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str]) -> float:
    """The final stage alone, on a frame of residuals (:meth:`Nuisance.frame`), for refutations."""
    def cols(names: list[str]) -> np.ndarray:
        return np.column_stack([data[c].to_numpy(float) for c in names])

    k = len(tcols) // 2
    value, _, _ = final_stage(data[outcome].to_numpy(float), cols(tcols[:k]), cols(tcols[k:]),
                              data[WEIGHT].to_numpy(float), cols(adjust) if adjust else None)
    return value


def _learners_text(nu: Nuisance, tcols: tuple[str, ...]) -> str:
    if not nu.chosen:
        return "nothing to adjust for"
    t = {nu.chosen[c] for c in tcols}
    return f"outcome model: {nu.chosen['outcome']}; treatment model: {', '.join(sorted(t))} (chosen out of fold)"


def double_ml(q: EffectData, adjust: list[str], confidence: float, seed: int) -> tuple[Estimate, Nuisance]:
    """The average effect by double ML with the learners that predict best out of fold."""
    nu = cross_fit(q, adjust, seed)
    value, se, dof = final_stage(nu.outcome, nu.treatment, nu.raw, nu.weights, spent=nu.spent)
    z = t_quantile(confidence, dof)
    p = t_pvalue(value / se, dof) if se > 0 else 0.0
    return Estimate("double_ml", value, (value - z * se, value + z * se), se, p, _learners_text(nu, q.tcols)), nu
