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
from datetime import UTC, datetime

from markupsafe import Markup, escape

from reports import graph_layout
from results import Cause, InvestigationResult, format_value, notable, wording
from results.wording import cause_title, day


def _svg_open(width: float, height: float, title: str, desc: str, kind: str, ident: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart chart-{kind}" data-chart="{kind}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'aria-labelledby="{ident}-t {ident}-d">'
            f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>')


def _parse(ts: str) -> float | None:
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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


def _visible(points: list[tuple[str, float]], window: dict) -> list[tuple[str, float]]:
    """The compared span plus as much history again before it, so the windows are wide enough to read."""
    if "baseline" in window and "current" in window:
        start, end = _parse(window["baseline"][0]), _parse(window["current"][1])
    elif "at" in window:
        end = _parse(window.get("until") or window["at"])
        start = _parse(window["at"])
        if start is not None and end is not None:
            times = [_parse(t) or 0.0 for t, _ in points if (_parse(t) or 0.0) < start]
            start = times[-min(len(times), 40)] if times else start  # ~40 rows of history before the point
    else:
        return points
    if start is None or end is None:
        return points
    begin = start - (end - start) if "baseline" in window else start
    kept = [(t, v) for t, v in points if (_parse(t) or 0.0) >= begin]
    return kept if len(kept) >= 2 else points


def _gaps(points: list[tuple[float, float | None]]) -> set[float]:
    """The times where the line must start anew: after a missing value, or after a longer
    pause than the series' usual spacing (rows absent altogether)."""
    xs = [x for x, _ in points]
    steps = sorted(b - a for a, b in zip(xs, xs[1:], strict=False) if b > a)
    usual = steps[len(steps) // 2] if steps else 0.0
    out: set[float] = set()
    missing = False
    prev: float | None = None
    for x, v in points:
        if v is None or not math.isfinite(v):
            missing = True
            continue
        if prev is not None and (missing or (usual and x - prev > 1.5 * usual)):
            out.add(x)
        prev, missing = x, False
    return out


def time_series(r: InvestigationResult, node: str, ident: str, *, width: int = 860, height: int = 240,
                reference: float | None = None, reference_label: str = "") -> Markup:
    """``node``'s series with the baseline and current windows shaded (or the anomaly marked).

    For the target, the observed baseline and current levels are drawn across their windows;
    for a cause, ``reference`` (e.g. the level a counterfactual holds it at) as a dashed line.
    """
    stamped = [(t, v) for t, v in r.series.get(node, []) if _parse(t) is not None]
    stamped = _visible(stamped, r.window)
    raw = [(t, v) for t, v in stamped if v is not None and math.isfinite(v)]
    if len(raw) < 2:
        return Markup("")
    unit = r.unit(node)
    xs = [_parse(t) or 0.0 for t, _ in raw]
    ys = [v for _, v in raw]
    breaks = _gaps([(_parse(t) or 0.0, v) for t, v in stamped])
    extra = [r.observed.baseline, r.observed.current] if node == r.target else []
    if reference is not None:
        extra.append(reference)
    ticks = nice_ticks(min(ys + extra), max(ys + extra))
    lo, hi = ticks[0], ticks[-1]
    left, right, top, bottom = 64, 16, 26, 30
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = xs[0], xs[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1.0) * pw

    def py(v: float) -> float:
        return top + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    name = r.title(node)
    w = r.window
    parts: list[str] = []
    desc = [f"{name} per {r.graph_unit or 'row'} from {day(raw[0][0])} to {day(raw[-1][0])}, "
            f"between {format_value(min(ys), unit)} and {format_value(max(ys), unit)}."]
    for t in ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">'
                     f'{escape(_tick_label(t, unit))}</text>')
    spans = []
    if "baseline" in w and "current" in w:
        spans = [("baseline", w["baseline"], "c-base-fill", r.observed.baseline),
                 ("current", w["current"], "c-cur-fill", r.observed.current)]
    for label, (s, e), cls, level in spans:
        a, b = _parse(s), _parse(e)
        if a is None or b is None:
            continue
        a, b = max(a, x0), min(b, x1)
        if b <= a:
            continue
        parts.append(f'<rect class="{cls}" x="{px(a):.1f}" y="{top}" width="{px(b) - px(a):.1f}" height="{ph}"/>'
                     f'<text class="win-label" x="{px(a) + 4:.1f}" y="{top - 8}">{label}</text>')
        if node == r.target:
            parts.append(f'<line class="level" x1="{px(a):.1f}" x2="{px(b):.1f}" y1="{py(level):.1f}" '
                         f'y2="{py(level):.1f}"/><text class="level-label" x="{px(b) - 4:.1f}" '
                         f'y="{py(level) - 5:.1f}" text-anchor="end">{escape(format_value(level, unit))}</text>')
            desc.append(f"The {label} window ({day(s)} to {day(e)}) averages {format_value(level, unit)}.")
        else:
            desc.append(f"The {label} window runs from {day(s)} to {day(e)}.")
    # A gap in the data (a row without a value, or missing rows) breaks the line: no straight
    # segment pretends to know the weeks in between.
    path = " ".join(f"{'M' if i == 0 or x in breaks else 'L'}{px(x):.1f},{py(y):.1f}"
                    for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    parts.append(f'<path class="series" d="{path}"/>')
    if breaks:
        desc.append(f"The line breaks at {len(breaks)} gap(s) with no data.")
    if "at" in w:
        a = _parse(w["at"])
        b = _parse(w.get("until") or w["at"])
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
    parts.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    n_labels = 5
    for i in range(n_labels):
        x = x0 + (x1 - x0) * i / (n_labels - 1)
        stamp = datetime.fromtimestamp(x, tz=UTC).strftime("%Y-%m-%d")
        anchor = "start" if i == 0 else "end" if i == n_labels - 1 else "middle"
        parts.append(f'<text class="tick" x="{px(x):.1f}" y="{height - 10}" text-anchor="{anchor}">{stamp}</text>')
    title = f"{name} over time"
    return Markup(_svg_open(width, height, title, " ".join(desc), "series", ident) + "".join(parts) + "</svg>")


def cause_bars(r: InvestigationResult, ident: str, width: int = 860, limit: int = 10) -> Markup:
    """Each cause's contribution as a bar with its interval; significant causes first, set apart."""
    rows: list[Cause] = list(r.causes)[:limit]
    if not rows:
        return Markup("")
    unit = r.observed.unit
    sig = [c for c in rows if c.significant]
    rest = [c for c in rows if not c.significant]
    bar_h, gap, label_w, value_w, head = 20, 10, 250, 150, 24
    groups = [(g, label) for g, label in ((sig, "Significant"), (rest, "Not significant")) if g]
    height = head + sum(len(g) * (bar_h + gap) + 26 for g, _ in groups) + 28
    extent = [min(0.0, *(min(c.interval[0], c.contribution) for c in rows)),
              max(0.0, *(max(c.interval[1], c.contribution) for c in rows))]
    ticks = nice_ticks(extent[0], extent[1], 4)
    lo, hi = ticks[0], ticks[-1]
    pw = width - label_w - value_w

    def px(v: float) -> float:
        return label_w + (v - lo) / ((hi - lo) or 1.0) * pw

    parts = []
    for t in ticks:
        parts.append(f'<line class="grid" x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{head - 6}" y2="{height - 24}"/>'
                     f'<text class="tick" x="{px(t):.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{escape(wording.delta(t, unit) if t else "0")}</text>')
    y = head
    desc = []
    for group, label in groups:
        parts.append(f'<text class="group-label" x="0" y="{y + 8}">{label}</text>')
        if label == "Not significant" and sig:
            parts.append(f'<line class="divider" x1="0" x2="{width}" y1="{y - 6}" y2="{y - 6}"/>')
        y += 18
        for c in group:
            cls = "c-muted" if not c.significant else "c-worse" if c.direction == "worse" else "c-better"
            a, b = sorted((px(0), px(c.contribution)))
            name = cause_title(r, c.node)
            short = name if len(name) <= 34 else name[:32] + "…"
            value = wording.delta(c.contribution, unit)
            interval = f"{wording.delta(c.interval[0], unit)} to {wording.delta(c.interval[1], unit)}"
            mid = y + bar_h / 2
            parts.append(
                f'<g class="cause" data-node="{escape(c.node)}"><text class="label" x="{label_w - 8}" y="{mid + 4:.1f}" '
                f'text-anchor="end">{escape(short)}</text>'
                f'<rect class="{cls}" x="{a:.1f}" y="{y}" width="{max(b - a, 1.5):.1f}" height="{bar_h}" rx="2">'
                f'<title>{escape(name)}: {escape(value)} (interval {escape(interval)})</title></rect>'
                f'<line class="whisker" x1="{px(c.interval[0]):.1f}" x2="{px(c.interval[1]):.1f}" y1="{mid}" y2="{mid}"/>'
                f'<line class="whisker" x1="{px(c.interval[0]):.1f}" x2="{px(c.interval[0]):.1f}" y1="{mid - 5}" '
                f'y2="{mid + 5}"/><line class="whisker" x1="{px(c.interval[1]):.1f}" x2="{px(c.interval[1]):.1f}" '
                f'y1="{mid - 5}" y2="{mid + 5}"/>'
                f'<text class="value" x="{width - 4}" y="{mid + 4:.1f}" text-anchor="end">'
                f'{escape(value)} · {wording.pct(c.share)}</text></g>')
            desc.append(f"{name}: {value} ({wording.pct(c.share)} of the change, interval {interval}, "
                        f"{'significant' if c.significant else 'not significant'})")
            y += bar_h + gap
        y += 8
    parts.append(f'<line class="axis" x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{head - 6}" y2="{height - 24}"/>')
    title = f"Contribution of each cause to the change in {r.title(r.target)}"
    return Markup(_svg_open(width, height, title, "; ".join(desc) + ".", "causes", ident) + "".join(parts) + "</svg>")


def causal_graph(r: InvestigationResult, ident: str, max_width: int = 860) -> Markup:
    """The causal graph: nodes shaded by their share of the change, paths from causes to target bold."""
    if not r.edges:
        return Markup("")
    shares = {c.node: c for c in r.causes}
    drivers = {c.node for c in r.causes if c.node != r.target and (c.significant or notable(c.share))}
    layout = graph_layout.layered([(s, t) for s, t, _ in r.edges], list(r.titles) or None)
    hot = graph_layout.path_edges([(s, t) for s, t, _ in r.edges], drivers, r.target)
    lags = {(s, t): lag for s, t, lag in r.edges}
    box_w, box_h, col_gap, row_gap = 150, 44, 56, 20
    cols = max(layout.layers.values()) + 1 if layout.layers else 1
    rows = max(layout.rows.values()) + 1 if layout.rows else 1
    width = max(cols * (box_w + col_gap) - col_gap + 20, 200)
    height = rows * (box_h + row_gap) - row_gap + 40
    pos = {n: (10 + layout.layers[n] * (box_w + col_gap), 30 + layout.rows[n] * (box_h + row_gap))
           for n in layout.layers}
    parts = []
    # Spread each box's arrows over its side, ordered by where the other end is, so they don't pile up.
    boxes = {n: xy for n, xy in pos.items() if not layout.is_waypoint(n)}
    forward = [(s, t) for s, t, _ in r.edges if s in pos and t in pos and s != t and pos[t][0] > pos[s][0]]
    out_port: dict[tuple[str, str], float] = {}
    in_port: dict[tuple[str, str], float] = {}
    def first_hop(e: tuple[str, str]) -> float:  # where the edge heads first (its first waypoint, if routed)
        return pos[layout.routes.get(e, [e[1]])[0]][1]

    def last_hop(e: tuple[str, str]) -> float:
        return pos[layout.routes.get(e, [e[0]])[-1]][1]

    for n in boxes:
        outs = sorted((e for e in forward if e[0] == n), key=first_hop)
        ins = sorted((e for e in forward if e[1] == n), key=last_hop)
        for group, ports in ((outs, out_port), (ins, in_port)):
            for i, e in enumerate(group):
                ports[e] = box_h * (0.5 if len(group) == 1 else 0.22 + 0.56 * i / (len(group) - 1))
    for s, t, _ in r.edges:
        if s not in pos or t not in pos or s == t:
            continue
        (sx, sy), (tx, ty) = pos[s], pos[t]
        a = (sx + box_w, sy + out_port.get((s, t), box_h / 2))
        b = (tx, ty + in_port.get((s, t), box_h / 2))
        if tx <= sx:  # a lagged edge pointing back: loop under the boxes
            a, b = (sx + box_w / 2, sy + box_h), (tx + box_w / 2, ty + box_h)
            d = f"M{a[0]:.1f},{a[1]:.1f} C{a[0]:.1f},{a[1] + 40:.1f} {b[0]:.1f},{b[1] + 40:.1f} {b[0]:.1f},{b[1]:.1f}"
            tip, angle = b, -math.pi / 2
        else:
            # Through each waypoint straight across its column, curving between columns.
            points = [a]
            for via in layout.routes.get((s, t), []):
                vx, vy = pos[via]
                points += [(vx, vy + box_h / 2), (vx + box_w, vy + box_h / 2)]
            points.append(b)
            d = f"M{a[0]:.1f},{a[1]:.1f}"
            for i, (p, q) in enumerate(zip(points, points[1:], strict=False)):
                if i % 2:  # across a waypoint's column
                    d += f" L{q[0]:.1f},{q[1]:.1f}"
                else:
                    mx = (p[0] + q[0]) / 2
                    d += f" C{mx:.1f},{p[1]:.1f} {mx:.1f},{q[1]:.1f} {q[0]:.1f},{q[1]:.1f}"
            tip, angle = b, 0.0
        cls = "edge hot" if (s, t) in hot else "edge"
        lag = lags.get((s, t), 0)
        dash = ' stroke-dasharray="5 3"' if lag else ""
        ax, ay = tip
        p1 = (ax - 9 * math.cos(angle) + 4.5 * math.sin(angle), ay - 9 * math.sin(angle) - 4.5 * math.cos(angle))
        p2 = (ax - 9 * math.cos(angle) - 4.5 * math.sin(angle), ay - 9 * math.sin(angle) + 4.5 * math.cos(angle))
        parts.append(f'<g class="{cls}" data-from="{escape(s)}" data-to="{escape(t)}"><path d="{d}"{dash}/>'
                     f'<polygon points="{ax:.1f},{ay:.1f} {p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f}"/>'
                     f'<title>{escape(r.title(s))} → {escape(r.title(t))}{f" (lag {lag})" if lag else ""}</title></g>')
    desc = []
    for n, (x, y) in boxes.items():
        c = shares.get(n)
        share = abs(c.share) if c else 0.0
        tone = "worse" if c and c.direction == "worse" else "better" if c and c.direction == "better" else "none"
        level = min(4, math.ceil(min(share, 1.0) * 4)) if c and abs(c.share) >= 0.02 else 0
        classes = ["node", f"tone-{tone}", f"shade-{level}"]
        if n == r.target:
            classes.append("target")
        if c is not None and c.significant and n != r.target:
            classes.append("significant")
        lines = graph_layout.wrap(r.title(n), 20, 2)
        text = "".join(f'<tspan x="{x + box_w / 2:.1f}" dy="{0 if i == 0 else 14}">{escape(line)}</tspan>'
                       for i, line in enumerate(lines))
        ty = y + box_h / 2 + (4 if len(lines) == 1 else -3)
        info = f"{r.title(n)}" + (f": {wording.pct(c.share)} of the change" if c else "")
        parts.append(f'<g class="{" ".join(classes)}" data-node="{escape(n)}"><rect x="{x}" y="{y}" width="{box_w}" '
                     f'height="{box_h}" rx="6"/><text x="{x + box_w / 2:.1f}" y="{ty:.1f}" text-anchor="middle">'
                     f'{text}</text><title>{escape(info)}</title></g>')
        if c is not None and notable(c.share):
            desc.append(f"{r.title(n)} ({wording.pct(c.share)})")
    title = f"Causal graph of {r.title(r.target)}"
    about = (f"{len(boxes)} nodes and {len(r.edges)} edges; the target is {r.title(r.target)}. "
               + ("Shaded by share of the change: " + ", ".join(desc) + ". " if desc else "")
               + f"{len(hot)} edge(s) on paths from the main causes to the target are highlighted.")
    svg = _svg_open(width, height, title, about, "graph", ident) + "".join(parts) + "</svg>"
    if width > max_width:  # wide graphs scroll inside their figure instead of shrinking to unreadable
        svg = svg.replace(f'width="{width:.0f}"', f'width="{width:.0f}" style="min-width:{width:.0f}px"', 1)
    return Markup(svg)
