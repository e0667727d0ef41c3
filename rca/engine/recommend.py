"""What to change: rank a target's levers by the improvement a realistic move of each would bring.

A lever is a node the graph marks ``actionable: true`` with a directed path (any lag) to the
target. For each lever the realistic intervention is to move it from where it is *now* (its mean
over the latest rows, ``current_rows``: a quarter for weekly data) to its own good quartile over
the whole history: its 75th percentile when lower is worse (coverage), its 25th when higher is
worse (change size). A lever already at or beyond that is reported as already there.

The effect of the move comes from the engine's fitted structural causal model
(:func:`rca.engine.fitting.fit`, the same mechanisms an investigation uses) and its interventional
samples, drawn as the engine's what-if draws them (:func:`rca.engine.counterfactuals.sample_intervention`
for linear and log-linear models, DoWhy's ``interventional_samples`` for non-linear ones; the lever's
lagged copies are held too): the target's mean under ``do(lever = now)`` against its mean under
``do(lever = goal)``. Both are drawn with the same random numbers, so the difference has no
Monte Carlo noise for linear mechanisms. The interval comes from refitting the model on
``bootstrap`` resamples of the rows (the levels stay fixed) and repeating the comparison;
``probability_better`` is the share of refits in which the move helps.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import linear
from rca.engine.counterfactuals import clip_to_kind, interventional_samples, sample_intervention
from rca.engine.effects import amount, node_unit, span
from rca.engine.errors import EngineInputError
from rca.engine.fitting import Fitted, fit, node_kind, seed_everything
from rca.engine.frames import prepare
from rca.engine.parallel import tasks
from results.effects import Recommendation, Recommendations
from results.format import format_value

# How many of the latest rows are "now", by the graph's unit (a quarter of weekly data, four weeks of daily...).
CURRENT_ROWS = {"week": 13, "day": 28, "month": 3, "hour": 168, "commit": 50}


def levers_of(graph: CausalGraph, target: str) -> list[str]:
    """The actionable nodes upstream of ``target``, in the graph's order."""
    up = graph.ancestors(target)
    return [n for n in graph.nodes if n in up and n != target and graph.nodes[n].actionable]


def ancestral(graph: CausalGraph, target: str) -> CausalGraph:
    """The part of ``graph`` that can move ``target``: it and its ancestors (any lag), with their edges.

    The target's interventional distribution depends on nothing else, and a smaller model is
    faster to refit and sample (and does not lose rows to gaps in unrelated columns).
    """
    return graph.restricted(graph.ancestors(target) | {target})


def _sampler(fitted: Fitted, data: pd.DataFrame, target: str, columns, samples: int, seed: int, kind: str):
    """A function ``settings -> the target's interventional mean`` for one fitted model.

    Every call draws the same random numbers (common random numbers), so differences between
    settings carry no sampling noise for linear mechanisms.
    """
    if fitted.exact:
        s = linear.structure(fitted.dag, target, fitted.log_columns)
        x = data[list(s.columns)].to_numpy(float)
        params = linear.fit(s, x)
        noise = linear.noise(s, params, x)[0]

        def mean(setting: dict[str, float]) -> float:
            drawn = sample_intervention(s, params, noise, columns, setting, samples, np.random.default_rng(seed))
            return float(clip_to_kind(drawn, kind).mean())
    else:
        def mean(setting: dict[str, float]) -> float:
            seed_everything(seed, dowhy=True)
            return float(clip_to_kind(interventional_samples(fitted.scm, target, columns, setting, samples), kind).mean())
    return mean


def recommend(
    frame: pd.DataFrame,
    graph: CausalGraph,
    target: str,
    *,
    seed: int = 0,
    confidence: float = 0.95,
    bootstrap: int = 100,
    samples: int = 1000,
    current_rows: int | None = None,
    levers: list[str] | None = None,
    min_rows: int = 20,
) -> Recommendations:
    """Rank ``target``'s levers (``levers``, default: every actionable ancestor) by the improvement of moving each.

    Raises :class:`EngineInputError` for an unknown target, a named lever that is not upstream of
    it, a graph with no actionable node upstream of it, or too few complete rows.
    """
    t_start = time.perf_counter()
    if target not in graph.nodes:
        raise EngineInputError(f"target {target!r} is not a node of graph {graph.name!r}")
    if levers is None:
        levers = levers_of(graph, target)
        if not levers:
            raise EngineInputError(
                f"graph {graph.name!r} marks no actionable node upstream of {target!r}; "
                "set actionable: true on the nodes a team can change"
            )
    else:
        up = graph.ancestors(target)
        bad = [lv for lv in levers if lv not in graph.nodes or lv not in up]
        if bad:
            raise EngineInputError(
                f"{', '.join(map(repr, bad))} cannot move {target!r}: not upstream of it in graph {graph.name!r}"
            )
    full = graph
    graph = ancestral(graph, target)
    prepared = prepare(frame, graph)
    data = prepared.frame
    if len(data) < min_rows:
        raise EngineInputError(f"only {len(data)} complete row(s); recommendations need at least {min_rows}")
    k = current_rows or CURRENT_ROWS.get(graph.unit, 13)
    k = max(1, min(k, len(data) // 4))
    now_rows = data.iloc[-k:]
    kind = node_kind(graph, target, data[target])
    worse_up = graph.nodes[target].higher_is_worse
    sign = 1.0 if worse_up else -1.0  # improvement = sign * (target now - target after)

    plans: dict[str, tuple[float, float, float]] = {}
    skipped: dict[str, str] = {}
    for lever in levers:
        x = data[lever]
        if x.nunique() <= 1:
            skipped[lever] = "constant over the history: nothing to learn about moving it"
            continue
        q = 0.25 if graph.nodes[lever].higher_is_worse else 0.75
        plans[lever] = (float(now_rows[lever].mean()), float(x.quantile(q)), q)
    if not plans:
        raise EngineInputError(f"every lever of {target!r} is constant in the data: {', '.join(skipped)}")

    def effects(fitted: Fitted, rows: pd.DataFrame) -> dict[str, tuple[float, float]]:
        mean = _sampler(fitted, rows, target, prepared.columns, samples, seed, kind)
        return {lever: (mean({lever: cur}), mean({lever: goal})) for lever, (cur, goal, _q) in plans.items()}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit(data, graph)
        point = effects(fitted, data)
        t_fit = time.perf_counter()
        rng = np.random.default_rng(seed)
        structure = linear.structure(fitted.dag, target, fitted.log_columns)
        if fitted.exact and structure.additive:
            draws = _linear_draws(structure, data, prepared.columns, plans, bootstrap, rng, sign)
            method = "closed form"
        else:
            # Every resample is drawn here, in order; each refit then depends on its rows alone (the fit is
            # deterministic, the sampler reseeds), so the refits may run anywhere in any order.
            resamples = [rng.integers(0, len(data), len(data)) for _ in range(bootstrap)]

            def refitted(rows: np.ndarray) -> dict[str, tuple[float, float]] | None:
                resample = data.iloc[rows]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        refit = fit(resample, graph)
                    except Exception:  # a resample the model cannot fit (a constant column) is skipped
                        return None
                    return effects(refit, resample)

            draws = {lever: [] for lever in plans}
            for got in tasks(refitted, resamples):
                for lever, (before, after) in (got or {}).items():
                    draws[lever].append(sign * (before - after))
            method = "sampled"
    alpha = 1 - confidence
    items = []
    for lever, (cur, goal, q) in plans.items():
        before, after = point[lever]
        improvement = sign * (before - after)
        d = np.asarray(draws[lever], dtype=float)
        lo, hi = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if len(d) >= 2 else (np.nan, np.nan))
        p_better = float(np.mean(d > 0)) if len(d) else float("nan")
        there = (cur <= goal) if graph.nodes[lever].higher_is_worse else (cur >= goal)
        items.append(Recommendation(
            lever=lever, current=cur, goal=goal, goal_quantile=q, target_now=before, target_after=after,
            improvement=improvement, interval=(float(lo), float(hi)), probability_better=p_better,
            already_there=bool(there),
            sentence=_sentence(graph, lever, target, cur, goal, q, improvement, (float(lo), float(hi)), there,
                               confidence, data),
        ))
    items.sort(key=lambda r: (r.already_there, -r.improvement))
    caveats = list(prepared.caveats)
    if len(data) < 50:
        caveats.append(f"only {len(data)} rows: intervals are wide")
    if method == "sampled":
        caveats.append(f"non-linear or log-linear mechanisms: the interval comes from {bootstrap} sampled refits")
    timings = {"fit_and_sample": t_fit - t_start, "bootstrap": time.perf_counter() - t_fit,
               "total": time.perf_counter() - t_start}
    return Recommendations(
        target=target, items=tuple(items), skipped=skipped, current_rows=k, confidence=confidence,
        answer=_answer(graph, target, items, confidence), caveats=tuple(caveats), rows=len(data), graph=full.name,
        seed=seed, bootstrap=bootstrap, timings_s=timings,
        units={n: _unit(graph, n, data) for n in (target, *plans)},
    )


def _linear_draws(structure, data: pd.DataFrame, columns, plans, bootstrap: int, rng: np.random.Generator,
                  sign: float) -> dict[str, list[float]]:
    """Bootstrap improvements in closed form when every mechanism is linear (or empirical) and additive.

    The refits are the engine's batched least squares (:func:`rca.engine.linear.fit`, the same
    estimator ``gcm.fit`` uses for a linear regressor); moving a lever and its lagged copies from
    ``now`` to ``goal`` moves the target's interventional mean by the lever's total effect times the
    move, which is what interventional samples of a linear SCM average to.
    """
    x = data[list(structure.columns)].to_numpy(float)
    n = len(x)
    params = linear.fit(structure, x[rng.integers(0, n, (bootstrap, n))])
    effects = linear.total_effects(structure, params)
    out = {}
    for lever, (cur, goal, _q) in plans.items():
        idx = [j for j, c in enumerate(structure.columns) if columns.get(c, (c, 0))[0] == lever]
        out[lever] = list(sign * effects[:, idx].sum(axis=1) * (cur - goal))
    return out


def _unit(graph: CausalGraph, node: str, data: pd.DataFrame) -> str:
    return node_unit(graph, node, data[node])


def _sentence(graph, lever, target, cur, goal, q, improvement, interval, there, confidence, data) -> str:
    lu, tu = _unit(graph, lever, data), _unit(graph, target, data)
    lt, tt = graph.nodes[lever].title, graph.nodes[target].title
    pct = f"its {round(q * 100)}th percentile"
    if there:
        return f"{lt[:1].upper() + lt[1:]} is already at {format_value(cur, lu)}, at or beyond {pct} ({format_value(goal, lu)})."
    verb = "cutting" if goal < cur else "raising"
    better = "lower" if graph.nodes[target].higher_is_worse else "raise"
    worse = "raise" if graph.nodes[target].higher_is_worse else "lower"
    conf = round(100 * confidence)
    move = f"{verb[:1].upper() + verb[1:]} {lt} from {format_value(cur, lu)} to {format_value(goal, lu)} ({pct})"
    lo, hi = interval
    if lo > 0:
        return (f"{move} would {better} {tt} by {amount(improvement, tu)} "
                f"({conf}% interval {span(lo, hi, tu)}).")
    if hi < 0:
        return f"{move} would {worse} {tt} by {amount(improvement, tu)} ({conf}% interval {span(-hi, -lo, tu)})."
    return (f"{move} would change {tt} by {('+' if improvement >= 0 else '-')}{amount(improvement, tu)} in the good "
            f"direction, but the {conf}% interval ({lo:+.3g} to {hi:+.3g}) includes no change.")


def _answer(graph: CausalGraph, target: str, items: list[Recommendation], confidence: float) -> str:
    helpful = [r for r in items if not r.already_there and r.interval[0] > 0]
    tt = graph.nodes[target].title
    if not helpful:
        return (f"No lever of {tt} would clearly improve it by moving to its good quartile "
                f"({round(100 * confidence)}% intervals include no change): {items[0].sentence}")
    return helpful[0].sentence


__all__ = ["recommend", "levers_of", "CURRENT_ROWS"]
