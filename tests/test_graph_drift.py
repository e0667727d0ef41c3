"""A history whose dependencies changed half-way: the suggestion names the pairs, says why an edge was dropped,
and ``--since`` learns and checks the later years alone.

Seeded synthetic weeks: ``a`` drives ``b`` throughout; ``c`` drives ``d`` only in the later half (a tool the
project adopted). A test of the halves that ignored time would see nothing; one that flagged every pair would
name ``a ~ b`` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs import Node
from graphs.model import parse_graph
from rca.engine.discovery import suggest
from rca.engine.discovery_text import lines
from rca.engine.drift import halves

N = 300
LATE = "2021-11-22"  # week 150 (from 0) of 300 weeks from 2019-01-07: the first of the later half


def _later_half_edge(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, noise_b, c, noise_d = (rng.normal(size=N) for _ in range(4))
    d = noise_d.copy()
    d[N // 2:] += c[N // 2:]
    return pd.DataFrame({"a": a, "b": 0.8 * a + noise_b, "c": c, "d": d},
                        index=pd.date_range("2019-01-07", periods=N, freq="7D", tz="UTC"))


def _nodes(columns) -> dict[str, Node]:
    return {c: Node(name=c, metric=c) for c in columns}


def test_the_pair_whose_dependence_appeared_half_way_is_named_and_only_it() -> None:
    frame = _later_half_edge()
    x = frame.to_numpy(float)
    h = halves((x - x.mean(0)) / x.std(0), list(frame.columns), frame.index)
    assert h is not None and h.tested == 6
    assert [(d.a, d.b) for d in h.pairs] == [("c", "d")]
    (cd,) = h.pairs
    assert abs(cd.early) < 0.2 and cd.late > 0.5 and cd.q_value <= 0.01 and cd.kind == "appeared"
    assert h.late[0] == LATE and h.early == ("2019-01-07", "2021-11-15")


def test_a_dependence_that_only_strengthened_or_held_is_not_named_and_a_short_history_is_not_split() -> None:
    """c drives d in both halves, three times as hard in the later one (r about 0.45, then 0.85): the difference
    is significant, but the edge is in both halves, so the graph's structure did not change."""
    frame = _later_half_edge()
    c = frame["c"].to_numpy()
    steady = frame.assign(d=frame["d"].to_numpy() - np.r_[np.zeros(N // 2), c[N // 2:]]
                          + np.r_[0.5 * c[: N // 2], 1.6 * c[N // 2:]])
    x = steady.to_numpy(float)
    r1 = np.corrcoef(x[: N // 2, 2], x[: N // 2, 3])[0, 1]
    r2 = np.corrcoef(x[N // 2:, 2], x[N // 2:, 3])[0, 1]
    assert r1 > 0.3 and r2 > r1 + 0.3  # a change Fisher's z test alone would flag
    h = halves(x, list(steady.columns), steady.index)
    assert h is not None and h.pairs == ()
    flipped = steady.assign(d=steady["d"].to_numpy() - np.r_[np.zeros(N // 2), 3.2 * c[N // 2:]])
    (rev,) = halves(flipped.to_numpy(float), list(flipped.columns), flipped.index).pairs
    assert (rev.a, rev.b, rev.kind) == ("c", "d", "reversed")
    assert halves(x[:39], list(steady.columns), steady.index[:39]) is None


def test_the_suggestion_says_what_changed_why_an_edge_was_dropped_and_where_to_start() -> None:
    frame = _later_half_edge()
    start = parse_graph("name: s\nunit: week\nnodes: {a: {}, b: {}, c: {}, d: {}, e: {}}\n"
                        "edges:\n  - [a, b]\n  - [c, d]\n  - [a, d]\n")
    frame = frame.assign(e=np.random.default_rng(9).normal(size=N))
    s = suggest(frame, nodes=_nodes(frame.columns), tiers=[["a", "c", "e"], ["b", "d"]], start=start, max_lag=0,
                bootstrap=30, seed=0, min_frequency=0.5)
    why = {(e.source, e.target): e.why_dropped for e in s.edges if e.status == "dropped"}
    assert why.get(("a", "d")) == "not found"
    text = "\n".join(lines(s))
    assert "changed over the history: 1 of 10 pairs" in text
    assert "c ~ d: appeared in the later half (r +0.12, then +0.74" in text and f"--since {LATE}" in text
    # The later years' edge is strong enough to show in most stretches that reach them: it stays.
    kept = {(e.source, e.target): e for e in s.edges if e.status == "kept"}
    assert ("c", "d") in kept and kept[("c", "d")].frequency >= 0.5
    assert s.to_dict()["halves"]["changed"][0]["a"] == "c"


def test_since_learns_and_checks_the_later_years_alone(rca, tmp_path) -> None:
    wide = _later_half_edge().rename_axis("ts").reset_index()
    data = tmp_path / "weeks.csv"
    wide.to_csv(data, index=False)
    graph = tmp_path / "start.yaml"
    graph.write_text("name: s\nunit: week\nnodes: {a: {}, b: {}, c: {}, d: {}}\nedges:\n  - [a, b]\n")
    out = tmp_path / "late.yaml"
    res = rca("graph", "suggest", "--data", str(data), "--from", str(graph), "--tiers", "a, c; b, d",
              "--out", str(out), "--seconds", "20", "--since", LATE)
    assert res.code == 0, res.err
    assert "from 149 rows" in res.out  # the later 150 weeks, less the one a lag needs
    assert "+ c -> d" in res.out  # the later years' edge, found in them throughout
    checked = rca("graph", "check", str(out), "--data", str(data), "--since", LATE, "--permutations", "20")
    assert checked.code == 0 and "150 rows" in checked.out
    whole = rca("graph", "check", str(out), "--data", str(data), "--permutations", "20")
    assert "300 rows" in whole.out
    late = rca("graph", "check", str(out), "--data", str(data), "--since", "2031-01-01")
    assert late.code == 2 and late.err.count("\n") == 1 and "give an earlier --since" in late.err
