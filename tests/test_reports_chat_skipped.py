"""A scheduled report with a target that could not be investigated: every chat summary names it (with why),
and a Slack header is never a headline cut mid-sentence."""

from __future__ import annotations

import json

from reports import chat
from results import wording
from tests.report_results import make_result

SKIPPED = ["no_such_metric in pallets/flask: target 'no_such_metric' is not a node of graph 'git-quality' "
           "(nodes: active_authors_count, commits_count, newcomer_commit_ratio)"]


def _plain(body: object) -> str:
    """The text of a payload with each platform's escapes (zero-width spaces, backslashes) taken out."""
    return json.dumps(body, ensure_ascii=False).replace("\u200b", "").replace("\\\\", "")


def test_every_summary_names_the_target_that_could_not_be_investigated() -> None:
    r = make_result(scope="acme/payments-platform/services/checkout-api")
    assert len(wording.headline(r)) > chat.LIMITS["slack"].title  # a headline a Slack header cannot hold
    for kind in chat.KINDS:
        body = chat.payload(kind, [r], "https://reports.example.com/r.html", skipped=SKIPPED)
        assert chat.violations(kind, body) == [], kind
        assert "no_such_metric in pallets/flask" in _plain(body), kind
    slack = chat.payload("slack", [r], skipped=SKIPPED)
    header = slack["blocks"][0]["text"]["text"]
    assert not header.endswith(chat.ELLIPSIS) and header == wording.report_title([r])
    assert "could not be" not in header
    named = slack["blocks"][1]["text"]["text"]
    assert named.startswith("*Not investigated* (see the report):") and "no_such_metric in pallets/flask" in _plain(named)
    # The headline itself is whole in the investigation's section.
    assert wording.headline(r).split(";")[0] in json.dumps(slack["blocks"][2], ensure_ascii=False)


def test_a_short_headline_stays_the_header_and_many_skips_are_counted() -> None:
    rs = [make_result(), make_result("lead_time_seconds", detected=False)]
    slack = chat.payload("slack", rs, skipped=[f"t{i} in s: no data" for i in range(8)])
    assert slack["blocks"][0]["text"]["text"] == "1 of 2 metrics regressed."
    named = slack["blocks"][1]["text"]["text"]
    assert "t4 in s: no data" in named and "t5 in s" not in named and "…and 3 more targets" in named
