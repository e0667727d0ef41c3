"""A lag node (``lag_of``): a cause acting through a lagged copy is traced to where the change started."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.model import GraphError, parse_graph, unrolled
from rca.engine import Options, Question, Window, investigate

DOT = """digraph delivery {
  graph [unit=week];
  coverage_ratio [agg=last, higher_is_worse=false];
  change_lines [agg=median, higher_is_worse=true];
  bug_introducing_ratio [agg=mean, higher_is_worse=true];
  bug_introducing_ratio_lag1 [agg=mean, higher_is_worse=true, lag_of=bug_introducing_ratio, lag=1];
  bug_fix_ratio [agg=mean, higher_is_worse=true];
  coverage_ratio -> bug_introducing_ratio;
  change_lines -> bug_introducing_ratio;
  bug_introducing_ratio_lag1 -> bug_fix_ratio;
  change_lines -> bug_fix_ratio;
}"""


def _weeks(seed: int, n: int = 120, erosion_from: int = 90) -> pd.DataFrame:
    """Coverage erodes from week ``erosion_from``; bugs introduced follow; fixes follow a week later."""
    rng = np.random.default_rng(seed)
    coverage = 0.75 + 0.02 * rng.normal(size=n)
    coverage[erosion_from:] -= 0.12
    lines = np.exp(4 + 0.3 * rng.normal(size=n))
    bir = 0.9 - 0.9 * coverage + 0.0004 * lines + 0.015 * rng.normal(size=n)
    lag1 = np.r_[bir[0], bir[:-1]]
    fixes = 0.05 + 0.8 * lag1 + 0.0002 * lines + 0.01 * rng.normal(size=n)
    index = pd.date_range("2023-01-02", periods=n, freq="7D", tz="UTC", name="ts")
    return pd.DataFrame({"coverage_ratio": coverage, "change_lines": lines, "bug_introducing_ratio": bir,
                         "bug_introducing_ratio_lag1": lag1, "bug_fix_ratio": fixes}, index=index)


def test_a_lag_node_is_caused_by_its_nodes_parents_shifted_the_same_way() -> None:
    g = parse_graph(DOT, "delivery.dot")
    node = g.nodes["bug_introducing_ratio_lag1"]
    assert (node.lag_of, node.lag) == ("bug_introducing_ratio", 1)
    dag, columns = unrolled(g)
    assert set(dag.predecessors("bug_introducing_ratio_lag1")) == {"coverage_ratio[t-1]", "change_lines[t-1]"}
    assert columns["coverage_ratio[t-1]"] == ("coverage_ratio", 1)
    assert "coverage_ratio" in g.ancestors("bug_fix_ratio")
    assert g.max_lag == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_change_through_a_lag_node_is_attributed_where_it_started(seed: int) -> None:
    data = _weeks(seed)
    g = parse_graph(DOT, "delivery.dot")
    q = Question("bug_fix_ratio", baseline=Window(data.index[1], data.index[89]), current=Window(data.index[91], data.index[-1]))
    r = investigate(data, g, q, options=Options(seed=0, bootstrap=40))
    first = r.causes[0]
    assert first.node == "coverage_ratio", [(c.node, round(c.contribution, 4), c.unusual) for c in r.causes]
    assert first.significant and first.share > 0.7
    assert abs(r.unexplained.share) < 0.25
    assert "not explained by the modelled causes" not in r.explanation


def test_a_lag_without_lag_of_and_a_lag_of_an_unknown_node_are_refused() -> None:
    with pytest.raises(GraphError, match="no lag_of"):
        parse_graph("digraph { a [lag=1]; a -> b }", "g.dot")
    with pytest.raises(GraphError, match="not another node"):
        parse_graph("digraph { a [lag_of=zzz]; a -> b }", "g.dot")
