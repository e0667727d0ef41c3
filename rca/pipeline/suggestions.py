"""Suggest a graph from a table, and the rule both suggestions and graph checks follow for settling buckets.

A table (a wide CSV/Parquet, or the observation table ``rca collect --git --out`` writes) goes to
:func:`rca.engine.discovery.suggest` with the domain's order as tiers: people and activity, then
change size, then review and tests, then bugs introduced, then bug fixing and incidents. The
default tiers name the metrics the collectors emit; ``tiers`` overrides them. The nodes are the
start graph's (``from_graph``) and those the tiers name, else every metric of the table; a column
missing in more than a fifth of the rows is left out (its gaps would cost every other column
those rows). Buckets whose bug-introducing figures are still settling (their fixes have not come
yet) are left out of the metrics that settle, for as long as the table's fixes usually take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from collectors import files
from collectors.git_buckets import SETTLING_LAG_METRIC, SETTLING_METRICS
from core import observations
from core.errors import BadInput
from graphs import CausalGraph, Node, shipped_graph
from graphs.model import build_graph, shipped_names
from rca.config import Settings
from rca.frames import bucket_length
from rca.pipeline.data import Data, GraphRef, graph_of, wide_frame

# The domain's order, earliest first: a metric of a later tier does not cause one of an earlier tier in the
# same bucket (a lagged edge may run either way).
DEFAULT_TIERS: tuple[tuple[str, ...], ...] = (
    ("active_authors_count", "commits_count", "merge_commits_count", "newcomer_commit_ratio", "release_count",
     "weeks_since_release", "deploys_count"),
    ("median_change_size_lines", "files_per_commit", "churn_lines", "added_lines", "deleted_lines",
     "median_merge_size_commits", "median_merge_size_lines"),
    ("test_churn_ratio", "test_churn_lines", "line_coverage_ratio", "build_duration_seconds", "lead_time_seconds"),
    ("bug_introducing_commit_ratio", "bug_introducing_commits_count", "revert_commits_count", "revert_commit_ratio"),
    ("bug_fix_commit_ratio", "bug_fix_commits_count", "time_to_fix_seconds", "median_fix_lag_seconds", "incidents_count"),
)
DEFAULT_SETTLING = 26  # buckets, when the table has no time-to-fix figures to measure it by
_MAX_SETTLING = 104
_MAX_MISSING = 0.2


@dataclass(frozen=True)
class Settling:
    """Which nodes' latest buckets are left out, from when, and why."""

    nodes: tuple[str, ...]
    buckets: int
    since: pd.Timestamp | None
    measured: bool  # from the table's time-to-fix figures (else the default)

    def note(self) -> str | None:
        if not self.nodes or self.since is None or not self.buckets:
            return None
        how = "about half of the fixes come within that (median time to fix)" if self.measured else "default"
        return (f"the latest {self.buckets} bucket(s) of {', '.join(self.nodes)} (from {self.since:%Y-%m-%d}) are left "
                f"out: their bug-introducing figures are still settling ({how})")


def parse_tiers(text: str) -> tuple[tuple[str, ...], ...]:
    """``"a,b; c; d"``: tiers separated by ``;`` (earliest first), nodes within a tier by ``,``."""
    tiers = tuple(tuple(n.strip() for n in part.split(",") if n.strip()) for part in text.split(";"))
    tiers = tuple(t for t in tiers if t)
    if not tiers:
        raise BadInput("tiers are empty; write them earliest first as 'a,b; c; d'")
    return tiers


def default_tiers(nodes: Mapping[str, Node]) -> tuple[tuple[str, ...], ...]:
    """The default order for the given nodes, by the metric each reads."""
    out = []
    for group in DEFAULT_TIERS:
        out.append(tuple(n for n, node in nodes.items() if node.metric in group or n in group))
    return tuple(t for t in out if t)


def settling_buckets(raw: pd.DataFrame, unit: str) -> tuple[int, bool]:
    """How many of the latest buckets are still settling: the fix-weighted median time to fix, in buckets."""
    lag = count = None
    if files.is_observation_table(raw):
        long = raw[raw["metric"].isin([SETTLING_LAG_METRIC, "bug_fix_commits_count"])]
        if not long.empty:
            table = long.pivot_table(index="ts", columns="metric", values="value")
            lag, count = table.get(SETTLING_LAG_METRIC), table.get("bug_fix_commits_count")
    elif SETTLING_LAG_METRIC in raw.columns:
        lag, count = raw[SETTLING_LAG_METRIC], raw.get("bug_fix_commits_count")
    step = bucket_length(unit).total_seconds()
    if lag is None or step <= 0:
        return DEFAULT_SETTLING, False
    lag = pd.to_numeric(lag, errors="coerce")
    weight = pd.to_numeric(count, errors="coerce").reindex(lag.index).fillna(1.0) if count is not None else lag * 0 + 1
    keep = lag.notna() & (weight > 0)
    if keep.sum() < 5:
        return DEFAULT_SETTLING, False
    order = lag[keep].sort_values()
    cum = weight[keep].reindex(order.index).cumsum()
    median = float(order[cum >= cum.iloc[-1] / 2].iloc[0])
    return int(min(_MAX_SETTLING, max(1, math.ceil(median / step)))), True


def settle(frame: pd.DataFrame, graph: CausalGraph, raw: pd.DataFrame | None = None,
           buckets: int | None = None) -> tuple[pd.DataFrame, Settling]:
    """``frame`` with the still-settling latest buckets of the settling nodes set missing."""
    nodes = tuple(n for n, node in graph.nodes.items() if node.metric in SETTLING_METRICS and n in frame.columns)
    if not nodes or frame.empty or graph.unit == "commit":
        return frame, Settling(nodes, 0, None, False)
    measured = False
    if buckets is None:
        buckets, measured = settling_buckets(raw if raw is not None else frame, graph.unit)
    if buckets <= 0:
        return frame, Settling(nodes, 0, None, False)
    last = pd.Timestamp(frame.index.max())
    since = last - bucket_length(graph.unit) * (buckets - 1)
    out = frame.copy()
    out.loc[out.index >= since, list(nodes)] = float("nan")
    return out, Settling(nodes, buckets, since, measured)


def read_table(data: Data) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else files.read(data)


def _known_nodes(start: CausalGraph | None) -> dict[str, Node]:
    known: dict[str, Node] = {}
    for name in shipped_names():
        known.update(shipped_graph(name).nodes)
    if start is not None:
        known.update(start.nodes)
    return known


def _metrics_of(raw: pd.DataFrame) -> list[str]:
    if files.is_observation_table(raw):
        return list(dict.fromkeys(map(str, raw["metric"])))
    return [str(c) for c in raw.columns[1:] if pd.api.types.is_numeric_dtype(raw[c])]


@dataclass(frozen=True)
class SuggestOutcome:
    suggestion: object  # rca.engine.discovery.Suggestion
    settling: Settling
    path: Path | None
    left_out: tuple[str, ...]  # columns too sparse to learn from

    def lines(self) -> list[str]:
        """The suggestion in words, a line each: edges added, kept and dropped against the start graph, and notes."""
        from rca.engine.discovery_text import lines

        return lines(self.suggestion)


def suggest_graph(data: Data, settings: Settings, *, from_graph: GraphRef | None = None,
                  tiers: Sequence[Sequence[str]] | None = None, out: str | Path | None = None, scope: str = "",
                  name: str | None = None, max_lag: int = 1, alpha: float = 0.01, bootstrap: int = 30,
                  seconds: float = 60.0, min_frequency: float = 0.5, settling: int | None = None,
                  detrend: bool = True) -> SuggestOutcome:
    """Learn a graph from ``data`` under the tiers' order; compare it with ``from_graph``; write it to ``out``."""
    from rca.engine.discovery import node_like, suggest
    from rca.engine.discovery_text import graph_yaml

    start = graph_of(from_graph) if from_graph is not None else None
    raw = read_table(data)
    if files.is_observation_table(raw):
        raw = observations.validate(raw.assign(source="file") if "source" not in raw.columns else raw)
    wanted: list[str] = list(start.nodes) if start is not None else []
    wanted += [n for t in tiers or () for n in t if n not in wanted]
    if not wanted:
        wanted = _metrics_of(raw)
    known = _known_nodes(start)
    count = "commits_count" if "commits_count" in wanted else None
    nodes = {n: node_like(n, known, count) for n in wanted}
    nodes = {n: node if node.denominator in nodes else replace(node, denominator=None) for n, node in nodes.items()}
    unit = start.unit if start is not None else "week"
    provisional = build_graph(name or "suggested", unit, nodes, [], "the suggested graph")
    frame, _ = wide_frame(raw, provisional, scope)
    absent = [n for n in nodes if n not in frame.columns or frame[n].isna().all()]
    if absent:
        raise BadInput(f"the data has no values for {', '.join(absent[:8])}; collect them or leave them out of the "
                       "start graph and the tiers")
    frame, settled = settle(frame, provisional, raw, settling)
    sparse = tuple(n for n in nodes if frame[n].isna().mean() > _MAX_MISSING and n not in settled.nodes)
    if len(sparse) == len(nodes):
        raise BadInput("every column is missing in more than a fifth of the rows; nothing to learn from")
    nodes = {n: node for n, node in nodes.items() if n not in sparse}
    nodes = {n: node if node.denominator in nodes else replace(node, denominator=None) for n, node in nodes.items()}
    order = tuple(tiers) if tiers else default_tiers(nodes)
    unknown = [n for t in order for n in t if n not in nodes and n not in sparse]
    if unknown:
        raise BadInput(f"tier(s) name {', '.join(unknown[:5])}, which the data does not hold")
    result = suggest(frame, nodes=nodes, tiers=order, start=start, name=name or (f"{start.name}-suggested" if start
                     else "suggested"), unit=unit, max_lag=max_lag, alpha=alpha, bootstrap=bootstrap, seconds=seconds,
                     min_frequency=min_frequency, seed=settings.engine.seed, detrend=detrend)
    notes = list(result.notes)
    if settled.note():
        notes.insert(0, settled.note())
    if sparse:
        notes.insert(0, f"left out, missing in more than {_MAX_MISSING:.0%} of the rows: {', '.join(sparse)}")
    result = replace(result, notes=tuple(notes))
    path = None
    if out is not None:
        from results.io import write_text_atomic

        path = write_text_atomic(Path(out), graph_yaml(result, start))
    return SuggestOutcome(result, settled, path, sparse)
