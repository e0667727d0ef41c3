"""A report made long after its data stopped says how old the data is: a caveat in the result, a line in
the HTML and Markdown report and in every chat summary; data that reach the last full bucket say nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from rca import pipeline
from reports import chat, render
from results import wording
from tests.report_results import make_result


def test_the_age_of_stale_data_is_said_against_the_time_of_reading() -> None:
    r = replace(make_result(), data_end="2026-04-06T00:00:00Z")
    said = wording.data_age(r, datetime(2026, 12, 1, tzinfo=UTC))
    assert said == ("The data end with the week of 2026-04-06, 33 weeks before this report (2026-12-01): "
                    "nothing since is in it.")
    # The last full week, or the week before it: fresh.
    assert wording.data_age(r, datetime(2026, 4, 20, 12, tzinfo=UTC)) == ""
    assert wording.data_age(r, datetime(2026, 4, 27, 12, tzinfo=UTC)) == ""
    assert "3 weeks before" in wording.data_age(r, datetime(2026, 5, 4, 12, tzinfo=UTC))
    daily = replace(r, graph_unit="day")
    assert "5 days before" in wording.data_age(daily, datetime(2026, 4, 12, tzinfo=UTC))
    assert wording.data_age(replace(r, data_end=""), datetime(2030, 1, 1, tzinfo=UTC)) == ""


def _weekly(end: pd.Timestamp, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    idx = pd.date_range(end=end, periods=n, freq="7D")
    cov = 0.8 + rng.normal(0, 0.02, n)
    bugs = 0.4 - 0.3 * cov + rng.normal(0, 0.01, n)
    return pd.DataFrame({"ts": idx.strftime("%Y-%m-%dT%H:%M:%SZ"), "line_coverage_ratio": cov, "bug_fix_commit_ratio": bugs})


GRAPH = """
name: tiny
unit: week
nodes:
  line_coverage_ratio: {kind: ratio, higher_is_worse: false}
  bug_fix_commit_ratio: {kind: ratio}
edges:
  - [line_coverage_ratio, bug_fix_commit_ratio]
"""


def _investigate(table: pd.DataFrame):
    from graphs.model import parse_graph

    req = pipeline.request(target="bug_fix_commit_ratio", graph="tiny", last="13 weeks")
    return pipeline.investigate(req, pipeline.settings(None), data=table, graph=parse_graph(GRAPH)).result


def test_an_investigation_of_old_data_says_so_in_every_rendering() -> None:
    r = _investigate(_weekly(pd.Timestamp("2025-03-03", tz="UTC")))
    assert r.data_end == "2025-03-03T00:00:00Z"
    assert any(c.startswith("the data end with the week of 2025-03-03, ") and "before this investigation" in c
               for c in r.caveats), r.caveats
    assert "The data end with the week of 2025-03-03" in render(r, "html")
    assert "The data end with the week of 2025-03-03" in render(r, "md")
    for kind in chat.KINDS:
        assert "The data end with the week of 2025-03-03" in json.dumps(chat.payload(kind, [r]), ensure_ascii=False), kind


def test_data_up_to_the_last_full_week_is_not_called_old() -> None:
    monday = pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    monday -= timedelta(days=monday.weekday())
    r = _investigate(_weekly(monday - timedelta(weeks=1)))
    assert not any("the data end" in c for c in r.caveats)
    assert "The data end" not in render(r, "html") and "The data end" not in json.dumps(chat.payload("slack", [r]))
