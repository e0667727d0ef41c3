"""Microservice families: ``micro-latency`` and ``micro-errors`` on one generated call graph.

See :mod:`tests.bench.hard_scenarios` for what each family holds and how cases are planned.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.bench.hard_case import HardCase, first_crossing, frame_of, time_index

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
            size = first_crossing(lambda s, bump=bump: float(bump(s)[0][normal:].mean()), threshold, grid)
            if size is None:
                continue
            lat = bump(size * rng.uniform(1.0, 1.3))
            cause = ci
            break
        else:
            raise RuntimeError("no injectable service")
    suffix = "latency_seconds"
    cols = [f"{nm}_{suffix}" for nm in names]
    index = time_index(rows, "2026-03-01", "5min")
    data = frame_of({c: lat[i] for i, c in enumerate(cols)}, index, ())
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

            lam = first_crossing(lambda s, burst=burst: float(burst(s)[0][normal:].mean()), threshold,
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
    index = time_index(rows, "2026-03-01", "5min")
    data = frame_of({c: err[i] for i, c in enumerate(cols)}, index, tuple(cols))
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
