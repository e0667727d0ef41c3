"""Real headless Chromium loads each rendered report from disk, as a reader would open it.

Checks: no console error or exception, no request other than the file itself, the headline
and every chart present in the DOM with a text alternative, no script able to run (even with
hostile data), and a full-page screenshot saved under ``test-artifacts/``. A control page
with an injected external image and inline script proves the checks would catch a leak.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from reports import render
from results.wording import headline, upstream
from tests.report_results import hostile_result, make_result

pytest_plugins = ["tests.reports_fixtures"]  # its fixtures: engine_result, browser, artifacts

# Only the charts on screen: some come in a wide and a compact drawing, and the page shows one.
CHARTS_JS = """(() => {
  const out = [];
  const shown = (root, sel) => [...root.querySelectorAll(sel)].filter(s => s.getClientRects().length > 0);
  for (const a of document.querySelectorAll('article.investigation')) {
    const charts = shown(a, 'svg.chart').map(s => ({
      kind: s.dataset.chart,
      title: (s.querySelector('title') || {}).textContent || '',
      desc: (s.querySelector('desc') || {}).textContent || '',
      labelled: !!s.getAttribute('aria-labelledby'),
      role: s.getAttribute('role'),
      width: s.getBoundingClientRect().width,
      marks: s.querySelectorAll('rect, path, g.node').length,
    }));
    out.push({id: a.id, charts, evidence: shown(a, 'figure.fig-evidence svg').length,
              hot: shown(a, 'svg.chart-graph').reduce((n, s) => n + s.querySelectorAll('g.edge.hot').length, 0)});
  }
  return out;
})()"""


def _render(tmp_path: Path, name: str, results) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(render(results, "html"), encoding="utf-8")
    return path


def _check_page(browser, path: Path, artifacts: Path, expected_headline: str, results: list) -> dict:
    load, session = browser.load(path, screenshot=artifacts / f"report-{path.stem}.png")
    assert load.console_errors == [], load.console_errors
    assert load.requests == [load.url], f"the page tried to load: {load.requests}"
    assert load.failed_requests == []
    assert browser.evaluate(session, "document.querySelector('#headline').textContent.trim()") == expected_headline
    assert browser.evaluate(session, "document.scripts.length") == 0
    assert browser.evaluate(session, "typeof window.__pwned") == "undefined"
    pages = browser.evaluate(session, CHARTS_JS)
    assert len(pages) == len(results)
    by_id = {f"inv{i}": r for i, r in enumerate(results)}
    assert [p["id"] for p in pages] == sorted(by_id, key=lambda k: (not by_id[k].regression.detected, int(k[3:])))
    for page in pages:
        r = by_id[page["id"]]
        kinds = [c["kind"] for c in page["charts"]]
        assert {"series", "causes", "graph"} <= set(kinds), (page["id"], kinds)
        for c in page["charts"]:
            assert c["role"] == "img" and c["labelled"] and c["title"].strip() and c["desc"].strip(), c
            assert c["width"] > 100 and c["marks"] > 0, c
        assert page["evidence"] == len([c for c in upstream(r) if c.node in r.series])
        assert page["hot"] >= 1  # the path from the top cause to the target is highlighted
    assert (artifacts / f"report-{path.stem}.png").stat().st_size > 10_000
    return {"session": session}


def test_real_investigation_report_in_chromium(browser, engine_result, tmp_path, artifacts) -> None:
    path = _render(tmp_path, "demo", engine_result)
    _check_page(browser, path, artifacts, headline(engine_result), [engine_result])


def test_scheduled_report_in_chromium(browser, tmp_path, artifacts) -> None:
    results = [make_result(), make_result("lead_time_seconds", scope="acme/checkout", detected=False),
               make_result("incidents_count", scope="acme/search")]
    path = _render(tmp_path, "scheduled", results)
    out = _check_page(browser, path, artifacts, _multi(results), results)
    rows = browser.evaluate(out["session"], "document.querySelectorAll('#overview tbody tr').length")
    assert rows == 3


def _multi(results) -> str:
    from results.wording import multi_headline

    return multi_headline(results)


def test_hostile_report_runs_nothing_in_chromium(browser, tmp_path, artifacts) -> None:
    r = hostile_result()
    path = _render(tmp_path, "hostile", [r, make_result()])
    out = _check_page(browser, path, artifacts, _multi([r, make_result()]), [r, make_result()])
    # The hostile node names are shown as text, exactly.
    text = browser.evaluate(out["session"], "document.body.innerText")
    assert "<script>window.__pwned=1</script>" in text


def test_anomaly_report_in_chromium(browser, tmp_path, artifacts) -> None:
    r = make_result(kind="anomaly")
    path = _render(tmp_path, "anomaly", r)
    out = _check_page(browser, path, artifacts, headline(r), [r])
    assert browser.evaluate(out["session"], "document.querySelectorAll('svg.chart-series circle.anomaly').length") >= 1


def test_dark_mode_and_print(browser, engine_result, tmp_path, artifacts) -> None:
    import base64

    path = _render(tmp_path, "dark", engine_result)
    load, session = browser.load(path)
    browser.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
                 session=session)
    bg = browser.evaluate(session, "getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(21, 24, 28)"
    shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
    (artifacts / "report-dark.png").write_bytes(base64.b64decode(shot["data"]))
    pdf = browser.call("Page.printToPDF", {"printBackground": True}, session=session)
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF") and len(data) > 20_000
    (artifacts / "report-print.pdf").write_bytes(data)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_control_page_with_external_load_is_caught(browser, engine_result, tmp_path) -> None:
    """If a template ever let an external load or a script through, these checks would fail."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        html = render(engine_result, "html").replace(
            "<body>", f'<body><img src="http://127.0.0.1:{server.server_port}/leak.png">'
                      "<script>window.__pwned = 1</script>", 1)
        path = tmp_path / "control.html"
        path.write_text(html, encoding="utf-8")
        load, session = browser.load(path)
        assert load.console_errors, "the CSP violation should be reported on the console"
        assert any("Content Security Policy" in e for e in load.console_errors)
        assert browser.evaluate(session, "typeof window.__pwned") == "undefined"
        assert _Counter.hits == []  # the CSP stopped the request before it left the page
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("width", [420])
def test_narrow_screen_has_no_horizontal_overflow(browser, engine_result, tmp_path, width) -> None:
    path = _render(tmp_path, "narrow", engine_result)
    load, session = browser.load(path)
    browser.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 800, "deviceScaleFactor": 1,
                                                         "mobile": True}, session=session)
    overflow = browser.evaluate(session, "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1


EFFECTS_JS = """(() => {
  const section = document.querySelector('section#effects');
  if (!section) return null;
  return {
    heading: section.querySelector('h2').textContent.trim(),
    articles: [...section.querySelectorAll('article.effect')].map(a => a.dataset.kind),
    graphs: [...section.querySelectorAll('article.effect')].map(a => {
      const g = [...a.querySelectorAll('svg.chart-graph')].filter(s => s.getClientRects().length > 0);
      return g.length ? {hot: g[0].querySelectorAll('g.edge.hot').length, marked: [...g[0].querySelectorAll('g.node.significant')]
        .map(n => n.dataset.node), target: (g[0].querySelector('g.node.target') || {dataset: {}}).dataset.node || ''} : null;
    }),
    charts: [...section.querySelectorAll('svg.chart:not(.chart-graph)')].filter(s => s.getClientRects().length > 0).map(s => ({
      kind: s.dataset.chart,
      title: (s.querySelector('title') || {}).textContent || '',
      desc: (s.querySelector('desc') || {}).textContent || '',
      labelled: (s.getAttribute('aria-labelledby') || '').split(' ').every(id => !!document.getElementById(id)),
      role: s.getAttribute('role'),
      width: s.getBoundingClientRect().width,
      marks: s.querySelectorAll('rect, circle').length,
      whiskers: s.querySelectorAll('line.whisker').length,
      labels: [...s.querySelectorAll('g.row text.label')].map(t => t.textContent),
    })),
    levers: [...section.querySelectorAll('table.levers-table tbody tr')].map(tr => tr.cells[1].textContent),
    failed: section.querySelectorAll('tr.check-failed').length,
  };
})()"""


@pytest.fixture(scope="module")
def real_effects() -> list:
    """A real effect question and real recommendations on the demo sample (small counts: a quick look)."""
    from graphs import shipped_graph
    from rca import sample
    from rca.engine.effects import estimate_effect
    from rca.engine.recommend import recommend

    demo = sample.generate()
    graph = shipped_graph("delivery")
    return [estimate_effect(demo.wide, graph, "line_coverage_ratio", demo.target, simulations=5, dml=False),
            recommend(demo.wide, graph, demo.target, bootstrap=20, samples=300)]


def test_effects_section_in_chromium(browser, engine_result, real_effects, tmp_path, artifacts) -> None:
    from tests.effect_results import make_heterogeneity

    effects = [*real_effects, make_heterogeneity()]
    path = tmp_path / "effects.html"
    path.write_text(render(engine_result, "html", effects=effects), encoding="utf-8")
    load, session = browser.load(path, screenshot=artifacts / "report-effects.png")
    assert load.console_errors == [], load.console_errors
    assert load.requests == [load.url] and load.failed_requests == []
    assert browser.evaluate(session, "document.scripts.length") == 0
    got = browser.evaluate(session, EFFECTS_JS)
    assert got["heading"] == "Effects and recommendations"
    assert got["articles"] == ["effect", "recommendations", "heterogeneity"]
    assert [c["kind"] for c in got["charts"]] == ["estimates", "levers", "scope-effects"]
    for c in got["charts"]:
        assert c["role"] == "img" and c["labelled"] and c["title"].strip() and c["desc"].strip(), c
        assert c["width"] > 100 and c["marks"] >= 2 and c["whiskers"] == 3 * c["marks"], c  # every mark has its interval
        assert c["labels"] and all(label.strip() for label in c["labels"]), c
    assert got["levers"][0] == "line_coverage_ratio"  # the demo's injected cause is the lever to pull
    # The effect and the recommendations draw the graph with the paths from what is changed to the target marked.
    effect_graph, levers_graph, _ = got["graphs"]
    assert effect_graph["marked"] == ["line_coverage_ratio"] and effect_graph["target"] == demo_target()
    assert effect_graph["hot"] >= 2 and levers_graph["hot"] > effect_graph["hot"]
    assert got["charts"][1]["labels"][0] == "line_coverage_ratio"
    assert (artifacts / "report-effects.png").stat().st_size > 10_000


def demo_target() -> str:
    from rca import sample

    return sample.generate().target


def test_hostile_effects_section_runs_nothing_in_chromium(browser, tmp_path, artifacts) -> None:
    from tests.effect_results import hostile_effects

    path = tmp_path / "effects-hostile.html"
    path.write_text(render([], "html", effects=hostile_effects()), encoding="utf-8")
    load, session = browser.load(path, screenshot=artifacts / "report-effects-hostile.png")
    assert load.console_errors == [], load.console_errors
    assert load.requests == [load.url]
    assert browser.evaluate(session, "typeof window.__pwned") == "undefined"
    got = browser.evaluate(session, EFFECTS_JS)
    assert got["failed"] == 1  # the failed placebo check is flagged
    assert len(got["charts"]) == 3 and all(c["labelled"] and c["desc"] for c in got["charts"])
    text = browser.evaluate(session, "document.body.innerText")
    assert "<script>window.__pwned=1</script>" in text and "FAILS the placebo treatment check" in text
