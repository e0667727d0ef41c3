"""The one-sentence answers of effect questions, written from a result's own numbers.

"Raising line coverage ratio by 5 points lowers bug fix commit ratio by 1.7 points (95% CI 1.4
to 2 points); the estimate survives the placebo, random-common-cause and subset checks ...": the
engine computes the numbers, this module says them, so the JSON's ``answer``, the reports and the
chat line read the same. An answer the checks do not back begins "Unreliable:" and says why
(the linear and flexible estimates disagree, a column the graph leaves out moves the estimate, a
refutation check fails), and never claims that the estimate survives anything.

Amounts keep one unit per sentence: a ratio's change is in points ("1.7 points"), and an interval
beside it is in points too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from results.actions import ActionEffect
from results.effects import EffectResult, Estimate, HeterogeneousEffects, Recommendation, ScopeEffect
from results.format import format_value, node_title
from results.intervals import excludes_zero, side
from results.what_if import WhatIf

# The headline methods that adjust with flexible (cross-validated, possibly non-linear) learners.
FLEXIBLE = ("double_ml",)

_SHORT_CHECKS = {"placebo_treatment": "placebo", "random_common_cause": "random-common-cause", "data_subset": "subset"}


def amount(value: float, unit: str) -> str:
    """An unsigned amount of change in a unit: '1.8 points' (ratios), '20 lines', '4.0 min'."""
    v = abs(float(value))
    if unit == "ratio":
        pts = v * 100
        text = f"{pts:.2g}" if pts < 10 else f"{pts:.0f}"
        if "e" in text:
            text = f"{pts:.4f}".rstrip("0").rstrip(".") or "0"
        return f"{text} point{'' if text == '1' else 's'}"
    if unit == "indicator":
        return f"{v:.3g}"
    return format_value(v, unit)


def signed(value: float, unit: str) -> str:
    """A signed amount: '+1.8 points', '-20 lines'."""
    return ("-" if value < 0 else "+") + amount(value, unit)


def span(lo: float, hi: float, unit: str) -> str:
    """'0.9 to 2.7 points', '3.1 to 5.0 h': an unsigned range, the unit said once where it can be."""
    a, b = amount(lo, unit), amount(hi, unit)
    if unit == "ratio" or (unit in ("lines", "bytes") and a.endswith(unit)):
        return f"{a.rsplit(' ', 1)[0]} to {b}"
    return f"{a} to {b}"


def signed_span(lo: float, hi: float, unit: str) -> str:
    """'-0.05 to +0.36 points': a signed range in one unit, for an interval that may include zero."""
    a, b = signed(lo, unit), signed(hi, unit)
    if unit == "ratio":
        return f"{a.rsplit(' ', 1)[0]} to {b}"
    return f"{a} to {b}"


def join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# One name per estimator, for the tables and the sentences alike (no commas: a sentence lists them).
METHODS = {
    "linear_regression": "linear regression with adjustment",
    "regression_adjustment": "regression adjustment",
    "double_ml": "double ML with flexible learners",
    "doubly_robust": "doubly robust (AIPW) estimation",
    "two_stage_regression": "front-door two-stage regression",
    "instrumental_variable": "instrumental variable (Wald / 2SLS)",
    "naive_regression": "naive regression without adjustment",
    "LinearDML": "EconML LinearDML",
    "CausalForestDML": "EconML CausalForestDML (causal forest)",
}

def method_name(method: str) -> str:
    """An estimator's name in words."""
    return METHODS.get(method, method.replace("_", " "))


# --- one average effect ------------------------------------------------------------------------------

def doing(r: EffectResult | HeterogeneousEffects) -> str:
    """'raising line coverage ratio by 5 points', 'switching code review on'."""
    unit_t = r.units.get(r.treatment, "")
    if getattr(r, "treatment_kind", "") == "binary" or unit_t == "indicator":
        return f"switching {r.title(r.treatment)} on"
    return f"{'cutting' if r.step < 0 else 'raising'} {r.title(r.treatment)} by {amount(r.step, unit_t)}"


def _claim(r: EffectResult, value: float, interval: tuple[float, float]) -> str:
    """'Raising X by 5 points lowers Y by 1.7 points (95% CI 1.4 to 2 points)', or 'has no clear effect'."""
    unit_y = r.units.get(r.outcome, "")
    conf = round(100 * r.confidence)
    lo, hi = sorted(interval)
    if excludes_zero((lo, hi)):
        a, b = sorted((abs(lo), abs(hi)))
        verb = "raises" if value > 0 else "lowers"
        good = (value > 0) != r.higher_is_worse.get(r.outcome, True)
        return (f"{cap(doing(r))} {verb} {r.title(r.outcome)} by {amount(value, unit_y)} "
                f"({conf}% CI {span(a, b, unit_y)}{'' if good else ', a change for the worse'})")
    return (f"{cap(doing(r))} has no clear effect on {r.title(r.outcome)}: {signed(value, unit_y)} "
            f"({conf}% CI {signed_span(lo, hi, unit_y)}, which includes zero)")


def _estimate(r: EffectResult, method: str) -> Estimate | None:
    return next((e for e in r.estimates if e.method == method), None)


def reason_text(r: EffectResult, code: str) -> str:
    """One reason the result is unreliable, in words, from the result's numbers."""
    unit_y = r.units.get(r.outcome, "")
    if code == "estimates_disagree":
        head = r.estimates[0] if r.estimates else None
        other = next((e for e in r.estimates[1:] if e.interval is not None), None)
        if head is None or other is None:
            return "the linear and flexible estimates disagree"
        return (f"the linear and flexible estimates disagree ({method_name(head.method)}: "
                f"{signed(head.value * r.step, unit_y)}, {method_name(other.method)}: {signed(other.value * r.step, unit_y)} "
                f"for {doing(r)}; their intervals do not overlap)")
    if code == "outside_confounder":
        moved = [o for o in r.outside if o.adjusted_effect is not None]
        o = moved[0] if moved else (r.outside[0] if r.outside else None)
        if o is None:
            return "a column the graph leaves out is tied to both treatment and outcome"
        where = "the graph keeps off the back-door paths" if o.in_graph else "is not in the graph"
        text = (f"{o.column}, which {where}, is tied to both {r.title(r.treatment)} and {r.title(r.outcome)} in the data "
                f"(partial r {o.r_treatment:.2f} and {o.r_outcome:.2f})")
        if o.adjusted_effect is not None:
            text += f", and adjusting for it too gives {signed(o.adjusted_effect * r.step, unit_y)} for {doing(r)}"
        return text
    if code == "refutation_failed":
        failed = [_SHORT_CHECKS.get(x.name, x.name) for x in r.refutations if x.passed is False]
        return f"it fails the {join(failed)} check{'s' if len(failed) > 1 else ''}" if failed else "a check fails"
    return code.replace("_", " ")


def effect_answer(r: EffectResult) -> str:
    """The one sentence a manager reads, from the result's numbers only."""
    if not r.identified:
        return (f"The effect of {r.title(r.treatment)} on {r.title(r.outcome)} cannot be estimated from this graph: "
                f"{r.identification.reason}.")
    if r.step_effect is None or r.step_interval is None or any(map(_nan, r.step_interval)):
        return f"The effect of {r.title(r.treatment)} on {r.title(r.outcome)} could not be estimated from these rows."
    claim = _claim(r, r.step_effect, r.step_interval)
    if not r.reliable:
        reasons = [reason_text(r, c) for c in r.unreliable_because]
        return (f"Unreliable: {'; '.join(reasons)}. The headline estimate ({method_name(r.method)}) says: "
                f"{claim[:1].lower() + claim[1:]}; do not act on it before checking the graph and the data.")
    text = claim
    if r.method in FLEXIBLE:
        text += ", by double ML with flexible learners, as the confounders act non-linearly"
    passed = [_SHORT_CHECKS.get(x.name, x.name) for x in r.refutations if x.passed]
    if passed:
        text += f"; the estimate survives the {join(passed)} check{'s' if len(passed) > 1 else ''}"
    sens = r.sensitivity
    if sens is not None and r.significant:
        if sens.strongest is not None and sens.strength_to_vanish is not None:
            k = sens.strength_to_vanish
            name = r.title(sens.strongest)
            if k >= 1:
                text += f" and would need an unobserved confounder {k:.1f} times as strong as {name} to vanish"
            else:
                text += (f", though an unobserved confounder only {k:.2g} times as strong as {name} would erase it, "
                         f"so it rests on {name} being the only strong common cause")
        elif sens.strongest is not None:
            text += (f" and no unobserved confounder of any multiple of the strength of {r.title(sens.strongest)} "
                     "would erase it")
        else:
            text += (f" and would need an unobserved confounder explaining {sens.robustness_value:.0%} of what is left "
                     f"of both {r.title(r.treatment)} and {r.title(r.outcome)} to vanish")
    return text + "."


def _nan(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


# --- effects by scope ------------------------------------------------------------------------------

def scopes_answer(h: HeterogeneousEffects) -> str:
    """Which scope the treatment helps most and least, and whether the difference is more than noise."""
    unit_y = h.units.get(h.outcome, "")
    conf = round(100 * h.confidence)
    best = next(s for s in h.scopes if s.scope == h.most_helped)
    worst = next(s for s in h.scopes if s.scope == h.least_helped)

    def said(e: ScopeEffect) -> str:
        change = e.effect * h.step
        lo, hi = sorted((e.interval[0] * h.step, e.interval[1] * h.step))
        if not excludes_zero((lo, hi)):
            return f"{e.scope} ({signed(change, unit_y)}, {conf}% CI includes no change)"
        a, b = sorted((abs(lo), abs(hi)))
        return (f"{e.scope} ({amount(change, unit_y)} {'lower' if change < 0 else 'higher'}; "
                f"{conf}% CI {span(a, b, unit_y)})")

    verdict = ("the two differ clearly (their intervals do not overlap)" if h.separated
               else "but their intervals overlap, so the difference may be noise")
    return f"{cap(doing(h))} does most for {h.title(h.outcome)} in {said(best)} and least in {said(worst)}; {verdict}."


# --- recommendations and actions -----------------------------------------------------------------

def move_effect(improvement: float, interval: tuple[float, float], target: str, unit: str, higher_is_worse: bool,
                confidence: float) -> str:
    """'would lower bug fix ratio by 1.2 points (95% interval 0.8 to 1.6 points)', in one unit throughout."""
    conf = round(100 * confidence)
    better = "lower" if higher_is_worse else "raise"
    worse = "raise" if higher_is_worse else "lower"
    lo, hi = interval
    where = side(interval)
    if where > 0:
        return f"would {better} {target} by {amount(improvement, unit)} ({conf}% interval {span(lo, hi, unit)})"
    if where < 0:
        return f"would {worse} {target} by {amount(improvement, unit)} ({conf}% interval {span(-hi, -lo, unit)})"
    verb, (a, b) = (better, (lo, hi)) if improvement >= 0 else (worse, (-hi, -lo))
    if _nan(lo) or _nan(hi):
        return f"would {verb} {target} by {amount(improvement, unit)} (no interval)"
    return (f"would {verb} {target} by {amount(improvement, unit)}, but the {conf}% interval "
            f"({signed_span(a, b, unit)}) includes no change")


def lever_sentence(r: Recommendation, titles: dict[str, str], units: dict[str, str], target: str,
                   higher_is_worse: bool, confidence: float) -> str:
    """'Raising line coverage ratio from 68% to 84% (its 75th percentile) would lower ...'."""
    lu, tu = units.get(r.lever, ""), units.get(target, "")
    lt = node_title(titles, r.lever)
    tt = node_title(titles, target)
    pct = f"its {round(r.goal_quantile * 100)}th percentile"
    if r.already_there:
        return f"{cap(lt)} is already at {format_value(r.current, lu)}, at or beyond {pct} ({format_value(r.goal, lu)})."
    verb = "cutting" if r.goal < r.current else "raising"
    move = f"{cap(verb)} {lt} from {format_value(r.current, lu)} to {format_value(r.goal, lu)} ({pct})"
    return f"{move} {move_effect(r.improvement, r.interval, tt, tu, higher_is_worse, confidence)}."


def recommendations_answer(target_title: str, items: Sequence[Recommendation], confidence: float) -> str:
    """The best clear gain's sentence, or why no lever clearly helps."""
    helpful = [r for r in items if not r.already_there and side(r.interval) > 0]
    if helpful:
        return helpful[0].sentence
    first = items[0].sentence if items else ""
    return (f"No lever of {target_title} would clearly improve it by moving to its good quartile "
            f"({round(100 * confidence)}% intervals include no change): {first}")


# --- what-if and counterfactuals -------------------------------------------------------------------

def _held(w: WhatIf) -> str:
    verb = "stayed" if w.kind == "counterfactual" else "been"
    return join([f"{w.title(n)} {verb} at {format_value(v, w.units.get(n, ''))}" for n, v in w.intervention.items()])


def level(value: float, unit: str) -> str:
    """A level precise enough to tell two close ones apart: a ratio to a tenth of a point (14.3%)."""
    if unit == "ratio" and not _nan(value):
        return f"{value * 100:.1f}%"
    return format_value(value, unit)


def what_if_answer(w: WhatIf) -> str:
    """'Had line coverage ratio been held at 80%, bug fix commit ratio would average 12.1% (90% interval ...)'."""
    unit = w.units.get(w.target, "")
    conf = round(100 * w.confidence)
    lo, hi = w.interval
    ci = "" if _nan(lo) or _nan(hi) else f" ({conf}% interval {level(lo, unit)} to {level(hi, unit)})"
    if w.kind == "counterfactual" and w.window:
        first, last = (str(x)[:10] for x in w.window)
        return (f"Had {_held(w)} over the {w.window_rows} rows from {first} to {last}, {w.title(w.target)} would have "
                f"averaged {level(w.mean, unit)}{ci} instead of the {level(w.baseline_mean, unit)} observed.")
    return (f"Had {_held(w)}, {w.title(w.target)} would average {level(w.mean, unit)}{ci}, against "
            f"{level(w.baseline_mean, unit)} without the intervention.")


def action_sentence(a: ActionEffect, titles: dict[str, str], units: dict[str, str], target: str,
                    higher_is_worse: bool, confidence: float) -> str:
    """'"Split PRs over 400 lines" (median change size 420 lines -> 300 lines) would lower ...'."""
    moves = ", ".join(f"{titles.get(n) or n.replace('_', ' ')} {format_value(now, units.get(n, ''))} → "
                      f"{format_value(after, units.get(n, ''))}" for n, (now, after) in a.moves.items())
    tt = node_title(titles, target)
    return (f'"{a.name}" ({moves}) '
            f"{move_effect(a.improvement, a.interval, tt, units.get(target, ''), higher_is_worse, confidence)}.")


def actions_answer(target_title: str, items: Sequence[ActionEffect], confidence: float) -> str:
    """The best clearly helpful action's sentence, or why none clearly helps."""
    helpful = [a for a in items if side(a.interval) > 0]
    if helpful:
        return f"Best of {len(items)} candidate action{'s' if len(items) > 1 else ''}: {helpful[0].sentence}"
    first = items[0].sentence if items else ""
    return (f"No candidate action would clearly improve {target_title} ({round(100 * confidence)}% intervals "
            f"include no change or a change for the worse): {first}")
