"""The one entry the faces call for an investigation: data + graph + question -> result.

:func:`investigate` checks the question against the data, fits the model, decides whether
the target regressed, attributes the deviation to its causes with bootstrap intervals,
computes counterfactuals for the top causes and writes the explanation. The same data,
graph, question and seed give the same result.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import attribution, detection, linear
from rca.engine.counterfactuals import (
    clip_to_kind,
    counterfactual_mean,
    interventional_samples,
    linear_counterfactual,
    replay_counterfactual,
    sample_intervention,
)
from rca.engine.errors import EngineInputError
from rca.engine.explanation import explain
from rca.engine.fitting import Fitted, ModelCache, fit, seed_everything
from rca.engine.frames import Prepared, prepare
from rca.engine.question import Options, Question, Window, iso
from results import (
    Cause,
    Counterfactual,
    InvestigationResult,
    ModelInfo,
    Observed,
    WhatIf,
    notable,
    package_versions,
)


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


def _interval(samples: list[float], point: float, confidence: float) -> tuple[float, float]:
    if not samples:
        return (point, point)
    lo, hi = np.quantile(samples, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return (float(lo), float(hi))


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
    prepared = prepare(data, graph)
    frame = prepared.frame
    caveats = list(prepared.caveats)
    node = graph.nodes[target]
    unit = node.unit
    titles = {n: graph.nodes[n].title for n in graph.nodes}
    units = {n: graph.nodes[n].unit for n in graph.nodes}
    needed = rows_needed(graph, opts.min_rows)
    seed_everything(opts.seed)
    timings: dict[str, float] = {}

    if question.kind == "anomaly":
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
        window = (
            {"at": iso(question.at.start)}
            if question.at.point
            else {"at": iso(question.at.start), "until": question.at.label(current.index.max())[1]}
        )
    else:
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
        window = {
            "baseline": question.baseline.label(reference.index.max()),
            "current": question.current.label(current.index.max()),
        }

    reference = _bounded(reference, opts, "fit window", caveats)
    if question.kind == "distribution_change":
        current = _bounded(current, opts, "current window", caveats)
    _constant_caveats(prepared, reference, target, caveats)
    n_columns = len(prepared.columns)
    if len(reference) < 5 * n_columns:
        caveats.append(
            f"only {len(reference)} rows to fit {n_columns} model columns: intervals are wide and small "
            "effects may be missed"
        )

    t0 = time.perf_counter()
    fitted = (cache if cache is not None else ModelCache(capacity=1)).fit(reference, graph)
    timings["fit"] = time.perf_counter() - t0
    if opts.graph_check:
        t0 = time.perf_counter()
        caveats.extend(_graph_caveats(reference, graph, fitted, opts))
        timings["graph_check"] = time.perf_counter() - t0
    log_columns = frozenset(c for c, m in fitted.mechanisms.items() if m == "loglinear")
    s = linear.structure(fitted.dag, target, log_columns)
    exact = all(fitted.mechanisms[c] in ("linear", "loglinear", "empirical") for c in s.columns)
    observed = Observed(
        baseline=float(reference[target].mean()), current=float(current[target].mean()), unit=unit
    )
    if question.kind == "anomaly":
        regression = detection.anomaly_regression(
            reference[target].to_numpy(), current[target].to_numpy(), node.higher_is_worse
        )
    else:
        regression = detection.change_regression(
            reference[target].to_numpy(),
            current[target].to_numpy(),
            node.higher_is_worse,
            opts.regression_alpha,
        )

    ref_x, cur_x = reference[list(s.columns)].to_numpy(float), current[list(s.columns)].to_numpy(float)
    if exact:

        def run(draws: int) -> attribution.Attribution:
            # A fresh generator per call: the point estimate is the same with or without resamples.
            gen = np.random.default_rng(opts.seed)
            if question.kind == "anomaly" and s.additive:
                return attribution.linear_anomaly(
                    s, ref_x, cur_x, draws=draws, rng=gen, confidence=opts.confidence
                )
            if question.kind == "anomaly":
                big = len(s.columns) > 20  # fewer samples and orderings keep 40 players within seconds
                return attribution.sampled_anomaly(
                    s,
                    ref_x,
                    cur_x,
                    draws=min(draws, _LOG_DRAWS // 2 if big else _LOG_DRAWS),
                    rng=gen,
                    samples=128 if big else 256,
                    permutations=32 if big else 64,
                )
            # Means propagate exactly through linear mechanisms only: a change is attributed with
            # every child linear (log-linear durations refitted as linear ones).
            flat = linear.Structure(s.columns, s.parents, s.target)
            return attribution.linear_change(
                flat, ref_x, cur_x, draws=draws, rng=gen, alpha=opts.change_alpha
            )

        t0 = time.perf_counter()
        att = run(0)
        timings["attribute"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if opts.bootstrap:
            att = run(opts.bootstrap)
        timings["intervals"] = time.perf_counter() - t0
        if question.kind == "anomaly" and not s.additive:
            method = (
                "Shapley values of DoWhy's set function, Monte Carlo with common random numbers "
                f"(log-linear: {', '.join(sorted(log_columns))})"
            )
            if opts.bootstrap > _LOG_DRAWS:
                caveats.append(f"log-linear mechanisms: intervals rest on {_LOG_DRAWS} resamples")
        else:
            method = "exact Shapley values of DoWhy's set function, closed form for the linear SCM"
            if log_columns and question.kind != "anomaly":
                method += f" (log-linear {', '.join(sorted(log_columns))} refitted as linear for the change)"
    else:
        att, sampled_timings = _sampled_attribution(
            fitted, graph, target, reference, current, prepared, opts, question.kind
        )
        timings.update(sampled_timings)
        method = "DoWhy gcm Shapley estimation by sampling (nonlinear mechanisms)"
        if opts.bootstrap > _SAMPLED_DRAWS:
            caveats.append(
                f"nonlinear mechanisms: intervals rest on {_SAMPLED_DRAWS} resamples, not {opts.bootstrap}"
            )
    draws = [attribution.fold_lags(d, prepared.columns) for d in att.draws]
    point = attribution.fold_lags(att.point, prepared.columns)
    typical = attribution.fold_lags(att.typical, prepared.columns) if att.typical else {}
    changed_nodes = {prepared.columns.get(c, (c, 0))[0] for c, v in att.changed.items() if v}
    if not opts.bootstrap:
        caveats.append("intervals are off (bootstrap: 0): significance is not assessed")
    elif len(draws) < min(opts.bootstrap, _SAMPLED_DRAWS):
        caveats.append(
            f"{opts.bootstrap - len(draws)} of {opts.bootstrap} bootstrap resamples could not be fitted"
        )

    total = observed.current - observed.baseline
    scale = max(abs(total), float(reference[target].std(ddof=0) or 0.0), 1e-12)
    explained = sum(point.values())
    causes = []
    for name, value in point.items():
        interval = _interval([d.get(name, 0.0) for d in draws], value, opts.confidence)
        significant = bool(draws) and (interval[0] > 0 or interval[1] < 0) and abs(value) > 1e-6 * scale
        if typical and name != target:
            # A nonzero contribution is not yet an unusual one: it must exceed what the node's
            # normal variation contributes to an ordinary row.
            significant = significant and abs(value) > typical.get(name, 0.0)
        if att.changed and name != target:
            significant = significant and name in changed_nodes
        share = value / explained if abs(explained) > 1e-12 else 0.0
        causes.append(
            Cause(
                node=name,
                contribution=value,
                share=share,
                interval=interval,
                significant=significant,
                direction=_direction(value, node.higher_is_worse, scale),
            )
        )
    causes.sort(key=lambda c: (-abs(c.contribution), c.node))
    gap = total - explained
    if abs(gap) > 0.05 * scale:
        caveats.append(
            f"the contributions add up to {explained:.4g}, not the observed {total:.4g}: the model does "
            "not reproduce the whole change"
        )

    t0 = time.perf_counter()
    if exact and (att.effects is not None or att.params is not None):
        counterfactuals = _linear_counterfactuals(
            att, cur_x, reference, prepared, causes, fitted, opts, target, question
        )
    else:
        counterfactuals = _counterfactuals(
            fitted if question.kind == "anomaly" else fit(current, graph),
            target,
            reference,
            current,
            prepared,
            causes,
            draws,
            opts,
            question,
        )
    timings["counterfactuals"] = time.perf_counter() - t0

    when = (
        f"at {window['at'][:10]}"
        if question.kind == "anomaly"
        else f"between {window['baseline'][0][:10]}..{window['baseline'][1][:10]} and "
        f"{window['current'][0][:10]}..{window['current'][1][:10]}"
    )
    text = explain(
        target, question.kind, observed, regression, tuple(causes), counterfactuals, titles, units, when
    )
    if question.kind == "distribution_change" and len(current) < 8:
        caveats.append(
            f"the current window has only {len(current)} rows: the verdict rests on little evidence"
        )

    return InvestigationResult(
        target=target,
        kind=question.kind,
        scope=scope,
        window=window,
        observed=observed,
        regression=regression,
        causes=tuple(causes),
        counterfactuals=counterfactuals,
        explanation=text,
        caveats=tuple(caveats),
        model=ModelInfo(
            graph=graph.name,
            fitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rows=fitted.rows,
            quality={
                "r2": fitted.quality,
                "kinds": fitted.kinds,
                "attribution": method,
                **(
                    {"mechanism_change_p": {k: round(v, 6) for k, v in att.p_values.items()}}
                    if att.p_values
                    else {}
                ),
            },
            mechanisms=fitted.mechanisms,
            seed=opts.seed,
        ),
        timings_s=timings,
        series=_series(data, target, causes, current.index),
        higher_is_worse=node.higher_is_worse,
        titles=titles,
        units=units,
        edges=tuple((e.source, e.target, e.lag) for e in graph.edges),
        graph_unit=graph.unit,
        versions=package_versions(),
        levels={n: (float(reference[n].mean()), float(current[n].mean())) for n in graph.nodes},
    )


_ALWAYS = Window(pd.Timestamp.min.tz_localize("UTC"))


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
    """The target's distribution had the nodes in ``settings`` been held at those values.

    The model is fitted on all complete rows of ``data`` (cached in ``cache``) and sampled under
    the intervention, each noise term drawn from its fit-window values as DoWhy's
    ``interventional_samples`` does; lagged copies of a set node are set too (it stays there).
    A value its node's kind cannot take (a ratio of 5) is refused; one outside the values seen
    is answered with a note that it is an extrapolation. The same seed gives the same answer.
    """
    opts = options or Options()
    _check_question(graph, Question(target, at=_ALWAYS))
    unknown = [n for n in settings if n not in graph.nodes]
    if unknown:
        raise EngineInputError(f"cannot set {', '.join(unknown)}: not node(s) of graph {graph.name!r}")
    prepared = prepare(data, graph)
    if len(prepared.frame) < rows_needed(graph, opts.min_rows):
        raise EngineInputError(
            f"only {len(prepared.frame)} complete row(s); graph {graph.name!r} needs at least "
            f"{rows_needed(graph, opts.min_rows)} to fit"
        )
    fitted = (cache if cache is not None else ModelCache(capacity=1)).fit(prepared.frame, graph)
    notes = _check_settings(settings, fitted, prepared.frame)
    kind = fitted.kinds.get(target, "continuous")
    rng = np.random.default_rng(opts.seed)
    if fitted.exact:
        s = linear.structure(fitted.dag, target, fitted.log_columns)
        x = prepared.frame[list(s.columns)].to_numpy(float)
        params = linear.fit(s, x)
        noise = linear.noise(s, params, x)[0]
        values, baseline = (
            clip_to_kind(sample_intervention(s, params, noise, prepared.columns, held, samples, rng), kind)
            for held in (settings, {})
        )
    else:
        seed_everything(opts.seed, dowhy=True)
        values = clip_to_kind(interventional_samples(fitted.scm, target, prepared.columns, settings, samples), kind)
        seed_everything(opts.seed, dowhy=True)
        baseline = clip_to_kind(interventional_samples(fitted.scm, target, prepared.columns, {}, samples), kind)
    lo, hi = np.quantile(values, [(1 - opts.confidence) / 2, 1 - (1 - opts.confidence) / 2])
    qs = {f"p{q}": float(np.quantile(values, q / 100)) for q in (5, 25, 50, 75, 95)}
    return WhatIf(
        target=target,
        intervention={k: float(v) for k, v in settings.items()},
        mean=float(values.mean()),
        interval=(float(lo), float(hi)),
        baseline_mean=float(baseline.mean()),
        samples=len(values),
        quantiles=qs,
        notes=tuple(notes),
    )


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


def _graph_caveats(reference: pd.DataFrame, graph: CausalGraph, fitted: Fitted, opts: Options) -> list[str]:
    from rca.engine.checks import check_frame

    if len(reference) < len(reference.columns) + 5:
        return []  # too few rows to test conditional independences; the row-count caveat says so
    check = check_frame(
        reference, graph, permutations=opts.check_permutations, seed=opts.seed, quality=fitted.quality
    )
    return list(check.caveats())


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


def _held_at_baseline(
    causes: list[Cause], target: str, reference: pd.DataFrame, opts: Options, question: Question
) -> list[tuple[Cause, dict[str, float]]]:
    """The top causes worth a counterfactual, each with the baseline value it is held at.

    A change is held at the baseline window's mean; an anomaly's cause at the fit window's
    median (robust to the outliers a fit window may hold).
    """
    chosen = [c for c in causes if c.node != target and notable(c.share)][: opts.counterfactuals]
    stat = "mean" if question.kind == "distribution_change" else "median"
    return [(c, {c.node: float(getattr(reference[c.node], stat)())}) for c in chosen]


def _counterfactuals(
    model: Fitted,
    target: str,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    prepared: Prepared,
    causes: list[Cause],
    draws: list[dict[str, float]],
    opts: Options,
    question: Question,
) -> tuple[Counterfactual, ...]:
    out = []
    for cause, settings in _held_at_baseline(causes, target, reference, opts, question):
        estimate = counterfactual_mean(model.scm, target, current, prepared.columns, settings)
        # The counterfactual moves the target by what the cause's own deviation passes down; its
        # uncertainty is the attribution's, so reuse the bootstrap spread of that cause.
        spread = [estimate - (d.get(cause.node, 0.0) - cause.contribution) for d in draws]
        out.append(
            Counterfactual(
                intervention=settings, target=estimate, interval=_interval(spread, estimate, opts.confidence)
            )
        )
    return tuple(out)


_LOG_DRAWS = 30  # bootstrap refits for Monte Carlo attribution (each costs ~20 ms)
_SAMPLED_DRAWS = 20  # bootstrap refits when DoWhy must sample (each one costs a full attribution)


def _sampled_attribution(
    fitted: Fitted,
    graph: CausalGraph,
    target: str,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    prepared: Prepared,
    opts: Options,
    kind: str,
) -> tuple[attribution.Attribution, dict[str, float]]:
    """DoWhy's own sampling estimators, for graphs with nonlinear mechanisms."""
    seed_everything(opts.seed, dowhy=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    changed: dict[str, bool] = {}
    if kind == "anomaly":
        point = attribution.anomaly_contributions(fitted.scm, target, current, num_samples=opts.num_samples)

        def once(rng: np.random.Generator) -> dict[str, float] | None:
            sample = reference.iloc[rng.integers(0, len(reference), len(reference))]
            refit = fit(sample, graph)
            return attribution.anomaly_contributions(
                refit.scm, target, current, num_samples=max(200, opts.num_samples // 2)
            )
    else:
        point, changed = attribution.change_contributions(
            fitted.scm, target, reference, current, num_samples=opts.num_samples * 3, alpha=opts.change_alpha
        )

        def once(rng: np.random.Generator) -> dict[str, float] | None:
            old = reference.iloc[rng.integers(0, len(reference), len(reference))]
            new = current.iloc[rng.integers(0, len(current), len(current))]
            try:
                contrib, _ = attribution.change_contributions(
                    fitted.scm, target, old, new, num_samples=opts.num_samples, alpha=opts.change_alpha
                )
            except (ValueError, np.linalg.LinAlgError):
                return None
            return contrib

    timings["attribute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    draws = (
        attribution.bootstrap(min(opts.bootstrap, _SAMPLED_DRAWS), opts.seed, once) if opts.bootstrap else []
    )
    timings["intervals"] = time.perf_counter() - t0
    return attribution.Attribution(
        point=point, draws=draws, typical={}, changed=changed, p_values={}
    ), timings


def _linear_counterfactuals(
    att: attribution.Attribution,
    cur_x: np.ndarray,
    reference: pd.DataFrame,
    prepared: Prepared,
    causes: list[Cause],
    fitted: Fitted,
    opts: Options,
    target: str,
    question: Question,
) -> tuple[Counterfactual, ...]:
    assert att.structure is not None
    out = []
    kind = fitted.kinds.get(target, "continuous")
    for _cause, settings in _held_at_baseline(causes, target, reference, opts, question):
        if att.params is not None:  # anomaly: replay the fitted SCM on the observed rows' noise
            raw = replay_counterfactual(att.structure, att.params, cur_x, prepared.columns, settings)
        else:
            raw = linear_counterfactual(att.structure, att.effects, cur_x, prepared.columns, settings)
        values = clip_to_kind(raw, kind)
        out.append(
            Counterfactual(
                intervention=settings,
                target=float(values[0]),
                interval=_interval(list(values[1:]), float(values[0]), opts.confidence),
            )
        )
    return tuple(out)


_CHART_POINTS = 2000  # a chart cannot show more; a 100,000-row history is thinned evenly to this


def _series(data: pd.DataFrame, target: str, causes: list[Cause],
            keep_rows: pd.DatetimeIndex) -> dict[str, list[tuple[str, float | None]]]:
    """The target's and top causes' histories for the charts; a gap (no value) stays a gap (None).

    A long history is thinned to about ``_CHART_POINTS`` evenly spaced rows, always keeping the
    rows the question is about (``keep_rows``).
    """
    rows = data.index
    if len(rows) > _CHART_POINTS:
        picked = np.zeros(len(rows), dtype=bool)
        picked[np.linspace(0, len(rows) - 1, _CHART_POINTS).astype(int)] = True
        picked |= np.asarray(rows.isin(keep_rows))
        data = data[picked]
    stamps = data.index.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {}
    for name in [target] + [c.node for c in causes if c.node != target][:3]:
        col = pd.to_numeric(data[name], errors="coerce")
        out[name] = [(ts, None if np.isnan(v) else float(v)) for ts, v in zip(stamps, col.to_numpy(float), strict=True)]
    return out
