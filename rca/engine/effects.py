"""Average causal effects: "what does raising coverage do to the bug-fix ratio?", and how sure is that?

The classic four steps on our own graph, for one treatment node and one outcome node, each in its
own module taking the prepared question first:

1. **Model** (:mod:`rca.engine.effects_data`): the graph unrolled (a lagged edge becomes a column
   ``node[t-k]``), the treatment a *sustained* change (its lagged copies move with it), nodes
   without data unobserved, rows weighted by a ratio's denominator as investigations pool ratios.
2. **Identify** (:mod:`rca.engine.effects_identify`): back-door, else front-door, else an
   instrument, by d-separation on the graph; when none applies the result says why.
3. **Estimate** (:mod:`rca.engine.effects_estimators`, :mod:`rca.engine.effects_flexible`).
   Continuous treatments: linear regression on the adjustment set, and double ML with learners
   chosen out of fold as the flexible cross-check. When a flexible learner predicts clearly better
   (the confounders act non-linearly), double ML is the headline; when the two disagree beyond
   their intervals with no such sign, the answer is *unreliable*. Binary treatments: the doubly
   robust (AIPW) estimate, with the propensity scores' overlap reported, regression adjustment and
   double ML beside it. Front-door and IV estimands: two-stage regressions with bootstrap intervals.
4. **Refute and check** (:mod:`rca.engine.effects_refute`, :mod:`rca.engine.effects_sensitivity`,
   :mod:`rca.engine.effects_outside`): placebo, random-common-cause and subset checks on the
   headline's own estimator; sensitivity to an unobserved confounder; and columns the graph does
   not adjust for though the data tie them to both (when adjusting for one moves the estimate
   beyond its interval, the answer is unreliable).

The sentence is written by :func:`results.effect_answers.effect_answer` from the result's numbers.
Only numpy, SciPy's special functions, networkx and (for the flexible check) scikit-learn are
imported: no DoWhy or EconML start-up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from graphs import CausalGraph
from rca.engine import effects_estimators as est
from rca.engine.effects_data import MIN_ROWS, EffectData, effect_data, node_unit, typical_step
from rca.engine.effects_flexible import Nuisance, double_ml, residual_effect
from rca.engine.effects_identify import identify
from rca.engine.effects_outside import tied_to_both, with_column
from rca.engine.effects_refute import refutations
from rca.engine.effects_sensitivity import residual_sensitivity, sensitivity
from rca.engine.errors import EngineInputError
from results.effect_answers import effect_answer
from results.effects import EffectResult, Estimate, Identification, OutsideColumn, Overlap, Refutation, Sensitivity
from results.intervals import disagree


@dataclass
class _Answer:
    """What the estimation steps found, gathered for the result."""

    estimates: list[Estimate] = field(default_factory=list)
    # (re-estimator ``fn(rows, adjustment)``, rows, treatment columns, adjustment or None)
    refute_with: tuple | None = None
    sensitivity: Sensitivity | None = None
    overlap: Overlap | None = None
    caveats: list[str] = field(default_factory=list)
    unreliable: list[str] = field(default_factory=list)
    nuisance: Nuisance | None = None
    outside: list[OutsideColumn] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


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

    ``frame`` is wide (a time index, one column per graph node; a node without a column is
    unobserved; other columns are checked as possible confounders the graph leaves out), or a
    mapping ``scope -> frame`` to pool several scopes. ``simulations`` is the number of
    re-estimations per refuter, ``bootstrap`` the resamples behind front-door and IV intervals;
    ``dml`` runs the flexible cross-check. Raises :class:`EngineInputError` for an unknown node, a
    treatment that is the outcome or not upstream of it, a missing, constant or near-empty column,
    or too few complete rows. A graph that does not identify the effect gives a result with
    ``identification.identified`` false.
    """
    if not 0.5 <= confidence < 1:
        raise EngineInputError(f"confidence must be in [0.5, 1), not {confidence}")
    t_start = time.perf_counter()
    q = effect_data(frame, graph, treatment, outcome, min_rows=min_rows)
    ident = identify(q)
    timings = {"identify": time.perf_counter() - t_start}
    step = 1.0 if q.binary else typical_step(q.data[treatment], graph.nodes[treatment].higher_is_worse,
                                                q.treatment_weights)
    units = {n: ("indicator" if q.binary and n == treatment else node_unit(graph, n, q.data[n]))
             for n in (treatment, outcome)}
    found = _Answer()
    if ident.identified:
        t0 = time.perf_counter()
        if ident.estimand == "backdoor":
            found = _backdoor(q, ident, confidence, seed, dml)
        else:
            found = _other(q, ident, confidence, seed, bootstrap)
        found.timings["estimate"] = time.perf_counter() - t0 - sum(found.timings.values())
    head = found.estimates[0] if found.estimates else None
    refs: tuple[Refutation, ...] = ()
    if head is not None and refute and found.refute_with is not None:
        t2 = time.perf_counter()
        fn, data, tcols, adjust = found.refute_with
        refs = refutations(fn, data, tcols, adjust, head.value, simulations, seed)
        found.timings["refute"] = time.perf_counter() - t2
        if any(r.passed is False for r in refs):
            found.unreliable.append("refutation_failed")
    if head is not None and not dml:
        found.caveats.append("the flexible cross-check (double ML) was not run: a non-linear confounder would go unseen")
    caveats = list(q.caveats) + found.caveats
    if q.rows < 50:
        caveats.append(f"only {q.rows} rows: intervals are wide")
    step_interval = tuple(sorted((head.interval[0] * step, head.interval[1] * step))) if head and head.interval else None
    result = EffectResult(
        treatment=treatment, outcome=outcome, treatment_kind="binary" if q.binary else "continuous",
        identification=ident, method=head.method if head else "", effect=head.value if head else None,
        interval=head.interval if head else None, confidence=confidence, estimates=tuple(found.estimates),
        naive=est.naive(q, confidence), refutations=refs, sensitivity=found.sensitivity, step=step,
        step_effect=head.value * step if head else None, step_interval=step_interval, answer="",
        caveats=tuple(caveats), rows=q.rows, graph=graph.name, seed=seed, treatment_columns=q.tcols, units=units,
        timings_s={**timings, **found.timings, "total": time.perf_counter() - t_start},
        reliable=ident.identified and head is not None and not found.unreliable,
        unreliable_because=tuple(dict.fromkeys(found.unreliable)), overlap=found.overlap,
        outside=tuple(found.outside), weights=q.weight_column,
        titles={n: graph.nodes[n].title for n in graph.nodes},
        higher_is_worse={n: graph.nodes[n].higher_is_worse for n in graph.nodes},
        edges=tuple((e.source, e.target, e.lag) for e in graph.edges),
    )
    return replace(result, answer=effect_answer(result))


# --- back-door: the usual case ------------------------------------------------------------------------

def _backdoor(q: EffectData, ident: Identification, confidence: float, seed: int, dml: bool) -> _Answer:
    found = _Answer()
    adjust = list(ident.variables)
    tcols = list(q.tcols)
    rows = est.with_weights(q)
    binary_one = q.binary and len(tcols) == 1
    reg, fit = est.regression(rows, tcols, q.outcome, adjust, confidence,
                              "regression_adjustment" if q.binary else "linear_regression")
    dw = est.durbin_watson(fit.resid)
    if dw < 1.5 and q.graph.unit != "commit":
        found.caveats.append(f"the outcome's residuals are autocorrelated over time (Durbin-Watson {dw:.2f}): "
                             "rows are not independent, so the intervals may be too narrow")
    linear_head = reg

    def linear_fn(d: pd.DataFrame, adj: list[str]) -> float:
        return est.ols_effect(d, tcols, q.outcome, adj)

    if binary_one:
        try:
            dr, found.overlap = est.doubly_robust(q, adjust, confidence)
            linear_head = dr

            def linear_fn(d: pd.DataFrame, adj: list[str]) -> float:
                return est.aipw_effect(d, tcols[0], q.outcome, adj)
        except (ValueError, ZeroDivisionError):
            found.caveats.append("an arm has too few rows for the doubly robust estimate: regression adjustment only")
        if found.overlap is not None and found.overlap.poor:
            o = found.overlap
            found.caveats.append(f"the treated and untreated rows overlap poorly: {o.outside:.0%} of rows have a "
                                 f"propensity score outside 5-95% (scores {o.min_score:.2f} to {o.max_score:.2f}), "
                                 "so the estimate extrapolates for them")
    elif q.binary:
        found.caveats.append("a binary treatment with lagged copies is estimated by regression adjustment only")
    flex = None
    if dml:
        t1 = time.perf_counter()
        try:
            flex, found.nuisance = double_ml(q, adjust, confidence, seed)
        except Exception as exc:  # a failed check estimate is a caveat, not a failed question
            found.caveats.append(f"double ML could not run: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        found.timings["double_ml"] = time.perf_counter() - t1
    nu = found.nuisance
    others = [e for e in (reg,) if e is not linear_head]
    if flex is not None and nu is not None and nu.nonlinear:
        found.estimates = [flex, linear_head, *others]
        residual_cols = nu.treatment_columns()

        def residual_fn(d: pd.DataFrame, adj: list[str]) -> float:
            return residual_effect(d, residual_cols, "r", adj)

        found.refute_with = (residual_fn, nu.frame(), residual_cols, [])
        found.sensitivity = residual_sensitivity(flex.value, flex.std_error or 0.0,
                                                 max(len(nu.outcome) - len(tcols) - nu.spent, 3.0), confidence)
        found.caveats.append(_nonlinear_note(nu, q, linear_head, flex))
    else:
        found.estimates = [linear_head, *([flex] if flex is not None else []), *others]
        found.refute_with = (linear_fn, rows, tcols, adjust)
        found.sensitivity = sensitivity(rows, tcols, q.outcome, adjust, confidence)
        if flex is not None and disagree(linear_head.interval, flex.interval):
            found.unreliable.append("estimates_disagree")
    head = found.estimates[0]
    outside = tied_to_both(q, adjust)
    checked = []
    for o in outside:
        moved = _with_outside(q, adjust, o.column, head, confidence, seed)
        checked.append(replace(o, adjusted_effect=moved.value, adjusted_interval=moved.interval))
        if disagree(head.interval, moved.interval):
            found.unreliable.append("outside_confounder")
    if checked:
        found.caveats.append(
            "columns the graph does not adjust for are tied to both " + f"{q.treatment} and {q.outcome} in the data: "
            + ", ".join(f"{o.column} (partial r {o.r_treatment:.2f} and {o.r_outcome:.2f}; adjusting for it too gives "
                        f"{o.adjusted_effect:.4g} per unit)" for o in checked)
            + ": if one drives both, add it to the graph as a common cause; if it is a consequence of "
            + f"{q.treatment}, leave it out")
    found.outside = checked
    return found


def _with_outside(q: EffectData, adjust: list[str], column: str, head: Estimate, confidence: float,
                  seed: int) -> Estimate:
    """The headline's estimator re-run with ``column`` adjusted for too."""
    data = with_column(q, column)
    wider = replace(q, data=data)
    if head.method == "double_ml":
        return double_ml(wider, [*adjust, column], confidence, seed)[0]
    if head.method == "doubly_robust":
        return est.doubly_robust(wider, [*adjust, column], confidence)[0]
    return est.regression(est.with_weights(wider), list(q.tcols), q.outcome, [*adjust, column], confidence,
                          head.method)[0]


def _nonlinear_note(nu: Nuisance, q: EffectData, linear: Estimate, flex: Estimate) -> str:
    gains = []
    for key, errors in nu.errors.items():
        best = nu.chosen[key]
        if best != "linear" and errors["linear"] > 0:
            gains.append(f"{q.outcome if key == 'outcome' else key} ({best}, {1 - errors[best] / errors['linear']:.0%} "
                         "less error)")
    return (f"the confounders act non-linearly: flexible learners predict {', '.join(gains)} better out of fold than "
            f"linear ones, so double ML is the headline; linear regression gives {linear.value:.4g} per unit"
            + (" (outside the headline's interval)" if disagree(linear.interval, flex.interval) else ""))


# --- front-door and instrumental variables ----------------------------------------------------------------

def _other(q: EffectData, ident: Identification, confidence: float, seed: int, bootstrap: int) -> _Answer:
    found = _Answer()
    tcol, variables = q.tcols[0], list(ident.variables)
    rows = est.with_weights(q)
    if ident.estimand == "frontdoor":
        def fn(d: pd.DataFrame, _adjust: list[str] | None) -> float:
            return est.frontdoor_effect(d, tcol, q.outcome, variables)
        label = "two_stage_regression"
    else:
        def fn(d: pd.DataFrame, _adjust: list[str] | None) -> float:
            return est.iv_effect(d, tcol, q.outcome, variables)
        label = "instrumental_variable"
    try:
        value = fn(rows, None)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise EngineInputError(f"the {ident.estimand} estimate of {q.treatment!r} on {q.outcome!r} failed: {first}") from None
    interval, se = est.bootstrap_interval(lambda d: fn(d, None), rows, confidence, seed, bootstrap)
    found.estimates = [Estimate(label, value, interval, se)]
    found.refute_with = (fn, rows, [tcol], None)
    return found


__all__ = ["estimate_effect", "EffectData", "effect_data"]
