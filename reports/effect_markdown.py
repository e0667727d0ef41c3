"""The effects-and-recommendations section of the Markdown report: the HTML section's content as text and tables.

Charts become their tables. Every text from data (node names, scopes, caveats, sentences)
goes through :func:`reports.escaping.md_escape`; numbers written by :mod:`results.format`
(digits, a sign and a unit word) are left as they are, as in the investigation's tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from reports.escaping import md_escape as e
from results import effect_wording as ew
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
        else:
            lines += _recommendations(item)
        if item.caveats:
            lines += ["", "Caveats:", ""] + [f"- {e(c)}" for c in item.caveats]
    return lines + [""]
