"""The report's layout in a real browser at a desktop (1280 px) and a phone (420 px) width.

What a reader would notice and the markup alone cannot show: a chart wider than the page (the
causal graph's target cut off behind a scrollbar), a label cut short or running into the bars,
a node name spilling out of its box, text shrunk below a readable size when a chart is scaled
down to fit, a line drawn across weeks without data. Each check measures the rendered page
through CDP (``getBoundingClientRect``, ``scrollWidth`` against ``clientWidth``, computed font
sizes) and saves a screenshot under ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reports import render
from results.wording import cause_title, negligible
from tests.report_results import graph_result, hostile_result, long_names_result, make_result, micro_edges

pytest_plugins = ["tests.reports_fixtures"]  # its fixtures: engine_result, browser, artifacts

WIDTHS = (1280, 420)
MIN_FONT_PX = 9.0  # no chart text is drawn smaller than this on screen


def _micro():
    edges, target = micro_edges()
    return graph_result(edges, target, hot=("svc12_latency_seconds", "svc30_latency_seconds"))


CASES = {
    "micro40": _micro,
    "long-names": long_names_result,
    "hostile": hostile_result,
}


def _open(browser, tmp_path: Path, name: str, html: str, width: int) -> str:
    path = tmp_path / f"{name}-{width}.html"
    path.write_text(html, encoding="utf-8")
    load, session = browser.load(path)
    assert load.console_errors == [], load.console_errors
    assert load.requests == [load.url]
    browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": width < 600}, session=session)
    return session


def _shot(browser, session: str, selector: str, out: Path) -> None:
    """A screenshot of the first visible element matching ``selector`` (with a small margin)."""
    box = browser.evaluate(session, f"""(() => {{
      const e = [...document.querySelectorAll({selector!r})].find(e => e.getClientRects().length > 0);
      const r = e.getBoundingClientRect();
      return {{x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}};
    }})()""")
    shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
        "x": max(0, box["x"] - 8), "y": max(0, box["y"] - 8), "width": box["w"] + 16, "height": box["h"] + 16,
        "scale": 1}}, session=session)
    out.write_bytes(base64.b64decode(shot["data"]))


# Measures every visible chart of a kind: the page's and the figure's overflow, the chart's box
# against its figure's, every text's rendered font size and box, and for the graph each node's
# text against its box.
LAYOUT_JS = """((kind) => {
  const doc = document.documentElement;
  const out = {pageOverflow: doc.scrollWidth - doc.clientWidth, viewport: innerWidth, charts: []};
  const rect = e => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const lines = t => t ? (t.querySelectorAll('tspan').length ? [...t.querySelectorAll('tspan')].map(s => s.textContent)
                                                              : [t.textContent]) : [];
  for (const s of document.querySelectorAll('svg.chart-' + kind)) {
    if (!s.getClientRects().length) continue;
    const fig = s.closest('figure');
    const scale = s.getBoundingClientRect().width / s.viewBox.baseVal.width;
    const texts = [...s.querySelectorAll('text')].map(t => ({
      text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale, box: rect(t)}));
    const nodes = [...s.querySelectorAll('g.node')].map(g => ({
      node: g.dataset.node, target: g.classList.contains('target'), box: rect(g.querySelector('rect')),
      text: rect(g.querySelector('text')), lines: lines(g.querySelector('text'))}));
    const rows = [...s.querySelectorAll('g.cause, g.row')].map(g => {
      const marks = [...g.querySelectorAll('rect, circle, line')].map(rect);
      return {node: g.dataset.node || g.dataset.key, lines: lines(g.querySelector('text.label')),
              label: rect(g.querySelector('text.label')), value: rect(g.querySelector('text.value')),
              marksLeft: Math.min(...marks.map(m => m.l)), marksTop: Math.min(...marks.map(m => m.t))};
    });
    out.charts.push({box: rect(s), figure: fig ? rect(fig) : null,
                     figureOverflow: fig ? fig.scrollWidth - fig.clientWidth : 0, scale, texts, nodes, rows,
                     paths: [...s.querySelectorAll('path.series')].map(p => p.getAttribute('d')),
                     desc: s.querySelector('desc').textContent});
  }
  return out;
})"""


def _layout(browser, session: str, kind: str) -> dict:
    return browser.evaluate(session, f"{LAYOUT_JS}({kind!r})")


def _check_fits(got: dict) -> None:
    assert got["pageOverflow"] <= 1, f"the page scrolls sideways by {got['pageOverflow']} px"
    assert got["charts"], "no chart of this kind is on screen"
    for c in got["charts"]:
        assert c["figureOverflow"] <= 1, f"the figure scrolls sideways by {c['figureOverflow']} px"
        if c["figure"]:
            assert c["box"]["l"] >= c["figure"]["l"] - 1 and c["box"]["r"] <= c["figure"]["r"] + 1, c["box"]
        assert c["box"]["r"] <= got["viewport"] + 1
        small = [(t["text"], round(t["px"], 1)) for t in c["texts"] if t["text"].strip() and t["px"] < MIN_FONT_PX]
        assert not small, f"text drawn below {MIN_FONT_PX} px: {small[:5]}"
        outside = [t["text"] for t in c["texts"] if t["text"].strip() and
                   (t["box"]["l"] < c["box"]["l"] - 1 or t["box"]["r"] > c["box"]["r"] + 1)]
        assert not outside, f"text running out of the chart: {outside[:5]}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["demo", *CASES])
def test_causal_graph_fits_the_page_with_readable_labels(browser, engine_result, tmp_path, artifacts, case,
                                                         width) -> None:
    """Item 1: the whole graph, target included, inside the page at both widths; no node's text
    outside its box; nothing smaller than the minimum font size."""
    r = engine_result if case == "demo" else CASES[case]()
    session = _open(browser, tmp_path, case, render(r, "html"), width)
    got = _layout(browser, session, "graph")
    _check_fits(got)
    for c in got["charts"]:
        target = [n for n in c["nodes"] if n["target"]]
        assert len(target) == 1
        box = target[0]["box"]
        assert box["l"] >= 0 and box["r"] <= min(got["viewport"], c["box"]["r"] + 1), "the target is cut off"
        for n in c["nodes"]:
            t, b = n["text"], n["box"]
            assert b["l"] - 1 <= t["l"] and t["r"] <= b["r"] + 1 and b["t"] - 1 <= t["t"] and t["b"] <= b["b"] + 1, \
                f"{n['lines']} spills out of its box"
    _shot(browser, session, "figure.fig-graph", artifacts / f"graph-{case}-{width}.png")


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["demo", "hostile", "long-names"])
def test_cause_bars_show_whole_labels_clear_of_the_bars(browser, engine_result, tmp_path, artifacts, case,
                                                        width) -> None:
    """Item 2: every cause's label whole (wrapped, never cut with '…'), left of its bar (wide) or
    above it (compact), and the whole chart readable inside the page."""
    r = {"demo": engine_result, "hostile": hostile_result(), "long-names": long_names_result()}[case]
    session = _open(browser, tmp_path, f"causes-{case}", render(r, "html"), width)
    got = _layout(browser, session, "causes")
    _check_fits(got)
    (chart,) = got["charts"]
    titles = {c.node: cause_title(r, c.node) for c in r.causes}
    # Causes that contributed ±0 are said in one sentence above the chart, not drawn as empty bars.
    drawn = [c for c in r.causes if not negligible(r, c)]
    assert [row["node"] for row in chart["rows"]] == [c.node for c in sorted(drawn, key=lambda c: not c.significant)]
    for row in chart["rows"]:
        shown = "".join(row["lines"])
        assert "…" not in shown and _squash(shown) == _squash(titles[row["node"]]), (shown, titles[row["node"]])
        label = row["label"]
        assert label["l"] >= chart["box"]["l"] - 1
        if width > 760:  # beside the bar, in the label column
            assert label["r"] <= row["marksLeft"] + 1, f"{shown!r} runs into its bar"
        else:  # above the bar
            assert label["b"] <= row["marksTop"] + 1, f"{shown!r} runs into its bar"
            assert label["r"] <= row["value"]["l"] + 1 or label["t"] >= row["value"]["b"] - 1, "label under the value"
    if case == "demo":
        target = next(row for row in chart["rows"] if row["node"] == r.target)
        assert _squash("".join(target["lines"])) == _squash(f"{r.title(r.target)} itself (not explained by its "
                                                            "modelled causes)")
    _shot(browser, session, "figure.fig-causes", artifacts / f"causes-{case}-{width}.png")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_chart_is_readable_and_inside_the_page(browser, engine_result, tmp_path, artifacts, width) -> None:
    """Item 6: on a phone the charts used to be scaled to half size (5 px text); now a compact
    drawing is shown there, and at both widths no chart text is under the minimum size."""
    session = _open(browser, tmp_path, "all", render(engine_result, "html"), width)
    for kind in ("series", "causes", "graph"):
        _check_fits(_layout(browser, session, kind))
    doc = browser.evaluate(session, "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert doc[0] <= doc[1] + 1
    # The tables of an investigation fit too (their figures keep number and unit together).
    tables = browser.evaluate(session, """[...document.querySelectorAll('article.investigation .tw')]
      .map(d => d.scrollWidth - d.clientWidth)""")
    assert max(tables) <= 1, tables
    shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
    (artifacts / f"report-demo-{width}.png").write_bytes(base64.b64decode(shot["data"]))


def _weeks(n: int, start: str) -> list[str]:
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [(t0 + timedelta(weeks=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]


def gappy_result():
    """``make_result`` with one week's row missing from the target's series, long before the windows."""
    r = make_result()
    series = dict(r.series)
    series[r.target] = [p for i, p in enumerate(series[r.target]) if i != 20]  # 2025-05-26 has no row
    return replace(r, series=series)


def test_a_missing_week_breaks_the_line_in_the_browser(browser, tmp_path, artifacts) -> None:
    """Item 5: a series with a missing week renders as two path segments (two 'M' commands), and
    the chart's description names the gap."""
    session = _open(browser, tmp_path, "gap", render(gappy_result(), "html"), 1280)
    got = _layout(browser, session, "series")
    target = got["charts"][0]
    assert len(re.findall(r"M", target["paths"][0])) == 2
    assert "no data: after 2025-05-19 until 2025-06-02" in target["desc"]
    _shot(browser, session, "figure.fig-target", artifacts / "series-gap-1280.png")
