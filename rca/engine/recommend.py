"""What to change: rank a target's levers by the improvement a realistic move of each would bring.

A lever is a node upstream of the target (any lag) that the graph does not mark
``actionable: false``. For each lever the realistic intervention is to move it from where it is
*now* (its mean over the latest rows, ``current_rows``: a quarter for weekly data) to its own good
quartile over the whole history: its 75th percentile when lower is worse (coverage), its 25th when
higher is worse (change size). A lever already at or beyond that is reported as already there. A
ratio with a denominator is pooled by it, as investigations pool ratios: "now" is the pooled ratio
of the latest rows, the quartile a quartile of its events; a ratio target weighs every regression
of the model by its denominator (as effect questions do).

The effect of a move comes from the engine's structural causal model (:class:`Mover`, fitted
once). For linear mechanisms the target's mean under ``do(lever = v)`` is exact: the model
evaluated at the mean noise, for the full fit and for each of ``bootstrap`` refits on resampled
rows (the levels stay fixed); the same rule gives the point and the interval, so a point estimate
never falls outside its own interval for a rule the interval does not follow. Log-linear and
non-linear models draw interventional samples (kept in the kind's range, a ratio in [0, 1]) with
common random numbers, for the point and every refit alike. ``probability_better`` is the share of
refits in which the move helps.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import kind_of
from rca.engine import linear
from rca.engine.counterfactuals import clip_to_kind, interventional_samples, sample_intervention
from rca.engine.effects_data import node_unit, row_weights, weighted_quantile
from rca.engine.errors import EngineInputError
from rca.engine.fitting import Fitted, fit, node_kind, seed_everything
from rca.engine.frames import prepare
from rca.engine.parallel import tasks
from rca.engine.stats import percentile_interval
from results.effect_answers import lever_sentence, recommendations_answer
from results.effects import Recommendation, Recommendations

# How many of the latest rows are "now", by the graph's unit (a quarter of weekly data, four weeks of daily...).
CURRENT_ROWS = {"week": 13, "day": 28, "month": 3, "hour": 168, "commit": 50}

Settings = dict[str, float]


def levers_of(graph: CausalGraph, target: str) -> list[str]:
    """The nodes upstream of ``target`` that the graph does not mark ``actionable: false``, in the graph's order."""
    up = graph.ancestors(target)
    return [n for n in graph.nodes if n in up and n != target and graph.nodes[n].actionable]


def ancestral(graph: CausalGraph, target: str) -> CausalGraph:
    """The part of ``graph`` that can move ``target``: it and its ancestors (any lag), with their edges."""
    return graph.restricted(graph.ancestors(target) | {target})


def check_ratios(graph: CausalGraph, data: pd.DataFrame, nodes: list[str]) -> None:
    """Refuse a node the graph calls a ratio whose values leave [0, 1]: its model would be clipped one way
    for the estimate and not for its interval, and a ratio of -0.3 means the data or the graph is wrong."""
    for node in nodes:
        spec = graph.nodes[node]
        if kind_of(spec.metric, spec.kind) != "ratio" or node not in data.columns:
            continue
        values = data[node].to_numpy(float)
        bad = (values < 0) | (values > 1)
        if bad.any():
            raise EngineInputError(
                f"{node} is a ratio (between 0 and 1) but {int(bad.sum())} of its {len(values)} rows lie outside "
                f"[0, 1] ({values.min():.3g} to {values.max():.3g}): fix the data, or declare its kind "
                "(kind: continuous) in the graph")


@dataclass(frozen=True)
class Mover:
    """The fitted model of a target's ancestors, ready to compare the target's mean under interventions."""

    graph: CausalGraph
    target: str
    data: pd.DataFrame
    columns: dict[str, tuple[str, int]]
    fitted: Fitted
    kind: str
    weights: np.ndarray | None
    weight_column: str | None
    caveats: tuple[str, ...]
    seed: int
    bootstrap: int
    samples: int

    @property
    def additive(self) -> bool:
        return self.fitted.exact and linear.structure(self.fitted.dag, self.target, self.fitted.log_columns).additive

    def compare(self, plans: dict[str, tuple[Settings, Settings]]) -> dict[str, tuple[float, float, list[float]]]:
        """For each plan ``(settings now, settings after)``: the target's mean under each, and the refits'
        differences ``after - now``."""
        if self.additive:
            return self._exact(plans)
        return self._sampled(plans)

    def _exact(self, plans: dict[str, tuple[Settings, Settings]]) -> dict[str, tuple[float, float, list[float]]]:
        s = linear.structure(self.fitted.dag, self.target, self.fitted.log_columns)
        x = self.data[list(s.columns)].to_numpy(float)
        full = linear.fit(s, x, weights=self.weights)
        rng = np.random.default_rng(self.seed)
        resamples = rng.integers(0, len(x), (self.bootstrap, len(x)))
        refits = linear.fit_resampled(s, x, resamples, weights=self.weights)

        def mean(params: linear.Params, b: int, settings: Settings) -> float:
            fixed = {j: float(settings[self.columns.get(c, (c, 0))[0]]) for j, c in enumerate(s.columns)
                     if self.columns.get(c, (c, 0))[0] in settings}
            return float(linear.evaluate(s, params, b, linear.noise_means(s, params)[b], fixed)[s.target])

        out = {}
        for key, (now, after) in plans.items():
            draws = [mean(refits, b, after) - mean(refits, b, now) for b in range(refits.draws)]
            out[key] = (mean(full, 0, now), mean(full, 0, after), draws)
        return out

    def _sampled(self, plans: dict[str, tuple[Settings, Settings]]) -> dict[str, tuple[float, float, list[float]]]:
        point = _means(self.fitted, self.data, self, plans)
        rng = np.random.default_rng(self.seed)
        # Every resample is drawn here, in order; each refit then depends on its rows alone, so the
        # refits may run anywhere in any order.
        resamples = [rng.integers(0, len(self.data), len(self.data)) for _ in range(self.bootstrap)]

        def refitted(rows: np.ndarray) -> dict[str, tuple[float, float]] | None:
            resample = self.data.iloc[rows]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    refit = fit(resample, self.graph)
                except Exception:  # a resample the model cannot fit (a constant column) is skipped
                    return None
                return _means(refit, resample, self, plans)

        draws: dict[str, list[float]] = {key: [] for key in plans}
        for got in tasks(refitted, resamples):
            for key, (before, after) in (got or {}).items():
                draws[key].append(after - before)
        return {key: (point[key][0], point[key][1], draws[key]) for key in plans}


def _means(fitted: Fitted, rows: pd.DataFrame, m: Mover, plans: dict[str, tuple[Settings, Settings]]
           ) -> dict[str, tuple[float, float]]:
    """The target's interventional means under each plan's two settings, from samples drawn with the same
    random numbers (common random numbers: differences carry no sampling noise for linear parts)."""
    sampler = _sampler(fitted, rows, m)
    return {key: (sampler(now), sampler(after)) for key, (now, after) in plans.items()}


def _sampler(fitted: Fitted, rows: pd.DataFrame, m: Mover) -> Callable[[Settings], float]:
    if fitted.exact:
        s = linear.structure(fitted.dag, m.target, fitted.log_columns)
        x = rows[list(s.columns)].to_numpy(float)
        w = row_weights(m.graph, rows, m.target)[0] if m.weights is not None else None
        params = linear.fit(s, x, weights=w)
        noise = linear.noise(s, params, x)[0]

        def mean(setting: Settings) -> float:
            drawn = sample_intervention(s, params, noise, m.columns, setting, m.samples, np.random.default_rng(m.seed),
                                        weights=w)
            return float(clip_to_kind(drawn, m.kind).mean())
        return mean

    def sampled(setting: Settings) -> float:
        seed_everything(m.seed, dowhy=True)
        return float(clip_to_kind(interventional_samples(fitted.scm, m.target, m.columns, setting, m.samples),
                                  m.kind).mean())
    return sampled


def mover(frame: pd.DataFrame, graph: CausalGraph, target: str, *, seed: int = 0, bootstrap: int = 100,
          samples: int = 1000, min_rows: int = 20, nodes: list[str] | None = None) -> Mover:
    """Fit the model of ``target``'s ancestors on ``frame``'s complete rows; ``nodes`` are checked to be ratios
    in range (the target always is)."""
    if target not in graph.nodes:
        raise EngineInputError(f"target {target!r} is not a node of graph {graph.name!r}")
    part = ancestral(graph, target)
    prepared = prepare(frame, part)
    data = prepared.frame
    if len(data) < min_rows:
        raise EngineInputError(f"only {len(data)} complete row(s); recommendations need at least {min_rows}")
    check_ratios(part, data, [target, *(nodes or [])])
    weights, weight_column = row_weights(part, data, target)
    caveats = list(prepared.caveats)
    if weights is not None:
        caveats.append(f"rows are weighted by {weight_column} ({target}'s denominator), as investigations pool ratios")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit(data, part)
    return Mover(graph=part, target=target, data=data, columns=prepared.columns, fitted=fitted,
                 kind=node_kind(part, target, data[target]), weights=weights, weight_column=weight_column,
                 caveats=tuple(caveats), seed=seed, bootstrap=bootstrap, samples=samples)


def level(m: Mover, node: str, rows: pd.DataFrame) -> float:
    """A node's mean over ``rows``, a ratio pooled by its denominator."""
    w, _ = row_weights(m.graph, rows, node)
    return float(np.average(rows[node].to_numpy(float), weights=w)) if w is not None else float(rows[node].mean())


def now_rows(m: Mover, current_rows: int | None) -> pd.DataFrame:
    k = current_rows or CURRENT_ROWS.get(m.graph.unit, 13)
    return m.data.iloc[-max(1, min(k, len(m.data) // 4)):]


def range_caveats(m: Mover, values: list[float]) -> list[str]:
    """A caveat when the model's mean of the target leaves the range its kind allows (a linear model extrapolates)."""
    lo, hi = {"ratio": (0.0, 1.0), "count": (0.0, np.inf), "duration": (0.0, np.inf)}.get(m.kind, (-np.inf, np.inf))
    if any(v < lo or v > hi for v in values):
        return [f"the model puts {m.target}'s mean outside what a {m.kind} can be for some moves: the linear model "
                "extrapolates there, so read those improvements as directions, not amounts"]
    return []


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
    """Rank ``target``'s levers (``levers``, default: every upstream node not marked ``actionable: false``)
    by the improvement of moving each.

    Raises :class:`EngineInputError` for an unknown target, a named lever that is not upstream of
    it, a graph with no lever upstream of it, a ratio outside [0, 1], or too few complete rows.
    """
    t_start = time.perf_counter()
    if target not in graph.nodes:
        raise EngineInputError(f"target {target!r} is not a node of graph {graph.name!r}")
    if levers is None:
        levers = levers_of(graph, target)
        if not levers:
            raise EngineInputError(f"graph {graph.name!r} marks every node upstream of {target!r} actionable: false; "
                                   "remove that mark from the nodes a team can change")
    else:
        up = graph.ancestors(target)
        bad = [lv for lv in levers if lv not in graph.nodes or lv not in up]
        if bad:
            raise EngineInputError(
                f"{', '.join(map(repr, bad))} cannot move {target!r}: not upstream of it in graph {graph.name!r}"
            )
    m = mover(frame, graph, target, seed=seed, bootstrap=bootstrap, samples=samples, min_rows=min_rows, nodes=levers)
    latest = now_rows(m, current_rows)
    plans: dict[str, tuple[Settings, Settings]] = {}
    goals: dict[str, tuple[float, float, float]] = {}
    skipped: dict[str, str] = {}
    for lever in levers:
        x = m.data[lever]
        if x.nunique() <= 1:
            skipped[lever] = "constant over the history: nothing to learn about moving it"
            continue
        q = 0.25 if graph.nodes[lever].higher_is_worse else 0.75
        w, _ = row_weights(m.graph, m.data, lever)
        cur, goal = level(m, lever, latest), float(weighted_quantile(x.to_numpy(float), q, w))
        goals[lever] = (cur, goal, q)
        plans[lever] = ({lever: cur}, {lever: goal})
    if not plans:
        raise EngineInputError(f"every lever of {target!r} is constant in the data: {', '.join(skipped)}")
    t_fit = time.perf_counter()
    compared = m.compare(plans)
    sign = 1.0 if graph.nodes[target].higher_is_worse else -1.0  # improvement = sign * (target now - target after)
    units = {n: node_unit(m.graph, n, m.data[n]) for n in (target, *plans)}
    titles = {n: graph.nodes[n].title for n in graph.nodes}
    items = []
    for lever, (cur, goal, q) in goals.items():
        before, after, diffs = compared[lever]
        interval = percentile_interval([-sign * d for d in diffs], confidence)
        d = np.asarray(diffs, dtype=float)
        there = (cur <= goal) if graph.nodes[lever].higher_is_worse else (cur >= goal)
        rec = Recommendation(
            lever=lever, current=cur, goal=goal, goal_quantile=q, target_now=before, target_after=after,
            improvement=sign * (before - after), interval=interval,
            probability_better=float(np.mean(-sign * d > 0)) if len(d) else float("nan"), already_there=bool(there),
            sentence="")
        items.append(rec)
    items = [_worded(r, titles, units, target, graph.nodes[target].higher_is_worse, confidence) for r in items]
    items.sort(key=lambda r: (r.already_there, -r.improvement))
    caveats = list(m.caveats) + range_caveats(m, [v for r in items for v in (r.target_now, r.target_after)])
    if len(m.data) < 50:
        caveats.append(f"only {len(m.data)} rows: intervals are wide")
    if not m.additive:
        caveats.append(f"non-linear or log-linear mechanisms: the interval comes from {bootstrap} sampled refits")
    timings = {"fit_and_sample": t_fit - t_start, "bootstrap": time.perf_counter() - t_fit,
               "total": time.perf_counter() - t_start}
    return Recommendations(
        target=target, items=tuple(items), skipped=skipped, current_rows=len(latest), confidence=confidence,
        answer=recommendations_answer(titles.get(target, target), items, confidence), caveats=tuple(caveats),
        rows=len(m.data), graph=graph.name, seed=seed, bootstrap=bootstrap, timings_s=timings, units=units,
        weights=m.weight_column, titles=titles, higher_is_worse={n: graph.nodes[n].higher_is_worse for n in graph.nodes},
        edges=tuple((e.source, e.target, e.lag) for e in graph.edges),
    )


def _worded(r: Recommendation, titles: dict[str, str], units: dict[str, str], target: str, higher_is_worse: bool,
            confidence: float) -> Recommendation:
    from dataclasses import replace

    return replace(r, sentence=lever_sentence(r, titles, units, target, higher_is_worse, confidence))


__all__ = ["recommend", "levers_of", "mover", "Mover", "CURRENT_ROWS"]
