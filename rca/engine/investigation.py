"""The one entry the faces call for an investigation: data + graph + question -> result.

:func:`investigate` checks the question against the data, fits the model, decides whether
the target regressed, attributes the deviation to its causes with bootstrap intervals,
computes counterfactuals for the top causes and writes the explanation. The same data,
graph, question and seed give the same result.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import anomaly, attribution, change, detection, evidence, linear, ranking
from rca.engine.counterfactuals import top_counterfactuals
from rca.engine.denominators import ratio_denominators
from rca.engine.errors import EngineInputError
from rca.engine.fitting import Fitted, ModelCache, seed_everything
from rca.engine.frames import Prepared, prepare
from rca.engine.question import Options, Question, Window, iso
from rca.engine.series import chart_series
from rca.engine.stats import percentile_interval
from results import (
    Cause,
    InvestigationResult,
    ModelInfo,
    Observed,
    notable,
    package_versions,
    wording,
)
from results.format import format_delta

if TYPE_CHECKING:
    from rca.engine.checks import GraphCheck


def unreproduced(explained: float, total: float, scale: float, unit: str) -> list[str]:
    """A caveat when the causes' contributions miss the observed change by more than 5% of ``scale``, in the
    target's own unit (a ratio in points: "+7.7 pp, not the observed +9.4 pp")."""
    if abs(total - explained) <= 0.05 * scale:
        return []
    return [f"the contributions add up to {format_delta(explained, unit)}, not the observed {format_delta(total, unit)}: "
            "the model does not reproduce the whole change"]


def _check_question(graph: CausalGraph, q: Question) -> None:
    if q.target not in graph.nodes:
        names = ", ".join(list(graph.nodes)[:12])
        raise EngineInputError(f"target {q.target!r} is not a node of graph {graph.name!r} (nodes: {names})")
    if q.at is None and (q.baseline is None or q.current is None):
        raise EngineInputError(
            "say what to investigate: a time (at) for an anomaly, or two windows (baseline and current)"
        )


def rows_needed(graph: CausalGraph, floor: int) -> int:
    """Rows a fit needs: the floor, and at least twice the largest mechanism's parameter count."""
    widest = max((len(graph.parents(n)) for n in graph.nodes), default=0)
    return max(floor, 2 * (widest + 2))


def _window_rows(frame: pd.DataFrame, w: Window, name: str) -> pd.DataFrame:
    rows = frame[w.mask(frame.index)]
    if rows.empty:
        have = f"{iso(frame.index.min())} to {iso(frame.index.max())}" if len(frame) else "no complete rows"
        raise EngineInputError(
            f"the {name} window {'..'.join(w.label())} has no complete rows (data: {have})"
        )
    return rows


def _direction(contribution: float, higher_is_worse: bool, scale: float) -> str:
    if abs(contribution) <= 1e-9 + 1e-6 * scale:
        return "neutral"
    return "worse" if (contribution > 0) == higher_is_worse else "better"


def investigate(
    data: pd.DataFrame,
    graph: CausalGraph,
    question: Question,
    *,
    scope: str = "",
    options: Options | None = None,
    cache: ModelCache | None = None,
) -> InvestigationResult:
    """Answer ``question`` about ``data`` (time-indexed, one column per node) with ``graph``.

    ``cache`` keeps fitted models between calls on the same data (see :class:`ModelCache`).
    """
    opts = options or Options()
    _check_question(graph, question)
    target = question.target
    node = graph.nodes[target]
    prepared = prepare(data, graph)
    caveats = list(prepared.caveats)
    needed = rows_needed(graph, opts.min_rows)
    seed_everything(opts.seed)
    timings: dict[str, float] = {}
    if question.kind == "anomaly":
        reference, current, window = _anomaly_rows(prepared.frame, graph, question, needed)
    else:
        reference, current, window = _change_rows(prepared.frame, graph, question, needed)
        current = _bounded(current, opts, "current window", caveats)
    reference = _bounded(reference, opts, "fit window", caveats)
    shared = reference.index.intersection(current.index)
    if len(shared):
        caveats.append(f"the windows overlap in {len(shared)} row(s) ({iso(shared.min())} to {iso(shared.max())}): "
                       "those rows count on both sides, so the change looks smaller than it is")
    _constant_caveats(prepared, reference, target, caveats)
    if len(reference) < 5 * len(prepared.columns):
        caveats.append(f"only {len(reference)} rows to fit {len(prepared.columns)} model columns: intervals are "
                       "wide and small effects may be missed")

    t0 = time.perf_counter()
    fitted = (cache if cache is not None else ModelCache(capacity=1)).fit(reference, graph)
    timings["fit"] = time.perf_counter() - t0
    check = None
    if opts.graph_check:
        t0 = time.perf_counter()
        check = _graph_check(reference, graph, fitted, opts)
        caveats.extend(check.caveats() if check is not None else ())
        timings["graph_check"] = time.perf_counter() - t0
    s = linear.structure(fitted.dag, target, fitted.log_columns)
    weights = ratio_denominators(graph, s, prepared.columns, reference, current)
    target_w = weights.get(s.target)
    observed = Observed(
        baseline=_mean(reference[target], target_w[0] if target_w else None),
        current=_mean(current[target], target_w[1] if target_w else None),
        unit=node.unit,
    )
    def verdict(higher_is_worse: bool):  # noqa: ANN202 - a Regression
        if question.kind == "anomaly":
            return detection.anomaly_regression(reference[target].to_numpy(), current[target].to_numpy(),
                                                higher_is_worse, weights=target_w)
        return detection.change_regression(reference[target].to_numpy(), current[target].to_numpy(),
                                           higher_is_worse, opts.regression_alpha, weights=target_w)

    regression = verdict(node.higher_is_worse)
    # The causes are ranked by the way the target went: its bad way, unless the same verdict, mirrored,
    # finds it improved beyond its normal noise (a move within noise has no way to rank by).
    went_worse = not verdict(not node.higher_is_worse).detected
    if question.kind == "anomaly":
        done = anomaly.attribute(fitted, graph, s, reference, current, opts, weights)
    else:
        done = change.attribute(fitted, s, reference, current, opts, weights)
    timings.update(done.timings)
    caveats.extend(done.caveats)
    if target_w is not None:
        caveats.extend(_few_events(target, target_w[1]))
    if not opts.bootstrap:
        caveats.append("intervals are off (bootstrap: 0): significance is not assessed")
    elif len(done.att.draws) < min(opts.bootstrap, attribution.SAMPLED_DRAWS):
        caveats.append(f"{opts.bootstrap - len(done.att.draws)} of {opts.bootstrap} bootstrap resamples could not be fitted")

    total = observed.current - observed.baseline
    scale = max(abs(total), float(reference[target].std(ddof=0) or 0.0), 1e-12)
    causes = _causes(done, prepared.columns, target, node.higher_is_worse, scale, opts.confidence)
    causes, overshoot, scaled = _within_change(causes, target, scale)
    caveats.extend(overshoot)
    explained = sum(c.contribution for c in causes)
    caveats.extend(unreproduced(explained, total, scale, node.unit))
    causes += _outside(check, graph, target, {c.node for c in causes}, reference, current, question.kind,
                       node.higher_is_worse, opts.change_alpha)
    # The graph check's missing dependencies are correlations with no direction: only the tested
    # "Y's change explains X's" pairs (a change question) count as paths the graph lacks.
    suspected = _fold_pairs(done.explained, prepared.columns)
    # An edge into or out of a column that never varied in the fit window cannot be tested: untested is
    # not unsupported.
    flat = {c for c in reference.columns if reference[c].nunique() <= 1}
    unsupported = [(e.source, e.target) for e in check.edges if not e.supported
                   and e.source not in flat and e.target not in flat] if check is not None else []
    own_worse = {c.node: (c.evidence > 0) == graph.nodes[c.node].higher_is_worse for c in causes if c.evidence}
    moved = {n: float(current[n].mean() - reference[n].median()) for n in graph.nodes}
    # One rule whichever way the target went: the causes that pushed it that way, unusual ones first.
    edges = [(e.source, e.target) for e in graph.model_edges]
    # A node with a row asked about outside every value of the fit window is in a regime the fit never saw.
    unseen = {n for n in graph.nodes if current[n].max() > reference[n].max() or current[n].min() < reference[n].min()}
    ordered, unexplained = ranking.rank(causes, target, edges, kind=question.kind, suspected=suspected,
                                        unsupported=unsupported, own_worse=own_worse, deviation=moved,
                                        units={n: graph.nodes[n].unit for n in graph.nodes}, went_worse=went_worse,
                                        passed_down=_passed_down(done.att, s, moved), unseen=unseen)
    caveats.extend(_fit_against_graph(ordered, target, edges, question.kind, own_worse, went_worse))

    t0 = time.perf_counter()
    counterfactuals = top_counterfactuals(done.att, fitted, graph, s, reference, current, prepared, list(ordered),
                                       opts, question, scaled)
    timings["counterfactuals"] = time.perf_counter() - t0
    if question.kind == "distribution_change" and len(current) < 8:
        caveats.append(f"the current window has only {len(current)} rows: the verdict rests on little evidence")

    quality: dict[str, object] = {"r2": fitted.quality, "kinds": fitted.kinds, "attribution": done.method}
    if done.att.p_values:
        quality["mechanism_change_p"] = {k: round(v, 6) for k, v in done.att.p_values.items()}
    if check is not None:
        quality["graph_check"] = check.summary()
    result = InvestigationResult(
        target=target,
        kind=question.kind,
        scope=scope,
        window=window,
        observed=observed,
        regression=regression,
        causes=ordered,
        counterfactuals=counterfactuals,
        explanation="",
        caveats=tuple(caveats),
        model=ModelInfo(
            graph=graph.name,
            fitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rows=fitted.rows,
            quality=quality,
            mechanisms=fitted.mechanisms,
            seed=opts.seed,
        ),
        timings_s=timings,
        unexplained=unexplained,
        series=chart_series(data, target, list(ordered), current.index),
        higher_is_worse=node.higher_is_worse,
        titles={n: graph.nodes[n].title for n in graph.nodes},
        units={n: graph.nodes[n].unit for n in graph.nodes},
        edges=tuple((e.source, e.target, e.lag) for e in graph.edges),
        graph_unit=graph.unit,
        versions=package_versions(),
        levels={n: (float(reference[n].mean()), float(current[n].mean())) for n in reference.columns},
        fit_window=(iso(reference.index.min()), iso(reference.index.max())),
        current_rows=len(current),
    )
    return replace(result, explanation=wording.explanation(result))


def _anomaly_rows(frame: pd.DataFrame, graph: CausalGraph, question: Question, needed: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The fit window (before the anomaly, or the given baseline), the anomalous rows, their labels."""
    assert question.at is not None
    current = _window_rows(frame, question.at, "anomaly (at)")
    if question.baseline is not None:
        reference = _window_rows(frame, question.baseline, "baseline")
    else:
        reference = frame[frame.index < question.at.start]
    if len(reference) < needed:
        raise EngineInputError(
            f"only {len(reference)} complete row(s) to fit on before {iso(question.at.start)}; graph "
            f"{graph.name!r} needs at least {needed} (give more history or a wider baseline window)"
        )
    window: dict[str, object] = {"at": iso(question.at.start)}
    if not question.at.point:
        window["until"] = question.at.label(current.index.max())[1]
    return reference, current, window


def _change_rows(frame: pd.DataFrame, graph: CausalGraph, question: Question, needed: int
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The baseline and current windows' rows and their labels."""
    assert question.baseline is not None and question.current is not None
    reference = _window_rows(frame, question.baseline, "baseline")
    current = _window_rows(frame, question.current, "current")
    per_window = max(5, needed // 2)
    for name, rows in (("baseline", reference), ("current", current)):
        if len(rows) < per_window:
            raise EngineInputError(
                f"only {len(rows)} complete row(s) in the {name} window; graph {graph.name!r} "
                f"needs at least {per_window} per window to compare (widen the window)"
            )
    window = {"baseline": question.baseline.label(reference.index.max()),
              "current": question.current.label(current.index.max())}
    return reference, current, window


def _outside(check: GraphCheck | None, graph: CausalGraph, target: str, modelled: set[str], reference: pd.DataFrame,
             current: pd.DataFrame, kind: str, higher_is_worse: bool, alpha: float) -> list[Cause]:
    """Candidates the graph keeps off the target's paths though the data tie them to it.

    A dependency the graph check finds between the target (or one of its modelled causes) and a
    node that is neither (nor downstream of the target, where the tie would run the other way)
    means the graph lacks an edge or a common cause. The model cannot attribute anything to such a
    node, so it gets no contribution; it gets its own evidence (how unusual its raw change is) and
    a direction (the sign of the dependency times the way it moved), so a fault in a node the graph
    cut off is still named, flagged ``outside_graph``, rather than left in the target's own noise.
    """
    if check is None or not check.missing:
        return []
    downstream = graph.descendants(target)
    inside = modelled | {target}
    tie: dict[str, float] = {}
    for m in check.missing:
        for near, far in ((m.node, m.other), (m.other, m.node)):
            if (near in inside and far not in inside and far not in downstream and far in reference.columns
                    and abs(m.partial_r) > abs(tie.get(far, 0.0))):
                tie[far] = m.partial_r
    if not tie:
        return []
    names = sorted(tie)
    if kind == "anomaly":
        ev = evidence.anomaly(tuple(names), reference[names].to_numpy(float), current[names].to_numpy(float))
    else:
        indicator = np.r_[np.zeros(len(reference)), np.ones(len(current))]
        p = {n: attribution.root_change_p(np.r_[reference[n].to_numpy(float), current[n].to_numpy(float)], indicator)
             for n in names}
        moved = {n: float(current[n].mean() - reference[n].mean()) for n in names}
        ev = evidence.change(tuple(names), p, attribution.benjamini_hochberg(p, alpha), moved)
    out = []
    for n in names:
        z = ev.score[n]
        up = (tie[n] > 0) == (z > 0)  # the way this node's move would push the target
        direction = "neutral" if z == 0 else "worse" if up == higher_is_worse else "better"
        out.append(Cause(node=n, contribution=0.0, share=0.0, interval=(0.0, 0.0), significant=False,
                         direction=direction, evidence=z, unusual=ev.unusual[n], outside_graph=True))
    return out


def _within_change(causes: list[Cause], target: str, scale: float
                   ) -> tuple[list[Cause], list[str], dict[str, float]]:
    """Causes whose parts add up to the change, the target's own part never pulling against it.

    A linear mechanism fitted on ordinary rows extrapolates at an extreme one: a queue 60x deeper
    predicts a latency 60x worse where the client's timeout held it at 40x. The causes then carry
    more than the whole change and the target's own noise "pulls" the rest back, a share of -1.1
    beside a cause at 2.1. Where the target's own part has the opposite sign to the change, the
    parts that pushed the way it went are scaled down together, in proportion (intervals alike),
    until they and the parts that pushed against it add up to the change; the target's own part is
    then nil. Shares are of the change, each with the sign of its push. Also returned: each scaled
    node's factor, which its counterfactual takes too (the same extrapolation, corrected alike).
    """
    explained = sum(c.contribution for c in causes)
    own = next((c for c in causes if c.node == target), None)
    if own is None or explained == 0 or own.contribution * explained >= 0 or abs(own.contribution) <= 1e-6 * scale:
        return causes, [], {}
    with_it = sum(c.contribution for c in causes if c.node != target and c.contribution * explained > 0)
    against = sum(c.contribution for c in causes if c.node != target and c.contribution * explained < 0)
    if with_it == 0:
        return causes, [], {}
    factor = (explained - against) / with_it
    out = []
    for c in causes:
        if c.node == target:
            c = replace(c, contribution=0.0, interval=(c.interval[0] - c.contribution, c.interval[1] - c.contribution))
        elif c.contribution * explained > 0:
            c = replace(c, contribution=c.contribution * factor, interval=(c.interval[0] * factor, c.interval[1] * factor))
        out.append(c)
    out = [replace(c, share=c.contribution / explained) for c in out]
    note = (f"the model puts more than the whole change on its causes ({with_it:.4g} against an observed "
            f"{explained - against:.4g} they could account for): its mechanisms, fitted on ordinary rows, extrapolate "
            f"past them, so the causes' parts are scaled to the change in proportion ({factor:.2g}x)")
    return out, [note], {c.node: factor for c in causes if c.node != target and c.contribution * explained > 0}


def _fit_against_graph(causes: tuple[Cause, ...], target: str, edges: list[tuple[str, str]], kind: str,
                       own_worse: dict[str, bool], went_worse: bool) -> list[str]:
    """Say where the graph's paths, not the fitted effects, put a node first (see ranking.path_starts)."""
    starts = ranking.path_starts(list(causes), target, edges, kind=kind, own_worse=own_worse, went_worse=went_worse)
    out = []
    for c in causes:
        if c.node in starts:
            effect = "no" if c.direction == "neutral" or not notable(c.share) else "an opposite"
            out.append(f"the fit window shows {effect} effect of {c.node} on what it feeds, yet the graph has a path "
                       f"from it to the deviating nodes and its own deviation is unusual: it is ranked where the "
                       f"deviation starts (the fitted mechanisms never saw rows like these)")
    return out


def _passed_down(att: attribution.Attribution, s: linear.Structure, moved: dict[str, float]) -> dict[tuple[str, str], float]:
    """Per (ancestor, node) of the target's structure: the node's move the fitted model predicts from
    the ancestor's observed move alone (its total effect times that move). Linear structures only."""
    if att.params is None or not s.additive:
        return {}
    m = len(s.columns)
    direct = np.zeros((m, m))
    for k, pa in enumerate(s.parents):
        for i, j in enumerate(pa):
            direct[k, j] = att.params.coef[k][0, i]
    try:
        total = np.linalg.inv(np.eye(m) - direct)  # total[k, j]: d column k / d noise of column j
    except np.linalg.LinAlgError:
        return {}
    out = {}
    for j, a in enumerate(s.columns):
        for k, n in enumerate(s.columns):
            if k != j and total[k, j] != 0 and a in moved and n in moved:
                out[(a, n)] = float(total[k, j] * moved[a])
    return out


def _fold_pairs(pairs: tuple[tuple[str, str], ...], columns: dict[str, tuple[str, int]]) -> list[tuple[str, str]]:
    return [(columns.get(a, (a, 0))[0], columns.get(b, (b, 0))[0]) for a, b in pairs]


def _mean(values: pd.Series, weights: np.ndarray | None) -> float:
    return detection.pooled(values.to_numpy(float), weights) if weights is not None else float(values.mean())


def _few_events(target: str, events: np.ndarray) -> list[str]:
    total = float(np.sum(events))
    if total < 20:
        return [f"{target} rests on only {total:g} event(s) in the rows asked about: its ratio can swing widely "
                "by chance, and the verdict weighs it by those events"]
    return []


def _causes(done: attribution.Attributed, columns: dict[str, tuple[str, int]], target: str, higher_is_worse: bool,
            scale: float, confidence: float) -> list[Cause]:
    """One cause per node (lagged columns folded in): contribution, interval, evidence, significance."""
    point = ranking.fold(done.att.point, columns)
    draws = [ranking.fold(d, columns) for d in done.att.draws]
    score = ranking.fold(done.evidence.score, columns, how="max")
    unusual = {}
    for col, flag in done.evidence.unusual.items():
        name = columns.get(col, (col, 0))[0]
        unusual[name] = unusual.get(name, False) or flag
    explained = sum(point.values())
    by_lag: dict[str, dict[int, float]] = {}
    for col, value in done.att.point.items():
        name, lag = columns.get(col, (col, 0))
        by_lag.setdefault(name, {})[lag] = by_lag.get(name, {}).get(lag, 0.0) + value
    out = []
    for name, value in point.items():
        interval = percentile_interval([d.get(name, 0.0) for d in draws], confidence, value)
        excludes_zero = bool(draws) and (interval[0] > 0 or interval[1] < 0) and abs(value) > 1e-6 * scale
        out.append(Cause(
            node=name,
            contribution=value,
            share=value / explained if abs(explained) > 1e-12 else 0.0,
            interval=interval,
            # Significant: the contribution is surely not zero, and the node's own deviation is
            # unusual (not only its normal variation passed down).
            significant=excludes_zero and unusual.get(name, False),
            direction=_direction(value, higher_is_worse, scale),
            evidence=score.get(name, 0.0),
            unusual=unusual.get(name, False),
            lags=tuple(sorted(by_lag[name].items())) if any(by_lag.get(name, {})) else (),
        ))
    return out


def _graph_check(reference: pd.DataFrame, graph: CausalGraph, fitted: Fitted, opts: Options):
    """The graph tested on the fit window, or ``None`` when there are too few rows to test anything."""
    from rca.engine.checks import check_frame

    if len(reference) < len(reference.columns) + 5:
        return None  # too few rows to test conditional independences; the row-count caveat says so
    return fitted.remembered(("graph check", opts.check_permutations, opts.seed), lambda: check_frame(
        reference, graph, permutations=opts.check_permutations, seed=opts.seed, quality=fitted.quality))


def _bounded(rows: pd.DataFrame, opts: Options, name: str, caveats: list[str]) -> pd.DataFrame:
    """At most ``opts.max_fit_rows`` rows, a seeded random sample in time order when there are more."""
    if len(rows) <= opts.max_fit_rows:
        return rows
    caveats.append(f"the {name} has {len(rows):,} rows: the model used a random sample of {opts.max_fit_rows:,} "
                   "of them (raise engine.max_fit_rows to use more)")
    return rows.sample(n=opts.max_fit_rows, random_state=opts.seed).sort_index()


def _constant_caveats(prepared: Prepared, reference: pd.DataFrame, target: str, caveats: list[str]) -> None:
    flat = [
        c
        for c in prepared.frame.columns
        if c in prepared.columns and prepared.columns[c][1] == 0 and reference[c].nunique() <= 1
    ]
    if target in flat:
        caveats.append(f"{target} is constant in the fit window: any deviation from it looks extreme")
    others = [c for c in flat if c != target]
    if others:
        caveats.append(
            f"constant in the fit window, so they cannot explain variation there: {', '.join(others)}"
        )
