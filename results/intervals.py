"""What an interval says: the one home of "the interval excludes zero" and "two intervals disagree".

An interval is a ``(low, high)`` pair, or ``None`` (no interval was computed); a missing or NaN
end means nothing is known, so such an interval neither excludes zero nor disagrees with another.
Every result type, sentence and engine step that asks these questions imports them from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Interval = tuple[float, float] | Sequence[float | None] | None


def _ends(interval: Interval) -> tuple[float, float] | None:
    if interval is None or len(interval) != 2:
        return None
    lo, hi = interval
    if lo is None or hi is None:
        return None
    lo, hi = float(lo), float(hi)
    if math.isnan(lo) or math.isnan(hi):
        return None
    return (lo, hi) if lo <= hi else (hi, lo)


def excludes_zero(interval: Interval) -> bool:
    """True when the whole interval lies on one side of zero (the effect is surely not nil)."""
    ends = _ends(interval)
    return ends is not None and (ends[0] > 0 or ends[1] < 0)


def side(interval: Interval) -> int:
    """+1 when the interval lies above zero, -1 below, 0 when it includes zero (or is unknown)."""
    ends = _ends(interval)
    if ends is None:
        return 0
    return 1 if ends[0] > 0 else -1 if ends[1] < 0 else 0


def disagree(a: Interval, b: Interval) -> bool:
    """True when two intervals do not overlap: the two estimates cannot both be right."""
    x, y = _ends(a), _ends(b)
    return x is not None and y is not None and (x[1] < y[0] or y[1] < x[0])


def contains(interval: Interval, value: float) -> bool:
    """True when ``value`` lies within the interval (ends included)."""
    ends = _ends(interval)
    return ends is not None and ends[0] <= value <= ends[1]
