"""What-if: the target's interventional distribution had some nodes been held at given values.

:func:`intervene` fits the engine's structural causal model on all complete rows and samples
the target under ``do(node = value)``, beside its mean without the intervention. It answers the
question "what would happen if", not "why did it happen" (that is :mod:`rca.engine.investigation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import linear
from rca.engine.counterfactuals import clip_to_kind, interventional_samples, sample_intervention
from rca.engine.errors import EngineInputError
from rca.engine.fitting import Fitted, ModelCache, seed_everything
from rca.engine.frames import prepare
from rca.engine.investigation import _check_question, rows_needed
from rca.engine.question import Options, Question, Window
from results import WhatIf

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
