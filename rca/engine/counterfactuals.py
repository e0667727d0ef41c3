"""Counterfactuals and what-ifs on a fitted invertible SCM.

"Had coverage stayed at 81%, the bug-fix ratio would be 13%, not 19%": for the observed
rows, recover each node's noise, hold the cause at its baseline value (and its lagged
copies with it, since it stayed there throughout) and replay the model. :func:`what_if` is
the interventional version for the API: set nodes to values and sample the target.
For linear models :func:`linear_counterfactual` gives the same answer in closed form for every
bootstrap refit at once (the target moves by the cause's total effect times how far the cause is
held from where it was), which is where the interval comes from. :func:`top_counterfactuals` picks
an investigation's top causes, holds each at its baseline value and answers with an interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import attribution, linear, ranking
from rca.engine.fitting import Fitted, fit, gcm
from rca.engine.frames import Prepared
from rca.engine.question import Options, Question
from rca.engine.stats import percentile_interval
from results import Cause, Counterfactual, notable


def _interventions(columns: dict[str, tuple[str, int]], settings: dict[str, float]) -> dict:
    out = {}
    for col, (node, _lag) in columns.items():
        if node in settings:
            value = float(settings[node])
            out[col] = lambda x, v=value: np.full_like(np.asarray(x, dtype=float), v)
    return out


def counterfactual_mean(
    scm: object,
    target: str,
    rows: pd.DataFrame,
    columns: dict[str, tuple[str, int]],
    settings: dict[str, float],
) -> float:
    """Mean of the target over ``rows`` had the nodes in ``settings`` held those values."""
    g = gcm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf = g.counterfactual_samples(
            scm, _interventions(columns, settings), observed_data=rows[list(scm.graph.nodes)]
        )  # type: ignore[attr-defined]
    return float(np.mean(cf[target]))


def interventional_samples(
    scm: object,
    target: str,
    columns: dict[str, tuple[str, int]],
    settings: dict[str, float],
    num_samples: int = 2000,
) -> np.ndarray:
    """Samples of the target under the intervention ``settings`` (node -> value)."""
    g = gcm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = g.interventional_samples(
            scm, _interventions(columns, settings), num_samples_to_draw=num_samples
        )
    return np.asarray(samples[target], dtype=float)


def linear_counterfactual(
    s: linear.Structure,
    effects: np.ndarray,
    current: np.ndarray,
    columns: dict[str, tuple[str, int]],
    settings: dict[str, float],
) -> np.ndarray:
    """The target's mean over ``current`` rows had the nodes in ``settings`` held there, per refit.

    ``effects`` is ``(B, m)`` total effects of each column on the target; ``current`` the rows
    in the structure's column order. Every lagged copy of a held node is held too.
    """
    cur = np.asarray(current, dtype=float).mean(axis=0)
    out = np.full(effects.shape[0], cur[s.target])
    for j, col in enumerate(s.columns):
        node = columns.get(col, (col, 0))[0]
        if node in settings and j != s.target:
            out -= effects[:, j] * (cur[j] - float(settings[node]))
    return out


def replay_counterfactual(
    s: linear.Structure,
    params: linear.Params,
    current: np.ndarray,
    columns: dict[str, tuple[str, int]],
    settings: dict[str, float],
) -> np.ndarray:
    """The same as :func:`linear_counterfactual` for any linear or log-linear SCM, per refit.

    Recovers each row's noise under each refit, holds the set nodes (and their lagged copies)
    and replays the model: Pearl's abduction-action-prediction, as ``gcm.counterfactual_samples``.
    """
    fixed = {
        j: float(settings[columns.get(col, (col, 0))[0]])
        for j, col in enumerate(s.columns)
        if columns.get(col, (col, 0))[0] in settings and j != s.target
    }
    noise = linear.noise(s, params, np.asarray(current, dtype=float))  # (B, n, m): every refit at once
    return linear.evaluate_all(s, params, noise, fixed)[:, :, s.target].mean(axis=1)


def sample_intervention(
    s: linear.Structure,
    params: linear.Params,
    noise: np.ndarray,
    columns: dict[str, tuple[str, int]],
    settings: dict[str, float],
    samples: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Samples of the target under ``settings`` for a linear or log-linear SCM (refit 0 of ``params``).

    Each column's noise is drawn independently from its fit-window values (``noise``, ``(n, m)``),
    as DoWhy's ``interventional_samples`` draws from empirical noise distributions; with ``weights``
    a row is drawn in proportion to its weight (a ratio's denominator).
    """
    n, m = noise.shape
    fixed = {j: float(settings[columns.get(c, (c, 0))[0]]) for j, c in enumerate(s.columns)
             if columns.get(c, (c, 0))[0] in settings}
    if weights is None:
        rows = rng.integers(0, n, (samples, m))
    else:
        rows = rng.choice(n, (samples, m), p=np.asarray(weights, dtype=float) / float(np.sum(weights)))
    drawn = noise[rows, np.arange(m)]
    return linear.evaluate(s, params, 0, drawn, fixed)[:, s.target]


def clip_to_kind(values: np.ndarray, kind: str) -> np.ndarray:
    """Keep model outputs in the range a node's kind allows (counts and durations >= 0, ratios in [0, 1])."""
    if kind in ("count", "duration"):
        return np.maximum(values, 0.0)
    if kind == "ratio":
        return np.clip(values, 0.0, 1.0)
    return values


def held_at_baseline(
    causes: list[Cause], target: str, reference: pd.DataFrame, opts: Options, question: Question
) -> list[tuple[Cause, dict[str, float]]]:
    """The top causes worth a counterfactual, each with the baseline value it is held at.

    A change is held at the baseline window's mean; an anomaly's cause at the fit window's
    median (robust to the outliers a fit window may hold).
    """
    chosen = [c for c in causes if c.node != target and notable(c.share)][: opts.counterfactuals]
    stat = "mean" if question.kind == "distribution_change" else "median"
    return [(c, {c.node: float(getattr(reference[c.node], stat)())}) for c in chosen]


def top_counterfactuals(
    att: attribution.Attribution,
    fitted: Fitted,
    graph: CausalGraph,
    s: linear.Structure,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    prepared: Prepared,
    causes: list[Cause],
    opts: Options,
    question: Question,
    scaled: dict[str, float] | None = None,
) -> tuple[Counterfactual, ...]:
    """The target had each top cause stayed at its baseline value, with an interval from the refits.

    Linear models replay the fitted SCM on the observed rows' noise (an anomaly) or move the
    target by the cause's total effect (a change), for every bootstrap refit at once; nonlinear
    ones ask DoWhy for counterfactual samples and borrow the attribution's bootstrap spread. A cause
    whose part was scaled to the observed change (``scaled``) moves the target by that factor of what
    the replay says.
    """
    chosen = held_at_baseline(causes, question.target, reference, opts, question)
    if not chosen:
        return ()
    kind = fitted.kinds.get(question.target, "continuous")
    cur_x = current[list(s.columns)].to_numpy(float)
    out = []
    if fitted.exact and (att.params is not None or att.effects is not None):
        for _cause, settings in chosen:
            if att.params is not None:
                raw = replay_counterfactual(s, att.params, cur_x, prepared.columns, settings)
            else:
                raw = linear_counterfactual(att.structure or s, att.effects, cur_x, prepared.columns, settings)
            factor = (scaled or {}).get(_cause.node)
            if factor is not None:
                observed = float(current[question.target].mean())
                raw = observed + factor * (np.asarray(raw) - observed)
            values = clip_to_kind(raw, kind)
            out.append(Counterfactual(intervention=settings, target=float(values[0]),
                                      interval=percentile_interval(list(values[1:]), opts.confidence, float(values[0]))))
        return tuple(out)
    model = fitted if question.kind == "anomaly" else fit(current, graph)
    draws = [ranking.fold(d, prepared.columns) for d in att.draws]
    for cause, settings in chosen:
        estimate = counterfactual_mean(model.scm, question.target, current, prepared.columns, settings)
        # The counterfactual moves the target by what the cause's own deviation passes down; its
        # uncertainty is the attribution's, so reuse the bootstrap spread of that cause.
        spread = [estimate - (d.get(cause.node, 0.0) - cause.contribution) for d in draws]
        out.append(Counterfactual(intervention=settings, target=estimate,
                                  interval=percentile_interval(spread, opts.confidence, estimate)))
    return tuple(out)
