"""Check a causal graph against data: which edges the data do not support, which dependencies it misses.

This is DoWhy's graph falsification (``dowhy.gcm.falsify``) made fast for the linear models the
engine fits: the local Markov condition says every node is independent of its non-descendants
given its parents, and a graph whose data break it misses an edge (or a common cause). Each
condition is tested with a partial-correlation t-test (the Gaussian conditional-independence
test) instead of a kernel test, with Benjamini-Hochberg control over all of them. An edge is
"not supported" when its source and target are independent given the target's other parents.
As in DoWhy, the count of violations is compared with that of graphs whose node labels are
randomly permuted: a graph that does no better than random ones is not informative. A tie in
the count is broken by the evidence against all the conditions together (the sum of -log p), so
a short history where few conditions cross the threshold can still tell a graph from random ones. Per node,
the R² of the fitted mechanism says what the graph explains.

Every test also conditions on time: a slow drift that all metrics share (a project's busy years
and quiet years) is a common cause no graph names, and untreated it makes every pair dependent,
so the true graph fails as many conditions as random ones. The columns are taken as deviations
from a piecewise-linear trend with a knot a year (:func:`trend_basis`); the tests lose one degree
of freedom per trend column.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unrolled
from rca.engine import stats
from rca.engine.attribution import benjamini_hochberg
from rca.engine.frames import EngineInputError, prepare

_MIN_TESTS = 10  # fewer conditions cannot tell a graph from its relabellings
_KNOT_DAYS = 365.0  # the trend the tests condition on bends once a year: slower than the weekly dynamics they test


def trend_basis(index: pd.Index, knot_days: float = _KNOT_DAYS) -> np.ndarray | None:
    """A piecewise-linear basis of time (hat functions, knots ``knot_days`` apart and at both ends; at least a
    line): the drift every test conditions on. None when ``index`` is not time or has fewer than 3 rows."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    t = (index - index[0]).total_seconds().to_numpy(dtype=float) / 86_400.0
    span = float(t.max() - t.min())
    if span <= 0:
        return None
    knots = np.linspace(t.min(), t.max(), int(span // knot_days) + 2)
    step = knots[1] - knots[0]
    return np.clip(1.0 - np.abs(t[:, None] - knots[None, :]) / step, 0.0, None)


def detrended(x: np.ndarray, basis: np.ndarray | None) -> tuple[np.ndarray, int]:
    """The columns of ``x`` less their least-squares fit on ``basis``, and the degrees of freedom that cost
    (beyond the mean, which standardising removes anyway)."""
    if basis is None or len(x) <= basis.shape[1] + 3:
        return x, 0
    beta, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return x - basis @ beta, basis.shape[1] - 1


@dataclass(frozen=True)
class EdgeCheck:
    source: str
    target: str
    lag: int
    partial_r: float
    p_value: float
    supported: bool
    q_value: float = 1.0  # p adjusted over all the graph's edges (Benjamini-Hochberg): what ``supported`` tests

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "lag": self.lag,
            "partial_r": round(self.partial_r, 4),
            "p_value": float(f"{self.p_value:.3g}"),
            "q_value": float(f"{self.q_value:.3g}"),
            "supported": self.supported,
        }


@dataclass(frozen=True)
class MissingDependency:
    """``node`` depends on ``other`` given ``node``'s parents, which the graph says it should not."""

    node: str
    other: str
    partial_r: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "other": self.other,
            "partial_r": round(self.partial_r, 4),
            "p_value": float(f"{self.p_value:.3g}"),
        }


@dataclass(frozen=True)
class GraphCheck:
    graph: str
    rows: int
    edges: tuple[EdgeCheck, ...]
    missing: tuple[MissingDependency, ...]
    fit: dict[str, float]  # in-sample R² of each non-root node given its parents
    tests: int  # local-Markov conditions tested
    violations: int
    permutation_p: float  # share of label-permuted graphs no worse: fewer violations, or as many and no stronger ones
    seconds: float
    notes: tuple[str, ...] = field(default=())
    alpha: float = 0.01  # an edge is supported when its q is at most this

    @property
    def informative(self) -> bool:
        return self.permutation_p <= 0.05

    def caveats(self) -> tuple[str, ...]:
        """One line per finding, for a report's caveats."""
        out = list(self.notes)
        # The verdicts are false-discovery controlled over all edges, so the figure beside each is the
        # adjusted p (q): a raw p of 0.002 among 8 edges is not significant at 1%, and says so.
        weak = [e for e in self.edges if not e.supported]
        if weak:
            out.append(
                "graph check: the data do not support edge(s) "
                + ", ".join(
                    f"{e.source} -> {e.target}"
                    + (f" (lag {e.lag})" if e.lag else "")
                    + f" (q={e.q_value:.3g})"
                    for e in weak[:5]
                )
                + (" ..." if len(weak) > 5 else "")
                + f" (supported when q <= {self.alpha:g}; q: p adjusted for the {len(self.edges)} edges tested)"
            )
        if self.missing:
            out.append(
                "graph check: dependencies the graph misses (add an edge or a common cause): "
                + ", ".join(f"{m.other} ~ {m.node} (partial r={m.partial_r:.2f})" for m in self.missing[:5])
                + (" ..." if len(self.missing) > 5 else "")
            )
        poor = sorted((n for n, r2 in self.fit.items() if r2 < 0.1), key=str)
        if poor:
            out.append("graph check: parents explain under 10% of " + ", ".join(poor[:6]))
        if self.tests >= _MIN_TESTS and not self.informative:
            out.append(
                f"graph check: {self.violations} of {self.tests} independence conditions fail, no fewer than "
                f"for randomly relabelled graphs (p={self.permutation_p:.2f}): the data do not confirm "
                "this graph's structure"
            )
        return tuple(out)

    def summary(self) -> dict[str, Any]:
        """The few figures a reader needs beside an investigation: how much of the graph the data support."""
        return {
            "edges": len(self.edges),
            "supported": sum(e.supported for e in self.edges),
            "unsupported": [[e.source, e.target] for e in self.edges if not e.supported],
            "missing": [[m.other, m.node] for m in self.missing],
            "confirms_structure": self.informative if self.tests >= _MIN_TESTS else None,
        }

    def lines(self) -> list[str]:
        """A plain-text report: the verdict per edge, the missed dependencies, the fit per node, caveats.

        Each edge shows the figure its verdict was decided on, q (its p adjusted over all the graph's
        edges), against the rule, and its raw p beside it."""
        out = [
            f"graph {self.graph}: {self.rows} rows, {self.violations} of {self.tests} independence "
            f"conditions violated (vs random relabellings: p={self.permutation_p:.3f}), {self.seconds:.1f} s",
            f"  an edge is supported when q <= {self.alpha:g} (q: its p adjusted for the {len(self.edges)} edges "
            "tested, Benjamini-Hochberg)",
        ]
        for e in self.edges:
            lag = f" (lag {e.lag})" if e.lag else ""
            rule = f"q={_beside(e.q_value, self.alpha)} {'<=' if e.supported else '>'} {self.alpha:g}"
            out.append(
                f"  {'ok' if e.supported else 'NOT SUPPORTED':13} {e.source} -> {e.target}{lag}: "
                f"partial r={e.partial_r:.2f}, {rule} (p={e.p_value:.2g})"
            )
        out += [
            f"  {'MISSING':13} {m.other} ~ {m.node} given {m.node}'s parents: partial r={m.partial_r:.2f}"
            for m in self.missing
        ]
        out += [f"  {'fit':13} {node}: R²={r2:.2f}" for node, r2 in self.fit.items()]
        return out + [f"caveat: {line}" for line in self.caveats()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph": self.graph,
            "rows": self.rows,
            "edges": [e.to_dict() for e in self.edges],
            "missing_dependencies": [m.to_dict() for m in self.missing],
            "fit_r2": self.fit,
            "local_markov": {
                "tests": self.tests,
                "violations": self.violations,
                "permutation_p": round(self.permutation_p, 4),
            },
            "caveats": list(self.caveats()),
            "seconds": round(self.seconds, 3),
        }


def _beside(value: float, bar: float) -> str:
    """``value`` with as few significant digits (2 to 6) as keep it on its side of ``bar`` once rounded:
    a q of 0.0104 against 0.01 reads 0.0104, never 0.01."""
    for digits in range(2, 7):
        text = f"{value:.{digits}g}"
        if (float(text) <= bar) == (value <= bar):
            return text
    return f"{value:.6g}"


def partial_corr(corr: np.ndarray, i: int, j: int, given: list[int], n: int) -> tuple[float, float]:
    """Partial correlation of columns ``i`` and ``j`` given ``given`` and its two-sided t-test p-value."""
    idx = [i, j, *given]
    sub = corr[np.ix_(idx, idx)]
    try:
        prec = np.linalg.pinv(sub)
    except np.linalg.LinAlgError:
        return 0.0, 1.0
    denom = np.sqrt(abs(prec[0, 0] * prec[1, 1]))
    r = float(np.clip(-prec[0, 1] / denom, -0.999999, 0.999999)) if denom > 0 else 0.0
    dof = n - 2 - len(given)
    if dof <= 0:
        return r, 1.0
    t = r * np.sqrt(dof / (1 - r * r))
    return r, float(2 * stats.t_sf(abs(t), dof))


def _partial_given(
    corr: np.ndarray, y: int, others: np.ndarray, given: list[int], n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Partial correlations of column ``y`` with each of ``others`` given ``given``, their t statistics and
    the test's degrees of freedom (the p-values are taken for many nodes at once: one array, one call)."""
    if given:
        r_gg_inv = np.linalg.pinv(corr[np.ix_(given, given)])
        r_yg = corr[y, given]
        r_og = corr[np.ix_(others, given)]
        cov_yo = corr[y, others] - r_og @ r_gg_inv @ r_yg
        var_y = corr[y, y] - r_yg @ r_gg_inv @ r_yg
        var_o = corr[others, others] - np.einsum("ij,jk,ik->i", r_og, r_gg_inv, r_og)
    else:
        cov_yo, var_y, var_o = corr[y, others], corr[y, y], corr[others, others]
    denom = np.sqrt(np.maximum(var_y * var_o, 0.0))
    r = np.clip(np.divide(cov_yo, denom, out=np.zeros_like(cov_yo), where=denom > 1e-12), -0.999999, 0.999999)
    dof = n - 2 - len(given)
    t = r * np.sqrt(dof / (1 - r * r)) if dof > 0 else np.zeros_like(r)
    return r, t, dof


def _local_markov(
    dag: nx.DiGraph, nodes: list[str], index: dict[str, int], corr: np.ndarray, n: int
) -> list[tuple[str, str, float, float]]:
    """(node, other, partial r, p) for every non-descendant ``other`` of every node, given its parents."""
    pairs, rs, ts, dofs = [], [], [], []
    for y in nodes:
        parents = list(dag.predecessors(y))
        skip = nx.descendants(dag, y) | set(parents) | {y}
        others = [z for z in nodes if z not in skip]
        if not others:
            continue
        r, t, dof = _partial_given(
            corr, index[y], np.array([index[z] for z in others]), [index[q] for q in parents], n
        )
        pairs += [(y, z) for z in others]
        rs.append(r)
        ts.append(np.abs(t))
        dofs.append(np.full(len(others), float(dof)))
    if not pairs:
        return []
    dof_all = np.concatenate(dofs)
    p = np.where(dof_all > 0, 2 * np.asarray(stats.t_sf(np.concatenate(ts), np.maximum(dof_all, 1.0))), 1.0)
    return [(y, z, r, q) for (y, z), r, q in zip(pairs, np.concatenate(rs).tolist(), p.tolist(), strict=True)]


def _violations(
    tests: list[tuple[str, str, float, float]], alpha: float
) -> list[tuple[str, str, float, float]]:
    if not tests:
        return []
    keys = {f"{y}\0{z}": p for y, z, _, p in tests}
    rejected = benjamini_hochberg(keys, alpha)
    return [t for t in tests if rejected[f"{t[0]}\0{t[1]}"]]


def _badness(tests: list[tuple[str, str, float, float]], alpha: float) -> tuple[int, float]:
    """How badly a graph's conditions fail, to rank it among its relabellings: the violations, then (on a tie)
    the evidence against all its conditions together (the sum of -log p). Counting alone ties whenever few
    conditions cross the threshold (short histories, weak dependence): a graph whose every condition holds
    then ranks no better than the relabellings that also happen to pass none, though theirs come closer."""
    evidence = float(sum(-np.log(max(p, 1e-300)) for *_, p in tests))
    return len(_violations(tests, alpha)), evidence


def check_graph(
    data: pd.DataFrame, graph: CausalGraph, *, alpha: float = 0.01, permutations: int = 100, seed: int = 0,
    detrend: bool = True,
) -> GraphCheck:
    """Test ``graph``'s edges and independence conditions on ``data`` (time-indexed, one column per node)."""
    prepared = prepare(data, graph)
    return check_frame(
        prepared.frame, graph, alpha=alpha, permutations=permutations, seed=seed, notes=prepared.caveats,
        detrend=detrend,
    )


def check_frame(
    frame: pd.DataFrame,
    graph: CausalGraph,
    *,
    alpha: float = 0.01,
    permutations: int = 100,
    seed: int = 0,
    quality: dict[str, float] | None = None,
    notes: tuple[str, ...] = (),
    detrend: bool = True,
) -> GraphCheck:
    """:func:`check_graph` on a prepared frame (unrolled columns, complete rows).

    ``quality`` (R² per node from a fit already made) skips the refit. ``detrend`` False tests the raw
    columns, as if the weeks were exchangeable.
    """
    t0 = time.perf_counter()
    dag, columns = unrolled(graph)
    cols = list(dag.nodes)
    n = len(frame)
    if n < len(cols) + 5:
        raise EngineInputError(
            f"only {n} complete row(s) to check {len(cols)} model columns; need at least {len(cols) + 5}"
        )
    x = frame[cols].to_numpy(float)
    sd = x.std(axis=0)
    flat = [c for c, s in zip(cols, sd, strict=True) if s == 0]
    x, spent = detrended(x, trend_basis(frame.index)) if detrend else (x, 0)
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)
    corr = (x.T @ x) / n
    n_raw, n = n, n - spent  # the tests' degrees of freedom: the trend's columns are spent
    index = {c: i for i, c in enumerate(cols)}

    edges = []
    for e in graph.edges:
        src = e.source if e.lag == 0 else f"{e.source}[t-{e.lag}]"
        others = [index[p] for p in dag.predecessors(e.target) if p != src]
        r, p = partial_corr(corr, index[e.target], index[src], others, n)
        edges.append((e, r, p))
    q = stats.benjamini_hochberg(np.array([p for _, _, p in edges])) if edges else []
    edge_checks = tuple(
        EdgeCheck(e.source, e.target, e.lag, r, p, bool(qe <= alpha), float(qe))
        for (e, r, p), qe in zip(edges, q, strict=True)
    )

    # Conditions among the same-bucket nodes; lagged copies only serve as parents.
    nodes = [c for c in cols if columns[c][1] == 0]
    tests = _local_markov(dag, nodes, index, corr, n)
    violated = _violations(tests, alpha)
    seen: set[frozenset[str]] = set()
    missing = []
    for y, z, r, p in sorted(violated, key=lambda t: t[3]):
        pair = frozenset((y, z))
        if pair not in seen:
            seen.add(pair)
            missing.append(MissingDependency(node=y, other=z, partial_r=r, p_value=p))

    badness = _badness(tests, alpha)
    rng = np.random.default_rng(seed)
    no_worse = 0
    for _ in range(permutations):
        relabel = dict(zip(nodes, rng.permutation(nodes), strict=True))
        permuted = nx.relabel_nodes(dag.subgraph(nodes), relabel, copy=True)
        # Keep each lagged parent attached to the node that now sits where its child was.
        for c in cols:
            if columns[c][1]:
                permuted.add_edges_from((c, relabel[t]) for t in dag.successors(c))
        if _badness(_local_markov(permuted, nodes, index, corr, n), alpha) <= badness:
            no_worse += 1
    perm_p = (no_worse + 1) / (permutations + 1)

    if quality is None and not flat:
        from rca.engine.fitting import fit  # DoWhy's import is heavy; only the fit-quality step needs it

        quality = fit(frame, graph).quality
    if flat:
        notes = (*notes, f"graph check: constant column(s) {', '.join(flat)}: their edges cannot be tested")
    return GraphCheck(
        graph=graph.name,
        rows=n_raw,
        edges=edge_checks,
        missing=tuple(missing),
        fit=quality or {},
        tests=len(tests),
        violations=len(violated),
        permutation_p=perm_p,
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
        alpha=alpha,
    )
