"""Learn a causal graph from a wide frame, with the domain's order and time as constraints.

The structure is found by causal-learn's PC algorithm (Fisher-z tests of partial correlation)
over the nodes and their lagged copies (``node[t-k]``), with background knowledge that forbids
every edge against time (nothing at ``t`` causes anything at ``t-k``) and, within one bucket,
every edge from a later tier to an earlier one (people and activity before change size, before
review and tests, before bugs). A lagged edge may run from any tier: last week's bug fixing may
shape this week's activity. Edges the data cannot orient (two nodes of one tier) take the start
graph's direction when it has the edge, else the tiers' order and then the order the nodes came
in, and say so. Each edge's support is the partial correlation with its target given the
target's other parents (and its t-test p), and the share of resamples in which PC finds it again.
The resamples are stretches of consecutive buckets, half the history each at random starts, not a
bootstrap of the whole span: an edge found in only some years (a project's rules, tools and team
change) is found in few of them and left out, so the graph is what holds across the years, the
part most likely to hold in the weeks to come. The search is bounded: at most ``max_columns`` model columns, conditioning
sets of at most ``depth`` nodes, and resamples only while ``seconds`` last. As the
graph check does, it learns from the deviations from a slow trend of time (a knot a year).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from graphs import CausalGraph, Edge, Node
from graphs.model import build_graph, lagged_name
from rca.engine.checks import detrended, partial_corr, trend_basis
from rca.engine.drift import Halves, halves
from rca.engine.errors import EngineInputError

MAX_COLUMNS = 120  # model columns (nodes x (1 + lags)): past this PC's run time grows beyond minutes
_MAX_CONDITION = 1e10  # a correlation matrix this ill-conditioned has no usable partial correlations
_STRETCH = 0.5  # each resample: half the rows, consecutive
_COLLINEAR_R2 = 0.999  # a column its others explain this well is an identity (churn = added + deleted), not a cause


@dataclass(frozen=True)
class SuggestedEdge:
    """One edge of the suggested graph (or of the start graph that the data do not keep)."""

    source: str
    target: str
    lag: int
    status: str  # "kept" (in both), "added" (new), "dropped" (in the start graph only)
    partial_r: float  # with the target, given the target's other parents in the suggested graph
    p_value: float
    frequency: float | None  # share of resamples (stretches of the history) in which PC found it (None: none made)
    oriented: bool = True  # False: the data leave the direction open; the start graph or the tiers chose it
    why_dropped: str = ""  # for a dropped edge: "not found", "unstable" (under the resamples' bar), "cycle", "reversed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "lag": self.lag,
            "status": self.status,
            "partial_r": round(self.partial_r, 4),
            "p_value": float(f"{self.p_value:.3g}"),
            "frequency": None if self.frequency is None else round(self.frequency, 3),
            "oriented_by_data": self.oriented,
            **({"why_dropped": self.why_dropped} if self.why_dropped else {}),
        }


@dataclass(frozen=True)
class Suggestion:
    """A learnt graph, its edges' support and how it differs from the graph it started from."""

    graph: CausalGraph
    start: str | None  # the start graph's name
    edges: tuple[SuggestedEdge, ...]  # kept and added, then dropped
    tiers: tuple[tuple[str, ...], ...]  # the order used, earliest first (nodes in no tier: only time constrains them)
    rows: int
    alpha: float
    max_lag: int
    resamples: int  # resamples made (within the time bound)
    seconds: float
    notes: tuple[str, ...] = field(default=())
    changed: Halves | None = None  # pairs whose dependence differs between the earlier and later half

    def status(self, status: str) -> tuple[SuggestedEdge, ...]:
        return tuple(e for e in self.edges if e.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph": self.graph.name,
            "start": self.start,
            "rows": self.rows,
            "alpha": self.alpha,
            "max_lag": self.max_lag,
            "resamples": self.resamples,
            "tiers": [list(t) for t in self.tiers],
            "edges": [e.to_dict() for e in self.edges],
            "notes": list(self.notes),
            "halves": None if self.changed is None else self.changed.to_dict(),
            "seconds": round(self.seconds, 3),
        }


def design(frame: pd.DataFrame, nodes: Sequence[str], max_lag: int) -> pd.DataFrame:
    """The nodes and their lagged copies (shifted by rows, as the engine fits lags), complete rows only."""
    cols: dict[str, pd.Series] = {n: pd.to_numeric(frame[n], errors="coerce").astype("float64") for n in nodes}
    for k in range(1, max_lag + 1):
        for n in nodes:
            cols[lagged_name(n, k)] = cols[n].shift(k)
    out = pd.DataFrame(cols, index=frame.index).iloc[max_lag:]
    return out.dropna()


def forbidden_pairs(columns: Sequence[str], slot: Mapping[str, tuple[str, int]], tier: Mapping[str, int]) -> set[tuple[str, str]]:
    """Every (cause, effect) pair the order forbids: against time, or from a later tier into an earlier one
    within one bucket."""
    out = set()
    for a in columns:
        node_a, lag_a = slot[a]
        for b in columns:
            if a == b:
                continue
            node_b, lag_b = slot[b]
            later = lag_a < lag_b  # a is later in time than b
            later_tier = lag_a == lag_b and node_a in tier and node_b in tier and tier[node_a] > tier[node_b]
            if later or later_tier:
                out.add((a, b))
    return out


def _background(forbidden: set[tuple[str, str]]):
    from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

    bk = BackgroundKnowledge()
    # causal-learn scans its rule list on every question (and refuses subclasses): answer from a set instead.
    bk.is_forbidden = lambda a, b: (a.get_name(), b.get_name()) in forbidden
    bk.is_required = lambda a, b: False
    return bk


def pc_edges(x: np.ndarray, columns: Sequence[str], forbidden: set[tuple[str, str]], *, alpha: float,
             depth: int) -> tuple[set[tuple[str, str]], set[frozenset[str]]]:
    """PC on standardised ``x``: its directed edges (cause, effect) and its undirected adjacencies."""
    from causallearn.search.ConstraintBased.PC import pc
    from causallearn.utils.cit import fisherz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cg = pc(x, alpha=alpha, indep_test=fisherz, stable=True, background_knowledge=_background(forbidden),
                    show_progress=False, node_names=list(columns), max_k=depth)
        except ValueError as exc:  # causal-learn's Fisher-z on a singular correlation matrix
            if "singular" not in str(exc):
                raise
            raise EngineInputError("some columns are (almost) linear functions of others, so partial correlations "
                                   "are undefined; leave the redundant metrics out") from None
    g = cg.G.graph  # g[j, i] == 1 and g[i, j] == -1: i -> j; both -1: i -- j; both 1: i <-> j
    directed, undirected = set(), set()
    p = len(columns)
    for i in range(p):
        for j in range(i + 1, p):
            a, b = g[i, j], g[j, i]
            if a == 0 and b == 0:
                continue
            if a == -1 and b == 1:
                directed.add((columns[i], columns[j]))
            elif a == 1 and b == -1:
                directed.add((columns[j], columns[i]))
            else:  # undirected, or both ways (conflicting colliders): the data do not decide
                undirected.add(frozenset((columns[i], columns[j])))
    return directed, undirected


def _collinear(x: np.ndarray, columns: list[str]) -> list[str]:
    """Columns the others explain almost exactly, dropped last-first until none is left."""
    dropped: list[str] = []
    keep = list(range(len(columns)))
    while len(keep) > 1:
        corr = np.corrcoef(x[:, keep], rowvar=False)
        try:
            inv = np.linalg.inv(corr)
            r2 = 1 - 1 / np.clip(np.diag(inv), 1.0, None)
        except np.linalg.LinAlgError:
            r2 = np.ones(len(keep))
        worst = int(np.argmax(r2[::-1]))  # the latest column among the worst
        worst = len(keep) - 1 - worst
        if r2[worst] < _COLLINEAR_R2 or not np.isfinite(r2[worst]):
            break
        dropped.append(columns[keep[worst]])
        keep.pop(worst)
    return dropped


def _orient(directed: set[tuple[str, str]], undirected: set[frozenset[str]], slot: Mapping[str, tuple[str, int]],
            rank: Mapping[str, tuple[int, int]], start: set[tuple[str, str, int]]) -> tuple[list[tuple[str, str]], set]:
    """Edges into the current bucket as (cause column, effect node); undirected ones oriented by the start graph,
    else by the order. Returns the edges and the set of those the data did not orient."""
    edges: list[tuple[str, str]] = []
    chosen: set[tuple[str, str]] = set()
    for a, b in sorted(directed):
        if slot[b][1] == 0:
            edges.append((a, b))
    for pair in sorted(undirected, key=sorted):
        a, b = sorted(pair)
        (na, la), (nb, lb) = slot[a], slot[b]
        if la and lb:
            continue  # both in the past: not an edge of the graph
        if la or lb:  # time orients it (the background knowledge should have)
            src, dst = (a, b) if la > lb else (b, a)
        elif (na, nb, 0) in start:
            src, dst = a, b
        elif (nb, na, 0) in start:
            src, dst = b, a
        else:
            src, dst = (a, b) if rank[na] <= rank[nb] else (b, a)
        edges.append((src, dst))
        chosen.add((src, dst))
    return edges, chosen


def _acyclic(edges: list[tuple[str, str]], slot: Mapping[str, tuple[str, int]],
             strength: Mapping[tuple[str, str], float]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Drop the weakest same-bucket edge of each cycle until none is left."""
    import networkx as nx

    kept = list(edges)
    removed = []
    while True:
        g = nx.DiGraph((a, b) for a, b in kept if slot[a][1] == 0)
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return kept, removed
        weakest = min(((u, v) for u, v, *_ in cycle), key=lambda e: strength.get(e, 0.0))
        kept.remove(weakest)
        removed.append(weakest)


def _support(x: np.ndarray, columns: list[str], edges: Sequence[tuple[str, str]], parents: Mapping[str, list[str]]
             ) -> dict[tuple[str, str], tuple[float, float]]:
    n = len(x)
    corr = np.corrcoef(x, rowvar=False)
    index = {c: i for i, c in enumerate(columns)}
    out = {}
    for a, b in edges:
        others = [index[p] for p in parents.get(b, []) if p != a and p in index]
        out[(a, b)] = partial_corr(corr, index[b], index[a], others, n)
    return out


def _stretch(n: int, least: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of one resample: half the rows (``_STRETCH``) in a row, at least ``least``, at a random start.

    A moving-block bootstrap of the whole span was measured first: it mixes the years in every resample,
    so an edge of one era looked stable. Graphs it suggested from the first 60% of thirteen public histories
    passed the check on the last 40% for 7; with stretches, for 10 (``tests/bench/bench_graphs.py``).
    """
    length = min(n, max(least, int(n * _STRETCH)))
    start = int(rng.integers(0, n - length + 1))
    return np.arange(start, start + length)


def suggest(
    frame: pd.DataFrame,
    *,
    nodes: Mapping[str, Node],
    tiers: Sequence[Sequence[str]] = (),
    start: CausalGraph | None = None,
    name: str = "suggested",
    unit: str = "week",
    max_lag: int = 1,
    alpha: float = 0.01,
    depth: int = 3,
    bootstrap: int = 30,
    seconds: float = 60.0,
    min_frequency: float = 0.0,
    seed: int = 0,
    detrend: bool = True,
) -> Suggestion:
    """Learn a graph over ``nodes`` (columns of ``frame``, indexed by time) under the ``tiers`` order.

    ``start`` is the graph the result is compared with (edges kept, added, dropped) and whose
    directions settle the edges the data leave open. ``bootstrap`` resamples give each edge its
    frequency, as many as fit in ``seconds`` after the main search; with ``min_frequency`` > 0 an edge
    found in fewer resamples is left out of the graph (and listed as dropped if the start graph had it).
    ``detrend`` (as :mod:`rca.engine.checks` does) learns from deviations from a slow trend of time, which
    would otherwise join every pair of metrics that drift together over the years.
    """
    t0 = time.perf_counter()
    names = list(nodes)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise EngineInputError(f"the data lacks column(s) {', '.join(missing[:8])} for the graph to learn")
    if not 0 <= max_lag <= 52:
        raise EngineInputError(f"max lag {max_lag} is out of range; use 0 to 52 buckets")
    tier: dict[str, int] = {}
    for i, group in enumerate(tiers):
        for n in group:
            if n in tier:
                raise EngineInputError(f"node {n!r} is in two tiers; put it in one")
            if n in nodes:
                tier[n] = i
    notes: list[str] = []
    untiered = [n for n in names if n not in tier]
    if untiered:
        notes.append(f"no tier for {', '.join(untiered[:8])}{' ...' if len(untiered) > 8 else ''}: "
                     "only time orders their edges")
    data = design(frame, names, max_lag)
    flat = [c for c in names if c in data and data[c].std() == 0]
    if flat:
        notes.append(f"constant column(s) left out: {', '.join(flat)}")
        names = [n for n in names if n not in flat]
        data = design(frame, names, max_lag)
    slot = {n: (n, 0) for n in names} | {lagged_name(n, k): (n, k) for k in range(1, max_lag + 1) for n in names}
    columns = list(data.columns)
    if len(columns) > MAX_COLUMNS:
        raise EngineInputError(f"{len(names)} nodes with {max_lag} lag(s) make {len(columns)} model columns; at most "
                               f"{MAX_COLUMNS} are searched in bounded time: give fewer nodes or fewer lags")
    if len(data) < len(columns) + 10:
        raise EngineInputError(f"only {len(data)} complete row(s) for {len(columns)} model columns; need at least "
                               f"{len(columns) + 10}")
    x = data.to_numpy(float)
    if detrend:
        x, _ = detrended(x, trend_basis(data.index))
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)
    dropped_cols = _collinear(x, columns)
    if dropped_cols:
        notes.append("left out as (almost) exact sums of others: " + ", ".join(dropped_cols))
        drop_nodes = {slot[c][0] for c in dropped_cols}
        keep = [i for i, c in enumerate(columns) if slot[c][0] not in drop_nodes]
        columns = [columns[i] for i in keep]
        x = x[:, keep]
        names = [n for n in names if n not in drop_nodes]
    with np.errstate(all="ignore"):
        corr_all = np.corrcoef(x, rowvar=False) if x.shape[1] >= 2 else np.full((1, 1), np.nan)
    if not np.isfinite(corr_all).all() or np.linalg.cond(corr_all) > _MAX_CONDITION:
        raise EngineInputError("some columns are (almost) linear functions of others, so partial correlations "
                               "are undefined; leave the redundant metrics out")
    now = [i for i, c in enumerate(columns) if slot[c][1] == 0]
    changed = halves(x[:, now], [columns[i] for i in now], data.index, alpha=alpha)
    forbidden = forbidden_pairs(columns, slot, tier)
    rank = {n: (tier.get(n, len(tiers)), i) for i, n in enumerate(names)}
    start_edges = {(e.source, e.target, e.lag) for e in start.edges} if start is not None else set()

    directed, undirected = pc_edges(x, columns, forbidden, alpha=alpha, depth=depth)
    found, unoriented = _orient(directed, undirected, slot, rank, start_edges)

    # How often PC finds each edge again in a stretch of the years (direction included, an open one counts either way).
    rng = np.random.default_rng(seed)
    counts: dict[tuple[str, str], int] = {}
    resamples = 0
    budget_end = time.perf_counter() + max(0.0, seconds - (time.perf_counter() - t0))
    while resamples < bootstrap and time.perf_counter() < budget_end:
        xb = x[_stretch(len(x), len(columns) + 10, rng)]
        sd = xb.std(axis=0)
        if (sd == 0).any():
            resamples += 1
            continue
        try:
            d_b, u_b = pc_edges((xb - xb.mean(axis=0)) / sd, columns, forbidden, alpha=alpha, depth=depth)
        except EngineInputError:  # a resample can be degenerate where the whole table is not: it finds nothing
            resamples += 1
            continue
        seen = set(d_b) | {(a, b) for pair in u_b for a, b in (tuple(pair), tuple(pair)[::-1])}
        for e in seen:
            counts[e] = counts.get(e, 0) + 1
        resamples += 1
    if resamples < bootstrap:
        notes.append(f"{resamples} of {bootstrap} resamples fitted in the {seconds:g} s bound")

    def frequency(e: tuple[str, str]) -> float | None:
        return counts.get(e, 0) / resamples if resamples else None

    unstable = {e for e in found if (frequency(e) or 0.0) < min_frequency} if min_frequency > 0 and resamples else set()
    found = [e for e in found if e not in unstable]
    first_support = _support(x, columns, found, _parents(found))
    found, cut = _acyclic(found, slot, {e: abs(r) for e, (r, _) in first_support.items()})
    if cut:
        notes.append("cycle(s) broken by leaving out " + ", ".join(f"{a} -> {b}" for a, b in cut))
    parents = _parents(found)
    support = _support(x, columns, found, parents)

    out: list[SuggestedEdge] = []
    graph_edges: list[Edge] = []
    for a, b in sorted(found, key=lambda e: (rank[e[1]], rank[slot[e[0]][0]], slot[e[0]][1])):
        src, lag = slot[a]
        r, p = support[(a, b)]
        status = "kept" if (src, b, lag) in start_edges else "added"
        out.append(SuggestedEdge(src, b, lag, status, r, p, frequency((a, b)), (a, b) not in unoriented))
        graph_edges.append(Edge(src, b, lag))
    # The start graph's edges the data do not keep: their partial correlation given the suggested parents.
    kept = {(e.source, e.target, e.lag) for e in graph_edges}
    index = {c: i for i, c in enumerate(columns)}
    corr = np.corrcoef(x, rowvar=False)
    for e in start.edges if start is not None else ():
        if (e.source, e.target, e.lag) in kept:
            continue
        col = e.source if e.lag == 0 else lagged_name(e.source, e.lag)
        if col not in index or e.target not in index:
            out.append(SuggestedEdge(e.source, e.target, e.lag, "dropped", 0.0, 1.0, None, why_dropped="not found"))
            continue
        given = [index[q] for q in parents.get(e.target, []) if q in index and q != col]
        r, p = partial_corr(corr, index[e.target], index[col], given, len(x))
        key = (col, e.target)
        why = ("cycle" if key in cut else "unstable" if key in unstable else
               "reversed" if e.lag == 0 and (e.target, col) in found else "not found")
        out.append(SuggestedEdge(e.source, e.target, e.lag, "dropped", r, p, frequency(key), why_dropped=why))

    graph = build_graph(name, unit, {n: nodes[n] for n in names}, graph_edges, name)
    return Suggestion(
        graph=graph,
        start=start.name if start is not None else None,
        edges=tuple(out),
        tiers=tuple(tuple(n for n in group if n in nodes) for group in tiers),
        rows=len(x),
        alpha=alpha,
        max_lag=max_lag,
        resamples=resamples,
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
        changed=changed,
    )


def _parents(edges: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a, b in edges:
        out.setdefault(b, []).append(a)
    return out


def node_like(name: str, known: Mapping[str, Node], count: str | None = None) -> Node:
    """A node's attributes: those ``known`` (a start graph's, a shipped graph's) for the same metric, else what the
    name's suffix says (a count sums, a duration takes the median, anything else the mean)."""
    for node in known.values():
        if node.name == name or node.metric == name:
            return replace(node, name=name, denominator=node.denominator if node.denominator else None)
    from graphs.model import kind_of

    kind = kind_of(name)
    agg = {"count": "sum", "duration": "median"}.get(kind, "mean")
    return Node(name=name, metric=name, agg=agg, kind=kind, actionable=False,
                denominator=count if kind == "ratio" and count and count != name else None)


__all__ = ["MAX_COLUMNS", "SuggestedEdge", "Suggestion", "design", "forbidden_pairs", "node_like", "pc_edges", "suggest"]
