"""Pieces shared by every chart: the ``<svg>`` element with its text alternative, and the pair
of drawings (wide and compact) a chart gives the page when one size cannot serve both a
desktop and a phone."""

from __future__ import annotations

from markupsafe import Markup, escape

# Below this viewport width (px) the page shows compact drawings (the stylesheet's breakpoint),
# which are at most about COMPACT_WIDTH wide so a phone shows them at full size or nearly.
BREAKPOINT = 760
COMPACT_WIDTH = 400


def open_tag(width: float, height: float, title: str, desc: str, kind: str, ident: str) -> str:
    """An ``<svg>`` scaled by its viewBox (the stylesheet caps its width at its container's), with
    ``role="img"`` and a ``<title>`` and ``<desc>`` as its accessible name and description."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart chart-{kind}" data-chart="{kind}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'aria-labelledby="{ident}-t {ident}-d">'
            f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>')


def responsive(wide: Markup, compact: Markup | None) -> Markup:
    """Both drawings, the stylesheet showing the compact one on narrow screens only (no script);
    just ``wide`` when there is no compact drawing. The hidden one is out of the accessibility tree."""
    if not wide or not compact:
        return wide
    return Markup(f'<div class="size-wide">{wide}</div><div class="size-compact">{compact}</div>')
