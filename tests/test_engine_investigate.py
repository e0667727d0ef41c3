"""investigate() end to end: integer data, lags, missing values, the null case, determinism, what-if."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs import shipped_graph
from graphs.model import parse_graph
from rca import sample
from rca.engine import ModelCache, Options, Question, Window, intervene, investigate
from rca.engine.counterfactuals import counterfactual_mean
from rca.engine.fitting import seed_everything, to_dowhy
from rca.engine.frames import prepare
from tests.engine_helpers import AB, BC, CHAIN, chain_rows, frame

COUNTS = parse_graph(
    """
name: counts
unit: week
nodes:
  commits_count: {kind: count}
  deploys_count: {kind: count}
  incidents_count: {kind: count}
edges:
  - [commits_count, deploys_count]
  - [deploys_count, incidents_count]
""",
    "counts.yaml",
)

LAGGED = parse_graph(
    """
name: lagged
unit: week
nodes: [x, z, y]
edges:
  - [x, y, {lag: 1}]
  - [z, y]
""",
    "lagged.yaml",
)


def _demo_question(s: sample.Sample) -> Question:
    return Question(s.target, baseline=Window(*s.baseline), current=Window(*s.current))


def _comparable(result) -> dict:
    d = result.to_dict()
    d["model"].pop("fitted_at")
    d.pop("timings_s")
    return d


def test_integer_counts_never_fail_and_find_the_spike() -> None:
    rng = np.random.default_rng(5)
    commits = rng.poisson(60, 120)
    deploys = np.maximum(0, np.round(commits / 4 + rng.normal(0, 1, 120))).astype(int)
    incidents = np.maximum(0, np.round(deploys / 3 + rng.normal(0, 0.7, 120))).astype(int)
    data = pd.DataFrame(
        {"commits_count": commits, "deploys_count": deploys, "incidents_count": incidents},
        index=pd.date_range("2024-01-01", periods=120, freq="7D", tz="UTC"),
    )
    data.iloc[-1] = [140, 35, 12]  # an unseen burst of commits: the discrete-model failure case
    assert all(str(t).startswith("int") for t in data.dtypes)
    at = data.index[-1]
    r = investigate(data, COUNTS, Question("incidents_count", at=Window(at, at)), options=Options(seed=0))
    assert r.causes[0].node == "commits_count"
    assert sum(c.contribution for c in r.causes) == pytest.approx(12 - incidents[:-1].mean(), abs=1e-9)
    w = intervene(data, COUNTS, "incidents_count", {"commits_count": 500})
    assert w.mean > w.baseline_mean and w.interval[0] >= 0  # counts are clipped at zero


def test_lagged_cause_is_folded_into_its_node() -> None:
    rng = np.random.default_rng(6)
    n = 160
    x = rng.normal(10, 1, n)
    x[-40:] += 2.0  # x rises in the last 40 weeks; y follows a week later
    z = rng.normal(0, 1, n)
    y = 3 * np.r_[x[0], x[:-1]] + z + rng.normal(0, 0.5, n)
    data = frame(np.column_stack([x, z, y]), ["x", "z", "y"])
    q = Question(
        "y", baseline=Window(data.index[1], data.index[119]), current=Window(data.index[121], data.index[-1])
    )
    r = investigate(data, LAGGED, q, options=Options(seed=0))
    assert [c.node for c in r.causes][0] == "x"
    assert not any("[t-" in c.node for c in r.causes)
    top = r.causes[0]
    assert top.contribution == pytest.approx(6.0, rel=0.15) and top.significant
    assert r.counterfactuals and r.counterfactuals[0].target == pytest.approx(y[121:].mean() - 6.0, abs=0.8)
    assert any("lagged inputs" in c for c in r.caveats)


def test_missing_values_are_dropped_and_reported() -> None:
    rng = np.random.default_rng(7)
    old, new = chain_rows(120, rng), chain_rows(60, rng, shift_a=-1.0)
    data = frame(np.vstack([old, new]), ["a", "b", "c"])
    data.iloc[[3, 17, 50, 130, 150], 1] = np.nan
    q = Question(
        "c", baseline=Window(data.index[0], data.index[119]), current=Window(data.index[120], data.index[-1])
    )
    r = investigate(data, CHAIN, q, options=Options(seed=0))
    assert any("5 of 180 row(s) had missing values" in c for c in r.caveats)
    assert r.causes[0].node == "a" and r.regression.detected
    assert r.model.rows == 117


def test_demo_cause_and_the_null_case() -> None:
    injected = sample.generate()
    graph = shipped_graph("delivery")
    r = investigate(injected.wide, graph, _demo_question(injected), options=Options(seed=0))
    assert r.regression.detected and r.causes[0].node == "line_coverage_ratio" and r.causes[0].significant
    clean = sample.generate(inject=False)
    r0 = investigate(clean.wide, graph, _demo_question(clean), options=Options(seed=0))
    assert not r0.regression.detected
    assert not any(c.significant and c.node != clean.target for c in r0.causes)


def test_same_seed_same_result_and_cache_reuse() -> None:
    s = sample.generate()
    graph = shipped_graph("delivery")
    cache = ModelCache()
    at = s.wide.index[-3]
    q = Question(s.target, at=Window(at, at))
    first = investigate(s.wide, graph, q, options=Options(seed=3), cache=cache)
    second = investigate(s.wide, graph, q, options=Options(seed=3), cache=cache)
    assert _comparable(first) == _comparable(second)
    assert cache.hits == 1 and cache.misses == 1
    other = investigate(s.wide, graph, q, options=Options(seed=4))
    assert other.causes[0].interval != first.causes[0].interval  # the seed drives the resamples


def test_counterfactual_matches_dowhy() -> None:
    rng = np.random.default_rng(8)
    rows = chain_rows(300, rng)
    rows[-1] = [3.0, AB * 3.0 + 0.2, BC * (AB * 3.0 + 0.2) - 0.1]
    data = frame(rows, ["a", "b", "c"])
    at = data.index[-1]
    r = investigate(data, CHAIN, Question("c", at=Window(at, at)), options=Options(seed=0))
    cf = next(c for c in r.counterfactuals if "a" in c.intervention)
    seed_everything(0)
    scm = to_dowhy(prepare(data.iloc[:-1], CHAIN).frame, CHAIN)
    columns = prepare(data, CHAIN).columns
    theirs = counterfactual_mean(scm, "c", data.iloc[[-1]], columns, cf.intervention)
    assert cf.target == pytest.approx(theirs, abs=1e-6)
    assert cf.interval[0] <= cf.target <= cf.interval[1]


def test_what_if_follows_the_total_effect() -> None:
    rng = np.random.default_rng(9)
    data = frame(chain_rows(400, rng), ["a", "b", "c"])
    lo = intervene(data, CHAIN, "c", {"a": -1.0}, options=Options(seed=0))
    hi = intervene(data, CHAIN, "c", {"a": 1.0}, options=Options(seed=0))
    assert (hi.mean - lo.mean) / 2 == pytest.approx(AB * BC, rel=0.05)
    assert hi.interval[0] < hi.mean < hi.interval[1]


def test_short_history_gets_a_caveat_and_nonlinear_graphs_still_work() -> None:
    rng = np.random.default_rng(10)
    rows = chain_rows(14, rng)
    rows[-1] = [-3.0, AB * -3.0, BC * AB * -3.0]
    data = frame(rows, ["a", "b", "c"])
    at = data.index[-1]
    r = investigate(data, CHAIN, Question("c", at=Window(at, at)), options=Options(seed=0, bootstrap=50))
    assert any("only 13 rows" in c for c in r.caveats)
    nonlinear = parse_graph(CHAIN_TEXT_NONLINEAR, "nl.yaml")
    long = frame(chain_rows(150, rng), ["a", "b", "c"])
    long.iloc[-1] = [-3.0, AB * -3.0, BC * AB * -3.0]
    r = investigate(
        long,
        nonlinear,
        Question("c", at=Window(long.index[-1], long.index[-1])),
        options=Options(seed=0, bootstrap=2, num_samples=200),
    )
    assert r.causes[0].node == "a"
    assert "sampling" in r.model.quality["attribution"]
    total = long["c"].iloc[-1] - long["c"].iloc[:-1].mean()
    assert sum(c.contribution for c in r.causes) == pytest.approx(total, rel=0.1)


CHAIN_TEXT_NONLINEAR = """
name: chain-nl
unit: day
nodes:
  a: {}
  b: {mechanism: nonlinear}
  c: {}
edges: [[a, b], [b, c]]
"""
