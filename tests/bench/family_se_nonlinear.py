"""The ``se-nonlinear`` family: daily CI metrics with multiplicative, saturating links.

See :mod:`tests.bench.hard_scenarios` for what each family holds and how cases are planned.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.bench.hard_case import HardCase, expit, first_crossing, frame_of, time_index, windows

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
        miss_penalty = 1.0 + 1.2 * expit((cache_knee - cache) / 0.025)
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
            s = first_crossing(lambda s, c=c: stat(simulate(c, s)), want, grids[c])
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    index = time_index(n, "2025-06-02", "D")
    counts = ("test_count", "dependency_count", "jobs_count", "runner_count")
    data = frame_of(values, index, counts)
    at, baseline, current = windows(kind, index, start, spike=start)
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
