"""The ``wrong-graph`` family: a graph missing one true edge and holding one spurious one, a hidden confounder.

See :mod:`tests.bench.hard_scenarios` for what each family holds and how cases are planned.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.bench.hard_case import HardCase, ancestors_of, expit, first_crossing, frame_of, time_index, windows

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
        bi = np.clip(expit(-1.6 + 3 * new + 0.5 * (np.log(size_l) - 4) - 4 * (cov - 0.74)
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
    anc = ancestors_of(_WG_TRUE, target) | {target}
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
        causes = sorted(ancestors_of(_WG_TRUE, target))
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

            s = first_crossing(moved, want, up)  # the node pushed up makes the target worse, or down does
            if s is None:
                s = first_crossing(moved, want, down)
            if s is None:
                continue
            values = simulate(c, s)
            cause = c
            break
        else:
            raise RuntimeError("no injectable cause")
    index = time_index(n, "2023-01-02", "7D")
    counts = ("team_size", "deploys_count", "incidents_count")
    data = frame_of(values, index, counts)
    upstream = cause in ancestors_of(given, target) if cause else True
    at, baseline, current = windows(kind, index, start, spike=len(index) - 1)
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
