"""Reading the HTML report in real headless Chromium, on a desktop (1280 px) and a phone (390 px): layout
facts, not pixels. Every table fits the screen or scrolls inside a container that shows it scrolls; the
verdict badge is whole; an overview tells apart two questions about the same metric and scope; a window's
average label never sits on the line it labels; a cause section where nothing is explained says so in a
sentence instead of a block of ±0 rows. A screenshot of each page at each width goes to test-artifacts/."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import pytest

from reports import render
from results import Cause, Unexplained
from tests.report_results import make_result

pytest_plugins = ["tests.reports_fixtures"]  # engine_result, browser, artifacts

WIDTHS = (1280, 390)

LAYOUT_JS = """(() => {
  const vw = document.documentElement.clientWidth;
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const tables = [...document.querySelectorAll('table')].filter(shown).map(t => {
    const box = t.parentElement, cs = getComputedStyle(box);
    const cells = [...t.querySelectorAll('td')].filter(shown);
    return {
      cls: t.className, overflows: t.scrollWidth > box.clientWidth + 1,
      scrolls: box.classList.contains('tw') && ['auto', 'scroll'].includes(cs.overflowX),
      hint: cs.backgroundImage.includes('gradient'),
      outside: cells.filter(c => { const r = c.getBoundingClientRect(); return r.right > vw + 1 || r.left < -1; })
                    .map(c => c.textContent.trim().slice(0, 40)),
    };
  });
  const pills = [...document.querySelectorAll('.pill')].filter(shown).map(p => {
    const range = document.createRange(); range.selectNodeContents(p);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
    const card = p.closest('.card') || p.parentElement, pr = p.getBoundingClientRect(), cr = card.getBoundingClientRect();
    return {text: p.textContent.trim(), lines, clipped: p.scrollWidth > p.clientWidth + 1,
            inside: pr.left >= cr.left - 1 && pr.right <= cr.right + 1 && pr.right <= vw + 1};
  });
  return {overflow: document.documentElement.scrollWidth - vw, tables, pills};
})()"""

# Whether a text's box crosses the polyline it labels (the line's own coordinates, in the SVG's units).
LABELS_JS = """(() => {
  const shown = el => el.getClientRects().length > 0;
  const hits = seg => r => {
    const [x1, y1, x2, y2] = seg;
    if (Math.max(x1, x2) < r.x || Math.min(x1, x2) > r.x + r.width) return false;
    // the segment's y over the box's x range
    const lo = Math.max(Math.min(x1, x2), r.x), hi = Math.min(Math.max(x1, x2), r.x + r.width);
    const y = x => x2 === x1 ? Math.min(y1, y2) : y1 + (y2 - y1) * (x - x1) / (x2 - x1);
    const ya = y(lo), yb = y(hi), top = Math.min(ya, yb, x2 === x1 ? Math.max(y1, y2) : ya);
    const bottom = Math.max(ya, yb, x2 === x1 ? Math.max(y1, y2) : yb);
    return !(bottom < r.y || top > r.y + r.height);
  };
  const out = [];
  for (const svg of [...document.querySelectorAll('svg.chart-series')].filter(shown)) {
    const path = svg.querySelector('path.series');
    const pts = [...path.getAttribute('d').matchAll(/([ML])([-\\d.]+),([-\\d.]+)/g)].map(m => [m[1], +m[2], +m[3]]);
    const segs = [];
    for (let i = 1; i < pts.length; i++) if (pts[i][0] === 'L') segs.push([pts[i-1][1], pts[i-1][2], pts[i][1], pts[i][2]]);
    for (const t of svg.querySelectorAll('text.level-label')) {
      const b = t.getBBox(), r = {x: b.x - 1, y: b.y - 1, width: b.width + 2, height: b.height + 2};
      out.push({chart: svg.id || svg.getAttribute('aria-labelledby'), label: t.textContent,
                crossed: segs.some(s => hits(s)(r))});
    }
  }
  return out;
})()"""


def _open(browser, path: Path, width: int, artifacts: Path | None = None):
    load, session = browser.load(path)
    assert load.console_errors == [], load.console_errors
    browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": width < 500}, session=session)
    browser.evaluate(session, "document.body.offsetHeight")  # lay the page out at the new width
    if artifacts is not None:
        size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, session=session)
        (artifacts / f"reading-{path.stem}-{width}.png").write_bytes(base64.b64decode(shot["data"]))
    return session


def _write(tmp_path: Path, name: str, results) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(render(results, "html"), encoding="utf-8")
    return path


def _two_questions_of_one_metric():
    """The overview of a scheduled report asking twice about pytest's bug-fix ratio (a change over 13
    weeks and an anomaly in one week) and once about something else, one of them a regression."""
    change = make_result(scope="pytest-dev/pytest", detected=False)
    anomaly = make_result(scope="pytest-dev/pytest", kind="anomaly")
    other = make_result("lead_time_seconds", scope="pallets/flask", detected=False)
    return [change, anomaly, other]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_fits_or_scrolls_with_a_hint_and_the_badge_is_whole(browser, engine_result, tmp_path, artifacts,
                                                                        width) -> None:
    for name, results in (("multi", _two_questions_of_one_metric()), ("single", engine_result)):
        session = _open(browser, _write(tmp_path, name, results), width, artifacts)
        got = browser.evaluate(session, LAYOUT_JS)
        assert got["overflow"] <= 1, (name, got["overflow"])
        for t in got["tables"]:
            assert not t["overflows"] or (t["scrolls"] and t["hint"]), (name, t)
            if "stack" in t["cls"] or not t["overflows"]:
                assert t["outside"] == [], (name, t)  # every cell on screen: no column lost off the edge
        assert got["pills"], name
        for p in got["pills"]:
            assert p["lines"] == 1 and not p["clipped"] and p["inside"], (name, p)
        assert {p["text"] for p in got["pills"]} <= {"Regression", "Within normal noise"}


OVERVIEW_JS = """[...document.querySelectorAll('#overview tbody tr')].map(tr =>
  [...tr.querySelectorAll('td')].slice(0, 3).map(td => td.innerText.replace(/\\s+/g, ' ').trim()).join(' | '))"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_overview_tells_two_questions_about_one_metric_apart(browser, tmp_path, width) -> None:
    session = _open(browser, _write(tmp_path, "overview", _two_questions_of_one_metric()), width)
    rows = browser.evaluate(session, OVERVIEW_JS)
    assert len(rows) == 3 and len(set(rows)) == 3, rows
    pytest_rows = [r for r in rows if "pytest-dev/pytest" in r]
    assert any("anomaly" in r for r in pytest_rows) and any("change" in r for r in pytest_rows), rows
    titles = browser.evaluate(session, "[...document.querySelectorAll('h2.inv-title')].map(h => h.innerText)")
    assert len(set(titles)) == 3, titles


@pytest.mark.parametrize("width", WIDTHS)
def test_a_window_average_label_never_sits_on_the_line(browser, engine_result, tmp_path, artifacts, width) -> None:
    labels = []
    for name, results in (("labels-demo", engine_result), ("labels-made", make_result())):
        session = _open(browser, _write(tmp_path, name, results), width)
        labels += browser.evaluate(session, LABELS_JS)
    assert len(labels) >= 4, labels  # the baseline's and the current window's average, in each target chart
    assert [x for x in labels if x["crossed"]] == [], labels


def _nothing_explained():
    """Flask's bug-fix ratio at 2026-02-09 as the shipped graph saw it: every modelled cause ±0, the whole
    change the target's own."""
    r = make_result(kind="anomaly", n_causes=0)
    change = r.observed.current - r.observed.baseline
    zero = [Cause(node=n, contribution=0.0, share=0.0, interval=(0.0, 0.0), significant=False, direction="neutral",
                  evidence=e, unusual=False) for n, e in (("line_coverage_ratio", -0.7), ("bug_introducing_commit_ratio", 0.4),
                                                            ("test_churn_ratio", 0.2), ("commits_count", -0.3))]
    own = Cause(node=r.target, contribution=change, share=1.0, interval=(change * 0.8, change * 1.2), significant=False,
                direction="worse", evidence=1.3, unusual=False)
    return replace(r, causes=(*zero, own), unexplained=Unexplained(change, 1.0), counterfactuals=())


CAUSES_JS = """(() => {
  const a = document.querySelector('article.investigation');
  const shown = el => el.getClientRects().length > 0;
  return {
    rows: [...a.querySelectorAll('table.causes-table tbody tr')].filter(tr => shown(tr) && !tr.closest('details:not([open])'))
      .map(tr => tr.innerText.replace(/\\s+/g, ' ')),
    bars: [...a.querySelectorAll('svg.chart-causes g.cause')].filter(shown).length,
    said: (a.querySelector('.causes-summary') || {innerText: ''}).innerText,
    folded: [...a.querySelectorAll('details.zero-causes')].map(d => d.open),
  };
})()"""


@pytest.mark.parametrize("width", WIDTHS)
def test_when_nothing_is_explained_the_causes_say_so_in_a_sentence(browser, tmp_path, artifacts, width) -> None:
    session = _open(browser, _write(tmp_path, "nothing-explained", _nothing_explained()), width, artifacts)
    got = browser.evaluate(session, CAUSES_JS)
    assert "None of the 4 modelled causes moved bug fix commit ratio" in got["said"], got
    assert got["folded"] == [False]  # the ±0 rows are there, folded
    assert not any(re.search(r"±0 pp.*0%", row) for row in got["rows"]), got["rows"]
    assert len(got["rows"]) == 1 and got["bars"] <= 1, got


# Four nodes of one layer feed one node of the next, across the fold of a five-layer graph.
FAN_IN = [("commits_count", "newcomer_commit_ratio"), ("commits_count", "median_change_size_lines"),
          ("commits_count", "files_per_commit"), ("commits_count", "test_churn_ratio"),
          ("active_authors_count", "commits_count"),
          ("newcomer_commit_ratio", "bug_introducing_commit_ratio"), ("median_change_size_lines", "bug_introducing_commit_ratio"),
          ("files_per_commit", "bug_introducing_commit_ratio"), ("test_churn_ratio", "bug_introducing_commit_ratio"),
          ("bug_introducing_commit_ratio", "bug_fix_commit_ratio")]


def _points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def test_edges_into_one_node_across_a_fold_merge_into_one_run_and_fan_in() -> None:
    """Four edges into the bug-introducing share, folded over two rows, ran as four parallel lines round the
    fold (as in the first git-quality graph). They now share one run and spread only at the node."""
    from reports import graph_chart
    from tests.report_results import graph_result

    r = graph_result(FAN_IN, "bug_fix_commit_ratio", hot=("bug_introducing_commit_ratio",))
    drawing = graph_chart.draw(r, "g", max_width=860)
    assert drawing.bands > 1
    svg = str(drawing.svg)
    into = re.findall(r'data-to="bug_introducing_commit_ratio"><path d="([^"]+)"', svg)
    boxes_left = min(float(x) for x in re.findall(r'<g class="node[^"]*" data-node="[^"]+"><rect x="([\d.]+)"', svg))
    folded = [_points(d) for d in into if min(x for x, _ in _points(d)) < boxes_left]  # round the fold, by the left gutter
    assert len(folded) >= 3, into
    assert len({round(min(x for x, _ in pts), 1) for pts in folded}) == 1  # one run in the gutter, not parallel lanes
    assert len({round(pts[-1][1], 1) for pts in folded}) == len(folded)  # each arrives at its own port: fanned in


def test_a_pair_of_nodes_with_a_same_week_and_a_lagged_edge_is_drawn_once_and_says_both() -> None:
    from reports import graph_chart
    from tests.report_results import graph_result

    r = graph_result([("a", "b"), ("b", "c")], "c", hot=("a",))
    r = replace(r, edges=(("a", "b", 0), ("a", "b", 1), ("b", "c", 0)))
    svg = str(graph_chart.draw(r, "g").svg)
    drawn = re.findall(r'<g class="edge[^"]*" data-from="a" data-to="b"><path d="[^"]+"( stroke-dasharray="5 3")?/>', svg)
    assert drawn == [""]  # one solid arrow: the same-week edge is there
    assert "a → b (same week and lag 1)" in svg
