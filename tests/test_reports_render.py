"""The renderings: JSON is exactly the contract, HTML is self-contained and escaped, Markdown
carries the same content, and a hostile result cannot inject markup anywhere."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from reports import chat, render, write_reports
from reports.markdown import render_markdown
from results.wording import headline, multi_headline
from tests.report_results import hostile_result, make_result

pytest_plugins = ["tests.reports_fixtures"]  # its fixtures: engine_result, browser, artifacts

CONTRACT_KEYS = {"target", "kind", "scope", "window", "observed", "regression", "causes", "unexplained", "counterfactuals",
                 "explanation", "caveats", "model", "timings_s"}


class Tags(HTMLParser):
    """Every start tag and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def parse(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def test_json_is_the_contract_object_and_a_list_for_several(engine_result) -> None:
    one = json.loads(render(engine_result, "json"))
    assert one == json.loads(engine_result.to_json())
    assert set(one) == CONTRACT_KEYS
    several = json.loads(render([engine_result, make_result()], "json"))
    assert isinstance(several, list) and len(several) == 2
    assert all(set(obj) == CONTRACT_KEYS for obj in several)
    assert several[0] == one


def test_report_fields_stay_out_of_the_json() -> None:
    r = make_result()
    bare = type(r)(**{k: getattr(r, k) for k in CONTRACT_KEYS})
    assert r.to_dict() == bare.to_dict()
    assert not {"titles", "units", "edges", "versions", "series"} & set(r.to_dict())


def test_html_is_self_contained_and_small(engine_result) -> None:
    html = render(engine_result, "html")
    tags = parse(html)
    assert "script" not in tags.tags and "link" not in tags.tags and "iframe" not in tags.tags
    assert not [v for k, v in tags.attrs if k in {"src", "srcset", "href"} and v and not v.startswith("#")]
    assert "default-src 'none'" in html and 'http-equiv="Content-Security-Policy"' in html
    assert len(html.encode()) < 1_000_000
    for section in ("headline", "fig-target", "fig-causes", "fig-graph", "counterfactuals", "fig-evidence",
                    "Caveats", "Method", "Versions", "dowhy"):
        assert section in html, section


def test_a_large_scheduled_report_stays_under_a_megabyte() -> None:
    results = [make_result(target=f"metric_{i}_ratio", scope=f"team-{i}", detected=i % 2 == 0) for i in range(12)]
    html = render(results, "html")
    assert len(html.encode()) < 1_000_000
    tags = parse(html)
    assert tags.tags.count("article") == 12


def test_multi_target_report_has_an_overview_first() -> None:
    ok, bad = make_result("lead_time_seconds", detected=False), make_result("bug_fix_commit_ratio")
    html = render([ok, bad], "html")
    assert html.index('id="overview"') < html.index('id="inv0"')
    rows = html[html.index('id="overview"'):html.index("</table>", html.index('id="overview"'))]
    assert rows.index("Bug fix commit ratio") < rows.index("Lead time seconds")  # regressions first
    assert multi_headline([ok, bad]).startswith("1 of 2 metrics regressed.")
    assert html.index('id="inv1"') < html.index('id="inv0"')  # sections: regressions first too
    md = render([ok, bad], "md")
    assert md.index("## Overview") < md.index("## Bug fix commit ratio") < md.index("## Lead time seconds")
    for word in ("metric", "before", "now", "change", "verdict", "top cause"):
        assert word in md


def test_markdown_carries_the_same_content(engine_result) -> None:
    md = render_markdown(engine_result)
    assert md.startswith("# ")
    for part in ("Likely causes", "What would have happened", "The causal graph", "Evidence per cause", "Caveats",
                 "Method", "dowhy"):
        assert part in md
    assert "line coverage ratio" in md


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_hostile_text_is_escaped_everywhere(fmt: str) -> None:
    r = hostile_result()
    out = render([r, make_result()], fmt) if fmt != "json" else render(r, fmt)
    if fmt == "json":
        assert json.loads(out)["target"] == r.target  # JSON keeps names exactly (the contract)
        return
    if fmt == "md":  # CommonMark shows a backslash-escaped character as itself: no raw '<', '[' or '`' left
        assert not re.search(r"(?<!\\)[<>\[\]`]", out)
        assert "\\<script\\>" in out and "\\[x\\](http://evil.test)" in out
        return
    assert "<script" not in out and "<img" not in out
    if fmt == "html":
        tags = parse(out)
        assert set(tags.tags) <= {"html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "h3",
                                  "section", "table", "thead", "tbody", "tr", "th", "td", "a", "article", "div",
                                  "span", "strong", "figure", "figcaption", "ul", "li", "i", "svg", "desc", "line",
                                  "text", "rect", "path", "g", "polygon", "tspan", "circle", "dl", "dt", "dd",
                                  "code", "details", "summary", "footer", "wbr"}
        assert not [k for k, _ in tags.attrs if k.startswith("on")]
        assert not [v for k, v in tags.attrs if k == "href" and v and not v.startswith("#")]


def _strings(node: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _strings(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _strings(v, f"{path}[{i}]")]
    return [(path, node)] if isinstance(node, str) else []


def test_hostile_text_is_escaped_in_every_chat_payload() -> None:
    r = hostile_result()
    url = "https://reports.example.com/r.html"
    for kind in chat.KINDS:
        body = chat.payload(kind, [r], url)
        checked = 0  # strings that carry the hostile text and were checked: none would pass an empty payload
        for path, text in _strings(body):
            for ours in (f"<{url}|full report>", f"<{url}>", f"[Open the full report]({url})", f"[full report]({url})"):
                text = text.replace(ours, "")  # the links we add ourselves
            if kind == "generic" or path.endswith((".url", "report_url", ".type", "$schema")):
                continue
            if kind == "slack":
                if "plain_text" in str(_at(body, path)):
                    continue  # plain_text is never parsed by Slack
                assert "<" not in text and ">" not in text, (kind, path, text)
            elif kind == "googlechat":
                assert "<script" not in text and "<img" not in text, (kind, path, text)
            else:  # Markdown platforms: no unescaped link, tag, code or mention
                assert not re.search(r"(?<!\\)[<>\[\]`]", text), (kind, path, text)
                assert "@everyone" not in text, (kind, path, text)
            checked += "pwned" in text
        assert any("pwned" in text for _, text in _strings(body)), kind  # the hostile text reached the payload
        assert kind == "generic" or checked, (kind, body)


def _at(body: object, path: str) -> object:
    """The dict holding the string at ``path`` (for Slack's text objects, which carry their type)."""
    parts = re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
    node = body
    for key, idx in parts[:-1]:
        node = node[int(idx)] if idx else node[key]  # type: ignore[index]
    return node


def test_write_reports_writes_every_format(tmp_path) -> None:
    paths = write_reports([make_result(), make_result("lead_time_seconds", detected=False)], tmp_path, "r",
                          ["html", "md", "json"], report_url="https://reports.example.com/r.html")
    assert sorted(paths) == ["html", "json", "md"]
    assert "https://reports.example.com/r.html" in paths["md"].read_text()
    assert not list(tmp_path.glob("*.tmp"))


def test_headline_is_plain_language() -> None:
    text = headline(make_result())
    assert text.startswith("Bug fix commit ratio in acme/payments rose from 11% to 19%")
    assert "62% of the rise is attributed to changes in line coverage ratio" in text
    assert "within normal noise" in headline(make_result(detected=False))


def test_a_bare_result_without_report_fields_still_renders() -> None:
    """Results built without series, titles or edges (older engines, the API) render without charts."""
    r = make_result()
    bare = type(r)(**{k: getattr(r, k) for k in CONTRACT_KEYS})
    html = render(bare, "html")
    assert 'data-chart="causes"' in html and 'data-chart="series"' not in html and 'data-chart="graph"' not in html
    assert headline(bare) in html.replace("&#39;", "'")
    assert "Likely causes" in render(bare, "md")
    for kind in chat.KINDS:
        assert chat.payload(kind, bare)


def test_graph_layout_places_every_node_once_on_a_large_graph_with_feedback() -> None:
    import random
    import time

    from reports.graph_layout import layered

    rng = random.Random(3)
    nodes = [f"n{i}" for i in range(42)]
    edges = [(nodes[i], nodes[j]) for i in range(42) for j in range(i + 1, 42) if rng.random() < 0.08]
    edges.append((nodes[40], nodes[2]))  # a lagged feedback edge closing a loop
    t0 = time.perf_counter()
    layout = layered(edges, nodes)
    assert time.perf_counter() - t0 < 2.0
    slots = [(layout.layers[n], layout.rows[n]) for n in layout.layers]
    assert len(slots) == len(set(slots))  # no two boxes (or waypoints) in one slot
    assert set(nodes) <= set(layout.layers)
    for (s, t), via in layout.routes.items():
        assert [layout.layers[v] for v in via] == list(range(layout.layers[s] + 1, layout.layers[t]))


def test_feedback_edges_are_drawn() -> None:
    from dataclasses import replace

    r = make_result()
    looped = replace(r, edges=(*r.edges, ("bug_fix_commit_ratio", "line_coverage_ratio", 1)))
    html = render(looped, "html")
    assert 'data-from="bug_fix_commit_ratio" data-to="line_coverage_ratio"' in html
