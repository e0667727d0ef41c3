"""Results of effect questions: "what does X do to Y?", "for whom?", "what should we change?".

:class:`EffectResult` is one average causal effect (identified, estimated, refuted, with the
naive slope beside it); :class:`HeterogeneousEffects` is one effect per scope; and
:class:`Recommendations` ranks the levers of a target. Every number is a plain float in JSON
(``None`` where it does not exist), intervals are ``[low, high]`` pairs, and ``answer`` is the
one sentence a manager reads; it is written from the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from results.format import json_number, node_title
from results.intervals import contains, excludes_zero


def _num(x: float | None, digits: int = 6) -> float | None:
    # Significant digits, not decimals: effects in seconds and in ratios differ by 1e6.
    return json_number(x, digits, significant=True)


def _pair(p: tuple[float, float] | None) -> list[float | None] | None:
    return None if p is None else [_num(p[0]), _num(p[1])]


class _Json:
    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Estimate(_Json):
    """One estimate of the effect of one unit more treatment on the outcome (or of switching it on)."""

    method: str  # "linear_regression", "double_ml", "doubly_robust", "naive_regression", ...
    value: float
    interval: tuple[float, float] | None
    std_error: float | None = None
    p_value: float | None = None
    detail: str = ""  # how it was made, when that matters (the learners behind a double-ML estimate)

    def covers(self, x: float) -> bool:
        return contains(self.interval, x)

    def to_dict(self) -> dict[str, Any]:
        out = {"method": self.method, "value": _num(self.value), "interval": _pair(self.interval),
               "std_error": _num(self.std_error), "p_value": _num(self.p_value, 4)}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Overlap(_Json):
    """How well the treated and untreated rows of a binary treatment overlap (their propensity scores).

    Adjustment compares like with like; where a kind of row is (almost) always treated there is
    nothing to compare it with, and the estimate leans on extrapolation.
    """

    min_score: float  # the smallest propensity score among all rows
    max_score: float
    outside: float  # share of rows with a score outside [0.05, 0.95]
    treated: int  # rows with the treatment on
    control: int

    @property
    def poor(self) -> bool:
        return self.outside > 0.1

    def to_dict(self) -> dict[str, Any]:
        return {"min_score": _num(self.min_score, 4), "max_score": _num(self.max_score, 4),
                "outside_0_05_0_95": _num(self.outside, 4), "treated": int(self.treated), "control": int(self.control),
                "poor": bool(self.poor)}


@dataclass(frozen=True)
class OutsideColumn(_Json):
    """A column the graph does not make a common cause, though the data tie it to both treatment and outcome."""

    column: str
    r_treatment: float  # partial correlation with the treatment, given the adjustment set
    r_outcome: float  # partial correlation with the outcome, given the treatment and the adjustment set
    in_graph: bool  # a graph node the graph keeps off the back-door paths, or a column the graph lacks
    adjusted_effect: float | None = None  # the headline estimator's effect with this column adjusted for too
    adjusted_interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "r_treatment": _num(self.r_treatment, 4), "r_outcome": _num(self.r_outcome, 4),
                "in_graph": bool(self.in_graph), "adjusted_effect": _num(self.adjusted_effect),
                "adjusted_interval": _pair(self.adjusted_interval)}


@dataclass(frozen=True)
class Refutation(_Json):
    """One robustness check of the headline estimate.

    ``passed`` follows DoWhy's test: the refuted estimates are consistent with what the check
    expects (zero for a placebo treatment, the original estimate for a random common cause or a
    subset of the rows). ``passed`` is ``None`` when the check could not run (``detail`` says why).
    """

    name: str  # "placebo_treatment", "random_common_cause", "data_subset"
    passed: bool | None
    expected: float | None  # what the check expects the new effect to be
    new_effect: float | None
    p_value: float | None
    simulations: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": None if self.passed is None else bool(self.passed), "expected": _num(self.expected),
                "new_effect": _num(self.new_effect), "p_value": _num(self.p_value, 4),
                "simulations": int(self.simulations), "detail": self.detail}


@dataclass(frozen=True)
class Benchmark(_Json):
    """How strongly one observed confounder is tied to the treatment and the outcome (partial R²)."""

    node: str
    r2_treatment: float  # partial R² of the confounder with the treatment, given the other adjusters
    r2_outcome: float  # partial R² with the outcome, given the treatment and the other adjusters
    adjusted_effect: float  # the effect after removing a hidden confounder as strong as this one

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "r2_treatment": _num(self.r2_treatment, 4),
                "r2_outcome": _num(self.r2_outcome, 4), "adjusted_effect": _num(self.adjusted_effect)}


@dataclass(frozen=True)
class Sensitivity(_Json):
    """Sensitivity to an unobserved confounder (Cinelli and Hazlett's partial-R² analysis of the regression).

    ``robustness_value`` is the partial R² an unobserved confounder would need with both the
    treatment and the outcome to bring the estimate to zero; ``robustness_value_ci`` to make it
    no longer distinguishable from zero at the result's confidence. ``strength_to_vanish`` is how
    many times as strong as the strongest observed confounder (``benchmarks[0]``) a hidden one
    would have to be to erase the effect (``None`` without observed confounders).
    """

    method: str
    robustness_value: float
    robustness_value_ci: float
    strongest: str | None
    strength_to_vanish: float | None
    benchmarks: tuple[Benchmark, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "robustness_value": _num(self.robustness_value, 4),
                "robustness_value_ci": _num(self.robustness_value_ci, 4), "strongest": self.strongest,
                "strength_to_vanish": _num(self.strength_to_vanish, 4),
                "benchmarks": [b.to_dict() for b in self.benchmarks]}


@dataclass(frozen=True)
class Identification(_Json):
    """How the effect is identified from the graph, or why it is not."""

    identified: bool
    estimand: str  # "backdoor", "frontdoor", "iv" or "none"
    variables: tuple[str, ...]  # the adjustment set, the mediators or the instruments
    reason: str  # one plain sentence: why this estimand (or why none)
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)  # other estimands the graph allows
    unobserved: tuple[str, ...] = ()  # graph nodes with no data, treated as latent

    def to_dict(self) -> dict[str, Any]:
        return {"identified": bool(self.identified), "estimand": self.estimand, "variables": list(self.variables),
                "reason": self.reason, "alternatives": {k: list(v) for k, v in self.alternatives.items()},
                "unobserved": list(self.unobserved)}


@dataclass(frozen=True)
class EffectResult(_Json):
    """The average causal effect of ``treatment`` on ``outcome``.

    ``effect`` is per unit of the treatment (a sustained change: the treatment and its lagged
    copies move together), or of switching a binary treatment from 0 to 1; ``step`` is the
    change the ``answer`` speaks of (a round interquartile range, or 1 for a binary treatment) and
    ``step_effect`` / ``step_interval`` what that step does to the outcome. ``effect`` is ``None``
    when the graph does not identify the effect; the identification says why.
    """

    treatment: str
    outcome: str
    treatment_kind: str  # "continuous" | "binary"
    identification: Identification
    method: str  # the headline estimate's method ("" when not identified)
    effect: float | None
    interval: tuple[float, float] | None
    confidence: float
    estimates: tuple[Estimate, ...]  # every estimate made, the headline first
    naive: Estimate | None  # the unadjusted regression slope, for comparison
    refutations: tuple[Refutation, ...]
    sensitivity: Sensitivity | None
    step: float
    step_effect: float | None
    step_interval: tuple[float, float] | None
    answer: str
    caveats: tuple[str, ...]
    rows: int
    graph: str
    seed: int
    treatment_columns: tuple[str, ...] = ()  # the treatment and its lagged copies on a path to the outcome
    units: dict[str, str] = field(default_factory=dict)  # treatment/outcome -> unit
    timings_s: dict[str, float] = field(default_factory=dict)
    # Whether to act on it: False when the checks disagree with the headline (a flexible estimate or an
    # adjustment for a column the graph leaves out moves it beyond its interval, a refutation fails).
    reliable: bool = True
    unreliable_because: tuple[str, ...] = ()  # one plain sentence per reason
    overlap: Overlap | None = None  # binary treatments: the propensity scores' overlap
    outside: tuple[OutsideColumn, ...] = ()  # columns tied to both that the graph does not adjust for
    weights: str | None = None  # the column the rows are weighted by (a ratio's denominator), if any
    # Outside the JSON: what the sentence and the report's drawing need.
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # node -> label
    higher_is_worse: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)  # node -> bad way
    edges: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)  # (source, target, lag)

    @property
    def identified(self) -> bool:
        return self.identification.identified

    @property
    def significant(self) -> bool:
        return excludes_zero(self.interval)

    def title(self, node: str) -> str:
        return node_title(self.titles, node)

    @property
    def refutations_passed(self) -> bool:
        return all(r.passed is not False for r in self.refutations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "treatment_kind": self.treatment_kind,
            "identification": self.identification.to_dict(),
            "method": self.method,
            "effect": _num(self.effect),
            "interval": _pair(self.interval),
            "confidence": self.confidence,
            "significant": bool(self.significant),
            "reliable": bool(self.reliable),
            "unreliable_because": list(self.unreliable_because),
            "estimates": [e.to_dict() for e in self.estimates],
            "naive": self.naive.to_dict() if self.naive else None,
            "refutations": [r.to_dict() for r in self.refutations],
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity else None,
            "step": _num(self.step),
            "step_effect": _num(self.step_effect),
            "step_interval": _pair(self.step_interval),
            "answer": self.answer,
            "caveats": list(self.caveats),
            "rows": int(self.rows),
            "graph": self.graph,
            "seed": self.seed,
            "treatment_columns": list(self.treatment_columns),
            "units": dict(self.units),
            "overlap": self.overlap.to_dict() if self.overlap else None,
            "outside_graph": [o.to_dict() for o in self.outside],
            "weights": self.weights,
            "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()},
        }


@dataclass(frozen=True)
class ScopeEffect(_Json):
    """The effect of one unit more treatment in one scope (a team, a repository, ...)."""

    scope: str
    effect: float
    interval: tuple[float, float]
    rows: int
    benefit: float  # the effect signed so that positive means the treatment's good direction helps the outcome
    features: dict[str, float] = field(default_factory=dict)  # the scope's mean feature values, when used

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "effect": _num(self.effect), "interval": _pair(self.interval),
                "rows": int(self.rows), "benefit": _num(self.benefit),
                "features": {k: _num(v) for k, v in self.features.items()}}


@dataclass(frozen=True)
class FeatureEffect(_Json):
    """How the effect changes with one more unit of a feature (team size, repository age, ...)."""

    feature: str
    slope: float
    interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "slope": _num(self.slope), "interval": _pair(self.interval)}


@dataclass(frozen=True)
class HeterogeneousEffects(_Json):
    """Effects of ``treatment`` on ``outcome`` per scope, best-helped scope first."""

    treatment: str
    outcome: str
    method: str
    adjustment: tuple[str, ...]  # the columns adjusted for (the graph's back-door set)
    modifiers: tuple[str, ...]  # what the effect may vary with: scope indicators or features
    average: Estimate
    scopes: tuple[ScopeEffect, ...]  # sorted by benefit, largest first
    features: tuple[FeatureEffect, ...]
    most_helped: str
    least_helped: str
    separated: bool  # the most and least helped scopes' intervals do not overlap
    confidence: float
    answer: str
    caveats: tuple[str, ...]
    rows: int
    seed: int
    timings_s: dict[str, float] = field(default_factory=dict)
    step: float = 1.0  # the change of the treatment the answer speaks of (as in EffectResult)
    units: dict[str, str] = field(default_factory=dict)  # treatment/outcome -> unit
    estimator_note: str = ""  # why this estimator answered (a causal forest needs enough rows per scope)
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # node -> label
    higher_is_worse: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def title(self, node: str) -> str:
        return node_title(self.titles, node)

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "method": self.method,
            "adjustment": list(self.adjustment),
            "modifiers": list(self.modifiers),
            "average": self.average.to_dict(),
            "scopes": [s.to_dict() for s in self.scopes],
            "features": [f.to_dict() for f in self.features],
            "most_helped": self.most_helped,
            "least_helped": self.least_helped,
            "separated": bool(self.separated),
            "confidence": self.confidence,
            "answer": self.answer,
            "caveats": list(self.caveats),
            "rows": int(self.rows),
            "seed": self.seed,
            "step": _num(self.step),
            "units": dict(self.units),
            "estimator_note": self.estimator_note,
            "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()},
        }


@dataclass(frozen=True)
class Recommendation(_Json):
    """Moving one lever from where it is now (``current``) to its good quartile (``goal``).

    ``improvement`` is how much better the target gets (in the target's units, positive is
    better whichever way the target is bad); ``target_now`` and ``target_after`` are the
    target's mean under the model with the lever held at ``current`` and at ``goal``.
    """

    lever: str
    current: float
    goal: float
    goal_quantile: float  # 0.25 or 0.75: which of the lever's own quantiles is its good quarter
    target_now: float
    target_after: float
    improvement: float
    interval: tuple[float, float]
    probability_better: float  # share of bootstrap refits in which the move helps
    already_there: bool  # the lever is already at or beyond its goal
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"lever": self.lever, "current": _num(self.current), "goal": _num(self.goal),
                "goal_quantile": self.goal_quantile, "target_now": _num(self.target_now),
                "target_after": _num(self.target_after), "improvement": _num(self.improvement),
                "interval": _pair(self.interval), "probability_better": _num(self.probability_better, 4),
                "already_there": bool(self.already_there), "sentence": self.sentence}


@dataclass(frozen=True)
class Recommendations(_Json):
    """The target's actionable levers ranked by the improvement a realistic move brings, best first."""

    target: str
    items: tuple[Recommendation, ...]
    skipped: dict[str, str]  # lever -> why it was not ranked (constant, no data, ...)
    current_rows: int  # how many of the latest rows define "now"
    confidence: float
    answer: str
    caveats: tuple[str, ...]
    rows: int
    graph: str
    seed: int
    bootstrap: int
    timings_s: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # target and levers -> unit
    weights: str | None = None  # the column the model's rows are weighted by (the target's denominator), if any
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # node -> label
    higher_is_worse: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    edges: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)  # (source, target, lag)

    @property
    def top(self) -> Recommendation | None:
        return self.items[0] if self.items else None

    def title(self, node: str) -> str:
        return node_title(self.titles, node)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "recommendations": [r.to_dict() for r in self.items],
            "skipped": dict(self.skipped),
            "current_rows": int(self.current_rows),
            "confidence": self.confidence,
            "answer": self.answer,
            "caveats": list(self.caveats),
            "rows": int(self.rows),
            "graph": self.graph,
            "seed": self.seed,
            "bootstrap": int(self.bootstrap),
            "units": dict(self.units),
            "weights": self.weights,
            "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()},
        }
