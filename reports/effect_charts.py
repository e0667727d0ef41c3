"""Charts of the effects-and-recommendations section, as inline SVG in the style of :mod:`reports.charts`.

Three charts, one drawing: rows of a value with its interval on a shared axis through zero.

- :func:`estimates`: the effect question's estimates (the headline, the double-ML check, the
  naive slope) as points with interval whiskers, so a reader sees what the adjustment changed;
- :func:`scope_effects`: the effect in each scope with its interval, best-helped scope first,
  the pooled average as a dashed line;
- :func:`levers`: each lever's improvement from its realistic move, as a bar with its interval.

Like every chart of the report: ``role="img"`` with a ``<title>`` and a ``<desc>`` that say in
words what it shows, colours as CSS classes (``.c-better``, ``.c-worse``, ``.c-muted``) and every
piece of text from data through :func:`markupsafe.escape`. The numbers come from the result
objects through :mod:`results.effect_wording`; nothing is computed here but the layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from reports.charts import _svg_open, nice_ticks
from results.effect_wording import estimate_rows, lever_rows, scope_rows, step_text
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
    bar_h, gap, label_w, value_w, head = 20, 10, 250, 150, 14
    height = head + len(rows) * (bar_h + gap) + 30
    values = [0.0] + [r.value for r in rows] + [v for r in rows for v in (r.low, r.high) if _finite(v)]
    if _finite(reference):
        values.append(reference)
    ticks = nice_ticks(min(values), max(values), 4)
    lo, hi = ticks[0], ticks[-1]
    pw = width - label_w - value_w

    def px(v: float) -> float:
        return label_w + (v - lo) / ((hi - lo) or 1.0) * pw

    parts = []
    for t in ticks:
        parts.append(f'<line class="grid" x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{head - 6}" y2="{height - 24}"/>'
                     f'<text class="tick" x="{px(t):.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{escape(format_delta(t, unit) if t else "0")}</text>')
    y = head
    for r in rows:
        mid = y + bar_h / 2
        short = r.label if len(r.label) <= 34 else r.label[:32] + "…"
        interval = (f"{format_delta(r.low, unit)} to {format_delta(r.high, unit)}"
                    if _finite(r.low) and _finite(r.high) else "no interval")
        tip = f"{r.label}: {r.text} (interval {interval})"
        if bars:
            a, b = sorted((px(0), px(r.value)))
            mark = (f'<rect class="{r.cls}" x="{a:.1f}" y="{y}" width="{max(b - a, 1.5):.1f}" height="{bar_h}" rx="2">'
                    f'<title>{escape(tip)}</title></rect>')
        else:
            mark = (f'<circle class="{r.cls} point" cx="{px(r.value):.1f}" cy="{mid:.1f}" r="6">'
                    f'<title>{escape(tip)}</title></circle>')
        whisker = ""
        if _finite(r.low) and _finite(r.high):
            whisker = (f'<line class="whisker" x1="{px(r.low):.1f}" x2="{px(r.high):.1f}" y1="{mid}" y2="{mid}"/>'
                       f'<line class="whisker" x1="{px(r.low):.1f}" x2="{px(r.low):.1f}" y1="{mid - 5}" y2="{mid + 5}"/>'
                       f'<line class="whisker" x1="{px(r.high):.1f}" x2="{px(r.high):.1f}" y1="{mid - 5}" '
                       f'y2="{mid + 5}"/>')
        # Points sit on top of their whiskers; bars below them.
        body = mark + whisker if bars else whisker + mark
        parts.append(f'<g class="row" data-key="{escape(r.key)}"><text class="label" x="{label_w - 8}" '
                     f'y="{mid + 4:.1f}" text-anchor="end">{escape(short)}</text>{body}'
                     f'<text class="value" x="{width - 4}" y="{mid + 4:.1f}" text-anchor="end">{escape(r.text)}</text></g>')
        y += bar_h + gap
    parts.append(f'<line class="axis" x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{head - 6}" y2="{height - 24}"/>')
    if _finite(reference):
        parts.append(f'<line class="reference" x1="{px(reference):.1f}" x2="{px(reference):.1f}" y1="{head - 6}" '
                     f'y2="{height - 24}"><title>{escape(reference_label)}</title></line>')
    return Markup(_svg_open(width, height, title, desc, kind, ident) + "".join(parts) + "</svg>")


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
