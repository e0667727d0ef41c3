"""The effects-and-recommendations section: present in HTML, Markdown and the JSON bundle, escaped
everywhere, plain about failed refutations, and one "what to change" line in every chat summary."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from reports import chat, render
from results.effect_wording import chat_line, lever_rows, refutation_summary
from tests.effect_results import hostile_effects, make_effect, make_heterogeneity, make_recommendations
from tests.report_results import EVIL, hostile_result, make_result
from tests.test_reports_render import _strings, parse


def _effects() -> list:
    return [make_effect(), make_heterogeneity(), make_recommendations()]


def test_html_section_has_each_result_its_chart_and_tables() -> None:
    html = render(make_result(), "html", effects=_effects())
    assert html.count('<section id="effects"') == 1 and "<h2>Effects and recommendations</h2>" in html
    for kind in ("estimates", "scope-effects", "levers"):
        assert f'data-chart="{kind}"' in html
    assert html.count('class="effect effect-') == 3
    # The ranked lever table, best first, with intervals; the top lever is marked.
    levers = html.split('class="levers-table"')[1].replace("\u00a0", " ")  # a figure's unit stays on its line
    assert levers.index("line_coverage_ratio") < levers.index("newcomer_commit_ratio")
    assert "+4.1 pp to +5.5 pp" in levers and 'class="sig top"' in levers
    # Refutations: passed, not run; the naive slope's wrong sign is said in words.
    assert 'class="status">passed<' in html and 'class="status">not run<' in html
    assert "the naive comparison gets the direction wrong" in html
    # The investigation is still there, before the section.
    assert html.index('class="investigation"') < html.index('id="effects"')


def test_failed_refutation_is_said_plainly() -> None:
    r = make_effect(placebo_passed=False)
    text = refutation_summary(r)
    assert text.startswith("The estimate FAILS the placebo treatment check (a shuffled treatment still shows an effect)")
    assert "Do not act on it" in text
    html = render([], "html", effects=[r])
    assert 'class="refutation-summary fail"' in html and 'class="status">FAILED<' in html
    md = render([], "md", effects=[r])
    assert "**The estimate FAILS the placebo treatment check" in md and "| **FAILED** |" in md


def test_effects_only_report_and_markdown_section() -> None:
    md = render([], "md", effects=_effects())
    assert md.startswith("# Raising line coverage ratio by 5 points lowers")
    assert "## Effects and recommendations" in md and "#### Refutation checks" in md
    assert "| acme/search | -1.0 pp | -1.4 pp to -0.6 pp | 100 | helps |" in md
    assert "| 1 | **line\\_coverage\\_ratio** | 68% → 84% (75th percentile) | +4.9 pp | +4.1 pp to +5.5 pp | 100% |" in md
    with_inv = render([make_result()], "md", effects=_effects())
    assert with_inv.index("## Likely causes") < with_inv.index("## Effects and recommendations")
    html = render([], "html", effects=_effects())
    assert "<h1 id=\"headline\">Raising line coverage ratio by 5 points lowers" in html


def test_json_bundle_holds_each_kind_and_a_plain_report_stays_the_contract() -> None:
    doc = json.loads(render(make_result(), "json", effects=_effects()))
    assert doc["schema"] == "whydunnit.report/1"
    assert [r["target"] for r in doc["investigations"]] == ["bug_fix_commit_ratio"]
    assert doc["effects"][0]["treatment"] == "line_coverage_ratio" and doc["effects"][0]["effect"] == -0.335
    assert doc["effects_by_scope"][0]["scopes"][0]["scope"] == "acme/payments"
    assert doc["recommendations"][0]["recommendations"][0]["lever"] == "line_coverage_ratio"
    assert json.loads(render(make_result(), "json"))["target"] == "bug_fix_commit_ratio"  # no effects: unchanged


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_hostile_names_are_escaped_in_the_section(fmt: str) -> None:
    effects = hostile_effects()
    out = render([hostile_result()], fmt, effects=effects)
    if fmt == "json":
        doc = json.loads(out)
        assert doc["effects"][0]["treatment"] == f"cov{EVIL}"  # JSON keeps names exactly
        assert doc["effects_by_scope"][0]["scopes"][0]["scope"] == f"org/{EVIL}"
        return
    if fmt == "md":
        assert not re.search(r"(?<!\\)[<>\[\]`]", out)
        assert "\\<script\\>" in out and "b\\[x\\](http://evil.test)" in out
        return
    assert "<script" not in out and "<img" not in out and "<i>" not in out.replace('<i class="sw-', "")
    section = out[out.index('<section id="effects"'):]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in section
    tags = parse(out)
    assert set(tags.tags) <= {"html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "h3", "h4",
                              "section", "table", "caption", "thead", "tbody", "tr", "th", "td", "a", "article", "div",
                              "span", "strong", "figure", "figcaption", "ul", "li", "i", "svg", "desc", "line", "text",
                              "rect", "path", "g", "polygon", "tspan", "circle", "dl", "dt", "dd", "code", "details",
                              "summary", "footer", "wbr"}
    assert not [k for k, _ in tags.attrs if k.startswith("on")]
    assert not [v for k, v in tags.attrs if k == "href" and v and not v.startswith("#")]


def test_chat_summary_has_one_line_for_the_top_recommendation() -> None:
    recs = make_recommendations()
    line = chat_line(recs)
    assert line == "What to change: " + recs.items[0].sentence
    results = [make_result("lead_time_seconds", detected=False), make_result()]
    for kind in chat.KINDS:
        body = json.dumps(chat.payload(kind, results, recommendations=[recs]), ensure_ascii=False)
        assert body.count("from 0.68 to 0.84") == 1, kind
        plain = json.dumps(chat.payload(kind, results), ensure_ascii=False)
        assert "What to change" not in plain and "0.68 to 0.84" not in plain
    generic = chat.payload("generic", results, recommendations=[recs])
    target = next(s for s in generic["summary"] if s["title"].startswith("Bug fix"))
    assert target["what_to_change"] == line  # on the recommendation's own target, not the first item
    # No lever that clearly helps: no line.
    unclear = make_recommendations(levers=("median_change_size_lines", "a", "b"))
    unclear = replace(unclear, items=unclear.items[2:])
    assert chat_line(unclear) == "" and lever_rows(unclear)[0].verdict == "unclear"


def test_hostile_recommendation_is_escaped_in_every_chat_payload() -> None:
    recs = hostile_effects()[2]
    r = hostile_result()
    for kind in chat.KINDS:
        body = chat.payload(kind, [r], recommendations=[recs])
        texts = [t for path, t in _strings(body) if "lever" in t or "What to change" in t]
        assert texts, kind
        for text in texts:
            if kind == "generic":
                continue
            if kind == "slack":
                assert "<" not in text.replace("&lt;", "") and ">" not in text.replace("&gt;", ""), text
            elif kind == "googlechat":
                assert "<script" not in text and "<img" not in text, text
            else:
                assert not re.search(r"(?<!\\)[<>\[\]`]", text), (kind, text)
                assert "@everyone" not in text, (kind, text)


def test_an_unidentified_effect_renders_its_reason_and_no_estimate() -> None:
    from results.effects import Identification

    r = replace(make_effect(), identification=Identification(False, "none", (), "they share the hidden cause pressure"),
                method="", effect=None, interval=None, estimates=(), refutations=(), sensitivity=None,
                step_effect=None, step_interval=None, answer="The effect cannot be estimated from this graph.")
    html = render([], "html", effects=[r])
    assert "Not identifiable: they share the hidden cause pressure." in html and 'data-chart="estimates"' not in html
    md = render([], "md", effects=[r])
    assert "Not identifiable: they share the hidden cause pressure." in md and "Refutation checks" not in md
    assert json.loads(render([], "json", effects=[r]))["effects"][0]["effect"] is None
