"""Rows of a value with its interval on a shared axis through zero: the drawing behind the cause
bars (:func:`reports.charts.cause_bars`) and the effect charts (:mod:`reports.effect_charts`).

Every label is shown whole: wrapped over as many lines as it needs in the label column (up to
``MAX_LINES``, then cut with '…', the full text in the row's tooltip and in the table beside
the chart), by the estimated width of its text (:mod:`reports.textfit`), so a long node name
never runs into the bars. The ``compact`` drawing, for phones, puts each label above its bar
across the whole width instead of in a column beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from reports import svg, textfit

FONT, LINE = 12.0, 14.0  # labels: size and line height in px
MAX_LINES = 6
WIDE = {"label_w": 250, "value_w": 150, "bar_h": 20, "gap": 10}
COMPACT = {"value_w": 0, "bar_h": 16, "gap": 12}
COMPACT_WIDTH = svg.COMPACT_WIDTH - 20


@dataclass(frozen=True)
class Row:
    label: str
    value: float
    low: float | None  # the interval, when there is one
    high: float | None
    cls: str  # the mark's colour class: c-worse, c-better, c-muted, c-base
    text: str  # the value as written beside the row
    tip: str  # the mark's tooltip
    group: str = "row"  # the row's <g> class
    key: tuple[str, str] = ("", "")  # a data attribute of the row: (name, value)


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def draw(groups: Sequence[tuple[str, Sequence[Row]]], *, kind: str, ident: str, title: str, desc: str,
         ticks: list[float], tick_text: Callable[[float], str], bars: bool, compact: bool = False,
         width: float = 860, reference: float | None = None, reference_label: str = "") -> Markup:
    """The rows, in groups (a group named "" has no heading), on an axis through ``ticks``."""
    groups = [(name, [r for r in rows if _finite(r.value)]) for name, rows in groups]
    groups = [(name, rows) for name, rows in groups if rows]
    if not groups or not ticks:
        return Markup("")
    if compact:
        width = COMPACT_WIDTH
    lo, hi = ticks[0], ticks[-1]
    labels = [tick_text(t) for t in ticks]
    if compact:  # the end ticks' labels must stay inside the drawing
        plot_l = 4 + max(8.0, textfit.width(labels[0], 11) / 2)
        plot_r = width - 4 - max(8.0, textfit.width(labels[-1], 11) / 2)
    else:
        plot_l, plot_r = float(WIDE["label_w"]), width - WIDE["value_w"]

    def px(v: float) -> float:
        return plot_l + (v - lo) / ((hi - lo) or 1.0) * (plot_r - plot_l)

    bar_h = COMPACT["bar_h"] if compact else WIDE["bar_h"]
    gap = COMPACT["gap"] if compact else WIDE["gap"]
    head = 24 if any(name for name, _ in groups) else 14
    body: list[str] = []
    y = float(head)
    first_group = True
    for name, rows in groups:
        if name:
            if not first_group:
                body.append(f'<line class="divider" x1="0" x2="{width}" y1="{y - 6:.1f}" y2="{y - 6:.1f}"/>')
            body.append(f'<text class="group-label" x="0" y="{y + 8:.1f}">{escape(name)}</text>')
            y += 18
        first_group = False
        for r in rows:
            value_px = textfit.width(r.text, FONT) + 8
            if compact:  # the label's lines above the bar, the value at the right of the first line
                lines = textfit.wrap(r.label, width - value_px - 4, FONT, MAX_LINES)
                top = y + LINE - 3
                label = "".join(f'<tspan x="0" y="{top + i * LINE:.1f}">{escape(line)}</tspan>'
                                for i, line in enumerate(lines))
                label_el = f'<text class="label">{label}</text>'
                value_el = (f'<text class="value" x="{width}" y="{top:.1f}" text-anchor="end">'
                            f'{escape(r.text)}</text>')
                bar_y = y + len(lines) * LINE + 3
                row_h = len(lines) * LINE + 3 + bar_h
            else:  # the label's lines right-aligned in the column left of the axis, beside the bar
                lines = textfit.wrap(r.label, WIDE["label_w"] - 14, FONT, MAX_LINES)
                row_h = max(bar_h, len(lines) * LINE)
                mid = y + row_h / 2
                first = mid - (len(lines) - 1) * LINE / 2 + 4
                label = "".join(f'<tspan x="{WIDE["label_w"] - 8}" y="{first + i * LINE:.1f}">{escape(line)}</tspan>'
                                for i, line in enumerate(lines))
                label_el = f'<text class="label" text-anchor="end">{label}</text>'
                value_el = f'<text class="value" x="{width - 4}" y="{mid + 4:.1f}" text-anchor="end">{escape(r.text)}</text>'
                bar_y = mid - bar_h / 2
            mid = bar_y + bar_h / 2
            if bars:
                a, b = sorted((px(0), px(r.value)))
                mark = (f'<rect class="{r.cls}" x="{a:.1f}" y="{bar_y:.1f}" width="{max(b - a, 1.5):.1f}" '
                        f'height="{bar_h}" rx="2"><title>{escape(r.tip)}</title></rect>')
            else:
                mark = (f'<circle class="{r.cls} point" cx="{px(r.value):.1f}" cy="{mid:.1f}" r="6">'
                        f'<title>{escape(r.tip)}</title></circle>')
            whisker = ""
            if _finite(r.low) and _finite(r.high):
                lo_x, hi_x = px(r.low), px(r.high)  # type: ignore[arg-type]
                whisker = (f'<line class="whisker" x1="{lo_x:.1f}" x2="{hi_x:.1f}" y1="{mid:.1f}" y2="{mid:.1f}"/>'
                           f'<line class="whisker" x1="{lo_x:.1f}" x2="{lo_x:.1f}" y1="{mid - 5:.1f}" y2="{mid + 5:.1f}"/>'
                           f'<line class="whisker" x1="{hi_x:.1f}" x2="{hi_x:.1f}" y1="{mid - 5:.1f}" y2="{mid + 5:.1f}"/>')
            marks = mark + whisker if bars else whisker + mark  # points on top of their whiskers, bars below
            data = f' data-{r.key[0]}="{escape(r.key[1])}"' if r.key[0] else ""
            body.append(f'<g class="{r.group}"{data}>{label_el}{marks}{value_el}</g>')
            y += row_h + gap
        y += 8 if name else 0
    height = y + 20
    # Tick labels: every other one when they would run into each other (a narrow drawing, long units).
    spacing = (plot_r - plot_l) / max(len(ticks) - 1, 1)
    step = 2 if max(textfit.width(s, 11) for s in labels) > spacing - 8 else 1
    parts = []
    for i, (t, text) in enumerate(zip(ticks, labels, strict=True)):
        parts.append(f'<line class="grid" x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{head - 6}" y2="{height - 24:.1f}"/>')
        if i % step == 0:
            parts.append(f'<text class="tick" x="{px(t):.1f}" y="{height - 8:.1f}" text-anchor="middle">'
                         f'{escape(text)}</text>')
    parts += body
    parts.append(f'<line class="axis" x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{head - 6}" y2="{height - 24:.1f}"/>')
    if _finite(reference):
        parts.append(f'<line class="reference" x1="{px(reference):.1f}" x2="{px(reference):.1f}" y1="{head - 6}" '  # type: ignore[arg-type]
                     f'y2="{height - 24:.1f}"><title>{escape(reference_label)}</title></line>')
    return Markup(svg.open_tag(width, height, title, desc, kind, ident) + "".join(parts) + "</svg>")


def pair(groups: Sequence[tuple[str, Sequence[Row]]], *, ident: str, **kw) -> Markup:
    """The wide drawing and the compact one, for the page to pick by the screen's width."""
    return svg.responsive(draw(groups, ident=ident, **kw), draw(groups, ident=f"{ident}-c", compact=True, **kw))
