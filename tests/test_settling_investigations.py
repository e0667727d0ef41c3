"""Weeks still settling (bug-introducing figures whose fixes have not come yet) are never a cause in an
investigation, by the same rule graph checks and suggestions follow: the settling node is left out of the
graph when the rows asked about reach into its settling weeks, with a caveat; a settling target says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.model import parse_graph
from rca import pipeline
from results import wording

GRAPH = parse_graph(
    """
name: bugs
unit: week
nodes:
  commits_count: {agg: sum, kind: count}
  newcomer_commit_ratio: {agg: mean, kind: ratio}
  median_change_size_lines: {agg: median}
  bug_introducing_commit_ratio: {agg: mean, kind: ratio}
  bug_fix_commit_ratio: {agg: mean, kind: ratio}
edges:
  - [median_change_size_lines, bug_introducing_commit_ratio]
  - [bug_introducing_commit_ratio, bug_fix_commit_ratio]
  - [newcomer_commit_ratio, bug_fix_commit_ratio]
""",
    "bugs.yaml",
)
INTRO, FIX, NEW = "bug_introducing_commit_ratio", "bug_fix_commit_ratio", "newcomer_commit_ratio"


def _table() -> pd.DataFrame:
    """200 weeks of a Git table. The bug-fix share follows the bug-introducing share and the newcomer share;
    over the last 13 weeks the newcomer share fell (a real change) and, over the last 30, the recorded
    bug-introducing share fell towards 0 only because its fixes have not come yet (they take ~20 weeks)."""
    rng = np.random.default_rng(11)
    n = 200
    ts = pd.date_range("2022-01-03", periods=n, freq="7D", tz="UTC")
    size = 30 + rng.normal(0, 5, n)
    intro = np.clip(0.2 + 0.004 * (size - 30) + rng.normal(0, 0.03, n), 0, 1)
    newcomer = np.clip(0.3 + rng.normal(0, 0.04, n), 0, 1)
    newcomer[-13:] -= 0.12
    fix = np.clip(0.05 + 0.6 * intro + 0.4 * newcomer + rng.normal(0, 0.015, n), 0, 1)
    recorded = intro.copy()
    recorded[-30:] *= np.linspace(1, 0, 30)
    metrics = {"commits_count": np.round(40 + rng.normal(0, 4, n)), "median_change_size_lines": size,
               NEW: newcomer, INTRO: recorded, FIX: fix, "time_to_fix_seconds": np.full(n, 20 * 7 * 86400.0),
               "bug_fix_commits_count": np.full(n, 8.0)}
    rows = [(t, "acme/x", m, float(v), "git") for m, values in metrics.items() for t, v in zip(ts, values, strict=True)]
    return pd.DataFrame(rows, columns=["ts", "scope", "metric", "value", "source"])


def _ask(table: pd.DataFrame, target: str, **window):
    req = pipeline.request(target=target, graph=GRAPH.name, **window)
    return pipeline.investigate(req, pipeline.settings(None), data=table, graph=GRAPH).result


def test_a_still_settling_fall_is_never_the_cause() -> None:
    r = _ask(_table(), FIX, last="13 weeks")
    assert INTRO not in {c.node for c in r.causes}, [(c.node, c.share) for c in r.causes]
    assert (INTRO, FIX, 0) not in r.edges and ("median_change_size_lines", FIX, 0) in r.edges  # its path kept
    assert any(c.startswith(f"left out as a cause: {INTRO}, still settling from") for c in r.caveats), r.caveats
    assert "half of the fixes come within 20 weeks (the median time to fix)" in " ".join(r.caveats)
    top = wording.top_cause(r)
    assert top is not None and top.node == NEW and top.share > 0.5, [(c.node, c.share) for c in r.causes]
    assert "bug introducing" not in r.explanation


def test_settled_weeks_keep_the_node_as_a_cause() -> None:
    """Rows asked about before the settling weeks: the graph is asked as it is."""
    table = _table()
    at = sorted(set(table["ts"]))[-60]
    r = _ask(table, FIX, at=at.strftime("%Y-%m-%d"))
    assert INTRO in {c.node for c in r.causes} and (INTRO, FIX, 0) in r.edges
    assert not any("settling" in c for c in r.caveats)


def test_a_settling_target_says_its_fall_is_not_yet_a_finding() -> None:
    r = _ask(_table(), INTRO, last="8 weeks")
    assert r.settling_since
    assert any(c.startswith(f"{INTRO} is still settling from") for c in r.caveats), r.caveats
    assert "still settling: a commit counts as bug-introducing only once a later fix reveals it" in r.explanation
    assert "not yet a finding" in r.to_dict()["explanation"]


def test_settling_counts_back_from_when_the_table_was_written(tmp_path) -> None:
    """A table file is the collection that wrote it: written the week of its last commit, its latest weeks
    are still settling; written long after (its fixes have had time to come), none is, and the fall of the
    bug-introducing share is then a finding like any other."""
    import os

    table = _table()
    path = tmp_path / "history.csv"
    table.to_csv(path, index=False)
    last = pd.Timestamp(table["ts"].max())
    for written, settling in ((last + pd.Timedelta(days=2), True), (last + pd.Timedelta(weeks=40), False)):
        os.utime(path, (written.timestamp(), written.timestamp()))
        req = pipeline.request(target=FIX, graph=GRAPH.name, last="13 weeks")
        r = pipeline.investigate(req, pipeline.settings(None), data=str(path), graph=GRAPH).result
        left_out = any(c.startswith(f"left out as a cause: {INTRO}") for c in r.caveats)
        assert left_out is settling, (written, r.caveats)
        assert (INTRO in {c.node for c in r.causes}) is not settling
    check = pipeline.check_graph(GRAPH, str(path), pipeline.settings(None), permutations=5)
    assert not any("still settling" in n for n in check.notes)  # written 40 weeks on: nothing to leave out
