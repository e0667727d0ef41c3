"""The causal graph as inline SVG, folded to fit the page's width.

The layered layout of :mod:`reports.graph_layout` reads left to right, one column per layer. A
graph with more columns than fit the width is folded like a line of text: the columns are
cut into bands of at most ``per_band`` columns, drawn one below the other, and an edge from
the last column of a band to the first of the next leaves on the right, runs back along the
gap under its band and comes in on the left. So the drawing is never wider than ``max_width``
and its text never has to shrink below its size: a 40-service graph becomes a few bands of
readable boxes instead of a strip 2,600 px wide. Labels are wrapped inside their boxes by the
estimated width of their text (:mod:`reports.textfit`), cut with '…' after three lines; the
full name is in each box's tooltip and in the chart's description.

Two sizes are drawn for the page: ``wide`` (up to the body's width) and ``compact`` (two
columns a band, for phones); the page's stylesheet shows one of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from reports import graph_layout, svg, textfit
from results import InvestigationResult, notable, wording
from results.format import node_title

BOX_W, BOX_H, ROW_GAP = 150, 48, 18
FONT, LINE, PAD = 11.5, 13.0, 6.0  # node text: size and line height in px, inner padding of a box
MAX_LINES = 3
WIDE_GAP, COMPACT_GAP = 56, 44  # between columns
COMPACT_BAND = 2  # columns a band in the compact drawing
MARGIN = 10
LANE = 4.0  # spacing of parallel edges in the gutters and gaps between bands
MAX_LANES = 6


@dataclass(frozen=True)
class Drawing:
    svg: Markup
    bands: int  # 1 when the graph fits in one band
    width: float


def highlighted(r: InvestigationResult) -> set[tuple[str, str]]:
    """The edges on a path from a main cause (significant, or a notable share of the change) to the
    target: the ones the drawing highlights and the Markdown lists."""
    drivers = {c.node for c in wording.upstream(r) if c.significant or notable(c.share)}
    return graph_layout.path_edges([(s, t) for s, t, _ in r.edges], drivers, r.target)


def _per_band(cols: int, max_width: float, col_gap: float) -> int:
    """Columns per band: as many as fit ``max_width`` (with room for the fold's gutters), balanced."""
    fit = max(1, int((max_width - 2 * (MARGIN + 8 + LANE * MAX_LANES) + col_gap) // (BOX_W + col_gap)))
    if cols * (BOX_W + col_gap) - col_gap + 2 * MARGIN <= max_width:
        return cols
    bands = math.ceil(cols / fit)
    return math.ceil(cols / bands)


def _rounded(points: list[tuple[float, float]], radius: float = 6.0) -> str:
    """An orthogonal polyline through ``points`` (after the first) with rounded corners, as path commands."""
    d = ""
    for i in range(1, len(points)):
        q = points[i]
        if i == len(points) - 1:
            d += f" L{q[0]:.1f},{q[1]:.1f}"
            continue
        p, n = points[i - 1], points[i + 1]
        # Stop short of the corner, then curve round it towards the next point.
        def towards(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = math.hypot(dx, dy) or 1.0
            k = min(radius, length / 2) / length
            return a[0] + dx * k, a[1] + dy * k

        s, e = towards(q, p), towards(q, n)
        d += f" L{s[0]:.1f},{s[1]:.1f} Q{q[0]:.1f},{q[1]:.1f} {e[0]:.1f},{e[1]:.1f}"
    return d


@dataclass(frozen=True)
class Picture:
    """What a drawing shows, whatever question it belongs to: the edges, the labels, the target, how each
    node is marked and which edges are highlighted."""

    edges: tuple[tuple[str, str, int], ...]
    titles: dict[str, str]
    target: str
    marks: dict[str, tuple[str, int, bool]]  # node -> (tone: worse/better/none, shade 0-4, bold border)
    hot: set[tuple[str, str]]
    info: dict[str, str]  # node -> tooltip text
    title: str
    about: str  # the drawing's description, before the line about folding
    unit: str = ""  # the graph's bucket (week, day...): a same-bucket edge beside a lagged one says "same week"

    def label(self, node: str) -> str:
        return node_title(self.titles, node)


def picture_of(r: InvestigationResult) -> Picture:
    """An investigation's graph: nodes shaded by their share of the change, paths from the main causes hot."""
    hot = highlighted(r)
    marks, info, desc = {}, {}, []
    for c in r.causes:
        tone = "worse" if c.direction == "worse" else "better" if c.direction == "better" else "none"
        level = min(4, math.ceil(min(abs(c.share), 1.0) * 4)) if abs(c.share) >= 0.02 else 0
        marks[c.node] = (tone, level, c.significant and c.node != r.target)
        info[c.node] = f"{r.title(c.node)}: {wording.pct(c.share)} of the change"
        if notable(c.share):
            desc.append(f"{r.title(c.node)} ({wording.pct(c.share)})")
    nodes = set(r.titles) | {n for e in r.edges for n in e[:2]}
    about = (f"{len(nodes)} nodes and {len(r.edges)} edges; the target is {r.title(r.target)}. "
             + ("Shaded by share of the change: " + ", ".join(desc) + ". " if desc else "")
             + (f"{len(hot)} edge(s) on paths from the main causes to the target are highlighted."
                if hot else "No edge leads from a main cause to the target."))
    return Picture(r.edges, dict(r.titles), r.target, marks, hot, info, f"Causal graph of {r.title(r.target)}", about,
                   r.graph_unit)


def paths_picture(edges: tuple[tuple[str, str, int], ...], titles: dict[str, str], sources: list[str],
                  target: str, what: str) -> Picture:
    """A graph with the paths from ``sources`` (a treatment, levers, held nodes) to ``target`` marked:
    the sources with a bold border, the target dashed, the edges on those paths hot."""
    hot = graph_layout.path_edges([(s, t) for s, t, _ in edges], set(sources), target)
    marks = {n: ("better", 1, True) for n in sources}
    label = {n: node_title(titles, n) for n in set(titles) | {m for e in edges for m in e[:2]}}
    nodes = set(label)
    names = ", ".join(label.get(n, n) for n in sources)
    about = (f"{len(nodes)} nodes and {len(edges)} edges; {what} {names} (bold border) and the target "
             f"{label.get(target, target)} (dashed border). "
             + (f"{len(hot)} edge(s) on paths from {names} to {label.get(target, target)} are highlighted."
                if hot else f"No edge leads from {names} to {label.get(target, target)}."))
    return Picture(edges, dict(titles), target, marks, hot, {n: f"{what}: {label.get(n, n)}" for n in sources},
                   f"Causal graph: paths from {names} to {label.get(target, target)}", about)


def draw(r: InvestigationResult | Picture, ident: str, *, max_width: float = 860, compact: bool = False) -> Drawing:
    """The graph drawn no wider than ``max_width`` (``compact``: two columns a band)."""
    pic = r if isinstance(r, Picture) else picture_of(r)
    if not pic.edges:
        return Drawing(Markup(""), 0, 0)
    col_gap = COMPACT_GAP if compact else WIDE_GAP
    pairs = [(s, t) for s, t, _ in pic.edges]
    layout = graph_layout.layered(pairs, list(pic.titles) or None)
    hot = pic.hot
    # A pair may have a same-bucket edge and a lagged one: drawn once, dashed only when every edge is lagged.
    lags: dict[tuple[str, str], list[int]] = {}
    for s_, t_, lag_ in pic.edges:
        lags.setdefault((s_, t_), []).append(lag_)
    layer = layout.layers
    cols = max(layer.values()) + 1 if layer else 1
    per = min(cols, COMPACT_BAND) if compact else _per_band(cols, max_width, col_gap)
    bands = math.ceil(cols / per)

    def band(n: str) -> int:
        return layer[n] // per

    def forward(s: str, t: str) -> bool:
        return layer[t] > layer[s]

    def pos_key(n: str) -> tuple[int, int]:  # a node's place: its band's row order, top to bottom
        return layout.rows[n], layer[n]

    # The hops of every edge (source, waypoints..., target) that cross from one band to the next,
    # each given a lane so parallel runs in the gutters and gaps stay apart.
    chains = {(s, t): [s, *layout.routes.get((s, t), []), t] for s, t in pairs if s != t and s in layer and t in layer}
    crossing: dict[int, list[tuple[str, str]]] = {}
    for (s, t), chain in chains.items():
        if not forward(s, t):
            continue
        for u, v in zip(chain, chain[1:], strict=False):
            if band(v) > band(u):
                crossing.setdefault(band(u), []).append((u, v))
    # Hops round a fold into the same node share a lane: one run through the gutters and the gap, fanning
    # out only at the node's side (parallel lanes into one node read as that many separate paths).
    into = {b: sorted({v for _, v in hops}, key=lambda v: pos_key(v)) for b, hops in crossing.items()}
    lanes_used = max((len(v) for v in into.values()), default=0)
    gutter = 8 + LANE * min(lanes_used, MAX_LANES) if bands > 1 else 0.0
    left = MARGIN + gutter
    band_rows = [0] * bands
    for n in layer:
        band_rows[band(n)] = max(band_rows[band(n)], layout.rows[n] + 1)
    band_top, y = [], 12.0
    for b in range(bands):
        band_top.append(y)
        y += band_rows[b] * (BOX_H + ROW_GAP) - ROW_GAP
        if b < bands - 1:
            y += 22 + LANE * min(len(into.get(b, [])), MAX_LANES)
    back_edges = any(not forward(s, t) for s, t in chains)
    height = y + (40 if back_edges else 12)
    band_width = per * (BOX_W + col_gap) - col_gap
    width = max(band_width + 2 * left, 200.0)
    pos = {n: (left + (layer[n] % per) * (BOX_W + col_gap), band_top[band(n)] + layout.rows[n] * (BOX_H + ROW_GAP))
           for n in layer}
    band_bottom = [band_top[b] + band_rows[b] * (BOX_H + ROW_GAP) - ROW_GAP for b in range(bands)]
    lane = {hop: into[b].index(hop[1]) % MAX_LANES for b, hops in crossing.items() for hop in hops}

    boxes = {n: xy for n, xy in pos.items() if not layout.is_waypoint(n)}
    # Spread each box's arrows over its side, ordered by where the other end is, so they don't pile up.
    fwd = [e for e in chains if forward(*e)]

    def first_hop(e: tuple[str, str]) -> tuple[float, float]:
        n = chains[e][1]
        return band(n), pos[n][1]

    def last_hop(e: tuple[str, str]) -> tuple[float, float]:
        n = chains[e][-2]
        return band(n), pos[n][1]

    out_port: dict[tuple[str, str], float] = {}
    in_port: dict[tuple[str, str], float] = {}
    for n in boxes:
        outs = sorted((e for e in fwd if e[0] == n), key=first_hop)
        ins = sorted((e for e in fwd if e[1] == n), key=last_hop)
        for group, ports in ((outs, out_port), (ins, in_port)):
            for i, e in enumerate(group):
                ports[e] = BOX_H * (0.5 if len(group) == 1 else 0.22 + 0.56 * i / (len(group) - 1))

    parts: list[str] = []
    for s, t in dict.fromkeys((s_, t_) for s_, t_, _ in pic.edges):
        if (s, t) not in chains:
            continue
        (sx, sy), (tx, ty) = pos[s], pos[t]
        if not forward(s, t):  # a lagged edge pointing back: loop under the boxes
            a, b = (sx + BOX_W / 2, sy + BOX_H), (tx + BOX_W / 2, ty + BOX_H)
            d = f"M{a[0]:.1f},{a[1]:.1f} C{a[0]:.1f},{a[1] + 40:.1f} {b[0]:.1f},{b[1] + 40:.1f} {b[0]:.1f},{b[1]:.1f}"
            tip, angle = b, -math.pi / 2
        else:
            chain = chains[(s, t)]
            start = (sx + BOX_W, sy + out_port.get((s, t), BOX_H / 2))
            d = f"M{start[0]:.1f},{start[1]:.1f}"
            p = start
            for u, v in zip(chain, chain[1:], strict=False):
                vx, vy = pos[v]
                q = (vx, vy + (in_port.get((s, t), BOX_H / 2) if v == t else BOX_H / 2))
                if band(v) > band(u):  # fold: out on the right, back along the gap, in on the left
                    k = lane.get((u, v), 0)
                    xr = left + band_width + 8 + LANE * k
                    yc = band_bottom[band(u)] + 12 + LANE * k
                    xl = left - 8 - LANE * k
                    d += _rounded([p, (xr, p[1]), (xr, yc), (xl, yc), (xl, q[1]), q])
                else:
                    mx = (p[0] + q[0]) / 2
                    d += f" C{mx:.1f},{p[1]:.1f} {mx:.1f},{q[1]:.1f} {q[0]:.1f},{q[1]:.1f}"
                p = q
                if v != t:  # straight across a waypoint's column
                    p = (vx + BOX_W, q[1])
                    d += f" L{p[0]:.1f},{p[1]:.1f}"
            tip, angle = p, 0.0
        cls = "edge hot" if (s, t) in hot else "edge"
        pair_lags = sorted(set(lags.get((s, t), [0])))
        dash = ' stroke-dasharray="5 3"' if 0 not in pair_lags else ""
        when = ("" if pair_lags == [0] else " (" + " and ".join(
            f"same {pic.unit or 'row'}" if k == 0 else f"lag {k}" for k in pair_lags)
            + ")")
        ax, ay = tip
        p1 = (ax - 9 * math.cos(angle) + 4.5 * math.sin(angle), ay - 9 * math.sin(angle) - 4.5 * math.cos(angle))
        p2 = (ax - 9 * math.cos(angle) - 4.5 * math.sin(angle), ay - 9 * math.sin(angle) + 4.5 * math.cos(angle))
        parts.append(f'<g class="{cls}" data-from="{escape(s)}" data-to="{escape(t)}"><path d="{d}"{dash}/>'
                     f'<polygon points="{ax:.1f},{ay:.1f} {p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f}"/>'
                     f'<title>{escape(pic.label(s))} → {escape(pic.label(t))}{escape(when)}</title></g>')
    for n, (x, y) in boxes.items():
        tone, level, strong = pic.marks.get(n, ("none", 0, False))
        classes = ["node", f"tone-{tone}", f"shade-{level}"]
        if n == pic.target:
            classes.append("target")
        if strong and n != pic.target:
            classes.append("significant")
        bold = level >= 3 and tone != "none"  # white bold text on a dark box
        lines = textfit.wrap(pic.label(n), BOX_W - 2 * PAD, FONT, MAX_LINES, bold=bold)
        first = y + BOX_H / 2 - (len(lines) - 1) * LINE / 2 + 4
        text = "".join(f'<tspan x="{x + BOX_W / 2:.1f}" y="{first + i * LINE:.1f}">{escape(line)}</tspan>'
                       for i, line in enumerate(lines))
        info = pic.info.get(n, pic.label(n))
        parts.append(f'<g class="{" ".join(classes)}" data-node="{escape(n)}"><rect x="{x:.1f}" y="{y:.1f}" '
                     f'width="{BOX_W}" height="{BOX_H}" rx="6"/><text text-anchor="middle">{text}</text>'
                     f'<title>{escape(info)}</title></g>')
    about = pic.about + (f" Drawn in {bands} rows of columns: an arrow leaving a row on the right continues at the left "
                       "of the next row." if bands > 1 else "")
    body = svg.open_tag(width, height, pic.title, about, "graph", ident) + "".join(parts) + "</svg>"
    return Drawing(Markup(body), bands, width)


def responsive(r: InvestigationResult | Picture, ident: str, max_width: float = 860) -> tuple[Markup, bool]:
    """The wide drawing and, when it is wider than a phone, the compact one, for the page to pick by
    the screen's width; and whether either is folded over several bands."""
    wide = draw(r, ident, max_width=max_width)
    compact = draw(r, f"{ident}-c", compact=True) if wide.width > svg.COMPACT_WIDTH else None
    return svg.responsive(wide.svg, compact.svg if compact else None), wide.bands > 1 or bool(compact and compact.bands > 1)
