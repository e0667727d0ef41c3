"""Heterogeneous effects: "where would more coverage help most?", one effect per scope, with EconML.

Input: either a dict ``scope -> wide frame`` (each as :func:`rca.engine.effects.estimate_effect`
takes it: a time index, one column per graph node) or one long-ish frame with a ``scope`` column
beside the node columns (the time index may repeat across scopes). Optional ``features`` name
further columns that describe a scope or a row: team size, repository age (numbers), language
(text, one-hot encoded).

Each scope's frame is prepared on its own (lagged columns never cross scopes), the rows are
pooled, and double ML fits ``Y = theta(X) . T + g(X, W) + e``: ``W`` is the graph's back-door
adjustment set (identified as for the average effect), ``X`` the effect modifiers. Without
features ``X`` is one indicator per scope, so ``theta`` gives every scope its own effect with an
interval; with features ``X`` is the features and a scope's effect is ``theta`` at its mean
features. The nuisance models ``E[Y | X, W]`` and ``E[T | X, W]`` are the learners that predict
best out of fold (linear, additive splines or gradient boosting: :mod:`rca.engine.effects_flexible`),
at every size of data.

Which estimator answers depends on the rows (and the result says which, and why):
``CausalForestDML`` (a causal forest: effects that vary in any way with the modifiers, with
honest intervals) when every scope has at least :data:`FOREST_ROWS_PER_SCOPE` rows and the pool
at least :data:`FOREST_ROWS`; otherwise ``LinearDML`` (one coefficient per scope or feature,
heteroskedasticity-robust intervals), since a forest on a few hundred rows splits on noise and
gives wide, unstable intervals. With indicators per scope, linearity in them is no restriction.

A treatment with lagged copies enters as ``(T, T[t-1] - T, ...)``, so that the coefficient on the
first column is the effect of a sustained change, as in :mod:`rca.engine.effects`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unrolled
from rca.engine.effects_data import (
    EffectData,
    check_pair,
    is_binary,
    nice_step,
    node_unit,
    observed_part,
    treatment_columns,
)
from rca.engine.effects_flexible import cross_fit, learner, single_threaded
from rca.engine.effects_identify import identify
from rca.engine.errors import EngineInputError
from results.effect_answers import scopes_answer
from results.effects import Estimate, FeatureEffect, HeterogeneousEffects, ScopeEffect
from results.intervals import disagree

FOREST_ROWS = 1000
FOREST_ROWS_PER_SCOPE = 200


def _split(data: pd.DataFrame | Mapping[str, pd.DataFrame], scope_column: str) -> dict[str, pd.DataFrame]:
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}
    if scope_column not in data.columns:
        raise EngineInputError(
            f"the frame has no {scope_column!r} column; give one, or pass a dict of scope -> frame"
        )
    return {str(s): g.drop(columns=[scope_column]).sort_index() for s, g in data.groupby(scope_column, sort=True)}


def heterogeneous_effects(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    graph: CausalGraph,
    treatment: str,
    outcome: str,
    *,
    scope_column: str = "scope",
    features: Sequence[str] = (),
    seed: int = 0,
    confidence: float = 0.95,
    min_rows_per_scope: int = 10,
) -> HeterogeneousEffects:
    """The effect of ``treatment`` on ``outcome`` in each scope (or as a function of ``features``).

    Raises :class:`EngineInputError` for the question errors of
    :func:`rca.engine.effects.estimate_effect`, fewer than two usable scopes, a missing feature
    column, or a graph that gives no back-door adjustment set (front-door and IV estimands are
    not supported here).
    """
    t_start = time.perf_counter()
    check_pair(graph, treatment, outcome)
    frames = _split(data, scope_column)
    dag, columns = unrolled(graph)
    caveats: list[str] = []
    parts: list[pd.DataFrame] = []
    feats: list[pd.DataFrame] = []
    used: list[str] = []
    tcols: list[str] | None = None
    for scope, frame in frames.items():
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise EngineInputError(f"scope {scope!r} has no column for feature(s) {', '.join(map(repr, missing))}")
        prepared, latent = observed_part(frame.drop(columns=list(features)), graph, (treatment, outcome))
        if len(prepared.frame) < min_rows_per_scope:
            caveats.append(f"scope {scope!r} left out: {len(prepared.frame)} complete row(s), fewer than {min_rows_per_scope}")
            continue
        if tcols is None:
            tcols = [c for c in treatment_columns(dag, columns, treatment, outcome) if c in prepared.frame.columns]
        parts.append(prepared.frame.assign(**{"__scope": scope}))
        feats.append(frame.loc[prepared.frame.index, list(features)] if features else pd.DataFrame(index=prepared.frame.index))
        used.append(scope)
    if len(used) < 2:
        raise EngineInputError(
            f"heterogeneous effects need at least two scopes with {min_rows_per_scope}+ complete rows; got {len(used)}"
        )
    if not tcols:
        raise EngineInputError(f"no observed column of {treatment!r} has a path to {outcome!r} in the unrolled graph")
    pooled = pd.concat(parts, ignore_index=True)
    feat = pd.concat(feats, ignore_index=True)
    if pooled[treatment].nunique() <= 1:
        raise EngineInputError(f"{treatment!r} is constant over every scope: an effect needs it to vary")
    binary = is_binary(pooled[treatment])
    q = EffectData(graph=graph, treatment=treatment, outcome=outcome, data=pooled.drop(columns="__scope"), dag=dag,
                   columns=columns, tcols=tuple(tcols), latent=tuple(latent), binary=binary, weights=None,
                   weight_column=None, treatment_weights=None, extra=pd.DataFrame(index=pooled.index))
    ident = identify(q)
    if not ident.identified or ident.estimand != "backdoor":
        raise EngineInputError(
            f"heterogeneous effects need a back-door adjustment set, and the graph gives {ident.estimand}: {ident.reason}"
        )
    adjust = list(ident.variables)

    # Effect modifiers: one indicator per scope, or the features (text ones one-hot encoded).
    if features:
        x_frame = pd.get_dummies(feat, drop_first=True, dtype=float)
        modifiers = list(x_frame.columns)
    else:
        x_frame = pd.get_dummies(pooled["__scope"], dtype=float)[used]
        modifiers = [f"scope={s}" for s in used]
    x = x_frame.to_numpy(float)
    t = pooled[tcols].to_numpy(float)
    t = np.column_stack([t[:, 0]] + [t[:, j] - t[:, 0] for j in range(1, t.shape[1])])
    y = pooled[outcome].to_numpy(float)
    w = pooled[adjust].to_numpy(float) if adjust else None
    sizes = [int((pooled["__scope"] == s).sum()) for s in used]
    forest = len(pooled) >= FOREST_ROWS and min(sizes) >= FOREST_ROWS_PER_SCOPE
    note = (f"a causal forest (CausalForestDML): {len(pooled)} rows, at least {min(sizes)} per scope" if forest else
            f"LinearDML: a causal forest needs at least {FOREST_ROWS} rows and {FOREST_ROWS_PER_SCOPE} per scope "
            f"({len(pooled)} rows, {min(sizes)} in the smallest scope)")
    # The nuisance learners: the ones that predict best out of fold, given the adjustment set and the modifiers.
    xq = q.data.assign(**{f"\x00x{j}": x[:, j] for j in range(x.shape[1])})
    nu = cross_fit(replace(q, data=xq), adjust + [f"\x00x{j}" for j in range(x.shape[1])], seed)
    model_y = learner(nu.chosen.get("outcome", "linear"), seed, len(pooled))
    model_t = learner(nu.chosen.get(tcols[0], "linear"), seed, len(pooled))
    if t.shape[1] > 1:
        from sklearn.multioutput import MultiOutputRegressor

        model_t = MultiOutputRegressor(model_t)
    learners = f"outcome model: {nu.chosen.get('outcome', 'linear')}; treatment model: {nu.chosen.get(tcols[0], 'linear')}"

    from econml.dml import CausalForestDML, LinearDML

    for name in ("econml", "dowhy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if forest:
        est = CausalForestDML(model_y=model_y, model_t=model_t, cv=3, n_estimators=200, min_samples_leaf=10,
                              random_state=seed)
    else:
        est = LinearDML(model_y=model_y, model_t=model_t, cv=3, random_state=seed, fit_cate_intercept=bool(features))
    alpha = 1 - confidence
    with warnings.catch_warnings(), single_threaded():
        warnings.simplefilter("ignore")
        est.fit(y, t if t.shape[1] > 1 else t[:, 0], X=x, W=w)

        def at(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            eff = np.asarray(est.const_marginal_effect(points)).reshape(len(points), -1)[:, 0]
            lo, hi = est.const_marginal_effect_interval(points, alpha=alpha)
            return eff, np.asarray(lo).reshape(len(points), -1)[:, 0], np.asarray(hi).reshape(len(points), -1)[:, 0]

        ate = np.ravel(est.const_marginal_ate(x))[0]
        ate_lo, ate_hi = (np.ravel(v)[0] for v in est.const_marginal_ate_interval(x, alpha=alpha))
        slopes: list[FeatureEffect] = []
        if features and not forest:
            coef = np.asarray(est.coef_).reshape(-1, x.shape[1])[0]
            c_lo, c_hi = (np.asarray(v).reshape(-1, x.shape[1])[0] for v in est.coef__interval(alpha=alpha))
            slopes = [FeatureEffect(m, float(coef[j]), (float(c_lo[j]), float(c_hi[j]))) for j, m in enumerate(modifiers)]
        points = np.vstack([x[(pooled["__scope"] == s).to_numpy()].mean(axis=0) for s in used])
        eff, lo, hi = at(points)
    s_t = -1.0 if graph.nodes[treatment].higher_is_worse else 1.0
    s_y = -1.0 if graph.nodes[outcome].higher_is_worse else 1.0
    scopes = []
    for i, s in enumerate(used):
        fvals = {}
        if features:
            sub = feat[(pooled["__scope"] == s).to_numpy()]
            for f in features:
                if pd.api.types.is_numeric_dtype(sub[f]):
                    fvals[f] = float(sub[f].mean())
        scopes.append(ScopeEffect(s, float(eff[i]), (float(lo[i]), float(hi[i])), sizes[i], float(eff[i] * s_t * s_y),
                                  fvals))
    scopes.sort(key=lambda e: -e.benefit)
    best, worst = scopes[0], scopes[-1]
    separated = disagree(best.interval, worst.interval)
    step = 1.0 if binary else nice_step(float(np.subtract(*np.quantile(pooled[treatment], [0.75, 0.25]))) or 1.0)
    step = step * s_t if not binary else step
    units = {n: node_unit(graph, n, pooled[n]) for n in (treatment, outcome)}
    if nx.has_path(dag, treatment, outcome) is False and len(tcols) == 1 and tcols[0] != treatment:
        caveats.append(f"{treatment} acts on {outcome} only through its lagged copy {tcols[0]}")
    if features and forest:
        caveats.append("a causal forest gives each scope its effect, but no slope per feature")
    result = HeterogeneousEffects(
        treatment=treatment, outcome=outcome, method="CausalForestDML" if forest else "LinearDML",
        adjustment=tuple(adjust), modifiers=tuple(modifiers),
        average=Estimate("double_ml", float(ate), (float(ate_lo), float(ate_hi)), detail=learners), scopes=tuple(scopes),
        features=tuple(slopes), most_helped=best.scope, least_helped=worst.scope, separated=bool(separated),
        confidence=confidence, answer="", caveats=tuple(caveats), rows=len(pooled), seed=seed,
        timings_s={"total": time.perf_counter() - t_start}, step=step, units=units, estimator_note=note,
        titles={n: graph.nodes[n].title for n in graph.nodes},
        higher_is_worse={n: graph.nodes[n].higher_is_worse for n in graph.nodes},
    )
    return replace(result, answer=scopes_answer(result))


__all__ = ["heterogeneous_effects", "FOREST_ROWS", "FOREST_ROWS_PER_SCOPE"]
