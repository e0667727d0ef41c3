"""The ``mid-chain`` family: faults in the middle of a non-linear review chain.

See :mod:`tests.bench.hard_scenarios` for what each family holds and how cases are planned.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.bench.hard_case import HardCase, first_crossing, frame_of, time_index, windows

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
            s = first_crossing(lambda s, c=c: float(simulate(c, s)[target][start:].mean() - before), want, grid)
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
    index = time_index(n, "2025-03-03", "D")
    counts = ("merge_queue_length", "release_freeze_days")
    data = frame_of({nm: values[nm] for nm in nodes}, index, counts)
    at, baseline, current = windows(kind, index, start, spike=start)
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
