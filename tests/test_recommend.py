"""Recommendations (rca.engine.recommend): the demo's most effective lever comes first, levers are the
graph's actionable ancestors, and bad questions raise one clear line."""

from __future__ import annotations

import json

import pytest

from graphs import shipped_graph
from graphs.model import parse_graph
from rca import sample
from rca.engine.errors import EngineInputError
from rca.engine.recommend import levers_of, recommend
from rca.frames import to_wide


def test_demo_top_lever_is_the_one_the_generator_made_most_effective() -> None:
    """The sample drops line coverage by 12 points in the last quarter; its total effect on the bug-fix
    ratio (-0.30 * 0.6 - 0.10 = -0.28 per unit) makes raising it back the biggest improvement by far."""
    demo = sample.generate()
    graph = shipped_graph("delivery")
    frame = to_wide(demo.observations, graph)  # the frame the demo's store gives the engine
    r = recommend(frame, graph, demo.target, seed=0, bootstrap=100, samples=500)
    assert r.top.lever == demo.cause == "line_coverage_ratio"
    assert r.top.interval[0] > r.items[1].interval[1]  # clearly ahead of the runner-up
    assert r.top.current < 0.72 and r.top.goal > 0.8 and r.top.goal_quantile == 0.75
    assert r.top.improvement == pytest.approx(0.28 * (r.top.goal - r.top.current), rel=0.25)
    assert r.top.probability_better == 1.0
    assert {x.lever for x in r.items} == set(levers_of(graph, demo.target))
    assert r.answer.startswith("Raising line coverage ratio from 68% to 84% (its 75th percentile) would lower "
                               "bug fix commit ratio by ")
    doc = json.loads(r.to_json())
    assert doc["recommendations"][0]["lever"] == "line_coverage_ratio" and doc["current_rows"] == 13


def test_levers_are_actionable_ancestors() -> None:
    g = shipped_graph("delivery")
    assert levers_of(g, "bug_fix_commit_ratio") == ["newcomer_commit_ratio", "median_change_size_lines",
                                                     "test_churn_ratio", "line_coverage_ratio"]
    assert "bug_introducing_commit_ratio" not in levers_of(g, "incidents_count")
    assert set(levers_of(g, "lead_time_seconds")) == {"newcomer_commit_ratio", "median_change_size_lines",
                                                      "build_duration_seconds"}
    outcomes = {"bug_fix_commit_ratio", "bug_introducing_commit_ratio", "incidents_count", "deploys_count",
                "lead_time_seconds", "commits_count"}
    assert all(not g.nodes[n].actionable for n in outcomes)
    git = shipped_graph("git-quality")
    assert not git.nodes["bug_fix_commit_ratio"].actionable and git.nodes["median_change_size_lines"].actionable


def test_no_levers_and_unknown_targets_are_clear_errors() -> None:
    g = parse_graph("""
name: none
unit: week
nodes: {a: {actionable: false}, b: {actionable: false}}
edges: [[a, b]]
""")
    frame = sample.generate().wide.iloc[:, :2].set_axis(["a", "b"], axis=1)
    with pytest.raises(EngineInputError, match="marks every node upstream of 'b' actionable: false"):
        recommend(frame, g, "b")
    with pytest.raises(EngineInputError, match="is not a node"):
        recommend(frame, g, "c")
    with pytest.raises(EngineInputError, match="not upstream of it"):
        recommend(frame, g, "a", levers=["b"])


def test_sampled_and_closed_form_bootstraps_agree_on_the_demo() -> None:
    """Log-linear or non-linear mechanisms take the sampled path (refit, draw interventional samples);
    on a linear model both paths estimate the same interval."""
    import rca.engine.recommend as rec

    demo = sample.generate()
    graph = shipped_graph("delivery")
    fast = recommend(demo.wide, graph, demo.target, seed=1, bootstrap=40, samples=300,
                     levers=["line_coverage_ratio"])
    real = rec.linear.Structure.additive
    try:
        rec.linear.Structure.additive = property(lambda self: False)
        slow = recommend(demo.wide, graph, demo.target, seed=1, bootstrap=20, samples=300,
                         levers=["line_coverage_ratio"])
    finally:
        rec.linear.Structure.additive = real
    assert slow.top.improvement == pytest.approx(fast.top.improvement)
    assert slow.top.interval[0] == pytest.approx(fast.top.interval[0], rel=0.2)
    assert slow.top.interval[1] == pytest.approx(fast.top.interval[1], rel=0.2)
    assert any("sampled refits" in c for c in slow.caveats)


def test_a_ratio_with_negative_values_is_refused() -> None:
    """A 'ratio' of -0.3 means the data or the graph is wrong; a model clipped to [0, 1] for its estimate but
    not for its interval printed a point outside its own interval."""
    demo = sample.generate()
    graph = shipped_graph("delivery")
    frame = to_wide(demo.observations, graph)
    frame["bug_fix_commit_ratio"] = frame["bug_fix_commit_ratio"] - 0.3
    with pytest.raises(EngineInputError, match=r"bug_fix_commit_ratio is a ratio \(between 0 and 1\) but .* rows lie "
                                               r"outside \[0, 1\].*kind: continuous"):
        recommend(frame, graph, demo.target, seed=0, bootstrap=20)


def test_every_point_lies_in_its_interval_near_the_end_of_a_ratio() -> None:
    """A bug-fix ratio at zero half of the time: interventional samples fall below 0%. Clipping them for the
    estimate but not for its interval put the estimate outside its own interval; one rule now makes both."""
    demo = sample.generate()
    graph = shipped_graph("delivery")
    frame = to_wide(demo.observations, graph)
    y = frame["bug_fix_commit_ratio"]
    frame["bug_fix_commit_ratio"] = (y - y.quantile(0.5)).clip(lower=0) + 0.0005
    r = recommend(frame, graph, demo.target, seed=0, bootstrap=60)
    for item in r.items:
        assert item.interval[0] <= item.improvement <= item.interval[1], item
