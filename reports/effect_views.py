"""The effects-and-recommendations section of the HTML report: each result turned into a small view.

One :class:`EffectView` per effect question, heterogeneous-effects result, set of recommendations,
what-if or ranking of candidate actions, already worded (:mod:`results.effect_wording`) and drawn
(:mod:`reports.effect_charts`; the causal graph with the paths from what is changed to what it
should move marked, by :mod:`reports.graph_chart`), laid out by ``templates/effects.html.j2`` with
autoescape on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from reports import effect_charts, graph_chart
from results import WhatIf
from results import effect_wording as ew
from results.actions import ActionRanking
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
    unreliable: bool = False  # the answer says why (it begins "Unreliable:")
    overlap: str = ""
    outside: tuple[tuple[str, str, str, str], ...] = ()  # column, r with treatment, r with outcome, effect adjusting
    # recommendations and actions
    levers: tuple[ew.LeverRow, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())
    actions: tuple[ew.ActionRow, ...] = ()
    # what-if
    what_if: tuple[ew.WhatIfRow, ...] = ()
    # the causal graph with the paths from what is changed to the target marked
    graph: Markup = Markup("")
    graph_note: str = ""


def _timings(t: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in t.items())


def _graph(item, sources: list[str], target: str, what: str, ident: str) -> tuple[Markup, str]:
    """The graph with the paths from ``sources`` to ``target`` marked, and a caption saying so."""
    edges = getattr(item, "edges", ())
    if not edges or not sources:
        return Markup(""), ""
    pic = graph_chart.paths_picture(edges, item.titles, sources, target, what)
    drawing, _ = graph_chart.responsive(pic, f"{ident}-graph")
    return drawing, pic.about


def _effect(r: EffectResult, ident: str) -> EffectView:
    failed = any(x.passed is False for x in r.refutations)
    method = [("Question", f"average causal effect of {r.treatment} on {r.outcome} ({r.treatment_kind} treatment)"),
              ("Graph", r.graph), ("Estimand", ew.ESTIMANDS.get(r.identification.estimand, r.identification.estimand)
                                   + (f": {', '.join(r.identification.variables)}" if r.identification.variables else "")),
              ("Rows", f"{r.rows} complete rows, seed {r.seed}, {round(r.confidence * 100)}% intervals"
                       + (f", weighted by {r.weights}" if r.weights else ""))]
    if len(r.treatment_columns) > 1:
        method.append(("Treatment columns", ", ".join(r.treatment_columns) + " (a sustained change moves them together)"))
    for e in r.estimates:
        if e.detail:
            method.append((ew.method_name(e.method), e.detail))
    if r.timings_s:
        method.append(("Timings", _timings(r.timings_s)))
    unit = r.units.get(r.outcome, "")
    outside = tuple((o.column, f"{o.r_treatment:.2f}", f"{o.r_outcome:.2f}",
                     ew.delta(o.adjusted_effect * r.step, unit) if o.adjusted_effect is not None else "n/a")
                    for o in r.outside)
    graph, note = _graph(r, [r.treatment], r.outcome, "the treatment", ident)
    return EffectView(
        kind="effect", ident=ident, title=ew.item_title(r), answer=r.answer, chart=effect_charts.estimates(r, f"{ident}-est"),
        caveats=tuple(r.caveats), method=tuple(method), identification=ew.identification_text(r), identified=r.identified,
        estimates=tuple(ew.estimate_rows(r)), naive=ew.naive_text(r), refutations=tuple(ew.refutation_rows(r)),
        refutation_summary=ew.refutation_summary(r), refuted=failed, sensitivity=ew.sensitivity_text(r),
        step=ew.step_text(r), unreliable=r.identified and not r.reliable, overlap=ew.overlap_text(r), outside=outside,
        graph=graph, graph_note=note,
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
                        f"moved from its mean over the latest {recs.current_rows} rows to its good quartile"
                        + (f"; rows weighted by {recs.weights}" if recs.weights else "")),
              ("Intervals", f"{recs.bootstrap} bootstrap refits, {round(recs.confidence * 100)}% intervals, "
                            f"seed {recs.seed}, {recs.rows} rows")]
    if recs.timings_s:
        method.append(("Timings", _timings(recs.timings_s)))
    graph, note = _graph(recs, [r.lever for r in recs.items], recs.target, "the levers", ident)
    return EffectView(
        kind="recommendations", ident=ident, title=ew.item_title(recs), answer=recs.answer,
        chart=effect_charts.levers(recs, f"{ident}-levers"), caveats=tuple(recs.caveats), method=tuple(method),
        levers=tuple(ew.lever_rows(recs)), skipped=tuple(recs.skipped.items()), graph=graph, graph_note=note,
    )


def _actions(a: ActionRanking, ident: str) -> EffectView:
    method = [("Question", f"which candidate action would improve {a.target} most"),
              ("Model", f"graph {a.graph}: the fitted structural causal model's interventional means, every node of an "
                        f"action moved at once from its mean over the latest {a.current_rows} rows"
                        + (f"; rows weighted by {a.weights}" if a.weights else "")),
              ("Intervals", f"{a.bootstrap} bootstrap refits, {round(a.confidence * 100)}% intervals, seed {a.seed}, "
                            f"{a.rows} rows")]
    moved = sorted({n for item in a.items for n in item.moves})
    graph, note = _graph(a, moved, a.target, "the nodes the actions move", ident)
    return EffectView(
        kind="actions", ident=ident, title=ew.item_title(a), answer=a.answer,
        chart=effect_charts.actions(a, f"{ident}-actions"), caveats=tuple(a.caveats), method=tuple(method),
        actions=tuple(ew.action_rows(a)), skipped=tuple(a.rejected.items()), graph=graph, graph_note=note,
    )


def _what_if(w: WhatIf, ident: str) -> EffectView:
    method = [("Question", "a counterfactual over the rows of a window" if w.kind == "counterfactual"
                           else "an intervention on the fitted model"),
              ("Model", f"graph {w.graph}, fitted on {w.rows} complete rows"
                        + (f"; replayed over the {w.window_rows} rows from {w.window[0][:10]} to {w.window[1][:10]}"
                           if w.window else "")),
              ("Interval", f"of the mean: {w.refits} bootstrap refits, {round(w.confidence * 100)}%, seed {w.seed}")]
    graph, note = _graph(w, list(w.intervention), w.target, "the held nodes", ident)
    return EffectView(kind="what_if", ident=ident, title=ew.item_title(w), answer=w.answer, chart=Markup(""),
                      caveats=tuple(w.caveats) + tuple(w.notes), method=tuple(method), what_if=tuple(ew.what_if_rows(w)),
                      graph=graph, graph_note=note)


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
        elif isinstance(item, ActionRanking):
            out.append(_actions(item, ident))
        elif isinstance(item, WhatIf):
            out.append(_what_if(item, ident))
        else:
            raise TypeError(f"not an effect result: {type(item).__name__}")
    return out
