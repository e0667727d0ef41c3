"""What each figure was computed on, in words, for the HTML captions, the charts' descriptions
and the Markdown: the span and number of points a chart shows, and apart from that the rows
the model was fitted on and the windows it compared.

A chart may show more history than the model used (a change chart shows as much again before
the baseline; the series a result carries may go back years) or less (an anomaly chart shows
about 40 rows before the point while the fit may use every row before it), so a figure's
points and the model's rows are two different numbers and both are named. Nothing is computed
here but which of the result's points a chart shows; the counts come from the result.
"""

from __future__ import annotations

import math
from datetime import datetime

from results import InvestigationResult
from results.wording import day

HISTORY_BEFORE_ANOMALY = 40  # rows of history an anomaly chart shows before the point


def parse_time(ts: object) -> float | None:
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def shown(r: InvestigationResult, node: str) -> list[tuple[str, float | None]]:
    """The points of ``node``'s series a chart shows: the compared span plus as much history again
    before it (a change), or about 40 rows before the anomaly and the anomaly itself."""
    points = [(t, v) for t, v in r.series.get(node, []) if parse_time(t) is not None]
    window = r.window
    if "baseline" in window and "current" in window:
        start, end = parse_time(window["baseline"][0]), parse_time(window["current"][1])
    elif "at" in window:
        end = parse_time(window.get("until") or window["at"])
        start = parse_time(window["at"])
        if start is not None and end is not None:
            times = [parse_time(t) or 0.0 for t, _ in points if (parse_time(t) or 0.0) < start]
            start = times[-min(len(times), HISTORY_BEFORE_ANOMALY)] if times else start
    else:
        return points
    if start is None or end is None:
        return points
    begin = start - (end - start) if "baseline" in window else start
    kept = [(t, v) for t, v in points if (parse_time(t) or 0.0) >= begin]
    return kept if len(kept) >= 2 else points


def valued(points: list[tuple[str, float | None]]) -> list[tuple[str, float]]:
    return [(t, v) for t, v in points if v is not None and math.isfinite(v)]


def gaps(points: list[tuple[str, float | None]]) -> list[tuple[str, str]]:
    """Where a line of ``points`` must break: (the last time with a value, the next one) around
    each missing value or run of missing rows (a longer pause than the series' usual spacing)."""
    xs = [parse_time(t) or 0.0 for t, _ in points]
    steps = sorted(b - a for a, b in zip(xs, xs[1:], strict=False) if b > a)
    usual = steps[len(steps) // 2] if steps else 0.0
    out: list[tuple[str, str]] = []
    missing = False
    prev: tuple[str, float] | None = None
    for (t, v), x in zip(points, xs, strict=True):
        if v is None or not math.isfinite(v):
            missing = True
            continue
        if prev is not None and (missing or (usual and x - prev[1] > 1.5 * usual)):
            out.append((prev[0], t))
        prev, missing = (t, x), False
    return out


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _points(n: int, unit: str) -> str:
    return f"{n:,} point" + ("" if n == 1 else "s") + (f" (one per {unit})" if unit else "")


def span(r: InvestigationResult, node: str) -> str:
    """'52 points (one per week) from 2025-12-08 to 2026-11-29, with 1 gap' for ``node``'s chart, or ''."""
    points = shown(r, node)
    have = valued(points)
    if not have:
        return ""
    holes = gaps(points)
    return (f"{_points(len(have), r.graph_unit)} from {day(have[0][0])} to {day(have[-1][0])}"
            + (f", with {len(holes)} gap{'s' if len(holes) > 1 else ''} in the data" if holes else ""))


def fit_window(r: InvestigationResult) -> tuple[str, str] | None:
    """The first and last row the model was fitted on: the result's, else the baseline window a
    change is fitted on by construction; ``None`` when the result does not say."""
    if r.fit_window:
        return r.fit_window[0], r.fit_window[1]
    if "baseline" in r.window:
        return r.window["baseline"][0], r.window["baseline"][1]
    return None


def fit(r: InvestigationResult) -> str:
    """'The model was fitted on the baseline window's 13 rows (dated 2026-06-01 to 2026-08-24) and
    compares the current window, 2026-08-31 to 2026-11-29 (13 rows), with them.'"""
    w = r.window
    fw = fit_window(r)
    dated = f" (dated {day(fw[0])} to {day(fw[1])})" if fw else ""
    current = f" ({_rows(r.current_rows)})" if r.current_rows else ""
    if "baseline" in w and "current" in w:
        return (f"The model was fitted on the baseline window's {_rows(r.model.rows)}{dated} and compares the current "
                f"window, {day(w['current'][0])} to {day(w['current'][1])}{current}, with them.")
    if "at" in w:
        at = day(w["at"]) + (f" to {day(w['until'])}" if w.get("until") else "")
        return (f"The model was fitted on {_rows(r.model.rows)}{dated} and compares the anomaly at {at}{current} "
                "with what they lead it to expect.")
    return f"The model was fitted on {_rows(r.model.rows)}{dated}."


def chart(r: InvestigationResult, node: str) -> str:
    """What ``node``'s chart shows, and where the fit window lies when the chart does not hold all of it."""
    text = span(r, node)
    if not text:
        return ""
    out = f"The chart shows {text}"
    fw = fit_window(r)
    have = valued(shown(r, node))
    if fw and have and (parse_time(fw[0]) or 0.0) < (parse_time(have[0][0]) or 0.0):
        out += f"; the model's fit window starts before it, on {day(fw[0])}"
    return out + "."
