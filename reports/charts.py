"""Charts as inline SVG strings, computed from result objects only (no statistics here).

Every chart carries a ``<title>`` and ``aria-label`` as its text alternative. Values that come
from data are escaped by the caller's template (``Markup`` is only given to SVG we build).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from rca.engine.result import Cause, format_delta

WORSE = "#d55e00"  # Okabe-Ito vermillion
BETTER = "#0072b2"  # Okabe-Ito blue
MUTED = "#999999"


def cause_bars(causes: tuple[Cause, ...], unit: str, titles: dict[str, str], width: int = 640) -> Markup:
    """Horizontal bars of each cause's contribution with its interval as a whisker."""
    rows = list(causes)[:10]
    if not rows:
        return Markup("")
    bar_h, gap, label_w = 22, 8, 220
    height = len(rows) * (bar_h + gap) + 20
    extent = max(max(abs(c.interval[0]), abs(c.interval[1]), abs(c.contribution)) for c in rows) or 1.0
    plot_w = width - label_w - 90
    zero = label_w + plot_w / 2

    def x(v: float) -> float:
        return zero + (v / extent) * (plot_w / 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Contribution of each cause to the change" class="chart">',
        "<title>Contribution of each cause to the change, with intervals</title>",
        f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 10}" stroke="currentColor" stroke-width="1"/>',
    ]
    for i, c in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        colour = MUTED if not c.significant else (WORSE if c.direction == "worse" else BETTER)
        left, right = sorted((x(0), x(c.contribution)))
        label = escape(titles.get(c.node, c.node))
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" font-size="13" '
                     f'fill="currentColor">{label}</text>')
        parts.append(f'<rect x="{left:.1f}" y="{y}" width="{max(right - left, 1):.1f}" height="{bar_h}" '
                     f'fill="{colour}"><title>{label}: {escape(format_delta(c.contribution, unit))}</title></rect>')
        lo, hi = x(c.interval[0]), x(c.interval[1])
        mid = y + bar_h / 2
        parts.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="currentColor" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - 4}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" font-size="12" '
                     f'fill="currentColor">{escape(format_delta(c.contribution, unit))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_series(points: list[tuple[str, float]], marks: list[tuple[str, str]], title: str,
                width: int = 640, height: int = 180) -> Markup:
    """A simple line chart of ``(iso time, value)`` points; ``marks`` shade ``[start, end]`` ranges."""
    if len(points) < 2:
        return Markup("")
    xs = list(range(len(points)))
    ys = [v for _, v in points]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    pad = 24

    def px(i: float) -> float:
        return pad + i * (width - 2 * pad) / (len(xs) - 1)

    def py(v: float) -> float:
        return height - pad - (v - lo) / span * (height - 2 * pad)

    stamps = [t for t, _ in points]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}" class="chart">',
             f"<title>{escape(title)}</title>"]
    for start, end in marks:
        idx = [i for i, t in enumerate(stamps) if start <= t <= end]
        if idx:
            x0, x1 = px(idx[0]), px(idx[-1])
            parts.append(f'<rect x="{x0 - 2:.1f}" y="{pad / 2}" width="{max(x1 - x0, 2) + 4:.1f}" '
                         f'height="{height - pad * 1.5}" fill="{MUTED}" fill-opacity="0.2"/>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(i):.1f},{py(v):.1f}" for i, v in zip(xs, ys, strict=True))
    parts.append(f'<path d="{path}" fill="none" stroke="{BETTER}" stroke-width="1.8"/>')
    parts.append(f'<text x="{pad}" y="{height - 4}" font-size="11" fill="currentColor">{escape(stamps[0][:10])}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 4}" font-size="11" text-anchor="end" '
                 f'fill="currentColor">{escape(stamps[-1][:10])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
