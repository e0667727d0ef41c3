"""A cause that acts through a lagged edge is described at its lag: the values it had then and the
level a counterfactual holds it at then, not the values of the week asked about (real engine runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.model import parse_graph
from rca.engine import Options, Question, Window, investigate
from reports import render
from results import wording

# The old git-quality graph's pair of edges: the bug-introducing share this week and last week.
GRAPH = parse_graph(
    """
name: lagged-bugs
unit: week
nodes:
  bug_introducing_commit_ratio: {kind: ratio}
  bug_fix_commit_ratio: {kind: ratio}
edges:
  - [bug_introducing_commit_ratio, bug_fix_commit_ratio]
  - [bug_introducing_commit_ratio, bug_fix_commit_ratio, {lag: 1}]
""",
    "lagged-bugs.yaml",
)
X, Y = "bug_introducing_commit_ratio", "bug_fix_commit_ratio"


def _weeks(x: np.ndarray, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.empty_like(x)
    y[0] = 0.2
    y[1:] = 0.12 + 0.05 * x[1:] + 0.8 * x[:-1] + rng.normal(0, 0.02, len(x) - 1)
    idx = pd.date_range("2024-01-01", periods=len(x), freq="7D", tz="UTC")
    return pd.DataFrame({X: x, Y: np.clip(y, 0, 1)}, index=idx)


def test_an_anomaly_driven_by_last_weeks_value_is_worded_at_that_week() -> None:
    rng = np.random.default_rng(1)
    x = np.clip(rng.normal(0.16, 0.04, 110), 0, 1)
    x[-2], x[-1] = 0.33, 0.0  # last week's share was high; this week's is nil
    data = _weeks(x)
    at = data.index[-1]
    r = investigate(data, GRAPH, Question(Y, at=Window(at, at)), options=Options(bootstrap=20))
    top = wording.top_cause(r)
    assert top is not None and top.node == X
    text = r.explanation
    # Its movement: last week's 33% against its usual level, never this week's 0.0% as the driver.
    assert "rising bug introducing commit ratio in the week before (16% to 33%)" in text, text
    assert "to 0.0%)" not in text and "falling bug introducing" not in text
    # The counterfactual holds it at its usual level in the week that mattered, and says what it was then.
    assert "stayed at its median, 16%, in the week before (it was 33%)" in text, text
    for fmt in ("html", "md"):
        assert "in the week before (it was 33%)" in render(r, fmt), fmt


def test_a_change_through_a_lag_says_how_much_earlier() -> None:
    rng = np.random.default_rng(2)
    x = np.clip(rng.normal(0.16, 0.03, 120), 0, 1)
    x[-27:-1] += 0.2  # the share rose a week before the current window began, and stays up but for its last week
    data = _weeks(x)
    idx = data.index
    q = Question(Y, baseline=Window(idx[-60], idx[-27]), current=Window(idx[-26], idx[-1]))
    r = investigate(data, GRAPH, q, options=Options(bootstrap=20))
    assert "rising bug introducing commit ratio 1 week earlier (" in r.explanation, r.explanation


PERSISTENT = parse_graph(
    """
name: persistent
unit: week
nodes:
  newcomer_commit_ratio: {kind: ratio}
  bug_fix_commit_ratio: {kind: ratio}
edges:
  - [newcomer_commit_ratio, newcomer_commit_ratio, {lag: 1}]
  - [newcomer_commit_ratio, bug_fix_commit_ratio]
""",
    "persistent.yaml",
)


def test_a_part_through_its_own_persistence_is_described_in_the_week_asked_about() -> None:
    """Last week's newcomer share reaches the bug-fix share only through this week's newcomer share (its own
    persistence): this week's value is what drove it, and what the words give."""
    rng = np.random.default_rng(6)
    n = 110
    x = np.empty(n)
    x[0] = 0.2
    for i in range(1, n):
        x[i] = 0.04 + 0.8 * x[i - 1] + rng.normal(0, 0.03)
    x[-2] = 0.6  # a spike last week, carried on into this week by persistence (less a little of its own)
    x[-1] = 0.04 + 0.8 * x[-2] - 0.15
    y = np.clip(0.1 + 0.5 * x + rng.normal(0, 0.01, n), 0, 1)
    idx = pd.date_range("2024-01-01", periods=n, freq="7D", tz="UTC")
    data = pd.DataFrame({"newcomer_commit_ratio": x, Y: y}, index=idx)
    r = investigate(data, PERSISTENT, Question(Y, at=Window(idx[-1], idx[-1])), options=Options(bootstrap=20))
    top = wording.top_cause(r)
    assert top is not None and top.node == "newcomer_commit_ratio"
    assert dict(top.lags)[1] > 0 > dict(top.lags)[0]  # the part through last week's value carries it all
    assert "rising newcomer commit ratio (21% to 37%)" in r.explanation, r.explanation
    assert "week before" not in r.explanation
