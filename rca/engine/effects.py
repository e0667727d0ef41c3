"""Average causal effects: "what does raising coverage do to the bug-fix ratio?", answered with DoWhy.

The classic four steps on our own graph, for one treatment node and one outcome node:

1. **Model.** The graph is unrolled (``graphs.model.unrolled``): a lagged edge becomes a column
   ``node[t-k]``. The treatment is a *sustained* change: the treatment column and every lagged copy
   of it on a path to the outcome move together (coverage that stays higher this week and last
   week), so with ``coverage -> bugs, lag: 1`` the effect includes the lagged path. A graph node
   with no column in the frame is an *unobserved* variable: that is how a graph says "team
   pressure drives both, and we cannot measure it".
2. **Identify** with DoWhy's ``CausalModel.identify_effect``: the back-door criterion when some
   set of observed nodes blocks every back-door path (preferred: it uses all the data and needs
   no extra assumption), else the front-door criterion (a fully mediating observed node the hidden
   confounder does not touch), else an instrumental variable. When none applies the result says
   so (``identification.identified`` is false, ``effect`` is ``None``) instead of raising: "not
   identifiable" is an answer about the graph, not an input error.
3. **Estimate**, by treatment type. Continuous: linear regression on the adjustment set (the
   headline: exact intervals when the mechanisms are linear, as the engine's fitted models
   assume) and EconML's ``LinearDML`` (double machine learning: the adjustment is learnt by
   cross-fitted models, a check against non-linear confounding). Binary (0/1): propensity-score
   weighting (normalised inverse-probability weights, bootstrap interval) with regression
   adjustment beside it. Front-door and IV estimands use DoWhy's two-stage regression and Wald/2SLS
   estimators with bootstrap intervals. The naive regression of outcome on treatment is always
   computed, so a report can show what the adjustment changed.
4. **Refute** the headline estimate with DoWhy's placebo treatment, random common cause and data
   subset refuters, and measure its sensitivity to an unobserved confounder with Cinelli and
   Hazlett's partial-R² analysis of the regression (the method behind DoWhy's
   ``add_unobserved_common_cause(simulation_method="linear-partial-R2")``, evaluated here in closed
   form): the robustness value, and how many times as strong as the strongest observed confounder
   a hidden one would have to be to erase the effect.

The answer is one sentence written from those numbers. DoWhy and EconML are imported inside the
functions that use them, so importing this module is cheap.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unit_of, unrolled
from rca.engine.errors import EngineInputError
from rca.engine.fitting import node_kind
from rca.engine.frames import Prepared, prepare
from rca.engine.parallel import tasks
from results.effects import (
    Benchmark,
    EffectResult,
    Estimate,
    Identification,
    Refutation,
    Sensitivity,
)
from results.format import format_value

MIN_ROWS = 20


# --- checking the question and the data ---------------------------------------------------------

def check_pair(graph: CausalGraph, treatment: str, outcome: str) -> None:
    """Raise :class:`EngineInputError` unless ``treatment`` can cause ``outcome`` in ``graph``."""
    names = ", ".join(list(graph.nodes)[:12]) + (", ..." if len(graph.nodes) > 12 else "")
    for role, node in (("treatment", treatment), ("outcome", outcome)):
        if node not in graph.nodes:
            raise EngineInputError(f"{role} {node!r} is not a node of graph {graph.name!r} (nodes: {names})")
    if treatment == outcome:
        raise EngineInputError(f"treatment and outcome are both {treatment!r}; pick two different nodes")
    if treatment not in graph.ancestors(outcome):
        raise EngineInputError(
            f"{outcome!r} is not downstream of {treatment!r} in graph {graph.name!r}: no directed path leads "
            "from the treatment to the outcome, so its causal effect is zero by assumption; swap them or add the edge"
        )


def observed_part(frame: pd.DataFrame | Mapping[str, pd.DataFrame], graph: CausalGraph,
                  needed: tuple[str, ...]) -> tuple[Prepared, tuple[str, ...]]:
    """Prepare the columns the frame has; graph nodes without a column are unobserved (latent).

    A mapping ``scope -> frame`` is pooled: each scope is prepared on its own (a lagged column
    never reaches into another scope's rows) and the rows are stacked.
    """
    if isinstance(frame, Mapping):
        return _pooled(frame, graph, needed)
    missing = [n for n in needed if n not in frame.columns]
    if missing:
        raise EngineInputError(
            f"the data has no column for {', '.join(map(repr, missing))}; collect it or choose another node"
        )
    latent = tuple(n for n in graph.nodes if n not in frame.columns)
    sub = graph.restricted(set(graph.nodes) - set(latent), denominators=False) if latent else graph
    return prepare(frame, sub), latent


def _pooled(frames: Mapping[str, pd.DataFrame], graph: CausalGraph,
            needed: tuple[str, ...]) -> tuple[Prepared, tuple[str, ...]]:
    if not frames:
        raise EngineInputError("no scope to pool: give at least one frame")
    if len(frames) == 1:
        return observed_part(next(iter(frames.values())), graph, needed)
    # A node is observed only where every scope has its column; otherwise it is latent everywhere.
    latent = [n for n in graph.nodes if any(n not in f.columns for f in frames.values())]
    parts, caveats, columns = [], [], {}
    for scope, f in frames.items():
        missing = [n for n in needed if n not in f.columns]
        if missing:
            raise EngineInputError(f"scope {scope!r} has no column for {', '.join(map(repr, missing))}; "
                                   "collect it there or leave that scope out")
        prepared, _ = observed_part(f.drop(columns=[n for n in latent if n in f.columns]), graph, needed)
        parts.append(prepared.frame)
        columns = prepared.columns
        caveats += [f"{scope}: {c}" for c in prepared.caveats]
    names = ", ".join(list(frames)[:5]) + (", ..." if len(frames) > 5 else "")
    caveats.append(f"pooled over {len(frames)} scopes ({names}): one average effect for all of them "
                   "(effects by scope compare them)")
    return Prepared(frame=pd.concat(parts), columns=columns, caveats=tuple(caveats)), tuple(latent)


def treatment_columns(dag: nx.DiGraph, columns: dict[str, tuple[str, int]], treatment: str, outcome: str) -> list[str]:
    """The treatment's column and its lagged copies that have a directed path to the outcome."""
    cols = [c for c, (node, _lag) in columns.items() if node == treatment and c in dag and nx.has_path(dag, c, outcome)]
    return sorted(cols, key=lambda c: columns[c][1])


def is_binary(values: pd.Series) -> bool:
    v = values.dropna().unique()
    return len(v) == 2 and set(np.asarray(v, dtype=float)) == {0.0, 1.0}


# --- identification -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Names:
    """DoWhy sees safe column names (``v0``, ``v1``...); our names may hold ``[t-1]``, ``::`` or spaces."""

    to_safe: dict[str, str]

    @property
    def to_ours(self) -> dict[str, str]:
        return {v: k for k, v in self.to_safe.items()}

    def safe(self, names) -> list[str]:
        return [self.to_safe[n] for n in names]

    def ours(self, names) -> list[str]:
        back = self.to_ours
        return [back[n] for n in names]


def _quiet_dowhy() -> None:
    for name in ("dowhy", "econml"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _confounded_by(dag: nx.DiGraph, latent_cols: set[str], tcols: list[str], outcome: str) -> list[str]:
    out = []
    for u in sorted(latent_cols):
        down = nx.descendants(dag, u)
        if outcome in down and any(t in down for t in tcols):
            out.append(u)
    return out


def identify(
    dag: nx.DiGraph, data: pd.DataFrame, tcols: list[str], outcome: str, treatment: str, binary: bool
) -> tuple[Identification, object, object, _Names, pd.DataFrame]:
    """Run DoWhy's identification; pick back-door, else front-door, else IV; say why.

    Returns the identification, DoWhy's model and estimand, the name map and the data as DoWhy
    sees it (safe names; a binary treatment as booleans, which its propensity estimators insist on).
    """
    from dowhy import CausalModel

    _quiet_dowhy()
    names = _Names({c: f"v{i}" for i, c in enumerate(dag.nodes)})
    safe_dag = nx.relabel_nodes(dag, names.to_safe, copy=True)
    latent_cols = {c for c in dag.nodes if c not in data.columns}
    safe = data[[c for c in data.columns if c in names.to_safe]].rename(columns=names.to_safe)
    if binary:
        for c in names.safe(tcols):
            safe[c] = safe[c].astype(bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CausalModel(data=safe, treatment=names.safe(tcols), outcome=[names.to_safe[outcome]], graph=safe_dag)
        estimand = model.identify_effect(proceed_when_unidentifiable=False)
    backdoor = estimand.estimands.get("backdoor")
    front = names.ours(estimand.frontdoor_variables or [])
    ivs = names.ours(estimand.instrumental_variables or [])
    hidden = _confounded_by(dag, latent_cols, tcols, outcome)
    alternatives: dict[str, tuple[str, ...]] = {}
    if front:
        alternatives["frontdoor"] = tuple(front)
    if ivs:
        alternatives["iv"] = tuple(ivs)
    latent_nodes = tuple(sorted(latent_cols))
    if backdoor is not None:
        adj = names.ours(estimand.get_backdoor_variables() or [])
        if adj:
            reason = (f"adjusting for {', '.join(adj)} blocks every back-door path from {treatment} to {outcome} "
                      "(back-door criterion)")
        else:
            reason = (f"nothing in the graph drives both {treatment} and {outcome}, so no adjustment is needed "
                      "(back-door criterion with an empty set)")
        ident = Identification(True, "backdoor", tuple(adj), reason, alternatives, latent_nodes)
    elif front:
        reason = (f"{treatment} and {outcome} share the unobserved cause {', '.join(hidden) or 'in the graph'}, "
                  f"but {treatment} acts on {outcome} only through {', '.join(front)}, which that cause does not "
                  "touch (front-door criterion)")
        ident = Identification(True, "frontdoor", tuple(front), reason, {"iv": tuple(ivs)} if ivs else {}, latent_nodes)
    elif ivs:
        reason = (f"{treatment} and {outcome} share the unobserved cause {', '.join(hidden) or 'in the graph'}, "
                  f"but {', '.join(ivs)} moves {treatment} and reaches {outcome} only through it (instrumental variable)")
        ident = Identification(True, "iv", tuple(ivs), reason, {}, latent_nodes)
    else:
        reason = (f"{treatment} and {outcome} share the unobserved cause {', '.join(hidden) or '(a node with no data)'} "
                  "and the graph offers no adjustment set, no fully mediating node and no instrument; measure that "
                  "cause (or a proxy of it) and add its column, or add a mediator or an instrument to the graph")
        ident = Identification(False, "none", (), reason, {}, latent_nodes)
    return ident, model, estimand, names, safe


# --- estimation ---------------------------------------------------------------------------------

def _ols(y: np.ndarray, x: np.ndarray):
    import statsmodels.api as sm

    return sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()


def _contrast(fit, k: int, confidence: float) -> Estimate:
    """The sum of the first ``k`` slopes (a sustained change of a treatment and its lagged copies)."""
    from scipy import stats

    c = np.zeros(len(fit.params))
    c[1 : k + 1] = 1.0
    value = float(c @ np.asarray(fit.params))
    se = float(np.sqrt(c @ np.asarray(fit.cov_params()) @ c))
    dof = float(fit.df_resid)
    q = stats.t.ppf(0.5 + confidence / 2, dof)
    p = float(2 * stats.t.sf(abs(value / se), dof)) if se > 0 else 0.0
    return Estimate("", value, (value - q * se, value + q * se), se, p)


def regression(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str], confidence: float,
               method: str) -> tuple[Estimate, object]:
    x = data[tcols + adjust].to_numpy(float)
    fit = _ols(data[outcome].to_numpy(float), x)
    est = _contrast(fit, len(tcols), confidence)
    return Estimate(method, est.value, est.interval, est.std_error, est.p_value), fit


def dml_models(rows: int, seed: int, binary: bool = False, treatments: int = 1):
    """Nuisance models for double ML: cross-validated lasso on few rows, gradient boosting on many.

    Below 1,000 rows a boosted model mostly fits noise, and a lasso with a cross-validated penalty
    is the flexible-enough choice the residual-on-residual step needs; from 1,000 rows, histogram
    gradient boosting picks up non-linear confounding.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LassoCV, LogisticRegressionCV

    if rows >= 1000:
        y = HistGradientBoostingRegressor(max_iter=100, random_state=seed)
        t = (HistGradientBoostingClassifier(max_iter=100, random_state=seed) if binary
             else HistGradientBoostingRegressor(max_iter=100, random_state=seed))
    else:
        y = LassoCV(cv=3, random_state=seed)
        t = LogisticRegressionCV(cv=3) if binary else LassoCV(cv=3, random_state=seed)
    if treatments > 1:  # a treatment with lagged copies: one first-stage model per column
        from sklearn.multioutput import MultiOutputRegressor

        t = MultiOutputRegressor(t)
    return y, t


def single_threaded():
    """Limit BLAS/OpenMP pools to one thread: on a busy 2-core machine gradient boosting with its default
    OpenMP threads took 12-18 s for a fit that takes 0.4 s single-threaded (oversubscription)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def double_ml(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str], confidence: float,
              seed: int) -> Estimate:
    """EconML ``LinearDML`` with no effect modifiers: the average effect of a sustained unit change."""
    from econml.dml import LinearDML

    _quiet_dowhy()
    y = data[outcome].to_numpy(float)
    t = data[tcols].to_numpy(float)
    w = data[adjust].to_numpy(float) if adjust else None
    model_y, model_t = dml_models(len(data), seed, treatments=len(tcols))
    est = LinearDML(model_y=model_y, model_t=model_t, cv=3, random_state=seed)
    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore")
        est.fit(y, t if len(tcols) > 1 else t[:, 0], W=w)
        k = len(tcols)
        t0, t1 = (np.zeros((1, k)), np.ones((1, k))) if k > 1 else (np.zeros(1), np.ones(1))
        value = float(np.ravel(est.effect(T0=t0, T1=t1))[0])
        lo, hi = est.effect_interval(T0=t0, T1=t1, alpha=1 - confidence)
        inf = est.effect_inference(T0=t0, T1=t1)
    se = float(np.ravel(inf.stderr)[0])
    p = float(np.ravel(inf.pvalue())[0])
    return Estimate("double_ml", value, (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), se, p)


def _dowhy_estimate(model, estimand, method_name: str, binary: bool, seed: int, params: dict | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(seed)
        return model.estimate_effect(
            estimand,
            method_name=method_name,
            control_value=False if binary else 0,
            treatment_value=True if binary else 1,
            method_params=params or {},
            test_significance=False,
            effect_modifiers=[],  # an average effect: DoWhy would otherwise interact the outcome's other parents
        )


def _refit(estimate, data: pd.DataFrame) -> float:
    """Re-run the estimator behind a DoWhy estimate on other data (as DoWhy's own bootstrap does)."""
    est = estimate.estimator
    new = est.get_new_estimator_object(est._target_estimand, test_significance=False,
                                       evaluate_effect_strength=False, confidence_intervals=False)
    new.fit(data, effect_modifier_names=[])
    out = new.estimate_effect(data, treatment_value=est._treatment_value, control_value=est._control_value,
                              target_units=est._target_units)
    return float(np.ravel([out.value])[0])


def ols_effect(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str]) -> float:
    """The regression estimate (sum of the treatment columns' slopes), by least squares; fast for refutations."""
    x = np.column_stack([np.ones(len(data)), data[tcols + adjust].to_numpy(float)])
    coef, *_ = np.linalg.lstsq(x, data[outcome].to_numpy(float), rcond=None)
    return float(coef[1 : 1 + len(tcols)].sum())


def propensity(x: np.ndarray, t: np.ndarray, iterations: int = 50) -> np.ndarray:
    """P(T=1 | x) from a logistic regression fitted by Newton's method (standardised x, a tiny ridge)."""
    z = np.column_stack([np.ones(len(t)), x])
    beta = np.zeros(z.shape[1])
    ridge = 1e-6 * np.eye(z.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (t - p)
        hess = (z * (p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))


def ipw_effect(data: pd.DataFrame, tcol: str, outcome: str, adjust: list[str], seed: int = 0) -> float:
    """Propensity-score weighting with normalised (Hajek) weights; propensities from a logistic regression.

    DoWhy's ``backdoor.propensity_score_weighting`` is the same estimator, but in DoWhy 0.14 a
    re-estimate (bootstrap, refuters) reuses the first propensity model, so its placebo check fails
    and its bootstrap interval is too narrow; refitting it here keeps every re-estimate honest.
    Propensities are clipped to [0.01, 0.99].
    """
    t = data[tcol].to_numpy(float)
    y = data[outcome].to_numpy(float)
    if t.min() == t.max():
        return math.nan
    x = data[adjust].to_numpy(float)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    ps = np.clip(propensity(x, t), 0.01, 0.99)
    w1, w0 = t / ps, (1 - t) / (1 - ps)
    return float(np.sum(w1 * y) / np.sum(w1) - np.sum(w0 * y) / np.sum(w0))


def bootstrap_interval(
    fn, data: pd.DataFrame, confidence: float, seed: int, draws: int
) -> tuple[tuple[float, float], float | None]:
    """Percentile interval of ``fn`` over ``draws`` row resamples (drawn first, then estimated in any
    order, on a Dask cluster when one is configured: :func:`rca.engine.parallel.tasks`)."""
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(data), len(data)) for _ in range(draws)]

    def once(rows: np.ndarray) -> float | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return fn(data.iloc[rows])
            except Exception:  # a degenerate resample (a treatment arm left empty) is skipped
                return None

    sims = [v for v in tasks(once, resamples) if v is not None]
    arr = np.asarray(sims, dtype=float)
    arr = arr[np.isfinite(arr)]
    if len(arr) < 2:
        return (math.nan, math.nan), None
    alpha = 1 - confidence
    lo, hi = np.quantile(arr, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi)), float(np.std(arr, ddof=1))


# --- refutation and sensitivity -----------------------------------------------------------------

def _normal_p(value: float, sims: np.ndarray) -> float | None:
    """DoWhy's normal-distribution test, two-sided: how plausible ``value`` is among the simulated estimates."""
    from scipy import stats

    sims = sims[np.isfinite(sims)]
    if len(sims) < 2:
        return None
    sd = float(np.std(sims))
    if sd == 0:
        return 1.0 if float(np.mean(sims)) == value else 0.0
    z = (value - float(np.mean(sims))) / sd
    return float(2 * stats.norm.sf(abs(z)))


_DETAILS = {
    "placebo_treatment": ("a shuffled treatment gives no effect, as it should",
                          "a shuffled treatment still shows an effect: the data's structure, not the treatment, may drive it"),
    "random_common_cause": ("adding a random common cause leaves the estimate where it was",
                            "adding a random common cause moves the estimate: the adjustment is unstable"),
    "data_subset": ("re-estimating on random 80% subsets gives the same effect",
                    "random 80% subsets give a different effect: a few rows drive the estimate"),
}


def refutations(fn, data: pd.DataFrame, tcols: list[str], adjust: list[str] | None, estimate: float,
                simulations: int, seed: int) -> tuple[Refutation, ...]:
    """DoWhy's three refuters, with DoWhy's semantics and its normal-distribution test, on any estimator.

    ``fn(data, adjust)`` re-estimates the effect. Placebo treatment: the treatment columns are
    permuted together, by row; the placebo estimates should centre on zero. Random common cause:
    an independent normal column joins the adjustment set (back-door only, ``adjust`` is ``None``
    otherwise); the estimate should not move. Data subset: random 80% of the rows; the estimate
    should not move. A check passes when the value it expects is plausible among its re-estimates
    (two-sided p >= 0.05). DoWhy's own refuter classes are not used: in DoWhy 0.14 the placebo
    refuter raises for a treatment with lagged copies and reuses a fitted propensity model, and
    the random-common-cause refuter does not run on front-door or IV estimands.
    """
    rng = np.random.default_rng(seed)
    n = len(data)
    out = []
    plans = [("placebo_treatment", 0.0), ("random_common_cause", estimate), ("data_subset", estimate)]

    def once(draw: tuple[str, np.ndarray]) -> float | None:
        name, drawn = draw
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if name == "placebo_treatment":
                    shuffled = data.copy()
                    shuffled[tcols] = data[tcols].to_numpy()[drawn]
                    return fn(shuffled, adjust)
                if name == "random_common_cause":
                    return fn(data.assign(**{"random common cause": drawn}), [*adjust, "random common cause"])
                return fn(data.iloc[drawn], adjust)
            except Exception:  # a degenerate draw (a propensity model that cannot fit) is skipped
                return None

    for name, expected in plans:
        if name == "random_common_cause" and adjust is None:
            out.append(Refutation(name, None, expected, None, None, 0,
                                  "does not apply: a random common cause only enters a back-door adjustment"))
            continue
        # The random part of every re-estimate is drawn here, in order; the re-estimates then run in any
        # order, on a Dask cluster when one is configured (rca.engine.parallel.tasks).
        if name == "placebo_treatment":
            drawn = [rng.permutation(n) for _ in range(simulations)]
        elif name == "random_common_cause":
            drawn = [rng.normal(size=n) for _ in range(simulations)]
        else:
            drawn = [np.sort(rng.choice(n, int(0.8 * n), replace=False)) for _ in range(simulations)]
        sims = [v for v in tasks(once, [(name, d) for d in drawn]) if v is not None]
        arr = np.asarray(sims, dtype=float)
        arr = arr[np.isfinite(arr)]
        p = _normal_p(expected, arr)
        if p is None:
            out.append(Refutation(name, None, expected, None, None, simulations, "could not run: no re-estimate"))
            continue
        passed = p >= 0.05
        out.append(Refutation(name, passed, expected, float(np.mean(arr)), p, len(arr), _DETAILS[name][0 if passed else 1]))
    return tuple(out)


def _rv(f: float) -> float:
    """Cinelli and Hazlett's robustness value for a partial Cohen's f."""
    if f <= 0:
        return 0.0
    return 0.5 * (math.sqrt(f**4 + 4 * f**2) - f**2)


def sensitivity(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str],
                confidence: float) -> Sensitivity:
    """Partial-R² sensitivity of the regression estimate to an unobserved confounder.

    With lagged copies the regression is reparametrised so that one coefficient is the sustained
    effect (``a*T + b*T' = (a+b)*T + b*(T'-T)``); the analysis is then Cinelli and Hazlett's
    (2020) for that coefficient. Benchmarks: each adjusted-for node in turn, with a hidden
    confounder ``k`` times as strong as it (on both treatment and outcome); ``strength_to_vanish``
    is the smallest ``k`` that brings the estimate to zero for the strongest benchmark.
    """
    from scipy import stats

    d = data[tcols[0]].to_numpy(float)
    others = [data[c].to_numpy(float) - d for c in tcols[1:]]
    w = [data[c].to_numpy(float) for c in adjust]
    covs = np.column_stack(others + w) if (others or w) else np.empty((len(d), 0))
    y = data[outcome].to_numpy(float)
    fit_y = _ols(y, np.column_stack([d, covs]) if covs.shape[1] else d[:, None])
    est, se, dof = float(fit_y.params[1]), float(fit_y.bse[1]), float(fit_y.df_resid)
    t = est / se if se > 0 else math.inf
    f = abs(t) / math.sqrt(dof)
    t_crit = float(stats.t.ppf(0.5 + confidence / 2, dof - 1))
    rv = _rv(f)
    rv_ci = _rv(f - t_crit / math.sqrt(dof - 1))
    benches: list[Benchmark] = []
    if w:
        fit_d = _ols(d, covs)
        n_other = len(others)
        for j, name in enumerate(adjust):
            t_d = float(fit_d.tvalues[1 + n_other + j])
            t_y = float(fit_y.tvalues[2 + n_other + j])
            r2d = t_d**2 / (t_d**2 + float(fit_d.df_resid))
            r2y = t_y**2 / (t_y**2 + dof)
            benches.append(Benchmark(name, r2d, r2y, _adjusted(est, se, dof, r2d, r2y, 1.0)))
        benches.sort(key=lambda b: abs(b.adjusted_effect))  # the strongest confounder leaves the least
    strongest = benches[0] if benches else None
    k = _strength_to_vanish(est, se, dof, strongest.r2_treatment, strongest.r2_outcome) if strongest else None
    return Sensitivity("linear partial R2 (Cinelli-Hazlett)", rv, rv_ci, strongest.node if strongest else None, k,
                       tuple(benches))


def _adjusted(est: float, se: float, dof: float, r2dxj: float, r2yxj: float, k: float) -> float:
    """The estimate after removing a hidden confounder ``k`` times as strong as a benchmark (towards zero)."""
    if r2dxj <= 0 or r2yxj <= 0:
        return est
    if k * r2dxj >= 1:
        return 0.0
    r2dz = k * r2dxj / (1 - r2dxj)
    if r2dz >= 1:
        return 0.0
    r2zxj = k * r2dxj**2 / ((1 - k * r2dxj) * (1 - r2dxj))
    if r2zxj >= 1:
        return 0.0
    r2yz = ((math.sqrt(k) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)) ** 2 * (r2yxj / (1 - r2yxj))
    r2yz = min(r2yz, 1.0)
    bias = se * math.sqrt(dof) * math.sqrt(r2yz * r2dz / (1 - r2dz))
    return math.copysign(max(abs(est) - bias, 0.0), est)


def _strength_to_vanish(est: float, se: float, dof: float, r2d: float, r2y: float) -> float | None:
    if r2d <= 0 or r2y <= 0:
        return None
    hi = (1 - 1e-9) / r2d  # k * r2d < 1
    if _adjusted(est, se, dof, r2d, r2y, hi) != 0.0:
        return None
    lo = 0.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if _adjusted(est, se, dof, r2d, r2y, mid) == 0.0:
            hi = mid
        else:
            lo = mid
    return hi


# --- wording ------------------------------------------------------------------------------------

def nice_step(x: float) -> float:
    """The 1-2-5 round number nearest ``x`` (on a log scale)."""
    if not x or not math.isfinite(x) or x <= 0:
        return 1.0
    e = math.floor(math.log10(x))
    candidates = [m * 10.0**p for p in (e - 1, e, e + 1) for m in (1, 2, 5)]
    return min(candidates, key=lambda c: abs(math.log(c / x)))


def amount(value: float, unit: str) -> str:
    """An unsigned amount of change in a unit: '1.8 points' (ratios), '20 lines', '4.0 min'."""
    v = abs(float(value))
    if unit == "ratio":
        pts = v * 100
        text = f"{pts:.2g}" if pts < 10 else f"{pts:.0f}"
        if "e" in text:
            text = f"{pts:.4f}".rstrip("0").rstrip(".")
        return f"{text} point{'' if text == '1' else 's'}"
    return format_value(v, unit)


def span(lo: float, hi: float, unit: str) -> str:
    """'0.9 to 2.7 points', '3.1 to 5.0 h': an unsigned range, the unit said once where it can be."""
    a, b = amount(lo, unit), amount(hi, unit)
    if unit == "ratio" or (unit in ("lines", "bytes") and a.endswith(unit)):
        return f"{a.rsplit(' ', 1)[0]} to {b}"
    return f"{a} to {b}"


def node_unit(graph: CausalGraph, node: str, values: pd.Series | None = None) -> str:
    """A node's unit: from its declared kind, else its metric's suffix, else the kind its values suggest."""
    n = graph.nodes[node]
    return unit_of(n.metric, n.kind) or unit_of(n.metric, node_kind(graph, node, values))


def _signed(value: float, unit: str) -> str:
    return ("-" if value < 0 else "+") + amount(value, unit)


def _title(graph: CausalGraph, node: str) -> str:
    return graph.nodes[node].title


def answer(result_parts: dict) -> str:
    """The one sentence a manager reads, from the numbers only."""
    g: CausalGraph = result_parts["graph"]
    t, y = result_parts["treatment"], result_parts["outcome"]
    ident: Identification = result_parts["identification"]
    if not ident.identified:
        return f"The effect of {_title(g, t)} on {_title(g, y)} cannot be estimated from this graph: {ident.reason}."
    unit_t, unit_y = result_parts["units"][t], result_parts["units"][y]
    step, eff, ci = result_parts["step"], result_parts["step_effect"], result_parts["step_interval"]
    conf = round(100 * result_parts["confidence"])
    if result_parts["binary"]:
        doing = f"switching {_title(g, t)} on"
    else:
        doing = f"{'cutting' if step < 0 else 'raising'} {_title(g, t)} by {amount(step, unit_t)}"
    significant = ci[0] > 0 or ci[1] < 0
    if significant:
        lo, hi = sorted((abs(ci[0]), abs(ci[1])))
        verb = "raises" if eff > 0 else "lowers"
        good = (eff > 0) != g.nodes[y].higher_is_worse
        text = (f"{doing[:1].upper() + doing[1:]} {verb} {_title(g, y)} by {amount(eff, unit_y)} "
                f"({conf}% CI {span(lo, hi, unit_y)}"
                f"{'' if good else ', a change for the worse'})")
    else:
        text = (f"{doing[:1].upper() + doing[1:]} has no clear effect on {_title(g, y)}: "
                f"{_signed(eff, unit_y)} ({conf}% CI {_signed(ci[0], unit_y)} to {_signed(ci[1], unit_y)}, "
                "which includes zero)")
    refs: tuple[Refutation, ...] = result_parts["refutations"]
    short = {"placebo_treatment": "placebo", "random_common_cause": "random-common-cause", "data_subset": "subset"}
    passed = [short[r.name] for r in refs if r.passed]
    failed = [short[r.name] for r in refs if r.passed is False]
    if failed:
        text += (f"; but it fails the {_join(failed)} check{'s' if len(failed) > 1 else ''}, so do not act on it "
                 "before checking the graph and the data")
    elif passed:
        text += f"; the estimate survives the {_join(passed)} check{'s' if len(passed) > 1 else ''}"
    sens: Sensitivity | None = result_parts["sensitivity"]
    if sens is not None and significant and not failed:
        if sens.strongest is not None and sens.strength_to_vanish is not None:
            k = sens.strength_to_vanish
            name = _title(g, sens.strongest) if sens.strongest in g.nodes else sens.strongest
            if k >= 1:
                text += f" and would need an unobserved confounder {k:.1f} times as strong as {name} to vanish"
            else:
                text += (f", though an unobserved confounder only {k:.2g} times as strong as {name} would erase it, "
                         f"so it rests on {name} being the only strong common cause")
        elif sens.strongest is not None:
            text += (f" and no unobserved confounder of any multiple of the strength of "
                     f"{_title(g, sens.strongest) if sens.strongest in g.nodes else sens.strongest} would erase it")
        else:
            text += (f" and would need an unobserved confounder explaining {sens.robustness_value:.0%} of what is left "
                     f"of both {_title(g, t)} and {_title(g, y)} to vanish")
    return text + "."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _durbin_watson(resid: np.ndarray) -> float:
    r = np.asarray(resid, dtype=float)
    denom = float(r @ r)
    return float(np.sum(np.diff(r) ** 2) / denom) if denom > 0 else 2.0


# --- the entry point ----------------------------------------------------------------------------

def estimate_effect(
    frame: pd.DataFrame | Mapping[str, pd.DataFrame],
    graph: CausalGraph,
    treatment: str,
    outcome: str,
    *,
    seed: int = 0,
    confidence: float = 0.95,
    refute: bool = True,
    simulations: int = 50,
    dml: bool = True,
    bootstrap: int = 200,
    min_rows: int = MIN_ROWS,
) -> EffectResult:
    """The average causal effect of ``treatment`` on ``outcome`` in ``frame`` under ``graph``.

    ``frame`` is wide (a time index, one column per graph node; a node without a column is treated
    as unobserved), or a mapping ``scope -> frame`` to pool several scopes (each prepared on its
    own). ``simulations`` is the number of re-estimations per refuter, ``bootstrap`` the resamples
    behind bootstrap intervals (binary, front-door and IV estimates). Raises
    :class:`EngineInputError` for an unknown node, a treatment that is the outcome or not upstream
    of it, a missing, constant or near-empty column, or too few complete rows. A graph that does
    not identify the effect gives a result with ``identification.identified`` false.
    """
    if not 0.5 <= confidence < 1:
        raise EngineInputError(f"confidence must be in [0.5, 1), not {confidence}")
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    check_pair(graph, treatment, outcome)
    prepared, latent = observed_part(frame, graph, (treatment, outcome))
    data = prepared.frame
    dag, columns = unrolled(graph)
    tcols = treatment_columns(dag, columns, treatment, outcome)
    tcols = [c for c in tcols if c in data.columns]
    if not tcols:
        raise EngineInputError(f"no observed column of {treatment!r} has a path to {outcome!r} in the unrolled graph")
    for c in (treatment, outcome):
        if data[c].nunique() <= 1:
            raise EngineInputError(
                f"{c!r} is constant ({format_value(float(data[c].iloc[0]), unit_of(c)) if len(data) else 'no rows'}) "
                f"over the {len(data)} complete row(s): an effect needs it to vary"
            )
    if len(data) < min_rows:
        raise EngineInputError(
            f"only {len(data)} complete row(s); an effect question needs at least {min_rows} "
            "(collect a longer history, or use a finer unit)"
        )
    binary = is_binary(data[treatment])
    caveats = list(prepared.caveats)
    if latent:
        caveats.append(f"no data for {', '.join(latent)}: treated as unobserved")
    units = {n: ("indicator" if binary and n == treatment else node_unit(graph, n, data[n])) for n in (treatment, outcome)}
    ident, model, estimand, names, safe = identify(dag, data, tcols, outcome, treatment, binary)
    timings["identify"] = time.perf_counter() - t_start

    step = 1.0 if binary else _step(data[treatment], graph.nodes[treatment].higher_is_worse)
    base = dict(treatment=treatment, outcome=outcome, graph=graph, identification=ident, units=units,
                confidence=confidence, binary=binary, step=step)
    if not ident.identified:
        return EffectResult(
            treatment=treatment, outcome=outcome, treatment_kind="binary" if binary else "continuous",
            identification=ident, method="", effect=None, interval=None, confidence=confidence, estimates=(),
            naive=_naive(data, tcols, outcome, confidence), refutations=(), sensitivity=None, step=step,
            step_effect=None, step_interval=None, answer=answer(base), caveats=tuple(caveats), rows=len(data),
            graph=graph.name, seed=seed, treatment_columns=tuple(tcols), units=units,
            timings_s={**timings, "total": time.perf_counter() - t_start},
        )

    adjust = list(ident.variables) if ident.estimand == "backdoor" else []
    estimates: list[Estimate] = []
    t0 = time.perf_counter()
    sens = None
    if ident.estimand == "backdoor":
        reg, reg_fit = regression(data, tcols, outcome, adjust, confidence,
                                  "regression_adjustment" if binary else "linear_regression")
        dw = _durbin_watson(np.asarray(reg_fit.resid))
        if dw < 1.5 and graph.unit != "commit":
            caveats.append(f"the outcome's residuals are autocorrelated over time (Durbin-Watson {dw:.2f}): "
                           "rows are not independent, so the intervals may be too narrow")
        if binary and adjust and len(tcols) == 1:
            def fn(d: pd.DataFrame, adj: list[str]) -> float:
                return ipw_effect(d, tcols[0], outcome, adj, seed)

            value = fn(data, adjust)
            interval, se = bootstrap_interval(lambda d: fn(d, adjust), data, confidence, seed, bootstrap)
            estimates.append(Estimate("propensity_score_weighting", value, interval, se))
            estimates.append(reg)
        else:
            # DoWhy's linear-regression estimate is the same least squares as ``reg``; its interval for a
            # treatment with lagged copies is per column, so the interval of the sum comes from ``reg``.
            dowhy_est = _dowhy_estimate(model, estimand, "backdoor.linear_regression", binary, seed)
            estimates.append(Estimate(reg.method, float(np.ravel([dowhy_est.value])[0]), reg.interval,
                                      reg.std_error, reg.p_value))

            def fn(d: pd.DataFrame, adj: list[str]) -> float:
                return ols_effect(d, tcols, outcome, adj)

            if binary and len(tcols) > 1:
                caveats.append("a binary treatment with lagged copies is estimated by regression adjustment only")
        timings["estimate"] = time.perf_counter() - t0
        if dml and not binary:
            t1 = time.perf_counter()
            try:
                estimates.append(double_ml(data, tcols, outcome, adjust, confidence, seed))
            except Exception as exc:  # a failed check estimate is a caveat, not a failed question
                caveats.append(f"double ML could not run: {str(exc).splitlines()[0] if str(exc) else exc!r}")
            timings["double_ml"] = time.perf_counter() - t1
        sens = sensitivity(data, tcols, outcome, adjust, confidence)
        refute_data, refute_tcols, refute_adjust = data, tcols, adjust
    else:
        method = "frontdoor.two_stage_regression" if ident.estimand == "frontdoor" else "iv.instrumental_variable"
        try:
            dowhy_est = _dowhy_estimate(model, estimand, method, binary, seed)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise EngineInputError(f"the {ident.estimand} estimate of {treatment!r} on {outcome!r} failed: {first}") from None

        def fn(d: pd.DataFrame, adj: list[str] | None) -> float:
            return _refit(dowhy_est, d)

        interval, se = bootstrap_interval(lambda d: fn(d, None), safe, confidence, seed, bootstrap)
        label = "two_stage_regression" if ident.estimand == "frontdoor" else "instrumental_variable"
        estimates.append(Estimate(label, float(np.ravel([dowhy_est.value])[0]), interval, se))
        timings["estimate"] = time.perf_counter() - t0
        refute_data, refute_tcols, refute_adjust = safe, names.safe(tcols), None
    head = estimates[0]
    if len(estimates) > 1:
        other = estimates[1]
        if head.interval and other.interval and (other.interval[0] > head.interval[1] or other.interval[1] < head.interval[0]):
            caveats.append(f"the {other.method.replace('_', ' ')} estimate ({other.value:.4g}) disagrees with the "
                           f"{head.method.replace('_', ' ')} one ({head.value:.4g}): the relationships may not be linear")
    refs: tuple[Refutation, ...] = ()
    if refute:
        t2 = time.perf_counter()
        refs = refutations(fn, refute_data, refute_tcols, refute_adjust, head.value, simulations, seed)
        timings["refute"] = time.perf_counter() - t2
    if len(data) < 50:
        caveats.append(f"only {len(data)} rows: intervals are wide")
    step_effect = head.value * step
    step_interval = tuple(sorted((head.interval[0] * step, head.interval[1] * step))) if head.interval else None
    parts = {**base, "step_effect": step_effect, "step_interval": step_interval, "refutations": refs,
             "sensitivity": sens}
    timings["total"] = time.perf_counter() - t_start
    return EffectResult(
        treatment=treatment, outcome=outcome, treatment_kind="binary" if binary else "continuous",
        identification=ident, method=head.method, effect=head.value, interval=head.interval, confidence=confidence,
        estimates=tuple(estimates), naive=_naive(data, tcols, outcome, confidence), refutations=refs,
        sensitivity=sens, step=step, step_effect=step_effect, step_interval=step_interval,
        answer=answer(parts), caveats=tuple(caveats), rows=len(data), graph=graph.name, seed=seed,
        treatment_columns=tuple(tcols), units=units, timings_s=timings,
    )


def _naive(data: pd.DataFrame, tcols: list[str], outcome: str, confidence: float) -> Estimate:
    est, _ = regression(data, tcols, outcome, [], confidence, "naive_regression")
    return est


def _step(values: pd.Series, higher_is_worse: bool) -> float:
    """A round, typical change of the treatment, in its good direction: the nice-rounded IQR."""
    q1, q3 = np.quantile(values.to_numpy(float), [0.25, 0.75])
    spread = float(q3 - q1) or float(values.std())
    step = nice_step(spread)
    return -step if higher_is_worse else step


__all__ = ["estimate_effect", "check_pair", "identify", "sensitivity", "nice_step", "amount", "span", "node_unit"]
