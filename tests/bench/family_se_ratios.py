"""The ``se-ratios`` family: weekly delivery ratios over small, varying denominators.

See :mod:`tests.bench.hard_scenarios` for what each family holds and how cases are planned.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.bench.hard_case import HardCase, expit, first_crossing, frame_of, logit, time_index, windows

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
        p_new = expit(-2.4 + drift_new * 0.6 + (size * on if cause == "newcomer_commit_ratio" else 0))
        new = stats.binom.ppf(u["new"], commits, p_new) / commits
        size_lines = np.exp(3.8 + 1.6 * new + size_noise + (size * on if cause == "median_change_size_lines" else 0))
        p_rev = expit(logit(p_rev0) + rev_noise - (size * on if cause == "reviewed_commit_ratio" else 0))
        reviewed = stats.binom.ppf(u["rev"], commits, p_rev) / commits
        lin = (base_bi + 2.0 * new + 0.45 * (np.log(size_lines) - 4.0) - 1.5 * (reviewed - p_rev0)
               + (size * on if cause == "bug_introducing_commit_ratio" else 0))
        bi = stats.binom.ppf(u["bi"], commits, expit(lin)) / commits
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

            s = first_crossing(moved, want, grid)
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
    index = time_index(n, "2023-01-02", "7D")
    counts = ("team_size", "commits_count")
    data = frame_of(values, index, counts)
    at, baseline, current = windows(kind, index, change_at, spike=len(index) - 1)
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
