"""Charts as inline SVG strings, drawn from result objects only (no statistics here).

Three charts: a time series with the compared windows (or the anomalous point) marked, the
causes as horizontal bars with interval whiskers, and the causal graph (laid out in
:mod:`reports.graph_layout`). Every chart is ``role="img"`` with a ``<title>`` and a
``<desc>`` that say in words what it shows, so it has a text alternative. Colours are
CSS classes (``.c-worse``, ``.c-better``...) from the page's stylesheet, an Okabe-Ito
palette that stays readable for colour-blind readers and switches with dark mode. Every
piece of text from data goes through :func:`markupsafe.escape`; only SVG built here is
marked safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

from reports import graph_chart, notes, rows_chart, svg, textfit
from results import Cause, InvestigationResult, format_value, wording
from results.wording import cause_title, day


def _svg_open(width: float, height: float, title: str, desc: str, kind: str, ident: str) -> str:
    return svg.open_tag(width, height, title, desc, kind, ident)


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round axis ticks covering ``[lo, hi]`` (layout, not statistics)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    ticks = [round(k * step, 12) for k in range(first, last + 1)][:12]
    return ticks


def _tick_label(v: float, unit: str) -> str:
    if unit == "ratio":
        return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 1e-6 else f"{v * 100:.1f}%"
    return format_value(v, unit)


def time_series(r: InvestigationResult, node: str, ident: str, *, width: int = 860, height: int = 240,
                reference: float | None = None, reference_label: str = "", compact: bool = False) -> Markup:
    """``node``'s series with the baseline and current windows shaded (or the anomaly marked).

    For the target, the observed baseline and current levels are drawn across their windows;
    for a cause, ``reference`` (e.g. the level a counterfactual holds it at) as a dashed line.
    The model's fit window is marked (the baseline of a change; the rows before an anomaly, or
    its baseline). ``compact``: the phone-sized drawing, with fewer date labels.
    """
    stamped = notes.shown(r, node)
    raw = notes.valued(stamped)
    if len(raw) < 2:
        return Markup("")
    if compact:
        width, height = svg.COMPACT_WIDTH - 20, max(140, int(height * 0.8))
    unit = r.unit(node)
    xs = [notes.parse_time(t) or 0.0 for t, _ in raw]
    ys = [v for _, v in raw]
    holes = notes.gaps(stamped)
    breaks = {notes.parse_time(after) for _, after in holes}
    extra = [r.observed.baseline, r.observed.current] if node == r.target else []
    if reference is not None:
        extra.append(reference)
    ticks = nice_ticks(min(ys + extra), max(ys + extra))
    lo, hi = ticks[0], ticks[-1]
    tick_labels = [_tick_label(t, unit) for t in ticks]
    left = max(40, math.ceil(max(textfit.width(s, 11) for s in tick_labels)) + 12)
    # A target's windows carry their averages: a second row above the plot holds any that find no clear spot
    # in it (where the line is busy).
    averaged = node == r.target and "baseline" in r.window and "current" in r.window
    right, top, bottom = 16, 40 if averaged else 26, 30
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = xs[0], xs[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * pw

    def py(v: float) -> float:
        return top + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    name = r.title(node)
    w = r.window
    parts: list[str] = []
    desc = [f"{name}: {notes.span(r, node)}, between {format_value(min(ys), unit)} and {format_value(max(ys), unit)}."]
    for t, text in zip(ticks, tick_labels, strict=True):
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{escape(text)}</text>')
    spans = []
    if "baseline" in w and "current" in w:
        spans = [("baseline", w["baseline"], "c-base-fill", r.observed.baseline),
                 ("current", w["current"], "c-cur-fill", r.observed.current)]
    elif "at" in w and (fw := notes.fit_window(r)):
        spans = [("fit window", fw, "c-base-fill", None)]
    # The series as drawn (its segments, in px), so a window's average label can be put where it does not sit
    # on the line, and the labels already placed.
    segments = [(px(xs[i - 1]), py(ys[i - 1]), px(xs[i]), py(ys[i])) for i in range(1, len(xs)) if xs[i] not in breaks]
    placed: list[tuple[float, float, float, float]] = []
    averages: list[tuple[str, float, float, float]] = []  # each window's average: text, its line's ends and height
    for label, (s, e), cls, level in spans:
        a, b = notes.parse_time(s), notes.parse_time(e)
        if a is None or b is None:
            continue
        a, b = max(a, x0), min(b, x1)
        if b <= a:
            continue
        # The baseline is where the model was fitted: say so when the words fit in the window.
        shown_label = label
        if label == "baseline" and textfit.width("baseline (fit)", 11) + 8 <= px(b) - px(a):
            shown_label = "baseline (fit)"
        name_y = top - (22 if averaged else 8)
        parts.append(f'<rect class="{cls}" x="{px(a):.1f}" y="{top}" width="{px(b) - px(a):.1f}" height="{ph}"/>'
                     f'<text class="win-label" x="{px(a) + 4:.1f}" y="{name_y}">{shown_label}</text>')
        placed.append((px(a) + 4, name_y - LABEL_FONT, px(a) + 4 + textfit.width(shown_label, LABEL_FONT), name_y + 3))
        if node == r.target and level is not None:
            parts.append(f'<line class="level" x1="{px(a):.1f}" x2="{px(b):.1f}" y1="{py(level):.1f}" '
                         f'y2="{py(level):.1f}"/>')
            averages.append((format_value(level, unit), px(a), px(b), py(level)))
            desc.append(f"The {label} window ({day(s)} to {day(e)}) averages {format_value(level, unit)}"
                        + (", and is where the model was fitted." if label == "baseline" else "."))
        elif label == "fit window":
            desc.append(f"Shaded: the model's fit window ({day(s)} to {day(e)}).")
        else:
            desc.append(f"The {label} window runs from {day(s)} to {day(e)}"
                        + (", where the model was fitted." if label == "baseline" else "."))
    # A gap in the data (a row without a value, or missing rows) breaks the line: no straight
    # segment pretends to know the weeks in between. A point alone between two gaps is a dot.
    path = " ".join(f"{'M' if i == 0 or x in breaks else 'L'}{px(x):.1f},{py(y):.1f}"
                    for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    parts.append(f'<path class="series" d="{path}"/>')
    # The averages' labels go on top of the line, each where it sits on no part of it (and on no other label),
    # once every window's name is placed.
    for text, xa, xb, y_level in averages:
        x, y, anchor = _label_spot(text, xa, xb, y_level, segments, placed, (left, top, left + pw, top + ph))
        parts.append(f'<text class="level-label" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>')
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        alone_before = i == 0 or x in breaks
        alone_after = i == len(xs) - 1 or xs[i + 1] in breaks
        if alone_before and alone_after:
            parts.append(f'<circle class="series-dot" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2"/>')
    if holes:
        listed = "; ".join(f"after {day(a)} until {day(b)}" for a, b in holes[:3])
        more = f" and {len(holes) - 3} more" if len(holes) > 3 else ""
        desc.append(f"The line breaks where there is no data: {listed}{more}.")
    if "at" in w:
        a = notes.parse_time(w["at"])
        b = notes.parse_time(w.get("until") or w["at"])
        if a is not None and b is not None:
            parts.append(f'<rect class="c-cur-fill" x="{px(a) - 3:.1f}" y="{top}" width="{px(b) - px(a) + 6:.1f}" '
                         f'height="{ph}"/><text class="win-label" x="{px(a):.1f}" y="{top - 8}" '
                         f'text-anchor="end">anomaly</text>')
            for x, y in zip(xs, ys, strict=True):
                if a <= x <= b:
                    parts.append(f'<circle class="anomaly" cx="{px(x):.1f}" cy="{py(y):.1f}" r="4.5"/>')
            if node == r.target:
                parts.append(f'<line class="level" x1="{left}" x2="{px(a):.1f}" y1="{py(r.observed.baseline):.1f}" '
                             f'y2="{py(r.observed.baseline):.1f}"/>')
                desc.append(f"The anomaly at {day(w['at'])} is {format_value(r.observed.current, unit)} against "
                            f"an expected {format_value(r.observed.baseline, unit)}.")
    if reference is not None:
        parts.append(f'<line class="reference" x1="{left}" x2="{left + pw}" y1="{py(reference):.1f}" '
                     f'y2="{py(reference):.1f}"/>')
        desc.append(f"Dashed line: {reference_label}.")
    desc.append(notes.fit(r))
    parts.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    n_labels = 3 if compact else 5
    for i in range(n_labels):
        x = x0 + (x1 - x0) * i / (n_labels - 1)
        stamp = datetime.fromtimestamp(x, tz=UTC).strftime("%Y-%m-%d")
        anchor = "start" if i == 0 else "end" if i == n_labels - 1 else "middle"
        parts.append(f'<text class="tick" x="{px(x):.1f}" y="{height - 10}" text-anchor="{anchor}">{stamp}</text>')
    title = f"{name} over time"
    return Markup(_svg_open(width, height, title, " ".join(desc), "series", ident) + "".join(parts) + "</svg>")


LABEL_FONT = 11.0


def _crosses(seg: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    """Whether a line segment passes through a box (x0, y0, x1, y1)."""
    x1, y1, x2, y2 = seg
    bx0, by0, bx1, by1 = box
    lo, hi = max(min(x1, x2), bx0), min(max(x1, x2), bx1)
    if lo > hi:
        return False
    if x1 == x2:
        ya, yb = min(y1, y2), max(y1, y2)
    else:
        ya, yb = sorted((y1 + (y2 - y1) * (lo - x1) / (x2 - x1), y1 + (y2 - y1) * (hi - x1) / (x2 - x1)))
    return not (yb < by0 or ya > by1)


def _label_spot(text: str, x0: float, x1: float, y: float, segments: list[tuple[float, float, float, float]],
                placed: list[tuple[float, float, float, float]], plot: tuple[float, float, float, float]
                ) -> tuple[float, float, str]:
    """Where a window's average label goes: just above its level line, below it, or on it, as far right in
    the window as it can be, the first spot where it sits on no part of the series and on no label already
    placed; else in the row above the plot (where the series never goes), at the window's right end or after
    the labels already there. Returns (x, baseline y, text-anchor)."""
    w = textfit.width(text, LABEL_FONT, bold=True) + 4  # its halo included
    pad = 2.0

    def free(box: tuple[float, float, float, float]) -> bool:
        within = plot[0] <= box[0] and box[2] <= plot[2] + 4 and plot[1] <= box[1] and box[3] <= plot[3]
        return within and not any(_crosses(seg, box) for seg in segments) and not any(_overlap(box, p) for p in placed)

    for base in (y - 5, y + 14, y + 4):
        right = x1 - 4
        while right - w >= x0 + 2:
            box = (right - w - pad, base - LABEL_FONT + 1 - pad, right + pad, base + 3 + pad)
            if free(box):
                placed.append(box)
                return right, base, "end"
            right -= 6
    # The row above the plot (the window names sit a row higher): at the window's right end, else after the
    # labels already there.
    base = plot[1] - 6
    start = x1 - 4 - w
    row = [p for p in placed if p[1] >= base - LABEL_FONT - 1 and p[3] <= plot[1]]
    if any(_overlap((start, base - LABEL_FONT, start + w, base + 3), p) for p in row):
        start = max(p[2] for p in row) + 6
    placed.append((start, base - LABEL_FONT, start + w, base + 3))
    return start, base, "start"


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def series_pair(r: InvestigationResult, node: str, ident: str, **kw) -> Markup:
    """:func:`time_series` wide and compact, for the page to pick by the screen's width."""
    return svg.responsive(time_series(r, node, ident, **kw), time_series(r, node, f"{ident}-c", compact=True, **kw))


def cause_bars(r: InvestigationResult, ident: str, width: int = 860, limit: int = 10,
               causes: Sequence[Cause] | None = None, folded: int = 0) -> Markup:
    """Each cause's contribution as a bar with its interval; significant causes first, set apart.
    Labels are shown whole (wrapped, :mod:`reports.rows_chart`); a compact drawing serves phones.
    ``causes``: the ones to draw (default: all); ``folded`` more that contributed nothing are named in
    the description only. A single bar (the target's own part) is not worth a chart: none is drawn."""
    causes = list(r.causes if causes is None else causes)[:limit]
    if not causes or (len(causes) == 1 and causes[0].node == r.target):
        return Markup("")
    unit = r.observed.unit
    desc = []

    def row(c: Cause) -> rows_chart.Row:
        cls = "c-muted" if not c.significant else "c-worse" if c.direction == "worse" else "c-better"
        name = cause_title(r, c.node)
        value = wording.delta(c.contribution, unit)
        interval = f"{wording.delta(c.interval[0], unit)} to {wording.delta(c.interval[1], unit)}"
        desc.append(f"{name}: {value} ({wording.pct(c.share)} of the change, interval {interval}, "
                    f"{'significant' if c.significant else 'not significant'})")
        return rows_chart.Row(label=name, value=c.contribution, low=c.interval[0], high=c.interval[1], cls=cls,
                              text=f"{value} · {wording.pct(c.share)}", tip=f"{name}: {value} (interval {interval})",
                              group="cause", key=("node", c.node))

    groups = [(label, [row(c) for c in g]) for g, label in (([c for c in causes if c.significant], "Significant"),
                                                          ([c for c in causes if not c.significant], "Not significant"))
              if g]
    extent = [min(0.0, *(min(c.interval[0], c.contribution) for c in causes)),
              max(0.0, *(max(c.interval[1], c.contribution) for c in causes))]
    title = f"Contribution of each cause to the change in {r.title(r.target)}"
    if folded:
        desc.append(f"{folded} more contributed {wording.delta(0.0, unit)} and are not drawn")
    return rows_chart.pair(groups, ident=ident, kind="causes", title=title, desc="; ".join(desc) + ".",
                           ticks=nice_ticks(extent[0], extent[1], 4),
                           tick_text=lambda t: wording.delta(t, unit) if t else "0", bars=True, width=width)


def causal_graph(r: InvestigationResult, ident: str, max_width: int = 860) -> Markup:
    """The causal graph folded to ``max_width`` (:mod:`reports.graph_chart`), with a compact drawing
    for phones when the wide one would have to shrink its text there."""
    return graph_chart.responsive(r, ident, max_width)[0]
