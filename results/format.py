"""How numbers read in words: a value in its unit, a signed difference, a share worth naming.

One home for the formatting rules every rendering (the engine's explanation, HTML, Markdown,
chat) shares, so "19%" and "+2.1 pp" read the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def node_title(titles: Mapping[str, str], node: str) -> str:
    """How a node is named in words: the label its graph gives it, else its name with spaces for underscores."""
    return titles.get(node) or node.replace("_", " ")


def json_number(x: float | None, digits: int = 6, *, significant: bool = False) -> float | None:
    """A number as the JSON results carry it: ``None`` for NaN and infinity, rounded to ``digits``
    decimals (or, ``significant``, to that many significant digits), never ``-0.0``."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    if x == 0:
        return 0.0
    return float(f"{x:.{digits}g}") if significant else round(x, digits)


NOTABLE_SHARE = 0.05
"""A cause carrying less than this share of the change is not named on its own in words."""


def notable(share: float) -> bool:
    """Whether a cause's share of the change is large enough to name it."""
    return abs(share) >= NOTABLE_SHARE


WHOLE_UNITS = frozenset({"lines", "bytes", "count"})
"""Units of whole things: their averages read as whole numbers from 10 up (24 lines, not 24.42 lines)."""


def plural(n: float, word: str, many: str | None = None) -> str:
    """'1 commit', '2 commits', '0 commits' (``many``: an irregular plural)."""
    return f"{n:,g} {word if n == 1 else many or word + 's'}"


def format_value(value: float | None, unit: str) -> str:
    """A number as a person would write it for its unit (19%, 3.2 h, 1,204 lines, 1 line)."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "n/a"
    v = float(value)
    if unit == "ratio":
        return f"{v * 100:.1f}%" if abs(v) < 0.1 else f"{v * 100:.0f}%"
    if unit == "percent":
        return f"{v:.1f}%"
    if unit == "seconds":
        a = abs(v)
        if a >= 86400:
            return f"{v / 86400:.1f} d"
        if a >= 3600:
            return f"{v / 3600:.1f} h"
        if a >= 60:
            return f"{v / 60:.1f} min"
        return f"{v:.1f} s"
    a = abs(v)
    if unit in WHOLE_UNITS:  # counted things: whole from 10 up, one decimal below (an average of 1.5 files)
        text = f"{v:,.0f}" if a >= 9.95 else f"{v:.1f}".rstrip("0").rstrip(".") if a >= 0.95 else f"{v:.2g}"
    else:
        text = f"{v:,.0f}" if a >= 100 else f"{v:.2f}".rstrip("0").rstrip(".") if a >= 1 else f"{v:.3g}"
    if unit in {"lines", "bytes"}:
        return f"{text} {unit[:-1] if text == '1' else unit}"
    return text


def format_delta(value: float, unit: str) -> str:
    """A signed difference; ratios read as percentage points."""
    sign = "+" if value > 0 else "-" if value < 0 else "±"
    if unit == "ratio":
        return f"{sign}{abs(value) * 100:.1f} pp"
    return sign + format_value(abs(value), unit)
