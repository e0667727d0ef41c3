"""What-if: the target had some nodes been held at given values, as an intervention or a counterfactual.

:func:`intervene` fits the engine's structural causal model on all complete rows and samples the
target under ``do(node = value)``, beside its mean without the intervention. :func:`counterfactual`
asks it of the rows of a window the user chose: each row's noise is recovered from what happened
(abduction), the nodes are held (action) and the model replays the rows (prediction), as
``gcm.counterfactual_samples`` does: "had coverage stayed at 80% over those 12 weeks, what would
the bug-fix ratio have been?".

The interval is the uncertainty of the *mean*: the same computation repeated on ``bootstrap``
refits of the model on resampled rows (the settings stay fixed), for the point and every refit by
one rule (samples kept in the kind's range, a ratio in [0, 1]). The spread of single outcomes is
reported apart, as quantiles. A ratio target with a denominator is averaged pooled by it, as
investigations pool ratios. Non-linear (DoWhy-fitted) models give the point only, with a caveat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import linear
from rca.engine.counterfactuals import clip_to_kind, counterfactual_mean, interventional_samples, sample_intervention
from rca.engine.effects_data import node_unit, row_weights
from rca.engine.effects_estimators import t_quantile
from rca.engine.errors import EngineInputError
from rca.engine.fitting import Fitted, ModelCache, seed_everything
from rca.engine.frames import Prepared, prepare
from rca.engine.investigation import rows_needed
from rca.engine.question import Options, Window, iso
from results import WhatIf
from results.effect_answers import what_if_answer

REFIT_SAMPLES = 1000  # interventional samples per bootstrap refit (the point uses ``samples``)
FEW_ROWS = 50


def _prepared(data: pd.DataFrame, graph: CausalGraph, target: str, settings: dict[str, float],
              opts: Options) -> Prepared:
    if target not in graph.nodes:
        names = ", ".join(list(graph.nodes)[:12])
        raise EngineInputError(f"target {target!r} is not a node of graph {graph.name!r} (nodes: {names})")
    unknown = [n for n in settings if n not in graph.nodes]
    if unknown:
        raise EngineInputError(f"cannot set {', '.join(unknown)}: not node(s) of graph {graph.name!r}")
    if not settings:
        raise EngineInputError("say what to hold: at least one NODE=VALUE")
    prepared = prepare(data, graph)
    needed = rows_needed(graph, opts.min_rows)
    if len(prepared.frame) < needed:
        raise EngineInputError(
            f"only {len(prepared.frame)} complete row(s); graph {graph.name!r} needs at least {needed} to fit"
        )
    for node in settings:
        col = prepared.frame[node]
        if col.nunique() <= 1:
            raise EngineInputError(
                f"{node!r} is constant ({col.iloc[0]:g}) over the {len(col)} complete row(s): the data cannot say "
                "what holding it elsewhere does (an effect needs it to vary)")
    return prepared


def _caveats(prepared: Prepared, fitted: Fitted, bootstrap: int) -> list[str]:
    out = list(prepared.caveats)
    if len(prepared.frame) < FEW_ROWS:
        out.append(f"only {len(prepared.frame)} rows to fit the model: the interval is wide and the model may "
                   "miss effects")
    if not bootstrap:
        out.append("intervals are off (bootstrap: 0)")
    elif not fitted.exact:
        out.append("non-linear mechanisms (fitted by DoWhy): no interval, only the mean")
    return out


def _result(graph: CausalGraph, target: str, settings: dict[str, float], prepared: Prepared, opts: Options,
            **fields) -> WhatIf:
    units = {n: node_unit(graph, n, prepared.frame[n]) for n in (target, *settings)}
    w = WhatIf(target=target, intervention={k: float(v) for k, v in settings.items()}, rows=len(prepared.frame),
               confidence=opts.confidence, seed=opts.seed, graph=graph.name, units=units,
               titles={n: graph.nodes[n].title for n in graph.nodes},
               higher_is_worse={n: graph.nodes[n].higher_is_worse for n in graph.nodes},
               edges=tuple((e.source, e.target, e.lag) for e in graph.edges), **fields)
    from dataclasses import replace

    return replace(w, answer=what_if_answer(w))


def _interval(point: float, draws: np.ndarray, confidence: float, rows: int, params: int) -> tuple[float, float]:
    """``point`` plus or minus Student's t times the refits' spread, widened for the parameters fitted.

    Percentile intervals of a few hundred refits on 60 rows covered 85% where 90% was asked (the
    bootstrap spread is too small when many parameters are fitted on few rows); the spread scaled by
    ``sqrt(n / (n - p))`` with ``n - p`` degrees of freedom covers as asked.
    """
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return (float("nan"), float("nan"))
    dof = max(rows - params, 2)
    half = t_quantile(confidence, dof) * float(np.std(d, ddof=1)) * np.sqrt(rows / dof)
    return (point - half, point + half)


def _parameters(s: linear.Structure) -> int:
    return sum(len(p) + 1 for p in s.parents)


def _fitted(prepared: Prepared, graph: CausalGraph, target: str, settings: dict[str, float], opts: Options,
            cache: ModelCache | None) -> tuple[Fitted, list[str], str, list[str]]:
    """The model both questions answer from: fitted on every complete row, the settings' notes, the
    target's kind and the caveats the rows call for."""
    fitted = (cache if cache is not None else ModelCache(capacity=1)).fit(prepared.frame, graph)
    return (fitted, _check_settings(settings, fitted, prepared.frame), fitted.kinds.get(target, "continuous"),
            _caveats(prepared, fitted, opts.bootstrap))


def _linear(fitted: Fitted, prepared: Prepared, graph: CausalGraph, target: str
            ) -> tuple[linear.Structure, int, np.ndarray, np.ndarray | None]:
    """The target's linear structure, its parameter count, the fit rows and their weights."""
    s = linear.structure(fitted.dag, target, fitted.log_columns)
    w, _ = row_weights(graph, prepared.frame, target)
    return s, _parameters(s), prepared.frame[list(s.columns)].to_numpy(float), w


def intervene(
    data: pd.DataFrame,
    graph: CausalGraph,
    target: str,
    settings: dict[str, float],
    *,
    options: Options | None = None,
    cache: ModelCache | None = None,
    samples: int = 5000,
) -> WhatIf:
    """The target's mean had the nodes in ``settings`` been held at those values, with its interval.

    The model is fitted on all complete rows of ``data`` (cached in ``cache``) and sampled under
    the intervention, each noise term drawn from its fit-window values as DoWhy's
    ``interventional_samples`` does; lagged copies of a set node are set too (it stays there).
    A value its node's kind cannot take (a ratio of 5), or a node that never varied, is refused; a
    value outside the values seen is answered with a note that it is an extrapolation. The same
    seed gives the same answer.
    """
    opts = options or Options()
    prepared = _prepared(data, graph, target, settings, opts)
    fitted, notes, kind, caveats = _fitted(prepared, graph, target, settings, opts, cache)
    draws, params_n = np.array([]), 0
    if fitted.exact:
        s, params_n, x, w = _linear(fitted, prepared, graph, target)
        params = linear.fit(s, x, weights=w)
        noise = linear.noise(s, params, x)[0]
        values, baseline = (
            clip_to_kind(sample_intervention(s, params, noise, prepared.columns, held, samples,
                                             np.random.default_rng(opts.seed), weights=w), kind)
            for held in (settings, {})
        )
        if opts.bootstrap:
            rng = np.random.default_rng(opts.seed)
            resamples = rng.integers(0, len(x), (opts.bootstrap, len(x)))
            refits = linear.fit_resampled(s, x, resamples, weights=w)
            draws = np.array([
                clip_to_kind(sample_intervention(
                    s, _one(refits, b), linear.noise(s, _one(refits, b), x[resamples[b]])[0], prepared.columns,
                    settings, REFIT_SAMPLES, np.random.default_rng(opts.seed),
                    weights=None if w is None else w[resamples[b]]), kind).mean()
                for b in range(refits.draws)])
    else:
        seed_everything(opts.seed, dowhy=True)
        values = clip_to_kind(interventional_samples(fitted.scm, target, prepared.columns, settings, samples), kind)
        seed_everything(opts.seed, dowhy=True)
        baseline = clip_to_kind(interventional_samples(fitted.scm, target, prepared.columns, {}, samples), kind)
    qs = {f"p{q}": float(np.quantile(values, q / 100)) for q in (5, 25, 50, 75, 95)}
    mean = float(values.mean())
    return _result(graph, target, settings, prepared, opts, mean=mean,
                   interval=_interval(mean, draws, opts.confidence, len(prepared.frame), params_n),
                   baseline_mean=float(baseline.mean()),
                   samples=len(values), quantiles=qs, notes=tuple(notes), refits=len(draws), caveats=tuple(caveats))


def counterfactual(
    data: pd.DataFrame,
    graph: CausalGraph,
    target: str,
    settings: dict[str, float],
    window: Window,
    *,
    options: Options | None = None,
    cache: ModelCache | None = None,
) -> WhatIf:
    """Over the rows of ``window``, the target's mean had the nodes in ``settings`` stayed at those values.

    The model is fitted on all complete rows; the window's rows are replayed with their own noise
    (their lagged copies held too). ``baseline_mean`` is the target's observed mean over the window.
    """
    opts = options or Options()
    prepared = _prepared(data, graph, target, settings, opts)
    rows = prepared.frame[window.mask(prepared.frame.index)]
    if rows.empty:
        have = (f"{iso(prepared.frame.index.min())} to {iso(prepared.frame.index.max())}" if len(prepared.frame)
                else "no complete rows")
        raise EngineInputError(f"the window {'..'.join(window.label())} has no complete rows (data: {have})")
    fitted, notes, kind, caveats = _fitted(prepared, graph, target, settings, opts, cache)
    if len(rows) < 4:
        caveats.append(f"the window holds only {len(rows)} row(s): its own noise decides much of the answer")
    w_rows, _ = row_weights(graph, rows, target)
    observed = float(np.average(rows[target].to_numpy(float), weights=w_rows))
    draws, params_n = np.array([]), 0
    if fitted.exact:
        s, params_n, x, w = _linear(fitted, prepared, graph, target)
        cur = rows[list(s.columns)].to_numpy(float)
        fixed = {j: float(settings[prepared.columns.get(c, (c, 0))[0]]) for j, c in enumerate(s.columns)
                 if prepared.columns.get(c, (c, 0))[0] in settings and j != s.target}

        def replay(params: linear.Params) -> float:
            noise = linear.noise(s, params, cur)[0]
            held = clip_to_kind(linear.evaluate(s, params, 0, noise, fixed)[:, s.target], kind)
            return float(np.average(held, weights=w_rows))

        point = replay(linear.fit(s, x, weights=w))
        if opts.bootstrap:
            rng = np.random.default_rng(opts.seed)
            refits = linear.fit_resampled(s, x, rng.integers(0, len(x), (opts.bootstrap, len(x))), weights=w)
            draws = np.array([replay(_one(refits, b)) for b in range(refits.draws)])
    else:
        point = counterfactual_mean(fitted.scm, target, rows, prepared.columns, settings)
    label = (iso(rows.index.min()), iso(rows.index.max()))
    return _result(graph, target, settings, prepared, opts, mean=point,
                   interval=_interval(point, draws, opts.confidence, len(prepared.frame), params_n),
                   baseline_mean=observed, samples=len(rows), notes=tuple(notes), kind="counterfactual", window=label,
                   window_rows=len(rows), refits=len(draws), caveats=tuple(caveats))


def _one(params: linear.Params, b: int) -> linear.Params:
    return linear.Params(params.intercept[b : b + 1], tuple(c[b : b + 1] for c in params.coef))


def _check_settings(settings: dict[str, float], fitted: Fitted, frame: pd.DataFrame) -> list[str]:
    """Refuse values a node's kind cannot take; note values outside what the model has seen."""
    notes = []
    for node, value in settings.items():
        kind = fitted.kinds.get(node, "continuous")
        if not np.isfinite(value):
            raise EngineInputError(f"cannot set {node} to {value}: give a finite number")
        if kind == "ratio" and not 0.0 <= value <= 1.0:
            raise EngineInputError(f"cannot set {node} to {value:g}: it is a ratio, between 0 and 1 "
                                   f"(write 0.8 for 80%)")
        if kind in ("count", "duration") and value < 0:
            raise EngineInputError(f"cannot set {node} to {value:g}: a {kind} cannot be negative")
        lo, hi = float(frame[node].min()), float(frame[node].max())
        if not lo <= value <= hi:
            notes.append(f"{node} = {value:g} is outside the values seen ({lo:g} to {hi:g}): the answer "
                         "extrapolates the fitted model")
    return notes
