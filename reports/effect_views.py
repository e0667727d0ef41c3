"""The effects-and-recommendations section of the HTML report: each result turned into a small view.

One :class:`EffectView` per effect question, heterogeneous-effects result or set of
recommendations, already worded (:mod:`results.effect_wording`) and drawn
(:mod:`reports.effect_charts`), laid out by ``templates/effects.html.j2`` with autoescape on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from reports import effect_charts
from results import effect_wording as ew
from results.effects import EffectResult, HeterogeneousEffects, Recommendations


@dataclass(frozen=True)
class EffectView:
    kind: str  # effect | heterogeneity | recommendations
    ident: str
    title: str
    answer: str
    chart: Markup
    caveats: tuple[str, ...]
    method: tuple[tuple[str, str], ...]  # (label, text) pairs for the method note
    # effect
    identification: str = ""
    identified: bool = True
    estimates: tuple[ew.EstimateRow, ...] = ()
    naive: str = ""
    refutations: tuple[ew.RefutationRow, ...] = ()
    refutation_summary: str = ""
    refuted: bool = False  # a check failed
    sensitivity: str = ""
    step: str = ""
    # heterogeneity
    scopes: tuple[ew.ScopeRow, ...] = ()
    average: str = ""
    features: tuple[tuple[str, str, str], ...] = ()  # feature, slope, interval
    # recommendations
    levers: tuple[ew.LeverRow, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())


def _timings(t: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in t.items())


def _effect(r: EffectResult, ident: str) -> EffectView:
    failed = any(x.passed is False for x in r.refutations)
    method = [("Question", f"average causal effect of {r.treatment} on {r.outcome} ({r.treatment_kind} treatment)"),
              ("Graph", r.graph), ("Estimand", ew.ESTIMANDS.get(r.identification.estimand, r.identification.estimand)
                                   + (f": {', '.join(r.identification.variables)}" if r.identification.variables else "")),
              ("Rows", f"{r.rows} complete rows, seed {r.seed}, {round(r.confidence * 100)}% intervals")]
    if len(r.treatment_columns) > 1:
        method.append(("Treatment columns", ", ".join(r.treatment_columns) + " (a sustained change moves them together)"))
    if r.timings_s:
        method.append(("Timings", _timings(r.timings_s)))
    return EffectView(
        kind="effect", ident=ident, title=ew.item_title(r), answer=r.answer, chart=effect_charts.estimates(r, f"{ident}-est"),
        caveats=tuple(r.caveats), method=tuple(method), identification=ew.identification_text(r), identified=r.identified,
        estimates=tuple(ew.estimate_rows(r)), naive=ew.naive_text(r), refutations=tuple(ew.refutation_rows(r)),
        refutation_summary=ew.refutation_summary(r), refuted=failed, sensitivity=ew.sensitivity_text(r),
        step=ew.step_text(r),
    )


def _heterogeneity(h: HeterogeneousEffects, ident: str) -> EffectView:
    unit = h.units.get(h.outcome, "")
    feats = tuple((f.feature, ew.delta(f.slope * h.step, unit), ew.interval_text(ew.scaled_interval(f.interval, h.step), unit))
                  for f in h.features)
    method = [("Question", f"effect of {h.treatment} on {h.outcome} per scope"),
              ("Estimator", f"{ew.method_name(h.method)}, adjusting for {', '.join(h.adjustment) or 'nothing'}; "
                            f"effect modifiers: {', '.join(h.modifiers)}"),
              ("Rows", f"{h.rows} complete rows, seed {h.seed}, {round(h.confidence * 100)}% intervals")]
    if h.timings_s:
        method.append(("Timings", _timings(h.timings_s)))
    return EffectView(
        kind="heterogeneity", ident=ident, title=ew.item_title(h), answer=h.answer,
        chart=effect_charts.scope_effects(h, f"{ident}-scopes"), caveats=tuple(h.caveats), method=tuple(method),
        scopes=tuple(ew.scope_rows(h)), average=ew.average_text(h), features=feats, step=ew.step_text(h),
    )


def _recommendations(recs: Recommendations, ident: str) -> EffectView:
    method = [("Question", f"which lever of {recs.target} to move, and what the move brings"),
              ("Model", f"graph {recs.graph}: the fitted structural causal model's interventional means, the lever "
                        f"moved from its mean over the latest {recs.current_rows} rows to its good quartile"),
              ("Intervals", f"{recs.bootstrap} bootstrap refits, {round(recs.confidence * 100)}% intervals, "
                            f"seed {recs.seed}, {recs.rows} rows")]
    if recs.timings_s:
        method.append(("Timings", _timings(recs.timings_s)))
    return EffectView(
        kind="recommendations", ident=ident, title=ew.item_title(recs), answer=recs.answer,
        chart=effect_charts.levers(recs, f"{ident}-levers"), caveats=tuple(recs.caveats), method=tuple(method),
        levers=tuple(ew.lever_rows(recs)), skipped=tuple(recs.skipped.items()),
    )


def views(items: Sequence[ew.EffectItem]) -> list[EffectView]:
    out = []
    for i, item in enumerate(items):
        ident = f"eff{i}"
        if isinstance(item, EffectResult):
            out.append(_effect(item, ident))
        elif isinstance(item, HeterogeneousEffects):
            out.append(_heterogeneity(item, ident))
        elif isinstance(item, Recommendations):
            out.append(_recommendations(item, ident))
        else:
            raise TypeError(f"not an effect result: {type(item).__name__}")
    return out
