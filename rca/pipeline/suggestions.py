"""Suggest a graph from a table under the domain's order, leaving out the buckets still settling.

A table (a wide CSV/Parquet, or the observation table ``rca collect --git --out`` writes) goes to
:func:`rca.engine.discovery.suggest` with the domain's order as tiers: people and activity, then
change size, then review and tests, then bugs introduced, then bug fixing and incidents. The
default tiers name the metrics the collectors emit; ``tiers`` overrides them. The nodes are the
start graph's (``from_graph``) and those the tiers name, else every metric of the table; a column
missing in more than a fifth of the rows is left out (its gaps would cost every other column
those rows). Buckets whose bug-introducing figures are still settling (their fixes have not come
yet) are left out of the metrics that settle, for as long as the table's fixes usually take
(:mod:`rca.pipeline.settling`, the rule graph checks and investigations follow too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from collectors import files
from core import observations
from core.errors import BadInput
from graphs import CausalGraph, Node, shipped_graph
from graphs.model import build_graph, shipped_names
from rca.config import Settings
from rca.pipeline.data import Data, GraphRef, from_time, graph_of, wide_frame
from rca.pipeline.settling import DEFAULT_SETTLING, Settling, read_at, settle, settling_buckets  # noqa: F401 - the rule's home

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
_MAX_MISSING = 0.2


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
                  detrend: bool = True, since: str | None = None) -> SuggestOutcome:
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
    frame, settled = settle(frame, provisional, raw, settling, read=read_at(data))
    frame = from_time(frame, since)  # after settling: the settling weeks count back from when the data was read
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
