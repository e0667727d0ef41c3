"""A generated sample organisation for ``rca demo``: weekly delivery metrics with a known cause.

Two years of weekly metrics for one service (``acme/payments``), drawn from a structural
model that follows ``graphs/delivery.yaml``. In the last quarter line coverage drops by
about 12 points (a large untested module is merged), which raises the share of
bug-introducing commits and, with them, the bug-fix ratio. Everything else keeps its
usual noise, so the right answer is known: the bug-fix ratio regressed, and line coverage
is its root cause. The sample is returned as observations, as the collectors would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.observations import Replace

SCOPE = "acme/payments"
INJECTED_CAUSE = "line_coverage_ratio"
TARGET = "bug_fix_commit_ratio"

_SOURCES = {
    "commits_count": "git",
    "newcomer_commit_ratio": "git",
    "median_change_size_lines": "git",
    "test_churn_ratio": "git",
    "bug_introducing_commit_ratio": "git",
    "bug_fix_commit_ratio": "git",
    "lead_time_seconds": "git",
    "line_coverage_ratio": "coverage",
    "build_duration_seconds": "prometheus",
    "deploys_count": "prometheus",
    "incidents_count": "prometheus",
}


@dataclass(frozen=True)
class Sample:
    wide: pd.DataFrame  # one row per week, one column per metric
    observations: pd.DataFrame  # the same as a long observation table
    baseline: tuple[pd.Timestamp, pd.Timestamp]
    current: tuple[pd.Timestamp, pd.Timestamp]
    scope: str = SCOPE
    target: str = TARGET
    cause: str = INJECTED_CAUSE

    @property
    def replaces(self) -> tuple[Replace, ...]:
        """What writing the sample supersedes in a store: its scope's earlier rows (a sample drawn in
        an earlier week ends a week earlier; kept, the two would blend into one history)."""
        return tuple(Replace(self.scope, src) for src in sorted(set(_SOURCES.values())))


def last_week(end: pd.Timestamp | None = None) -> pd.Timestamp:
    """The Monday that starts the last whole week before ``end`` (default: now, UTC)."""
    now = pd.Timestamp.now(tz="UTC") if end is None else pd.Timestamp(end)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    return (now.normalize() - pd.Timedelta(days=now.weekday())) - pd.Timedelta(days=7)


def generate(weeks: int = 104, shift_weeks: int = 13, seed: int = 7, inject: bool = True,
             end: pd.Timestamp | None = None) -> Sample:
    """Generate the sample; ``inject=False`` gives the same organisation with nothing injected.

    Its last week is the last whole week before ``end`` (default: now), so a demo run today reads as
    today's data (a fixed calendar would age, and the reports would rightly say the data are old);
    the values depend only on ``seed``.
    """
    rng = np.random.default_rng(seed)
    ts = pd.date_range(end=last_week(end), periods=weeks, freq="7D")
    shifted = np.arange(weeks) >= weeks - shift_weeks

    commits = rng.poisson(60, weeks).astype(float)
    newcomer = np.clip(rng.beta(2, 18, weeks), 0, 1)
    change_size = np.clip(40 + 120 * newcomer + rng.gamma(4, 6, weeks), 5, None).round()
    test_churn = np.clip(rng.normal(0.32, 0.05, weeks), 0.02, 0.9)
    coverage = np.clip(0.55 + 0.8 * test_churn + rng.normal(0, 0.015, weeks), 0, 1)
    if inject:
        coverage = np.where(shifted, coverage - 0.12, coverage)
    build = rng.lognormal(np.log(540), 0.25, weeks)
    bug_intro = np.clip(0.30 - 0.30 * coverage + 0.25 * newcomer + 0.0004 * change_size
                        + rng.normal(0, 0.012, weeks), 0, 1)
    cov_prev = np.concatenate([[coverage[0]], coverage[:-1]])
    bug_fix = np.clip(0.08 + 0.6 * bug_intro + 0.10 * (0.8 - cov_prev) + rng.normal(0, 0.01, weeks), 0, 1)
    deploys = np.maximum(0, np.round(0.25 * commits + 6 - build / 90 + rng.normal(0, 2, weeks)))
    incidents = np.maximum(0, np.round(0.2 * deploys + 25 * bug_intro + rng.normal(0, 0.8, weeks)))
    lead_time = (3600 * (20 + 0.15 * change_size) + 60 * build) * rng.lognormal(0, 0.1, weeks)

    wide = pd.DataFrame(
        {
            "commits_count": commits,
            "newcomer_commit_ratio": newcomer.round(4),
            "median_change_size_lines": change_size,
            "test_churn_ratio": test_churn.round(4),
            "line_coverage_ratio": coverage.round(4),
            "build_duration_seconds": build.round(1),
            "bug_introducing_commit_ratio": bug_intro.round(4),
            "bug_fix_commit_ratio": bug_fix.round(4),
            "deploys_count": deploys,
            "incidents_count": incidents,
            "lead_time_seconds": lead_time.round(0),
        },
        index=pd.DatetimeIndex(ts, name="ts"),
    )
    long = wide.reset_index().melt(id_vars="ts", var_name="metric", value_name="value")
    long["scope"] = SCOPE
    long["source"] = long["metric"].map(_SOURCES)
    observations = long[["ts", "scope", "metric", "value", "source"]]
    week = pd.Timedelta(days=7) - pd.Timedelta(seconds=1)
    baseline = (ts[weeks - 2 * shift_weeks], ts[weeks - shift_weeks - 1] + week)
    current = (ts[weeks - shift_weeks], ts[-1] + week)
    return Sample(wide=wide, observations=observations, baseline=baseline, current=current)
