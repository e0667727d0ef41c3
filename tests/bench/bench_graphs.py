"""How well the shipped Git graph fits real histories, before and after its revision, and how well a suggested one holds.

Run ``python -m tests.bench.bench_graphs REPO_OR_TABLE... [--build NAME,...] [--cache DIR] [--before GRAPH]``.
Each argument is a local clone (collected weekly with SZZ, as ``rca collect --git CLONE --out`` does;
kept in ``--cache`` when given) or a table that command wrote. For each repository it prints,
for the graph as it was (``--before``, default ``tests/bench/git-quality-before.yaml``, the first
shipped graph) and as shipped now (``graphs/git-quality.yaml``): the edges the data support out of
all, the independence conditions that fail, and the permutation p (the share of randomly relabelled
graphs no worse: with fewer failures, or as many and no stronger evidence against them; below 0.05,
the graph's structure beats random ones). Then the 60/40 split: a graph suggested
(``rca graph suggest``, from the shipped graph's nodes) on the first 60% of the weeks, checked on the
last 40%. Repositories named in ``--build`` are marked as those the shipped graph was learnt from;
the others are held out.

``--synthetic`` instead measures how the learners recover known graphs from seeded synthetic weekly
data (:mod:`tests.graph_synthetic`): causal-learn's PC with the tiers as background knowledge (what
``rca graph suggest`` runs), and GES (BIC), which takes no background knowledge, with its edges
then oriented by the tiers and time; precision and recall of the directed, lagged edges.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
BEFORE = Path(__file__).with_name("git-quality-before.yaml")


def table(arg: str, cache: Path) -> Path:
    p = Path(arg)
    if p.is_file():
        return p
    from rca import pipeline

    out = cache / f"{p.resolve().name}.csv"
    if not out.exists():
        t0 = time.perf_counter()
        pipeline.export_git(p, out, "week")
        print(f"  collected {p} in {time.perf_counter() - t0:.0f} s -> {out}", file=sys.stderr)
    return out


def check(graph, data: pd.DataFrame, settings) -> tuple[int, int, int, int, float]:
    from rca import pipeline

    r = pipeline.check_graph(graph, data, settings, permutations=200)
    return sum(e.supported for e in r.edges), len(r.edges), r.violations, r.tests, r.permutation_p


def split(long: pd.DataFrame, share: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    weeks = np.sort(long.loc[long["metric"] == "commits_count", "ts"].unique())
    cut = weeks[int(len(weeks) * share)]
    return long[long["ts"] < cut], long[long["ts"] >= cut]


def passes(c: tuple[int, int, int, int, float]) -> bool:
    """The issue's bar: at least half the edges supported and p < 0.05 against random relabellings."""
    return c[0] * 2 >= c[1] and c[4] < 0.05


def fmt(c: tuple[int, int, int, int, float]) -> str:
    s, e, v, t, p = c
    return f"{s:>2}/{e:<2} edges, {v:>2}/{t:<2} fail, perm p={p:.3g}"


def real(args: argparse.Namespace) -> int:
    from graphs import load_graph
    from rca import pipeline

    settings = pipeline.settings(None)
    before, after = load_graph(args.before or BEFORE), load_graph(REPO / "graphs" / "git-quality.yaml")
    build = set(filter(None, args.build.split(",")))
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="bench-graphs-"))
    cache.mkdir(parents=True, exist_ok=True)
    print(f"{'repository':12} {'set':5} {'graph':7} {'supported edges, failed conditions, permutation p':52}")
    ok = True
    passed: dict[str, list[bool]] = {"held": [], "build": []}
    for arg in args.sources:
        path = table(arg, cache)
        name = Path(arg).resolve().name.removesuffix(".csv")
        role = "build" if name in build else "held"
        long = pd.read_csv(path, parse_dates=["ts"])
        b, a = check(before, long, settings), check(after, long, settings)
        first, last = split(long)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "suggested.yaml"
            pipeline.suggest_graph(first, settings, from_graph=after, out=out, seconds=args.seconds)
            s = check(load_graph(out), last, settings)
        took = time.perf_counter() - t0
        late = check(after, last, settings)  # what the last 40% can support at all: the shipped graph on it alone
        print(f"{name:12} {role:5} before  {fmt(b)}")
        print(f"{'':12} {'':5} after   {fmt(a)}")
        print(f"{'':12} {'':5} 60/40   {fmt(s)}  (suggested on the first 60%, checked on the last 40%; {took:.0f} s)")
        print(f"{'':12} {'':5} last40  {fmt(late)}  (the shipped graph on the last 40% alone)")
        passed[role].append(passes(s))
        if role == "held":
            ok &= passes(a) and passes(s)
    print("60/40 passed (>= 50% edges and p < 0.05):",
          ", ".join(f"{sum(v)} of {len(v)} {k}" for k, v in passed.items() if v))
    print("goal (held out: >= 50% edges and p < 0.05, whole and 60/40):", "met" if ok else "NOT met")
    return 0


def _score(found: set[tuple[str, str, int]], truth: frozenset[tuple[str, str, int]]) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(1, len(found)), hit / max(1, len(truth))


def _ges(frame: pd.DataFrame, tiers) -> set[tuple[str, str, int]]:
    from causallearn.search.ScoreBased.GES import ges

    from graphs.model import lagged_name
    from rca.engine.discovery import design

    names = list(frame.columns)
    data = design(frame, names, 1)
    cols = list(data.columns)
    x = data.to_numpy(float)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    g = ges(x, node_names=cols)["G"].graph
    tier = {n: i for i, t in enumerate(tiers) for n in t}
    lag = {c: (c, 0) for c in names} | {lagged_name(c, 1): (c, 1) for c in names}
    out = set()
    for i in range(len(cols)):
        for j in range(len(cols)):
            if i == j or g[i, j] == 0:
                continue
            (a, la), (b, lb) = lag[cols[i]], lag[cols[j]]
            if lb != 0 or a == b and la:
                continue
            if la > lb or tier[a] < tier[b] or (tier[a] == tier[b] and g[j, i] == 1 and g[i, j] == -1):
                out.add((a, b, la))
    return out


def synthetic(args: argparse.Namespace) -> int:
    from graphs import Node
    from rca.engine.discovery import suggest
    from tests.graph_synthetic import random_graph, simulate

    rows = {"pc": [], "ges": []}
    seconds = {"pc": [], "ges": []}
    for seed in range(args.graphs):
        edges, tiers = random_graph(10, 4, seed)
        syn = simulate(edges, tiers, args.rows, seed, autoregression=0.3, noise="skew")
        nodes = {n: Node(name=n, metric=n) for n in syn.frame.columns}
        t0 = time.perf_counter()
        s = suggest(syn.frame, nodes=nodes, tiers=syn.tiers, bootstrap=0)
        seconds["pc"].append(time.perf_counter() - t0)
        rows["pc"].append(_score({(e.source, e.target, e.lag) for e in s.graph.edges if e.source != e.target},
                                 syn.edges))
        t0 = time.perf_counter()
        rows["ges"].append(_score(_ges(syn.frame, syn.tiers), syn.edges))
        seconds["ges"].append(time.perf_counter() - t0)
    print(f"{args.graphs} random tiered graphs, 10 nodes, lag 1, {args.rows} rows, skewed noise, autoregression 0.3")
    for k, v in rows.items():
        prec, rec = np.mean(v, axis=0)
        print(f"  {k:4} precision {prec:.2f}  recall {rec:.2f}  median {np.median(seconds[k]):.2f} s per graph")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="*", help="local clones or tables written by rca collect --git --out")
    ap.add_argument("--build", default="", help="comma-separated names the shipped graph was learnt from")
    ap.add_argument("--cache", help="folder to keep collected tables in")
    ap.add_argument("--before", help="the graph to compare with (default: the first shipped git-quality graph)")
    ap.add_argument("--seconds", type=float, default=30.0, help="bootstrap time bound per suggestion")
    ap.add_argument("--synthetic", action="store_true", help="compare the learners on synthetic graphs instead")
    ap.add_argument("--graphs", type=int, default=10)
    ap.add_argument("--rows", type=int, default=300)
    args = ap.parse_args(argv)
    if args.synthetic:
        return synthetic(args)
    if not args.sources:
        ap.error("give local clones or collected tables (or --synthetic)")
    return real(args)


if __name__ == "__main__":
    sys.exit(main())
