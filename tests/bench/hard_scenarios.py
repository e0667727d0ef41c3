"""Hard benchmark cases: messy data with known injected root causes, and null cases.

Each family is a pure function of a seed and is generated with numpy/scipy only: nothing here
imports the engine (``rca.engine``) or shares its modelling assumptions. Every case carries the
table (first column time, one column per node), the graph text handed to the tool (YAML), the
question (an anomaly window ``at`` or ``baseline``/``current`` windows), the injected node (None
in null cases) and the DAG the data really follow.

Families:

``micro-latency``
    A 30-45 service call graph (a tree plus shared backends). A service's latency is its own
    heavy-tailed time (log-normal, sigma 0.5-1.1, or Pareto-tailed with alpha 1.5-3) plus the sum
    (sequential calls) or the max (parallel fan-out) of its callees' latencies; some calls only
    happen on a cache miss, some are cut by a timeout, some wait on a connection pool that
    queues (up to 3x) once the callee slows down; every client gives up at 30 s. An unobserved
    traffic level (a daily cycle plus slow noise) slows every service to its own degree. A fault
    adds a latency spike to one service's own time (anywhere, mid-chain included) on the last 1-3
    rows, sized so the front end only just leaves its normal range (1.0-1.3 times the smallest
    spike that lifts it above its 99th percentile). Target: the front end. 300-600 normal rows.
``micro-errors``
    Error counts per service: own errors negative-binomial with means 0.05-0.5 (mostly zero),
    scaled by an unobserved traffic cycle; a caller gets a binomial share of each callee's
    errors, or, behind a retrying client, twice them once they pass a threshold. Fault: a Poisson
    error burst in one service, 1.0-1.5 times the smallest that lifts the front end's errors
    above their 99.5th percentile (and 2 above their mean).
``se-ratios``
    Weekly delivery metrics of a small team: commits per week 1-40 (holiday weeks with one or two
    commits), ratios as binomial counts over that denominator, ``commits_count`` in the graph, a
    lagged edge. Change mode: the last 13 weeks. Injected: a shift in one upstream mechanism that
    moves the target's mean by 0.5-0.9 of its weekly standard deviation. Nulls: nothing
    injected, but a week with one commit and one fix (a 100% bug-fix ratio) sits in the current
    window, or is itself the anomaly asked about.
``se-nonlinear``
    Daily CI metrics: build time as a product (test count to a power, times a cache-miss
    threshold, times log-normal noise), runner utilisation with queueing saturation
    (``u / (1 - u)``), flaky retries multiplying the pipeline time, weekly seasonality and a
    trend. Change mode (last 30 days; the target's mean moves by 0.6-1.2 of its daily standard
    deviation) and spike mode (last 1-2 days, just above the target's 99th percentile).
``wrong-graph``
    Weekly delivery data from one DAG with an unobserved common cause (a slowly varying "release
    pressure" driving two nodes); the graph handed to the tool misses one true edge and has one
    spurious edge. The injected node is upstream of the target in the true DAG; whether it still
    is in the given graph is recorded (``cause_upstream_in_given``). Change mode (last 20 weeks,
    0.5-1.0 standard deviations) and spike mode (last week, 3-4.5 standard deviations).
``mid-chain``
    A chain ``A -> B -> C -> D -> E -> target`` (daily review and merge metrics) with side inputs
    and non-linear links (exp, power, tanh saturation); the fault sits at B or C. Change mode
    (last 25 days) and spike mode (last 1-2 days).

A seventh, optional family, ``petshop``, reads real data with known root causes (the PetShop
dataset, CC-BY-4.0, https://github.com/amazon-science/petshop-root-cause-analysis) from a local
copy; nothing in the tests or CI depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import yaml
from scipy import stats

FAMILIES = ("micro-latency", "micro-errors", "se-ratios", "se-nonlinear", "wrong-graph", "mid-chain")
MICRO = ("micro-latency", "micro-errors")
SE = ("se-ratios", "se-nonlinear", "wrong-graph", "mid-chain")


@dataclass(frozen=True)
class HardCase:
    name: str
    family: str
    kind: str  # "anomaly" | "change"
    injected: bool
    data: pd.DataFrame  # UTC DatetimeIndex named ts, one column per node
    nodes: dict[str, dict]  # node -> YAML spec (kind, higher_is_worse)
    graph_edges: tuple[tuple[str, str, int], ...]  # handed to the tool: (source, target, lag)
    true_edges: tuple[tuple[str, str, int], ...]  # what the data follow (among observed nodes)
    target: str
    cause: str | None
    at: tuple[pd.Timestamp, pd.Timestamp] | None = None
    baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None
    current: tuple[pd.Timestamp, pd.Timestamp] | None = None
    counts: tuple[str, ...] = ()  # integer-valued columns
    hidden: tuple[str, ...] = ()  # unobserved common causes (not in the data)
    cause_upstream_in_given: bool = True
    note: str = ""
    graph_name: str = "bench"
    unit: str = "hour"
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    # --- what the tool is handed -------------------------------------------------------------
    def graph_yaml(self) -> str:
        doc = {
            "name": self.graph_name,
            "unit": self.unit,
            "nodes": {n: dict(spec) for n, spec in self.nodes.items()},
            "edges": [[s, t, {"lag": lag}] if lag else [s, t] for s, t, lag in self.graph_edges],
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=200)

    def csv_text(self) -> str:
        out = self.data.copy()
        out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out.to_csv(index_label="ts")

    def question_args(self) -> list[str]:
        if self.at is not None:
            a, b = self.at
            when = _iso(a) if a == b else f"{_iso(a)}..{_iso(b)}"
            return ["--at", when]
        assert self.baseline is not None and self.current is not None
        return [
            "--baseline",
            f"{_iso(self.baseline[0])}..{_iso(self.baseline[1])}",
            "--current",
            f"{_iso(self.current[0])}..{_iso(self.current[1])}",
        ]

    # --- rows of each window, as the tool reads them ------------------------------------------
    def reference_mask(self) -> np.ndarray:
        idx = self.data.index
        if self.at is not None:
            return np.asarray(idx < self.at[0])
        assert self.baseline is not None
        return np.asarray((idx >= self.baseline[0]) & (idx <= self.baseline[1]))

    def current_mask(self) -> np.ndarray:
        idx = self.data.index
        lo, hi = self.at if self.at is not None else self.current  # type: ignore[misc]
        return np.asarray((idx >= lo) & (idx <= hi))

    def given_dag(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((s, t) for s, t, _ in self.graph_edges if s != t)
        return g


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _index(n: int, start: str, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")


def _frame(values: dict[str, np.ndarray], index: pd.DatetimeIndex, counts: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame({k: np.asarray(v) for k, v in values.items()}, index=index)
    for c in counts:
        df[c] = np.rint(df[c].to_numpy(dtype=float)).astype("int64")
    return df


def _ancestors(edges, target: str) -> set[str]:
    g = nx.DiGraph((s, t) for s, t, _ in edges if s != t)
    return set(nx.ancestors(g, target)) if target in g else set()


def _first_crossing(simulate: Callable[[float], float], threshold: float, grid: np.ndarray) -> float | None:
    """The smallest size on ``grid`` whose simulated target statistic passes ``threshold``.

    The target grows with the size of an injection in every family (sums, maxima, caps, binomial
    quantiles of fixed uniforms are all monotone), so a bisection over the grid finds it.
    """
    grid = np.asarray(grid, dtype=float)
    if simulate(float(grid[-1])) <= threshold:
        return None
    lo, hi = -1, len(grid) - 1  # simulate(grid[hi]) > threshold; grid[lo] is not known to pass
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if simulate(float(grid[mid])) > threshold:
            hi = mid
        else:
            lo = mid
    return float(grid[hi])


# =============================================================================================
# Microservices: a call graph shared by the latency and the error families
# =============================================================================================

_SERVICE_WORDS = (
    "frontend", "gateway", "auth", "session", "catalog", "search", "cart", "checkout", "payment",
    "fraud", "shipping", "quote", "currency", "email", "recommend", "ads", "inventory", "pricing",
    "profile", "review", "media", "thumbnail", "geo", "rate", "user", "order", "invoice", "tax",
    "ledger", "notify", "queue", "cache", "db-orders", "db-users", "db-catalog", "s3-media",
    "feature-flags", "config", "audit", "metrics", "loyalty", "coupon", "wishlist", "stock", "warehouse",
)


def _call_graph(rng: np.random.Generator, n: int) -> tuple[list[str], dict[int, list[int]]]:
    """Service ``0`` is the front end; callers have lower indices than their callees."""
    words = list(_SERVICE_WORDS[1:])
    rng.shuffle(words)
    names = ["frontend"] + words[: n - 1]
    callees: dict[int, list[int]] = {i: [] for i in range(n)}
    for i in range(1, n):
        lo = max(0, i - 7)
        caller = int(rng.integers(lo, i))
        callees[caller].append(i)
    for _ in range(max(2, n // 6)):  # shared backends called from several places
        i, j = sorted(int(x) for x in rng.choice(np.arange(1, n), 2, replace=False))
        if j not in callees[i]:
            callees[i].append(j)
    return names, callees


def _micro_edges(names: list[str], callees: dict[int, list[int]], suffix: str) -> tuple[tuple[str, str, int], ...]:
    return tuple(
        (f"{names[c]}_{suffix}", f"{names[i]}_{suffix}", 0) for i in sorted(callees) for c in callees[i]
    )


def _windows(kind: str, index: pd.DatetimeIndex, start: int, *, spike: int) -> tuple:
    """(at, baseline, current) of a case: an anomaly from row ``spike`` to the last, or a change whose
    current window starts at row ``start`` against everything before it."""
    if kind == "anomaly":
        return (index[spike], index[-1]), None, None
    return None, (index[0], index[start - 1]), (index[start], index[-1])


def micro_latency_case(seed: int, injected: bool) -> HardCase:
    rng = np.random.default_rng([seed, 11])
    n_svc = int(rng.integers(30, 46))
    names, callees = _call_graph(rng, n_svc)
    normal = int(rng.integers(300, 601))
    k_rows = int(rng.choice([1, 1, 2, 3]))
    rows = normal + k_rows
    # traffic, unobserved: a daily cycle plus slow noise, slowing every service by its own degree
    t = np.arange(rows)
    walk = np.zeros(rows)
    steps = rng.normal(0, 0.05, rows)
    for j in range(1, rows):
        walk[j] = 0.97 * walk[j - 1] + steps[j]
    load = np.exp(0.3 * np.sin(2 * np.pi * t / 288 + rng.uniform(0, 6.3)) + walk)
    # each service's own time (seconds): log-normal or Pareto-tailed around a median of 2-40 ms
    own = np.empty((n_svc, rows))
    for i in range(n_svc):
        med = rng.uniform(0.002, 0.040)
        if rng.random() < 0.35:
            alpha = rng.uniform(1.5, 3.0)
            own[i] = med * (0.6 + 0.4 * (1.0 + rng.pareto(alpha, rows)))
        else:
            own[i] = med * rng.lognormal(0.0, rng.uniform(0.5, 1.1), rows)
        own[i] *= load ** rng.uniform(0.0, 1.5)
    parallel = {i: len(cs) >= 2 and rng.random() < 0.3 for i, cs in callees.items()}
    edge_p = {(i, c): (rng.uniform(0.4, 0.95) if rng.random() < 0.3 else 1.0) for i in callees for c in callees[i]}
    called = {e: rng.random(rows) < p for e, p in edge_p.items()}
    # per call: a timeout that cuts the callee's time, or a connection pool that queues requests
    # once the callee slows down (the wait grows with the square of the callee's slowness)
    link = {e: str(rng.choice(["plain", "timeout", "pool"], p=[0.65, 0.12, 0.23])) for e in edge_p}
    pool_at = {e: rng.uniform(1.5, 3.0) for e in edge_p}

    def simulate(own_t: np.ndarray) -> np.ndarray:
        lat = np.zeros_like(own_t)
        for i in reversed(range(n_svc)):
            parts = []
            for c in callees[i]:
                e = (i, c)
                x = lat[c] * called[e]
                if link[e] == "timeout":
                    x = np.minimum(x, 4.0 * float(np.quantile(lat[c][:normal], 0.999)))
                elif link[e] == "pool":
                    sat = pool_at[e] * float(np.quantile(lat[c][:normal], 0.99))
                    x = x * (1.0 + np.minimum((x / sat) ** 2, 2.0))  # the pool's own timeout ends the wait
                parts.append(x)
            if not parts:
                lat[i] = own_t[i]
            elif parallel[i]:
                lat[i] = own_t[i] + np.max(parts, axis=0)
            else:
                lat[i] = own_t[i] + np.sum(parts, axis=0)
            lat[i] = np.minimum(lat[i], 30.0)  # every client gives up after 30 s
        return lat

    base = simulate(own)
    threshold = float(np.quantile(base[0][:normal], 0.99))
    cause = None
    lat = base
    if injected:
        order = [int(x) for x in rng.permutation(np.arange(1, n_svc))]
        for ci in order:
            med = float(np.median(own[ci]))

            def bump(size: float, ci: int = ci) -> np.ndarray:
                o = own.copy()
                o[ci, normal:] += size
                return simulate(o)

            grid = med * np.geomspace(0.5, 2000.0, 60)
            size = _first_crossing(lambda s, bump=bump: float(bump(s)[0][normal:].mean()), threshold, grid)
            if size is None:
                continue
            lat = bump(size * rng.uniform(1.0, 1.3))
            cause = ci
            break
        else:
            raise RuntimeError("no injectable service")
    suffix = "latency_seconds"
    cols = [f"{nm}_{suffix}" for nm in names]
    index = _index(rows, "2026-03-01", "5min")
    data = _frame({c: lat[i] for i, c in enumerate(cols)}, index, ())
    edges = _micro_edges(names, callees, suffix)
    nodes = {c: {"kind": "duration", "higher_is_worse": True} for c in cols}
    return HardCase(
        name=f"micro-latency-{'inj' if injected else 'null'}-{seed}",
        family="micro-latency",
        kind="anomaly",
        injected=injected,
        data=data,
        nodes=nodes,
        graph_edges=edges,
        true_edges=edges,
        target=cols[0],
        cause=cols[cause] if cause is not None else None,
        at=(index[normal], index[-1]),
        hidden=("traffic",),
        note=f"{n_svc} services, {normal} normal rows, {k_rows} anomalous row(s)",
        graph_name="shop-latency",
        unit="hour",
    )


def micro_errors_case(seed: int, injected: bool) -> HardCase:
    rng = np.random.default_rng([seed, 12])
    n_svc = int(rng.integers(20, 31))
    names, callees = _call_graph(rng, n_svc)
    normal = int(rng.integers(300, 601))
    k_rows = int(rng.choice([1, 2, 3]))
    rows = normal + k_rows
    own_u = rng.random((n_svc, rows))
    mean = np.exp(rng.uniform(np.log(0.05), np.log(0.5), n_svc))
    disp = rng.uniform(0.3, 2.0, n_svc)
    # traffic, unobserved: more requests, more errors everywhere
    load = np.exp(0.4 * np.sin(2 * np.pi * np.arange(rows) / 288 + rng.uniform(0, 6.3)))
    mu = mean[:, None] * load[None, :]
    own = np.vstack([stats.nbinom.ppf(own_u[i], disp[i], disp[i] / (disp[i] + mu[i])) for i in range(n_svc)])
    share = {(i, c): rng.uniform(0.2, 0.9) for i in callees for c in callees[i]}
    retry = {e: rng.random() < 0.25 for e in share}
    retry_at = {e: int(rng.integers(2, 5)) for e in share}
    prop_u = {e: rng.random(rows) for e in share}
    burst_u = rng.random(rows)

    def simulate(own_t: np.ndarray) -> np.ndarray:
        err = np.zeros_like(own_t)
        for i in reversed(range(n_svc)):
            total = own_t[i].copy()
            for c in callees[i]:
                e = (i, c)
                passed = stats.binom.ppf(prop_u[e], err[c], share[e])
                if retry[e]:
                    passed = np.where(err[c] >= retry_at[e], 2 * err[c], passed)
                total += passed
            err[i] = total
        return err

    base = simulate(own)
    threshold = max(float(np.quantile(base[0][:normal], 0.995)), float(base[0][:normal].mean()) + 2.0)
    cause = None
    err = base
    if injected:
        for ci in [int(x) for x in rng.permutation(np.arange(1, n_svc))]:

            def burst(lam: float, ci: int = ci) -> np.ndarray:
                o = own.copy()
                o[ci, normal:] += stats.poisson.ppf(burst_u[normal:], lam)
                return simulate(o)

            lam = _first_crossing(lambda s, burst=burst: float(burst(s)[0][normal:].mean()), threshold,
                                  np.geomspace(0.5, 400.0, 50))
            if lam is None:
                continue
            err = burst(lam * rng.uniform(1.0, 1.5))
            cause = ci
            break
        else:
            raise RuntimeError("no injectable service")
    suffix = "errors_count"
    cols = [f"{nm}_{suffix}" for nm in names]
    index = _index(rows, "2026-03-01", "5min")
    data = _frame({c: err[i] for i, c in enumerate(cols)}, index, tuple(cols))
    edges = _micro_edges(names, callees, suffix)
    nodes = {c: {"kind": "count", "higher_is_worse": True} for c in cols}
    return HardCase(
        name=f"micro-errors-{'inj' if injected else 'null'}-{seed}",
        family="micro-errors",
        kind="anomaly",
        injected=injected,
        data=data,
        nodes=nodes,
        graph_edges=edges,
        true_edges=edges,
        target=cols[0],
        cause=cols[cause] if cause is not None else None,
        at=(index[normal], index[-1]),
        counts=tuple(cols),
        hidden=("traffic",),
        note=f"{n_svc} services, {normal} normal rows, {k_rows} anomalous row(s)",
        graph_name="shop-errors",
        unit="hour",
    )


# =============================================================================================
# SE ratios with small, varying denominators
# =============================================================================================

_RATIO_NODES = {
    "team_size": {"kind": "count", "higher_is_worse": False},
    "commits_count": {"kind": "count", "higher_is_worse": False},
    "newcomer_commit_ratio": {"kind": "ratio", "higher_is_worse": True},
    "median_change_size_lines": {"kind": "continuous", "higher_is_worse": True},
    "reviewed_commit_ratio": {"kind": "ratio", "higher_is_worse": False},
    "bug_introducing_commit_ratio": {"kind": "ratio", "higher_is_worse": True},
    "bug_fix_commit_ratio": {"kind": "ratio", "higher_is_worse": True},
}
_RATIO_EDGES = (
    ("team_size", "commits_count", 0),
    ("newcomer_commit_ratio", "median_change_size_lines", 0),
    ("newcomer_commit_ratio", "bug_introducing_commit_ratio", 0),
    ("median_change_size_lines", "bug_introducing_commit_ratio", 0),
    ("reviewed_commit_ratio", "bug_introducing_commit_ratio", 0),
    ("commits_count", "bug_fix_commit_ratio", 0),
    ("bug_introducing_commit_ratio", "bug_fix_commit_ratio", 1),
    ("bug_introducing_commit_ratio", "bug_fix_commit_ratio", 0),
)
_RATIO_CAUSES = ("newcomer_commit_ratio", "median_change_size_lines", "reviewed_commit_ratio",
                 "bug_introducing_commit_ratio", "team_size")


def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def se_ratios_case(seed: int, injected: bool, kind: str = "change") -> HardCase:
    """``kind`` is ``change`` (injected or null) or ``anomaly`` (null only: the 100% week)."""
    rng = np.random.default_rng([seed, 21])
    n = int(rng.integers(100, 157))
    cur = 13
    change_at = n - cur
    # randomness drawn once, so that injections of any size reuse the same numbers
    steps = rng.choice([-1, 0, 0, 0, 0, 0, 0, 0, 1], n)
    team0 = int(rng.integers(2, 7))
    u = {k: rng.random(n) for k in ("commits", "new", "bi", "fix", "rev")}
    holiday = rng.random(n) < 0.06
    season = 1.0 + 0.25 * np.sin(np.arange(n) * 2 * np.pi / 52 + rng.uniform(0, 6.3))
    drift_new = np.cumsum(rng.normal(0, 0.08, n))
    size_noise = rng.normal(0, 0.45, n)
    p_rev0 = rng.uniform(0.7, 0.9)
    rev_noise = rng.normal(0, 0.35, n)
    base_bi = rng.uniform(-2.3, -1.6)
    base_fix = rng.uniform(0.04, 0.12)

    def simulate(cause: str | None, size: float) -> dict[str, np.ndarray]:
        on = np.zeros(n)
        on[change_at:] = 1.0 if cause else 0.0
        team = np.clip(team0 + np.cumsum(steps) - (np.round(size * on) if cause == "team_size" else 0), 1, 9)
        mu = 3.2 * team * season * np.where(holiday, 0.15, 1.0)
        commits = np.maximum(1, stats.nbinom.ppf(u["commits"], 5.0, 5.0 / (5.0 + mu)))
        commits = np.minimum(commits, 40)
        p_new = _expit(-2.4 + drift_new * 0.6 + (size * on if cause == "newcomer_commit_ratio" else 0))
        new = stats.binom.ppf(u["new"], commits, p_new) / commits
        size_lines = np.exp(3.8 + 1.6 * new + size_noise + (size * on if cause == "median_change_size_lines" else 0))
        p_rev = _expit(_logit(p_rev0) + rev_noise - (size * on if cause == "reviewed_commit_ratio" else 0))
        reviewed = stats.binom.ppf(u["rev"], commits, p_rev) / commits
        lin = (base_bi + 2.0 * new + 0.45 * (np.log(size_lines) - 4.0) - 1.5 * (reviewed - p_rev0)
               + (size * on if cause == "bug_introducing_commit_ratio" else 0))
        bi = stats.binom.ppf(u["bi"], commits, _expit(lin)) / commits
        bi_prev = np.r_[bi[:1], bi[:-1]]
        p_fix = np.clip(base_fix + 0.7 * bi_prev + 0.5 * bi - 0.004 * (commits - 15), 0.01, 0.95)
        fixes = stats.binom.ppf(u["fix"], commits, p_fix)
        return {
            "team_size": team,
            "commits_count": commits,
            "newcomer_commit_ratio": new,
            "median_change_size_lines": size_lines,
            "reviewed_commit_ratio": reviewed,
            "bug_introducing_commit_ratio": bi,
            "bug_fix_commit_ratio": fixes / commits,
            "_fixes": fixes,
        }

    values = simulate(None, 0.0)
    target = "bug_fix_commit_ratio"
    cause = None
    if injected:
        if kind != "change":
            raise ValueError("se-ratios injects changes only")
        sd = float(np.std(values[target][:change_at]))
        want = sd * rng.uniform(0.5, 0.9)
        before = values[target][change_at:].mean()
        for c in [str(x) for x in rng.permutation(_RATIO_CAUSES)]:
            grid = np.linspace(0.05, 4.0, 80) if c != "team_size" else np.arange(1.0, 6.0)

            def moved(s: float, c: str = c) -> float:
                v = simulate(c, s)
                return float(v[target][change_at:].mean() - before)

            s = _first_crossing(moved, want, grid)
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    else:
        # a holiday week: one commit, and it was a fix (the ratio reads 100%)
        w = n - 1 if kind == "anomaly" else int(rng.integers(change_at, n))
        values["commits_count"][w] = 1
        values["_fixes"][w] = 1
        values[target][w] = 1.0
        for r in ("newcomer_commit_ratio", "reviewed_commit_ratio", "bug_introducing_commit_ratio"):
            values[r][w] = float(round(values[r][w]))
    values.pop("_fixes")
    index = _index(n, "2023-01-02", "7D")
    counts = ("team_size", "commits_count")
    data = _frame(values, index, counts)
    at, baseline, current = _windows(kind, index, change_at, spike=len(index) - 1)
    if kind == "anomaly":
        note = "null: the last week has 1 commit and 1 fix (reads 100%)"
    else:
        note = "null: a week in the current window has 1 commit and 1 fix (reads 100%)" if not injected else ""
    return HardCase(
        name=f"se-ratios-{'inj' if injected else 'null'}-{kind}-{seed}",
        family="se-ratios",
        kind=kind,
        injected=injected,
        data=data,
        nodes=dict(_RATIO_NODES),
        graph_edges=_RATIO_EDGES,
        true_edges=_RATIO_EDGES,
        target=target,
        cause=cause,
        at=at,
        baseline=baseline,
        current=current,
        counts=counts,
        note=note,
        graph_name="team-weekly",
        unit="week",
    )


# =============================================================================================
# Multiplicative / non-linear CI metrics (daily)
# =============================================================================================

_CI_NODES = {
    "test_count": {"kind": "count", "higher_is_worse": True},
    "dependency_count": {"kind": "count", "higher_is_worse": True},
    "cache_hit_ratio": {"kind": "ratio", "higher_is_worse": False},
    "jobs_count": {"kind": "count", "higher_is_worse": True},
    "runner_count": {"kind": "count", "higher_is_worse": False},
    "build_duration_seconds": {"kind": "duration", "higher_is_worse": True},
    "runner_utilization_ratio": {"kind": "ratio", "higher_is_worse": True},
    "queue_wait_seconds": {"kind": "duration", "higher_is_worse": True},
    "flaky_failure_ratio": {"kind": "ratio", "higher_is_worse": True},
    "pipeline_duration_seconds": {"kind": "duration", "higher_is_worse": True},
}
_CI_EDGES = (
    ("test_count", "build_duration_seconds", 0),
    ("dependency_count", "build_duration_seconds", 0),
    ("cache_hit_ratio", "build_duration_seconds", 0),
    ("jobs_count", "runner_utilization_ratio", 0),
    ("build_duration_seconds", "runner_utilization_ratio", 0),
    ("runner_count", "runner_utilization_ratio", 0),
    ("runner_utilization_ratio", "queue_wait_seconds", 0),
    ("test_count", "flaky_failure_ratio", 0),
    ("flaky_failure_ratio", "pipeline_duration_seconds", 0),
    ("build_duration_seconds", "pipeline_duration_seconds", 0),
    ("queue_wait_seconds", "pipeline_duration_seconds", 0),
)
_CI_CAUSES = ("cache_hit_ratio", "jobs_count", "runner_count", "dependency_count", "test_count",
              "flaky_failure_ratio", "build_duration_seconds", "queue_wait_seconds")


def se_nonlinear_case(seed: int, injected: bool, kind: str) -> HardCase:
    """``kind``: ``change`` (the last 30 days) or ``anomaly`` (a spike on the last 1-2 days)."""
    rng = np.random.default_rng([seed, 31])
    n = int(rng.integers(240, 366))
    k = 30 if kind == "change" else int(rng.integers(1, 3))
    start = n - k
    t = np.arange(n)
    weekday = (t + int(rng.integers(0, 7))) % 7
    weekend = weekday >= 5
    z = {name: rng.normal(size=n) for name in ("tests", "cache", "build", "util", "queue", "pipe")}
    u_jobs, u_flaky = rng.random(n), rng.random(n)
    dep_walk = np.cumsum(rng.choice([0, 0, 0, 0, 0, 0, 1, 1, -1], n))
    maintenance = rng.random(n) < 0.05  # a runner out of service for the day
    runners0 = int(rng.integers(6, 11))
    tests0 = rng.uniform(1500, 4000)
    cache_mean = rng.uniform(0.78, 0.9)
    cache_knee = rng.uniform(0.62, 0.72)
    build_sigma = rng.uniform(0.15, 0.35)
    jobs_mean = rng.uniform(60, 140)
    target_util = rng.uniform(0.45, 0.75)  # the median weekday utilisation without injection
    capacity: dict[str, float] = {}

    def simulate(cause: str | None, size: float) -> dict[str, np.ndarray]:
        on = np.zeros(n)
        on[start:] = 1.0 if cause else 0.0

        def bump(name: str):
            return size * on if cause == name else 0.0

        tests = np.rint(tests0 + 2.5 * t + 40 * z["tests"] + bump("test_count"))
        deps = np.maximum(5, 80 + dep_walk + np.rint(bump("dependency_count")))
        cache = np.clip(cache_mean + 0.045 * z["cache"] - bump("cache_hit_ratio"), 0.05, 0.995)
        jobs = stats.poisson.ppf(u_jobs, jobs_mean * np.where(weekend, 0.35, 1.0) * (1 + bump("jobs_count")))
        runners = np.clip(runners0 - maintenance - np.rint(bump("runner_count")), 2, 20)
        miss_penalty = 1.0 + 1.2 * _expit((cache_knee - cache) / 0.025)
        build = (60.0 * (tests / 1000.0) ** 0.8 * miss_penalty * (1 + 0.004 * deps)
                 * np.exp(build_sigma * z["build"]) * (1 + bump("build_duration_seconds")))
        load = jobs * build / runners
        if "per_runner" not in capacity:  # set once, on the run without injection
            capacity["per_runner"] = float(np.median(load[~weekend])) / target_util
        util = np.clip(load / capacity["per_runner"] * np.exp(0.03 * z["util"]), 0.0, 0.985)
        queue = 20.0 * util / (1.0 - util) * np.exp(0.35 * z["queue"]) * (1 + bump("queue_wait_seconds"))
        p_flaky = np.clip(0.02 + 0.000004 * tests + bump("flaky_failure_ratio"), 0.001, 0.6)
        flaky = stats.binom.ppf(u_flaky, np.maximum(jobs, 1), p_flaky) / np.maximum(jobs, 1)
        pipeline = (queue + build * (1.0 + 1.5 * flaky)) * np.exp(0.08 * z["pipe"])
        return {
            "test_count": tests,
            "dependency_count": deps,
            "cache_hit_ratio": cache,
            "jobs_count": jobs,
            "runner_count": runners,
            "build_duration_seconds": build,
            "runner_utilization_ratio": util,
            "queue_wait_seconds": queue,
            "flaky_failure_ratio": flaky,
            "pipeline_duration_seconds": pipeline,
        }

    values = simulate(None, 0.0)
    target = "pipeline_duration_seconds"
    cause = None
    grids = {
        "cache_hit_ratio": np.linspace(0.01, 0.4, 60),
        "jobs_count": np.linspace(0.02, 4.0, 100),
        "runner_count": np.arange(1.0, 6.0),
        "dependency_count": np.linspace(5, 400, 60),
        "test_count": np.linspace(100, 20000, 80),
        "flaky_failure_ratio": np.linspace(0.01, 0.5, 60),
        "build_duration_seconds": np.geomspace(0.05, 10.0, 80),
        "queue_wait_seconds": np.geomspace(0.1, 100.0, 80),
    }
    if injected:
        ref = values[target][:start]
        if kind == "change":
            want = float(np.std(ref)) * rng.uniform(0.6, 1.2)

            def stat(v: dict[str, np.ndarray]) -> float:
                return float(v[target][start:].mean() - values[target][start:].mean())
        else:
            want = float(np.quantile(ref, 0.99)) * rng.uniform(1.0, 1.15)

            def stat(v: dict[str, np.ndarray]) -> float:
                return float(v[target][start:].mean())
        for c in [str(x) for x in rng.permutation(_CI_CAUSES)]:
            s = _first_crossing(lambda s, c=c: stat(simulate(c, s)), want, grids[c])
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    index = _index(n, "2025-06-02", "D")
    counts = ("test_count", "dependency_count", "jobs_count", "runner_count")
    data = _frame(values, index, counts)
    at, baseline, current = _windows(kind, index, start, spike=start)
    return HardCase(
        name=f"se-nonlinear-{'inj' if injected else 'null'}-{kind}-{seed}",
        family="se-nonlinear",
        kind=kind,
        injected=injected,
        data=data,
        nodes=dict(_CI_NODES),
        graph_edges=_CI_EDGES,
        true_edges=_CI_EDGES,
        target=target,
        cause=cause,
        at=at,
        baseline=baseline,
        current=current,
        counts=counts,
        graph_name="ci-daily",
        unit="day",
    )


# =============================================================================================
# Wrong graph and a hidden confounder
# =============================================================================================

_WG_NODES = {
    "team_size": {"kind": "count", "higher_is_worse": False},
    "newcomer_ratio": {"kind": "ratio", "higher_is_worse": True},
    "change_size_lines": {"kind": "continuous", "higher_is_worse": True},
    "review_time_seconds": {"kind": "duration", "higher_is_worse": True},
    "test_churn_ratio": {"kind": "ratio", "higher_is_worse": False},
    "coverage_ratio": {"kind": "ratio", "higher_is_worse": False},
    "build_duration_seconds": {"kind": "duration", "higher_is_worse": True},
    "bug_introducing_ratio": {"kind": "ratio", "higher_is_worse": True},
    "deploys_count": {"kind": "count", "higher_is_worse": False},
    "incidents_count": {"kind": "count", "higher_is_worse": True},
    "lead_time_seconds": {"kind": "duration", "higher_is_worse": True},
}
_WG_ORDER = tuple(_WG_NODES)
_WG_TRUE = (
    ("team_size", "review_time_seconds", 0),
    ("newcomer_ratio", "change_size_lines", 0),
    ("newcomer_ratio", "bug_introducing_ratio", 0),
    ("change_size_lines", "review_time_seconds", 0),
    ("change_size_lines", "bug_introducing_ratio", 0),
    ("test_churn_ratio", "coverage_ratio", 0),
    ("coverage_ratio", "bug_introducing_ratio", 0),
    ("change_size_lines", "build_duration_seconds", 0),
    ("review_time_seconds", "lead_time_seconds", 0),
    ("build_duration_seconds", "lead_time_seconds", 0),
    ("build_duration_seconds", "deploys_count", 0),
    ("bug_introducing_ratio", "incidents_count", 0),
    ("deploys_count", "incidents_count", 0),
)
_WG_TARGETS = ("lead_time_seconds", "incidents_count", "bug_introducing_ratio")


def wrong_graph_case(seed: int, injected: bool, kind: str) -> HardCase:
    rng = np.random.default_rng([seed, 41])
    n = int(rng.integers(120, 181))
    k = 20 if kind == "change" else 1
    start = n - k
    target = str(_WG_TARGETS[int(rng.integers(len(_WG_TARGETS)))])
    # the hidden common cause: a slowly varying release pressure (AR(1)) on change size and review
    pressure = np.zeros(n)
    eps = rng.normal(size=n)
    for i in range(1, n):
        pressure[i] = 0.85 * pressure[i - 1] + 0.5 * eps[i]
    z = {nm: rng.normal(size=n) for nm in _WG_ORDER}
    u_inc = rng.random(n)
    u_dep = rng.random(n)
    team_steps = rng.choice([-1, 0, 0, 0, 0, 0, 0, 0, 0, 1], n)

    def simulate(cause: str | None, size: float) -> dict[str, np.ndarray]:
        on = np.zeros(n)
        on[start:] = 1.0 if cause else 0.0

        def b(name: str):
            return size * on if cause == name else 0.0

        team = np.clip(7 + np.cumsum(team_steps) + np.rint(b("team_size")), 2, 20)
        new = np.clip(0.12 + 0.05 * z["newcomer_ratio"] + b("newcomer_ratio"), 0, 1)
        size_l = np.exp(4.0 + 1.5 * new + 0.35 * pressure + 0.35 * z["change_size_lines"] + b("change_size_lines"))
        review = 3600 * (2 + 0.02 * size_l) / np.sqrt(team / 7) * np.exp(
            0.3 * z["review_time_seconds"] - 0.25 * pressure + b("review_time_seconds"))
        churn = np.clip(0.3 + 0.06 * z["test_churn_ratio"] - b("test_churn_ratio"), 0, 1)
        cov = np.clip(0.5 + 0.8 * churn ** 0.7 * 0.6 + 0.02 * z["coverage_ratio"] - b("coverage_ratio"), 0, 1)
        bi = np.clip(_expit(-1.6 + 3 * new + 0.5 * (np.log(size_l) - 4) - 4 * (cov - 0.74)
                            + 0.25 * z["bug_introducing_ratio"] + b("bug_introducing_ratio")), 0, 1)
        build = (400 + 1.5 * size_l) * np.exp(0.2 * z["build_duration_seconds"] + b("build_duration_seconds"))
        dep_mu = np.maximum(0.5, 12 * np.exp(-(build - 500) / 900) * (1 + b("deploys_count")))
        deploys = stats.poisson.ppf(u_dep, dep_mu)
        inc = stats.poisson.ppf(u_inc, np.maximum(0.05, 0.05 * deploys * (1 + 6 * bi) * (1 + b("incidents_count"))))
        lead = (review + 20 * build + 3600 * 24) * np.exp(0.15 * z["lead_time_seconds"] + b("lead_time_seconds"))
        return {
            "team_size": team, "newcomer_ratio": new, "change_size_lines": size_l,
            "review_time_seconds": review, "test_churn_ratio": churn, "coverage_ratio": cov,
            "build_duration_seconds": build, "bug_introducing_ratio": bi, "deploys_count": deploys,
            "incidents_count": inc, "lead_time_seconds": lead,
        }

    # the graph handed over: one true edge into the target's true ancestry left out, one spurious edge
    anc = _ancestors(_WG_TRUE, target) | {target}
    droppable = [e for e in _WG_TRUE if e[1] in anc]
    dropped = droppable[int(rng.integers(len(droppable)))]
    pos = {nm: i for i, nm in enumerate(_WG_ORDER)}
    true_pairs = {(s, t) for s, t, _ in _WG_TRUE}
    spurious_pool = [
        (a, b) for a in _WG_ORDER for b in _WG_ORDER
        if pos[a] < pos[b] and (a, b) not in true_pairs and (a, b) != dropped[:2]
    ]
    spurious = spurious_pool[int(rng.integers(len(spurious_pool)))]
    given = tuple(e for e in _WG_TRUE if e != dropped) + ((spurious[0], spurious[1], 0),)

    values = simulate(None, 0.0)
    cause = None
    if injected:
        causes = sorted(_ancestors(_WG_TRUE, target))
        ref = values[target][:start]
        want = float(np.std(ref)) * (rng.uniform(0.5, 1.0) if kind == "change" else rng.uniform(3.0, 4.5))
        hiw = _WG_NODES[target]["higher_is_worse"]
        before = values[target][start:].mean()
        for c in [str(x) for x in rng.permutation(causes)]:
            up = np.r_[np.linspace(0.01, 3.0, 80), np.geomspace(3.2, 30.0, 20)]
            down = -np.linspace(0.01, 3.0, 80)
            if c == "team_size":
                up, down = np.arange(1.0, 5.0), -np.arange(1.0, 5.0)

            def moved(s: float, c: str = c) -> float:
                d = float(simulate(c, s)[target][start:].mean() - before)
                return d if hiw else -d

            s = _first_crossing(moved, want, up)  # the node pushed up makes the target worse, or down does
            if s is None:
                s = _first_crossing(moved, want, down)
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    index = _index(n, "2023-01-02", "7D")
    counts = ("team_size", "deploys_count", "incidents_count")
    data = _frame(values, index, counts)
    upstream = cause in _ancestors(given, target) if cause else True
    at, baseline, current = _windows(kind, index, start, spike=len(index) - 1)
    note = (f"graph misses {dropped[0]} -> {dropped[1]}, adds spurious {spurious[0]} -> {spurious[1]}; "
            "hidden release pressure drives change_size_lines and review_time_seconds")
    if cause and not upstream:
        note += f"; the injected {cause} is not upstream of {target} in the given graph"
    return HardCase(
        name=f"wrong-graph-{'inj' if injected else 'null'}-{kind}-{seed}",
        family="wrong-graph",
        kind=kind,
        injected=injected,
        data=data,
        nodes=dict(_WG_NODES),
        graph_edges=given,
        true_edges=_WG_TRUE,
        target=target,
        cause=cause,
        at=at,
        baseline=baseline,
        current=current,
        counts=counts,
        hidden=("release_pressure",),
        cause_upstream_in_given=upstream,
        note=note,
        graph_name="delivery-approx",
        unit="week",
        extra={"dropped": dropped[:2], "spurious": spurious},
    )


# =============================================================================================
# Mid-chain faults
# =============================================================================================

_CHAIN = ("spec_churn_ratio", "change_size_lines", "review_rounds", "review_time_seconds",
          "merge_wait_seconds", "lead_time_seconds")
_SIDES = {
    "change_size_lines": ("codegen_lines",),
    "review_rounds": ("reviewer_load",),
    "review_time_seconds": ("timezone_spread_hours",),
    "merge_wait_seconds": ("ci_flakiness_ratio", "merge_queue_length"),
    "lead_time_seconds": ("release_freeze_days",),
}


def mid_chain_case(seed: int, injected: bool, kind: str) -> HardCase:
    rng = np.random.default_rng([seed, 51])
    n = int(rng.integers(200, 401))
    k = 25 if kind == "change" else int(rng.integers(1, 3))
    start = n - k
    z = {nm: rng.normal(size=n) for nm in _CHAIN + tuple(s for v in _SIDES.values() for s in v)}
    u_q = rng.random(n)
    gain = rng.uniform(0.8, 1.4, 6)

    def simulate(cause: str | None, size: float) -> dict[str, np.ndarray]:
        on = np.zeros(n)
        on[start:] = 1.0 if cause else 0.0

        def b(name: str):
            return size * on if cause == name else 0.0

        v: dict[str, np.ndarray] = {}
        v["codegen_lines"] = np.exp(3 + 0.8 * z["codegen_lines"])
        v["reviewer_load"] = np.clip(4 + 1.2 * z["reviewer_load"], 0.5, None)
        v["timezone_spread_hours"] = np.clip(6 + 2.5 * z["timezone_spread_hours"], 0, 12)
        v["ci_flakiness_ratio"] = np.clip(0.05 + 0.02 * z["ci_flakiness_ratio"], 0, 1)
        v["merge_queue_length"] = stats.poisson.ppf(u_q, 3.0)
        v["release_freeze_days"] = np.clip(np.rint(0.4 + 0.6 * z["release_freeze_days"]), 0, 3)
        v["spec_churn_ratio"] = np.clip(0.2 + 0.06 * z["spec_churn_ratio"] + b("spec_churn_ratio"), 0, 1)
        v["change_size_lines"] = np.exp(4.0 + gain[0] * 2.0 * v["spec_churn_ratio"] + 0.3 * z["change_size_lines"]
                                        + b("change_size_lines")) + 0.5 * v["codegen_lines"]
        # review rounds saturate: a bigger change needs more rounds, but never more than ~6
        v["review_rounds"] = 6.0 * np.tanh(gain[1] * v["change_size_lines"] / 600.0) * np.exp(
            0.15 * z["review_rounds"] + b("review_rounds")) + 0.1 * v["reviewer_load"]
        v["review_time_seconds"] = 1800 * np.exp(gain[2] * 0.45 * v["review_rounds"] + 0.2 * z["review_time_seconds"]
                                                 + b("review_time_seconds")) * (1 + v["timezone_spread_hours"] / 12)
        v["merge_wait_seconds"] = (600 + 0.3 * v["review_time_seconds"] ** 1.05 * (1 + 4 * v["ci_flakiness_ratio"])
                                   + 300 * v["merge_queue_length"]) * np.exp(0.2 * z["merge_wait_seconds"]
                                                                             + b("merge_wait_seconds"))
        v["lead_time_seconds"] = (v["review_time_seconds"] + v["merge_wait_seconds"] + 86400 * v["release_freeze_days"]
                                  + 3600 * 4) * np.exp(0.1 * z["lead_time_seconds"])
        return v

    values = simulate(None, 0.0)
    target = "lead_time_seconds"
    cause = None
    if injected:
        ref = values[target][:start]
        if kind == "change":
            want = float(np.std(ref)) * rng.uniform(0.6, 1.2)
        else:
            want = float(np.quantile(ref, 0.995)) - float(values[target][start:].mean())
            want = max(want, 0.0) + float(np.std(ref)) * rng.uniform(0.0, 1.0)
        before = values[target][start:].mean()
        choices = ["change_size_lines", "review_rounds"]  # B and C of A -> B -> C -> D -> E -> target
        for c in [str(x) for x in rng.permutation(choices)]:
            grid = np.linspace(0.02, 4.0, 120)
            s = _first_crossing(lambda s, c=c: float(simulate(c, s)[target][start:].mean() - before), want, grid)
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    edges = tuple((a, b, 0) for a, b in zip(_CHAIN[:-1], _CHAIN[1:], strict=True)) + tuple(
        (s, t, 0) for t, ss in _SIDES.items() for s in ss
    )
    nodes = {
        "spec_churn_ratio": {"kind": "ratio", "higher_is_worse": True},
        "change_size_lines": {"kind": "continuous", "higher_is_worse": True},
        "review_rounds": {"kind": "continuous", "higher_is_worse": True},
        "review_time_seconds": {"kind": "duration", "higher_is_worse": True},
        "merge_wait_seconds": {"kind": "duration", "higher_is_worse": True},
        "lead_time_seconds": {"kind": "duration", "higher_is_worse": True},
        "codegen_lines": {"kind": "continuous", "higher_is_worse": True},
        "reviewer_load": {"kind": "continuous", "higher_is_worse": True},
        "timezone_spread_hours": {"kind": "continuous", "higher_is_worse": True},
        "ci_flakiness_ratio": {"kind": "ratio", "higher_is_worse": True},
        "merge_queue_length": {"kind": "count", "higher_is_worse": True},
        "release_freeze_days": {"kind": "count", "higher_is_worse": True},
    }
    index = _index(n, "2025-03-03", "D")
    counts = ("merge_queue_length", "release_freeze_days")
    data = _frame({nm: values[nm] for nm in nodes}, index, counts)
    at, baseline, current = _windows(kind, index, start, spike=start)
    return HardCase(
        name=f"mid-chain-{'inj' if injected else 'null'}-{kind}-{seed}",
        family="mid-chain",
        kind=kind,
        injected=injected,
        data=data,
        nodes=nodes,
        graph_edges=edges,
        true_edges=edges,
        target=target,
        cause=cause,
        at=at,
        baseline=baseline,
        current=current,
        counts=counts,
        graph_name="review-chain",
        unit="day",
    )


# =============================================================================================
# The plan: which cases a run holds
# =============================================================================================


def family_cases(family: str, injected: int, nulls: int, seed: int = 0) -> list[HardCase]:
    """``injected`` injected and ``nulls`` null cases of one family; modes alternate where a family has two."""
    out: list[HardCase] = []
    base = seed * 1_000_003 + FAMILIES.index(family) * 10_007
    for i in range(injected + nulls):
        inj = i < injected
        j = i if inj else i - injected
        s = base + i
        mode = ("change", "anomaly")[j % 2]
        if family == "micro-latency":
            out.append(micro_latency_case(s, inj))
        elif family == "micro-errors":
            out.append(micro_errors_case(s, inj))
        elif family == "se-ratios":
            out.append(se_ratios_case(s, inj, "change" if inj else mode))
        elif family == "se-nonlinear":
            out.append(se_nonlinear_case(s, inj, mode))
        elif family == "wrong-graph":
            out.append(wrong_graph_case(s, inj, mode))
        elif family == "mid-chain":
            out.append(mid_chain_case(s, inj, mode))
        else:
            raise ValueError(f"unknown family {family!r}")
    return out


# =============================================================================================
# Real data: the PetShop dataset (optional; read from a local copy)
# =============================================================================================


def _petshop_scenario(root: Path, scenario: str):
    adj = pd.read_csv(root / scenario / "graph.csv", index_col=0)
    normal = pd.read_csv(root / scenario / "noissue" / "metrics.csv", header=[0, 1, 2], index_col=0)
    issues = []
    for split in ("train", "test"):
        folder = root / scenario / split
        if not folder.is_dir():
            continue
        for d in sorted(folder.iterdir(), key=lambda p: (len(p.name), p.name)):
            if (d / "metrics.csv").is_file() and (d / "target.json").is_file():
                m = pd.read_csv(d / "metrics.csv", header=[0, 1, 2], index_col=0)
                issues.append((f"{split}-{d.name}", m, json.loads((d / "target.json").read_text())))
    return adj, normal, issues


def _reduce(df: pd.DataFrame, metric: str, statistic: str) -> pd.DataFrame:
    sub = df.loc[:, (slice(None), [metric], [statistic])]
    sub.columns = [c[0] for c in sub.columns]
    return sub


def petshop_cases(root: str | Path, injected: int | None = None, nulls: int = 4) -> list[HardCase]:
    """Issues of the low- and high-traffic scenarios (``Average`` latency or availability at PetSite).

    The call graph (caller -> callee) is reversed into a causal graph (callee -> caller). Each case
    is the scenario's normal period followed by one abnormal row (the third row of the issue's
    window, as the dataset's own evaluation does), re-stamped 5 minutes after the last normal row
    (the dataset's normal period was recorded after the issues). Missing values are filled with
    the node's mean over the normal period (the dataset's own recipe); nodes never observed in the
    normal period are left out of the graph, their callers inheriting their callees. Null cases
    ask about a row of the normal period, the model fitted on the rows before it.
    """
    root = Path(root)
    cases: list[HardCase] = []
    nulls_out: list[HardCase] = []
    for scenario in ("low_traffic", "high_traffic"):
        if not (root / scenario / "noissue" / "metrics.csv").is_file():
            continue
        adj, normal_all, issues = _petshop_scenario(root, scenario)
        call = nx.from_pandas_adjacency(adj, create_using=nx.DiGraph)
        causal = call.reverse()
        for metric in ("latency", "availability"):
            normal = _reduce(normal_all, metric, "Average")
            normal.index = pd.to_datetime(normal.index.astype(float), unit="s", utc=True)
            observed = [c for c in normal.columns if normal[c].notna().any() and c in causal]
            g = causal.copy()
            for node in list(g.nodes):
                if node not in observed:
                    for p in list(g.predecessors(node)):
                        for ch in list(g.successors(node)):
                            if p != ch:
                                g.add_edge(p, ch)
                    g.remove_node(node)
            filled = normal[observed].fillna(normal[observed].mean())
            nodes = {c: {"higher_is_worse": metric == "latency",
                         "kind": "duration" if metric == "latency" else "continuous"} for c in observed}
            edges = tuple((s, t, 0) for s, t in g.edges)
            step = pd.Timedelta(minutes=5)
            for label, m, tgt in issues:
                if tgt["target"]["metric"] != metric or tgt["target"]["agg"] != "Average":
                    continue
                ab = _reduce(m, metric, "Average")
                row = ab.iloc[2:3].reindex(columns=observed)
                row = row.fillna(filled.mean())
                row.index = pd.DatetimeIndex([filled.index[-1] + step], name="ts")
                data = pd.concat([filled, row])
                data.index.name = "ts"
                cause = tgt["root_cause"]["node"]
                target = tgt["target"]["node"]
                if cause not in observed or target not in observed:
                    continue
                cases.append(HardCase(
                    name=f"petshop-{scenario}-{metric}-{label}",
                    family="petshop", kind="anomaly", injected=True, data=data, nodes=nodes,
                    graph_edges=edges, true_edges=edges, target=target, cause=cause,
                    at=(row.index[0], row.index[0]),
                    cause_upstream_in_given=cause in nx.ancestors(g, target),
                    note=f"{scenario} {metric}: {tgt['metadata'].get('reproducibility', {}).get('command', '')}",
                    graph_name=f"petshop-{scenario}-{metric}", unit="hour",
                ))
            n = len(filled)
            for frac in (0.6, 0.7, 0.8, 0.9):
                cut = int(n * frac)
                data = filled.iloc[: cut + 1].copy()
                data.index.name = "ts"
                nulls_out.append(HardCase(
                    name=f"petshop-{scenario}-{metric}-null-{int(frac * 100)}",
                    family="petshop", kind="anomaly", injected=False, data=data, nodes=nodes,
                    graph_edges=edges, true_edges=edges, target="PetSite", cause=None,
                    at=(data.index[-1], data.index[-1]), note=f"{scenario} {metric}: a normal row",
                    graph_name=f"petshop-{scenario}-{metric}", unit="hour",
                ))
    if injected is not None:
        # spread the subset over scenarios and metrics: every k-th case
        step = max(1, len(cases) // max(1, injected))
        cases = cases[::step][:injected]
    step = max(1, len(nulls_out) // max(1, nulls))
    return cases + nulls_out[::step][:nulls]
