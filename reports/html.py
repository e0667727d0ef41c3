"""The HTML report: one self-contained page (inline CSS and SVG, no external loads).

Rendered with Jinja2 with autoescape on, so commit messages, author names, label values and
node names stay text. The Content-Security-Policy forbids every external load.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from rca import __version__
from rca.engine.result import InvestigationResult, format_delta, format_value
from reports import charts


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["value"] = format_value
    env.filters["delta"] = format_delta
    env.filters["pct"] = lambda v: f"{v * 100:.0f}%"
    return env


def render_html(result: InvestigationResult) -> str:
    """The whole report page as a string."""
    unit = result.observed.unit
    marks: list[tuple[str, str]] = []
    if "baseline" in result.window:
        marks = [tuple(result.window["baseline"]), tuple(result.window["current"])]  # type: ignore[list-item]
    elif "at" in result.window:
        marks = [(result.window["at"], result.window.get("until", result.window["at"]))]
    target_points = result.series.get(result.target, [])
    evidence = [
        (node, charts.line_series(points, marks, f"{node} over time"))
        for node, points in result.series.items()
        if node != result.target
    ]
    return _env().get_template("report.html.j2").render(
        r=result,
        d=result.to_dict(),
        unit=unit,
        cause_chart=charts.cause_bars(result.causes, unit, {}),
        target_chart=charts.line_series(target_points, marks, f"{result.target} over time"),
        evidence=evidence,
        version=__version__,
    )
