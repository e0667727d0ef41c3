"""What the report's figures and headings say, checked in the markup (HTML and Markdown).

- a heading is never followed by nothing (an empty "edges on paths" list, an empty method line);
- every figure names what it was computed on: the points its chart shows, and apart from them
  the rows the model was fitted on and the windows it compared; a chart marks the fit window;
- a gap in the data is a gap in the line, and the chart's description says where.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reports import render
from tests.report_results import make_result
from tests.test_reports_layout import gappy_result

pytest_plugins = ["tests.reports_fixtures"]  # its fixtures: engine_result, browser, artifacts


def no_path_result():
    """No upstream cause is significant or carries a notable share: no edge leads from a main cause."""
    r = make_result()
    causes = tuple(c if c.node == r.target else replace(c, significant=False, share=0.01, contribution=0.0008)
                   for c in r.causes)
    return replace(r, causes=causes)


def sparse_result():
    """No counterfactual, caveat, timing or version: the sections that can be empty are."""
    return replace(make_result(), counterfactuals=(), caveats=(), timings_s={}, versions={})


def _bare():
    r = make_result()
    keys = {"target", "kind", "scope", "window", "observed", "regression", "causes", "unexplained", "counterfactuals",
            "explanation", "caveats", "model", "timings_s"}
    return type(r)(**{k: getattr(r, k) for k in keys})


RESULTS = {"full": make_result, "no-path": no_path_result, "sparse": sparse_result, "bare": _bare,
           "anomaly": lambda: make_result(kind="anomaly")}


def test_no_highlighted_path_is_said_in_words() -> None:
    """Item 3: 'edges on paths' followed by an empty list (or '- none') becomes one sentence."""
    r = no_path_result()
    md = render(r, "md")
    graph = md[md.index("## The causal graph"):md.index("## Evidence per cause")]
    assert "edges on paths" not in graph and "- none" not in graph
    assert "none of the graph's edges leads from a significant or notable cause to bug fix commit ratio" in graph
    html = render(r, "html")
    figure = html[html.index('<figure class="fig-graph">'):html.index("</figure>", html.index('<figure class="fig-graph">'))]
    assert "paths from the main causes to the target" not in figure  # no legend entry for what is not drawn
    assert "None of the graph's edges leads from a significant or notable cause to bug fix commit ratio" in figure
    assert 'class="edge hot"' not in figure
    # With a path, the list is there and the sentence is not.
    full = render(make_result(), "md")
    assert "edges on paths from the main causes to bug fix commit ratio:\n\n- " in full
    assert "none of the graph's edges" not in full


@pytest.mark.parametrize("name", RESULTS)
def test_no_markdown_heading_is_followed_by_nothing(name: str) -> None:
    lines = render(RESULTS[name](), "md").split("\n")
    for i, line in enumerate(lines):
        rest = [x for x in lines[i + 1:] if x.strip()]
        if line.startswith("#"):
            assert rest and not rest[0].startswith("#"), f"heading {line!r} is followed by nothing"
        if line.rstrip().endswith(":") and not line.startswith("|"):
            assert rest and rest[0].startswith("- "), f"{line!r} introduces a list that is not there"
    assert "Timings: ." not in "\n".join(lines) and "Versions: ." not in "\n".join(lines)


@pytest.mark.parametrize("name", RESULTS)
def test_no_html_heading_is_followed_by_nothing(name: str) -> None:
    html = render(RESULTS[name](), "html")
    body = html[html.index("<body>"):]
    for m in re.finditer(r"<(h[1-4])[^>]*>.*?</\1>\s*(<[^>]+>)", body, re.S):
        assert not re.match(r"</?(h[1-4]|article|section|div)\b", m.group(2)) or m.group(2).startswith("<div class="), \
            f"{m.group(0)[:80]!r} is followed by nothing"
    assert not re.search(r"<dt>[^<]*</dt>\s*<dd>\s*</dd>", body), "a method line without a value"
    assert not re.search(r"<(ul|ol)[^>]*>\s*</\1>", body), "an empty list"
    assert not re.search(r"<figcaption>\s*</figcaption>", body)


def _weeks(n: int, start: str) -> list[str]:
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [(t0 + timedelta(weeks=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]


def long_history_result():
    """572 weekly points (2015 to 2025) while the model was fitted on the baseline window's 11 rows."""
    r = make_result()
    stamps = _weeks(572, "2015-01-05")
    series = {node: [(t, points[i % len(points)][1]) for i, t in enumerate(stamps)] for node, points in r.series.items()}
    window = {"baseline": [stamps[-24], stamps[-14]], "current": [stamps[-13], stamps[-1]]}
    return replace(r, series=series, window=window, model=replace(r.model, rows=11),
                   fit_window=(stamps[-24], stamps[-14]), current_rows=13)


def test_every_figure_names_what_it_was_computed_on() -> None:
    """Item 4: 'Evidence: 572 points 2011-2026' while the model was fitted on 11 rows. Now each
    figure names its chart's points and, apart from them, the model's rows and the windows."""
    r = long_history_result()
    fit = "fitted on the baseline window&#39;s 11 rows (dated 2025-07-07 to 2025-09-15)"
    compared = "compares the current window, 2025-09-22 to 2025-12-15 (13 rows)"
    html = render(r, "html")
    figures = re.findall(r"<figure class=\"(fig-[a-z]+)[^\"]*\">(.*?)</figure>", html, re.S)
    kinds = [k for k, _ in figures]
    assert kinds.count("fig-target") == 1 and kinds.count("fig-causes") == 1 and kinds.count("fig-evidence") == 2
    for kind, body in figures:
        caption = re.search(r"<figcaption>(.*?)</figcaption>", body, re.S).group(1)
        if kind == "fig-graph":
            continue  # the graph is the model's assumptions, not computed from rows
        if kind in {"fig-target", "fig-causes"}:
            assert fit in caption and compared in caption, (kind, caption)
        else:
            assert "by the model fitted on 11 rows" in caption, caption
        if kind != "fig-causes":  # a chart over time: its own span and point count
            assert "The chart shows 47 points (one per week) from 2025-01-27 to 2025-12-15" in caption, caption
            assert "572" not in caption
    # The chart's text alternative says both too, and the baseline is labelled as the fit window.
    desc = re.search(r'<desc id="inv0-target-d">(.*?)</desc>', html).group(1)
    assert "47 points (one per week)" in desc and "fitted on the baseline window&#39;s 11 rows" in desc
    assert ">baseline (fit)</text>" in html
    assert "on 11 rows (2025-07-07 to 2025-09-15)" in html  # the method
    md = render(r, "md")
    assert "572 points" not in md
    assert "the series: 47 points (one per week) from 2025-01-27 to 2025-12-15" in md
    assert md.count("fitted on the baseline window's 11 rows (dated 2025-07-07 to 2025-09-15)") >= 2
    assert "model on 11 rows (2025-07-07 to 2025-09-15)" in md


def test_an_anomaly_chart_marks_its_fit_window() -> None:
    """The anomaly chart shows ~40 rows before the point: a shorter fit window inside it is shaded
    and labelled; a fit window reaching back before the chart is named in the caption."""
    r = make_result(kind="anomaly")
    stamps = [t for t, _ in r.series[r.target]]
    short = replace(r, fit_window=(stamps[30], stamps[50]), model=replace(r.model, rows=21), current_rows=1)
    html = render(short, "html")
    chart = html[html.index('<svg'):html.index("</svg>")]
    assert 'class="c-base-fill"' in chart and ">fit window</text>" in chart
    assert "the model&#39;s fit window" in html  # the legend
    assert "fitted on 21 rows (dated 2025-08-04 to 2025-12-22) and compares the anomaly at 2025-12-29 (1 row)" in html
    assert "starts before it" not in html
    long = replace(r, fit_window=(stamps[0], stamps[50]), model=replace(r.model, rows=51))
    html = render(long, "html")
    assert "the model&#39;s fit window starts before it, on 2025-01-06" in html


def test_engine_result_carries_its_fit_window_and_current_rows(engine_result) -> None:
    r = engine_result
    first, last = r.fit_window
    (b0, b1), (c0, c1) = r.window["baseline"], r.window["current"]
    assert b0 <= first <= last <= b1
    target = r.series[r.target]
    assert r.model.rows == sum(first <= t <= last for t, _ in target)
    assert r.current_rows == sum(c0 <= t <= c1 for t, _ in target)
    assert "fit_window" not in r.to_dict() and "current_rows" not in r.to_dict()  # outside the JSON contract


def test_a_gap_breaks_the_line_and_the_description_says_where() -> None:
    """Item 5 in the markup: a missing row and a missing value each start a new segment; a point
    alone between two gaps is drawn as a dot; the description names each gap."""
    r = gappy_result()
    html = render(r, "html")
    path = re.search(r'<svg[^>]*data-chart="series".*?<path class="series" d="([^"]+)"', html, re.S).group(1)
    assert path.count("M") == 2
    assert "The line breaks where there is no data: after 2025-05-19 until 2025-06-02." in html
    series = dict(r.series)
    points = list(series[r.target])
    points[30] = (points[30][0], None)  # a row without a value
    points[32] = (points[32][0], None)  # and another, leaving row 31 alone between them
    holed = replace(r, series={**series, r.target: points})
    html = render(holed, "html")
    svg = re.search(r'<svg[^>]*data-chart="series".*?</svg>', html, re.S).group(0)
    assert re.search(r'<path class="series" d="([^"]+)"', svg).group(1).count("M") == 4
    assert svg.count('class="series-dot"') == 1
    assert "after 2025-08-04 until 2025-08-18; after 2025-08-18 until 2025-09-01" in svg
