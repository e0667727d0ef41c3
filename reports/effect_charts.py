"""Charts of the effects-and-recommendations section, as inline SVG in the style of :mod:`reports.charts`.

Three charts, one drawing: rows of a value with its interval on a shared axis through zero.

- :func:`estimates`: the effect question's estimates (the headline, the double-ML check, the
  naive slope) as points with interval whiskers, so a reader sees what the adjustment changed;
- :func:`scope_effects`: the effect in each scope with its interval, best-helped scope first,
  the pooled average as a dashed line;
- :func:`levers`: each lever's improvement from its realistic move, as a bar with its interval;
- :func:`actions`: the same for candidate actions (named sets of moves).

Like every chart of the report: ``role="img"`` with a ``<title>`` and a ``<desc>`` that say in
words what it shows, colours as CSS classes (``.c-better``, ``.c-worse``, ``.c-muted``) and every
piece of text from data through :func:`markupsafe.escape`. The numbers come from the result
objects through :mod:`results.effect_wording`; nothing is computed here but the layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup

from reports import rows_chart
from reports.charts import nice_ticks
from results.actions import ActionRanking
from results.effect_wording import action_rows, estimate_rows, lever_rows, scope_rows, step_text
from results.effects import EffectResult, HeterogeneousEffects, Recommendations
from results.format import format_delta


@dataclass(frozen=True)
class _Row:
    label: str
    key: str  # data-key attribute (the scope, lever or method, as given)
    value: float
    low: float | None
    high: float | None
    cls: str  # c-better / c-worse / c-muted
    text: str  # the value as written beside the row


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def _rows_chart(rows: list[_Row], *, kind: str, ident: str, title: str, desc: str, unit: str, bars: bool,
                reference: float | None = None, reference_label: str = "", width: int = 860) -> Markup:
    rows = [r for r in rows if _finite(r.value)]
    if not rows:
        return Markup("")
    values = [0.0] + [r.value for r in rows] + [v for r in rows for v in (r.low, r.high) if _finite(v)]
    if _finite(reference):
        values.append(reference)  # type: ignore[arg-type]
    drawn = []
    for r in rows:
        interval = (f"{format_delta(r.low, unit)} to {format_delta(r.high, unit)}"
                    if _finite(r.low) and _finite(r.high) else "no interval")
        drawn.append(rows_chart.Row(label=r.label, value=r.value, low=r.low if _finite(r.low) else None,
                                    high=r.high if _finite(r.high) else None, cls=r.cls, text=r.text,
                                    tip=f"{r.label}: {r.text} (interval {interval})", group="row", key=("key", r.key)))
    return rows_chart.pair([("", drawn)], ident=ident, kind=kind, title=title, desc=desc,
                           ticks=nice_ticks(min(values), max(values), 4),
                           tick_text=lambda t: format_delta(t, unit) if t else "0", bars=bars, width=width,
                           reference=reference, reference_label=reference_label)


def estimates(r: EffectResult, ident: str) -> Markup:
    """The estimates of one effect question, the naive slope last, as the step's effect on the outcome."""
    if not r.identified:
        return Markup("")
    unit = r.units.get(r.outcome, "")
    rows = []
    for e in estimate_rows(r):
        cls = "c-muted" if e.naive else "c-better" if e.headline else "c-base"
        rows.append(_Row(e.method, e.method, e.value, e.low, e.high, cls, e.effect))
    desc = "; ".join(f"{e.method}: {e.effect} (interval {e.interval})" for e in estimate_rows(r))
    title = f"Estimated effect on {r.outcome} of {step_text(r)}"
    return _rows_chart(rows, kind="estimates", ident=ident, title=title, desc=desc + ".", unit=unit, bars=False)


def scope_effects(h: HeterogeneousEffects, ident: str) -> Markup:
    """The effect in each scope, best-helped first, with intervals; the average as a dashed line."""
    unit = h.units.get(h.outcome, "")
    rows = []
    for s in scope_rows(h):
        cls = {"helps": "c-better", "hurts": "c-worse"}.get(s.verdict, "c-muted")
        rows.append(_Row(s.scope, s.scope, s.value, s.low, s.high, cls, s.effect))
    avg = h.average.value * h.step if _finite(h.average.value) else None
    desc = "; ".join(f"{s.scope}: {s.effect} (interval {s.interval}, {s.verdict})" for s in scope_rows(h))
    if avg is not None:
        desc += f". Dashed line: the average over all scopes, {format_delta(avg, unit)}"
    title = f"Effect on {h.outcome} of {step_text(h)}, by scope"
    return _rows_chart(rows, kind="scope-effects", ident=ident, title=title, desc=desc + ".", unit=unit, bars=False,
                       reference=avg, reference_label="average over all scopes")


def levers(recs: Recommendations, ident: str) -> Markup:
    """Each lever's improvement of the target (positive is better) with its interval, best first."""
    unit = recs.units.get(recs.target, "")
    rows = []
    for lv in lever_rows(recs):
        cls = {"clear gain": "c-better", "would hurt": "c-worse"}.get(lv.verdict, "c-muted")
        rows.append(_Row(lv.lever, lv.lever, lv.value, lv.low, lv.high, cls, lv.improvement))
    desc = "; ".join(f"{lv.rank}. {lv.lever}, {lv.move}: {lv.improvement} (interval {lv.interval}, {lv.verdict})"
                     for lv in lever_rows(recs))
    title = f"Improvement of {recs.target} from moving each lever to its good quartile"
    return _rows_chart(rows, kind="levers", ident=ident, title=title, desc=desc + ".", unit=unit, bars=True)


def actions(ranking: ActionRanking, ident: str) -> Markup:
    """Each candidate action's improvement of the target (positive is better) with its interval, best first."""
    unit = ranking.units.get(ranking.target, "")
    rows = []
    for a in action_rows(ranking):
        cls = {"clear gain": "c-better", "would hurt": "c-worse"}.get(a.verdict, "c-muted")
        rows.append(_Row(a.name, a.name, a.value, a.low, a.high, cls, a.improvement))
    desc = "; ".join(f"{a.rank}. {a.name} ({a.moves}): {a.improvement} (interval {a.interval}, {a.verdict})"
                     for a in action_rows(ranking))
    title = f"Improvement of {ranking.target} from each candidate action"
    return _rows_chart(rows, kind="actions", ident=ident, title=title, desc=desc + ".", unit=unit, bars=True)
