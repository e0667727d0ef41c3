"""Plain-language pieces of the effects-and-recommendations section, shared by HTML, Markdown and chat.

Each function reads an :class:`~results.effects.EffectResult`, :class:`~results.effects.HeterogeneousEffects`
or :class:`~results.effects.Recommendations` and says one thing in words: which estimate is which,
whether the refutation checks passed (plainly, when they failed), what a lever's move brings. No
statistics are computed here: the numbers come from the result and are only formatted (an effect
per unit times the result's own ``step`` is the effect of the step the answer speaks of). The
strings are plain text; every renderer escapes them for its own markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from results.actions import ActionRanking
from results.effect_answers import level, method_name
from results.effects import EffectResult, Estimate, HeterogeneousEffects, Recommendation, Recommendations, Refutation
from results.format import format_delta, format_value
from results.intervals import contains, excludes_zero, side
from results.what_if import WhatIf

EffectItem = EffectResult | HeterogeneousEffects | Recommendations | WhatIf | ActionRanking

CHECKS = {
    "placebo_treatment": "placebo treatment",
    "random_common_cause": "random common cause",
    "data_subset": "data subset",
}

ESTIMANDS = {
    "backdoor": "back-door adjustment",
    "frontdoor": "front-door criterion",
    "iv": "instrumental variable",
    "none": "not identifiable",
}


def check_name(name: str) -> str:
    return CHECKS.get(name, name.replace("_", " "))


def check_status(ref: Refutation) -> str:
    """``passed``, ``FAILED`` or ``not run``: the one word a table cell shows."""
    return "not run" if ref.passed is None else "passed" if ref.passed else "FAILED"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- one effect ----------------------------------------------------------------------------------

def step_text(r: EffectResult | HeterogeneousEffects) -> str:
    """What the step is, in words: 'raising line_coverage_ratio by 5 pp', 'switching flag on'."""
    unit = r.units.get(r.treatment, "")
    if getattr(r, "treatment_kind", "") == "binary" or unit == "indicator":
        return f"switching {r.treatment} on"
    verb = "cutting" if r.step < 0 else "raising"
    return f"{verb} {r.treatment} by {format_delta(abs(r.step), unit).lstrip('+')}"


def scaled(value: float | None, step: float) -> float | None:
    return None if value is None else value * step


def scaled_interval(interval: tuple[float, float] | None, step: float) -> tuple[float, float] | None:
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    a, b = interval[0] * step, interval[1] * step
    return (min(a, b), max(a, b))


def delta(value: float | None, unit: str) -> str:
    """A signed amount in ``unit``; '±0' when it rounds to nothing (never '-0.0 pp')."""
    if value is None or value != value:
        return "n/a"
    text = format_delta(value, unit)
    if set(ch for ch in text if ch.isdigit()) <= {"0"}:
        return "±0 pp" if unit == "ratio" else "±0"
    return text


def interval_text(interval: tuple[float, float] | None, unit: str) -> str:
    if interval is None or any(v is None or v != v for v in interval):
        return "n/a"
    return f"{delta(interval[0], unit)} to {delta(interval[1], unit)}"


@dataclass(frozen=True)
class EstimateRow:
    method: str
    effect: str  # of the step, in the outcome's unit
    interval: str
    per_unit: str  # the raw coefficient, per unit of the treatment
    headline: bool
    naive: bool
    value: float | None  # the step's effect, for charts
    low: float | None
    high: float | None


def estimate_rows(r: EffectResult) -> list[EstimateRow]:
    """The headline estimate, the other estimates and the naive slope, each as the step's effect."""
    unit = r.units.get(r.outcome, "")
    out = []
    items: list[tuple[Estimate, bool, bool]] = [(e, i == 0, False) for i, e in enumerate(r.estimates)]
    if r.naive is not None:
        items.append((r.naive, False, True))
    for e, head, naive in items:
        iv = scaled_interval(e.interval, r.step)
        v = scaled(e.value, r.step)
        out.append(EstimateRow(method=method_name(e.method), effect=delta(v, unit), interval=interval_text(iv, unit),
                               per_unit=f"{e.value:.4g}" if e.value is not None else "n/a", headline=head, naive=naive,
                               value=v, low=iv[0] if iv else None, high=iv[1] if iv else None))
    return out


def identification_text(r: EffectResult) -> str:
    ident = r.identification
    name = ESTIMANDS.get(ident.estimand, ident.estimand)
    if not ident.identified:
        return f"Not identifiable: {ident.reason}."
    return f"Identified by {name}: {ident.reason}."


def naive_text(r: EffectResult) -> str:
    """How far the naive slope is from the adjusted estimate, said plainly when it misleads."""
    if r.naive is None or r.effect is None or r.interval is None:
        return ""
    unit = r.units.get(r.outcome, "")
    naive = r.naive.value * r.step
    adjusted = r.effect * r.step
    if r.identification.estimand == "backdoor" and not r.identification.variables:
        return (f"Nothing in the graph drives both {r.treatment} and {r.outcome}, so there is nothing to adjust for: "
                f"the naive comparison is the estimate ({delta(naive, unit)}).")
    outside = not contains(r.interval, r.naive.value)
    flipped = (naive > 0) != (adjusted > 0) and abs(naive) > 0 and abs(adjusted) > 0
    head = (f"Without adjustment the same step would seem to change {r.outcome} by {delta(naive, unit)} "
            f"instead of {delta(adjusted, unit)}")
    if flipped and outside:
        return head + ": the naive comparison gets the direction wrong."
    if outside:
        return head + ": the naive comparison is outside the adjusted interval, so the confounders matter."
    return head + ": the confounders change little here."


def refutation_summary(r: EffectResult) -> str:
    """One or two sentences on the checks: which passed, and, plainly, which failed and what that means."""
    if not r.identified:
        return "No checks were run: the effect is not identified."
    if not r.refutations:
        return "No refutation checks were run."
    failed = [x for x in r.refutations if x.passed is False]
    passed = [check_name(x.name) for x in r.refutations if x.passed]
    skipped = [check_name(x.name) for x in r.refutations if x.passed is None]
    parts = []
    if failed:
        why = "; ".join(x.detail for x in failed if x.detail)
        parts.append(f"The estimate FAILS the {_join([check_name(x.name) for x in failed])} "
                     f"check{'s' if len(failed) > 1 else ''}" + (f" ({why})" if why else "")
                     + ". Do not act on it before checking the graph and the data.")
        if passed:
            parts.append(f"It passes the {_join(passed)} check{'s' if len(passed) > 1 else ''}.")
    elif passed:
        parts.append(f"The estimate passes {'all ' if not skipped else ''}{len(passed)} refutation "
                     f"check{'s' if len(passed) > 1 else ''} ({_join(passed)}).")
    if skipped:
        parts.append(f"Not run: {_join(skipped)}.")
    return " ".join(parts)


def overlap_text(r: EffectResult) -> str:
    """The propensity scores' overlap of a binary treatment, in words."""
    o = r.overlap
    if o is None:
        return ""
    verdict = "poorly: the estimate extrapolates for those rows" if o.poor else "well enough to compare like with like"
    return (f"Propensity scores run from {o.min_score:.2f} to {o.max_score:.2f} ({o.treated} treated, {o.control} "
            f"untreated rows); {o.outside:.0%} lie outside 5-95%, so the two groups overlap {verdict}.")


def sensitivity_text(r: EffectResult) -> str:
    s = r.sensitivity
    if s is None:
        return ""
    text = (f"An unobserved confounder would need a partial R² of {s.robustness_value:.0%} with both {r.treatment} "
            f"and {r.outcome} to erase the estimate ({s.robustness_value_ci:.0%} to make it indistinguishable from zero)")
    if s.strongest is not None and s.strength_to_vanish is not None:
        text += f"; that is {s.strength_to_vanish:.2g} times as strong as the strongest observed confounder, {s.strongest}"
    return text + "."


@dataclass(frozen=True)
class RefutationRow:
    check: str
    status: str  # passed / FAILED / not run
    expected: str
    new_effect: str
    p_value: str
    simulations: int
    detail: str


def refutation_rows(r: EffectResult) -> list[RefutationRow]:
    """The checks, with the effects they expect and find as the step's effect."""
    unit = r.units.get(r.outcome, "")
    return [RefutationRow(check=check_name(x.name), status=check_status(x),
                          expected=delta(scaled(x.expected, r.step), unit),
                          new_effect=delta(scaled(x.new_effect, r.step), unit),
                          p_value="n/a" if x.p_value is None else f"{x.p_value:.3g}", simulations=x.simulations,
                          detail=x.detail)
            for x in r.refutations]


# --- effects by scope -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ScopeRow:
    scope: str
    effect: str
    interval: str
    rows: int
    verdict: str  # helps / hurts / unclear
    value: float
    low: float
    high: float


def scope_rows(h: HeterogeneousEffects) -> list[ScopeRow]:
    """One row per scope (best-helped first, as the result orders them), as the step's effect."""
    unit = h.units.get(h.outcome, "")
    out = []
    for s in h.scopes:
        lo, hi = scaled_interval(s.interval, h.step) or (float("nan"), float("nan"))
        clear = excludes_zero(s.interval)
        verdict = ("helps" if s.benefit > 0 else "hurts") if clear else "unclear"
        out.append(ScopeRow(scope=s.scope, effect=delta(s.effect * h.step, unit), interval=interval_text((lo, hi), unit),
                            rows=s.rows, verdict=verdict, value=s.effect * h.step, low=lo, high=hi))
    return out


def average_text(h: HeterogeneousEffects) -> str:
    unit = h.units.get(h.outcome, "")
    iv = scaled_interval(h.average.interval, h.step)
    return (f"Average over all {len(h.scopes)} scopes: {delta(h.average.value * h.step, unit)} "
            f"({interval_text(iv, unit)}) for {step_text(h)}.")


# --- recommendations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeverRow:
    rank: int
    lever: str
    move: str  # from -> to
    improvement: str
    interval: str
    probability: str
    verdict: str  # clear gain / unclear / already there / would hurt
    sentence: str
    value: float
    low: float | None
    high: float | None
    top: bool


def _verdict(rec: Recommendation) -> str:
    if rec.already_there:
        return "already there"
    where = side(rec.interval)
    return "clear gain" if where > 0 else "would hurt" if where < 0 else "unclear"


def lever_rows(recs: Recommendations) -> list[LeverRow]:
    """The levers in the result's order (best first), worded for a table."""
    t_unit = recs.units.get(recs.target, "")
    out = []
    for i, rec in enumerate(recs.items):
        l_unit = recs.units.get(rec.lever, "")
        lo, hi = rec.interval
        ok = lo is not None and hi is not None and lo == lo and hi == hi
        out.append(LeverRow(
            rank=i + 1, lever=rec.lever,
            move=f"{format_value(rec.current, l_unit)} → {format_value(rec.goal, l_unit)} "
                 f"({round(rec.goal_quantile * 100)}th percentile)",
            improvement=_better(rec.improvement, t_unit), interval=f"{_better(lo, t_unit)} to {_better(hi, t_unit)}" if ok
            else "n/a",
            probability="n/a" if rec.probability_better != rec.probability_better else f"{rec.probability_better:.0%}",
            verdict=_verdict(rec), sentence=rec.sentence, value=rec.improvement, low=lo if ok else None,
            high=hi if ok else None, top=i == 0 and _verdict(rec) == "clear gain",
        ))
    return out


def _better(value: float | None, unit: str) -> str:
    """An improvement (positive is better) as a signed amount in the target's unit."""
    return delta(value, unit)


def top_lever(recs: Recommendations) -> Recommendation | None:
    """The lever to pull: the first with a clear gain (None when no move clearly helps)."""
    return next((r for r in recs.items if _verdict(r) == "clear gain"), None)


def chat_line(recs: Recommendations) -> str:
    """The one chat line for the top recommendation ('' when there is none)."""
    top = top_lever(recs)
    if top is None:
        return ""
    return f"What to change: {top.sentence}"


# --- the section as a whole --------------------------------------------------------------------------

def item_kind(item: EffectItem) -> str:
    """The store's and the report bundle's name for the kind of result."""
    if isinstance(item, EffectResult):
        return "effect"
    if isinstance(item, HeterogeneousEffects):
        return "heterogeneity"
    if isinstance(item, WhatIf):
        return "what_if"
    if isinstance(item, ActionRanking):
        return "actions"
    return "recommendations"


def item_title(item: EffectItem) -> str:
    if isinstance(item, EffectResult):
        return f"Effect of {item.treatment} on {item.outcome}"
    if isinstance(item, HeterogeneousEffects):
        return f"Effect of {item.treatment} on {item.outcome}, by scope"
    if isinstance(item, WhatIf):
        held = ", ".join(item.intervention)
        return (f"What {item.target} would have been had {held} stayed put" if item.kind == "counterfactual"
                else f"What if {held} were held: {item.target}")
    if isinstance(item, ActionRanking):
        return f"Candidate actions to improve {item.target}"
    return f"What to change to improve {item.target}"


def headline(items: Sequence[EffectItem]) -> str:
    """The page's headline when a report holds only effect questions: the first one's answer."""
    return items[0].answer if items else ""


def report_title(items: Sequence[EffectItem]) -> str:
    return "whydunnit: " + ("; ".join(item_title(i) for i in items[:2]) + (" and more" if len(items) > 2 else ""))


# --- what-if and candidate actions ----------------------------------------------------------------------

@dataclass(frozen=True)
class WhatIfRow:
    label: str
    value: str
    interval: str


def what_if_rows(w: WhatIf) -> list[WhatIfRow]:
    """The held values, the target's mean under them with its interval, and the mean without them."""
    unit = w.units.get(w.target, "")
    lo, hi = w.interval
    ok = lo == lo and hi == hi
    held = ", ".join(f"{n} = {format_value(v, w.units.get(n, ''))}" for n, v in w.intervention.items())
    rows = [WhatIfRow(f"{w.target} with {held}", level(w.mean, unit),
                      f"{level(lo, unit)} to {level(hi, unit)}" if ok else "n/a"),
            WhatIfRow(f"{w.target}, " + ("observed" if w.kind == "counterfactual" else "without the intervention"),
                      level(w.baseline_mean, unit), "")]
    if w.quantiles:
        spread = ", ".join(f"{k}: {format_value(v, unit)}" for k, v in w.quantiles.items())
        rows.append(WhatIfRow("spread of single outcomes under it", spread, ""))
    return rows


@dataclass(frozen=True)
class ActionRow:
    rank: int
    name: str
    source: str
    moves: str
    improvement: str
    interval: str
    probability: str
    verdict: str
    value: float
    low: float | None
    high: float | None
    top: bool


def action_rows(a: ActionRanking) -> list[ActionRow]:
    """The ranked actions, best first, worded for a table (improvement: positive is better)."""
    t_unit = a.units.get(a.target, "")
    out = []
    for i, item in enumerate(a.items):
        lo, hi = item.interval
        ok = lo == lo and hi == hi
        where = side(item.interval)
        verdict = "clear gain" if where > 0 else "would hurt" if where < 0 else "unclear"
        moves = ", ".join(f"{n} {format_value(now, a.units.get(n, ''))} → {format_value(after, a.units.get(n, ''))}"
                          for n, (now, after) in item.moves.items())
        out.append(ActionRow(rank=i + 1, name=item.name, source=item.source, moves=moves,
                             improvement=delta(item.improvement, t_unit),
                             interval=f"{delta(lo, t_unit)} to {delta(hi, t_unit)}" if ok else "n/a",
                             probability="n/a" if item.probability_better != item.probability_better
                             else f"{item.probability_better:.0%}", verdict=verdict, value=item.improvement,
                             low=lo if ok else None, high=hi if ok else None, top=i == 0 and verdict == "clear gain"))
    return out
