"""The effects-and-recommendations section of the Markdown report: the HTML section's content as text and tables.

Charts become their tables. Every text from data (node names, scopes, caveats, sentences)
goes through :func:`reports.escaping.md_escape`; numbers written by :mod:`results.format`
(digits, a sign and a unit word) are left as they are, as in the investigation's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from reports.escaping import md_escape as e
from results import WhatIf
from results import effect_wording as ew
from results.actions import ActionRanking
from results.effects import EffectResult, HeterogeneousEffects, Recommendations


def _effect(r: EffectResult, h: str) -> list[str]:
    lines = [e(ew.identification_text(r)), ""]
    if not r.identified:
        return lines
    lines += [f"Each estimate as the effect of {e(ew.step_text(r))}; \"per unit\" is the coefficient per unit of "
              "the treatment.", "", "| estimate | effect | interval | per unit |", "|---|---:|---|---:|"]
    for row in ew.estimate_rows(r):
        name = e(row.method) + (" (headline)" if row.headline else "")
        lines.append(f"| {'**' + name + '**' if row.headline else name} | {row.effect} | {row.interval} | "
                     f"{row.per_unit} |")
    if ew.naive_text(r):
        lines += ["", e(ew.naive_text(r))]
    if ew.overlap_text(r):
        lines += ["", e(ew.overlap_text(r))]
    if r.outside:
        unit = r.units.get(r.outcome, "")
        lines += ["", "Columns the graph does not adjust for, though the data tie them to both:", "",
                  "| column | partial r with the treatment | with the outcome | effect adjusting for it too |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {e(o.column)} | {o.r_treatment:.2f} | {o.r_outcome:.2f} | "
                  f"{ew.delta(o.adjusted_effect * r.step, unit) if o.adjusted_effect is not None else 'n/a'} |"
                  for o in r.outside]
    lines += ["", f"{h}# Refutation checks", ""]
    summary = e(ew.refutation_summary(r))
    lines.append(f"**{summary}**" if any(x.passed is False for x in r.refutations) else summary)
    if r.refutations:
        lines += ["", "| check | result | expected | found | p | runs | what it means |", "|---|---|---:|---:|---:|---:|---|"]
        for x in ew.refutation_rows(r):
            status = f"**{x.status}**" if x.status == "FAILED" else x.status
            lines.append(f"| {e(x.check)} | {status} | {x.expected} | {x.new_effect} | {x.p_value} | "
                         f"{x.simulations} | {e(x.detail)} |")
    if ew.sensitivity_text(r):
        lines += ["", e(ew.sensitivity_text(r))]
    return lines


def _heterogeneity(hx: HeterogeneousEffects) -> list[str]:
    lines = [f"Each scope's effect of {e(ew.step_text(hx))}, best-helped first.", "",
             "| scope | effect | interval | rows | verdict |", "|---|---:|---|---:|---|"]
    for s in ew.scope_rows(hx):
        lines.append(f"| {e(s.scope)} | {s.effect} | {s.interval} | {s.rows} | {s.verdict} |")
    lines += ["", e(ew.average_text(hx))]
    if hx.features:
        unit = hx.units.get(hx.outcome, "")
        lines += ["", "| feature | change of the effect per unit | interval |", "|---|---:|---|"]
        for f in hx.features:
            lines.append(f"| {e(f.feature)} | {ew.delta(f.slope * hx.step, unit)} | "
                         f"{ew.interval_text(ew.scaled_interval(f.interval, hx.step), unit)} |")
    return lines


def _recommendations(recs: Recommendations) -> list[str]:
    lines = ["| # | lever | move | improvement | interval | P(better) | verdict |", "|---:|---|---|---:|---|---:|---|"]
    for lv in ew.lever_rows(recs):
        name = f"**{e(lv.lever)}**" if lv.top else e(lv.lever)
        lines.append(f"| {lv.rank} | {name} | {lv.move} | {lv.improvement} | {lv.interval} | "
                     f"{lv.probability} | {lv.verdict} |")
    if recs.skipped:
        lines += ["", "Not ranked: " + "; ".join(f"{e(k)} ({e(v)})" for k, v in recs.skipped.items()) + "."]
    return lines


def _actions(a: ActionRanking) -> list[str]:
    lines = ["| # | action | from | moves | improvement | interval | P(better) | verdict |",
             "|---:|---|---|---|---:|---|---:|---|"]
    for row in ew.action_rows(a):
        name = f"**{e(row.name)}**" if row.top else e(row.name)
        lines.append(f"| {row.rank} | {name} | {row.source} | {e(row.moves)} | {row.improvement} | {row.interval} | "
                     f"{row.probability} | {row.verdict} |")
    if a.rejected:
        lines += ["", "Not ranked: " + "; ".join(f"{e(k)} ({e(v)})" for k, v in a.rejected.items()) + "."]
    return lines


def _what_if(w: WhatIf) -> list[str]:
    lines = ["| what | mean | interval of the mean |", "|---|---:|---|"]
    lines += [f"| {e(row.label)} | {row.value} | {row.interval} |" for row in ew.what_if_rows(w)]
    return lines


def _paths(item: ew.EffectItem) -> list[str]:
    """The graph's edges on paths from what is changed to the target, as a list (the HTML draws them)."""
    from reports.graph_layout import path_edges

    edges = getattr(item, "edges", ())
    if isinstance(item, EffectResult):
        sources, target = [item.treatment], item.outcome
    elif isinstance(item, Recommendations):
        sources, target = [r.lever for r in item.items], item.target
    elif isinstance(item, ActionRanking):
        sources, target = sorted({n for a in item.items for n in a.moves}), item.target
    elif isinstance(item, WhatIf):
        sources, target = list(item.intervention), item.target
    else:
        return []
    hot = path_edges([(s, t) for s, t, _ in edges], set(sources), target)
    if not hot:
        return []
    lags = {(s, t): lag for s, t, lag in edges}
    return ["", "Paths in the graph: " + ", ".join(f"{e(s)} → {e(t)}" + (f" (lag {lags[(s, t)]})" if lags.get((s, t)) else "")
                                                   for s, t in sorted(hot)) + "."]


def section(items: Sequence[ew.EffectItem], level: int = 2) -> list[str]:
    """The section's lines, its heading at ``level`` (each result one level below)."""
    if not items:
        return []
    h = "#" * level
    lines = ["", f"{h} Effects and recommendations"]
    for item in items:
        lines += ["", f"{h}# {e(ew.item_title(item))}", "", f"**{e(item.answer)}**", ""]
        if isinstance(item, EffectResult):
            lines += _effect(item, h + "#")
        elif isinstance(item, HeterogeneousEffects):
            lines += _heterogeneity(item)
        elif isinstance(item, ActionRanking):
            lines += _actions(item)
        elif isinstance(item, WhatIf):
            lines += _what_if(item)
        else:
            lines += _recommendations(item)
        lines += _paths(item)
        notes = tuple(item.caveats) + tuple(getattr(item, "notes", ()))
        if notes:
            lines += ["", "Caveats:", ""] + [f"- {e(c)}" for c in notes]
    return lines + [""]
