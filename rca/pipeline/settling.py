"""The one rule for buckets still settling, used by graph suggestions, graph checks and investigations.

Some metrics are rewritten by later history (:data:`collectors.git_buckets.SETTLING_METRICS`): SZZ
finds a commit bug-introducing only when a later fix blames it, so the latest buckets read low until
their bugs are fixed. For as long as the table's fixes usually take (the fix-weighted median time to
fix, in buckets; :data:`DEFAULT_SETTLING` when the table does not say) before the history was read,
buckets of those metrics are still settling: counted back from when a table file was written (the
collection that wrote it), or from the table's last bucket when that is not known. A table read long
after its last commit has had time to see its fixes. A graph check or suggestion leaves them out of the data (they would
teach it the censoring). An investigation whose rows asked about reach into them leaves the settling
nodes out of its graph (a still-settling fall is never a cause; their parents' effects through them
become direct edges), or, when the target itself is settling, says so beside the answer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from collectors import files
from collectors.git_buckets import SETTLING_LAG_METRIC, SETTLING_METRICS
from core.observations import bucket_of
from graphs import CausalGraph
from graphs.model import Edge, build_graph
from rca.frames import bucket_length

if TYPE_CHECKING:
    from rca.engine.question import Question

DEFAULT_SETTLING = 26  # buckets, when the table has no time-to-fix figures to measure it by
_MAX_SETTLING = 104
FIX_COUNT_METRIC = "bug_fix_commits_count"  # weighs each bucket's median time to fix by its fixes
LAG_METRICS = (SETTLING_LAG_METRIC, FIX_COUNT_METRIC)  # what the span is measured from


@dataclass(frozen=True)
class Settling:
    """Which nodes' latest buckets are still settling, from when, and why."""

    nodes: tuple[str, ...]
    buckets: int
    since: pd.Timestamp | None
    measured: bool  # from the table's time-to-fix figures (else the default)

    def note(self) -> str | None:
        if not self.nodes or self.since is None or not self.buckets:
            return None
        how = ("half of the fixes come within that many, the median time to fix" if self.measured
               else "the default span, without time-to-fix figures to measure it")
        return (f"the latest {self.buckets} bucket(s) of {', '.join(self.nodes)} (from {self.since:%Y-%m-%d}) are left "
                f"out: their bug-introducing figures are still settling ({how})")


def settling_buckets(raw: pd.DataFrame, unit: str) -> tuple[int, bool]:
    """How many of the latest buckets are still settling: the fix-weighted median time to fix, in buckets."""
    lag = count = None
    if files.is_observation_table(raw):
        long = raw[raw["metric"].isin([SETTLING_LAG_METRIC, FIX_COUNT_METRIC])]
        if not long.empty:
            table = long.pivot_table(index="ts", columns="metric", values="value")
            lag, count = table.get(SETTLING_LAG_METRIC), table.get(FIX_COUNT_METRIC)
    elif SETTLING_LAG_METRIC in raw.columns:
        lag, count = raw[SETTLING_LAG_METRIC], raw.get(FIX_COUNT_METRIC)
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


def read_at(data: object) -> pd.Timestamp | None:
    """When a table's history was read: a file's last change (the collection that wrote it), never later
    than now; None for a table given in memory (its last bucket stands in)."""
    if not isinstance(data, (str, Path)):
        return None
    try:
        written = Path(data).stat().st_mtime
    except OSError:
        return None
    return pd.Timestamp(min(written, time.time()), unit="s", tz="UTC")


def span(frame: pd.DataFrame, graph: CausalGraph, raw: pd.DataFrame | None = None,
         buckets: int | None = None, read: pd.Timestamp | None = None) -> Settling:
    """Which of ``graph``'s nodes settle, and from which of ``frame``'s buckets on they are still settling
    (counted back from the bucket ``read`` falls in, else from the frame's last bucket)."""
    nodes = tuple(n for n, node in graph.nodes.items() if node.metric in SETTLING_METRICS and n in frame.columns)
    if not nodes or frame.empty or graph.unit == "commit":
        return Settling(nodes, 0, None, False)
    measured = False
    if buckets is None:
        buckets, measured = settling_buckets(raw if raw is not None else frame, graph.unit)
    if buckets <= 0:
        return Settling(nodes, 0, None, False)
    last = pd.Timestamp(frame.index.max())
    newest = last
    if read is not None:
        read_bucket = pd.Timestamp(int(bucket_of(int(read.timestamp()), graph.unit)), unit="s", tz="UTC")
        if last.tz is None:
            read_bucket = read_bucket.tz_localize(None)
        newest = max(last, read_bucket)
    since = newest - bucket_length(graph.unit) * (buckets - 1)
    if since > last:  # read long enough after its last bucket: every bucket has had its fixes' time
        return Settling(nodes, buckets, None, measured)
    return Settling(nodes, buckets, since, measured)


def settle(frame: pd.DataFrame, graph: CausalGraph, raw: pd.DataFrame | None = None,
           buckets: int | None = None, read: pd.Timestamp | None = None) -> tuple[pd.DataFrame, Settling]:
    """``frame`` with the still-settling latest buckets of the settling nodes set missing."""
    found = span(frame, graph, raw, buckets, read)
    if found.since is None:
        return frame, found
    out = frame.copy()
    out.loc[out.index >= found.since, list(found.nodes)] = float("nan")
    return out, found


@dataclass(frozen=True)
class ForQuestion:
    """What the settling rule does to one investigation: the graph to ask, and what to say about it."""

    graph: CausalGraph
    caveats: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()  # settling nodes taken out of the graph
    target_since: str = ""  # the target itself is settling from this date (ISO) in the rows asked about


def for_question(graph: CausalGraph, frame: pd.DataFrame, question: Question, found: Settling) -> ForQuestion:
    """The graph an investigation asks, given which buckets are still settling.

    When the rows asked about (the anomaly, or the current window) reach into the settling buckets, the
    settling nodes other than the target are left out of the graph (their parents' edges into them are
    carried on to their children, lags added), so a fall that is only censoring is never a cause; when the
    target itself settles, a caveat says its latest figures read low for now.
    """
    if found.since is None or frame.empty or question.target not in graph.nodes:  # the engine says what is wrong
        return ForQuestion(graph)
    asked = question.at if question.at is not None else question.current
    if asked is None:
        return ForQuestion(graph)
    end = asked.end if asked.end is not None else pd.Timestamp(frame.index.max())
    if end < found.since:
        return ForQuestion(graph)
    since = f"{found.since:%Y-%m-%d}"
    span = f"{found.buckets} {graph.unit}{'' if found.buckets == 1 else 's'}"
    why = "SZZ finds a commit bug-introducing only when a later fix blames it, and " + (
        f"half of the fixes come within {span} (the median time to fix)" if found.measured else
        f"without time-to-fix figures to measure how long that takes, the latest {span} count as settling")
    caveats, target_since = [], ""
    if question.target in found.nodes:
        target_since = since
        caveats.append(f"{question.target} is still settling from {since} on, in the rows asked about: {why}; those "
                       f"{graph.unit}s read low until their bugs are fixed, so a fall there is not yet a finding")
    drop = tuple(n for n in found.nodes if n != question.target and n in graph.nodes)
    if drop:
        graph = without(graph, drop)
        caveats.append(f"left out as a cause: {', '.join(drop)}, still settling from {since} on, in the rows asked "
                       f"about ({why}); the graph's paths through it are kept as direct edges")
    return ForQuestion(graph, tuple(caveats), drop, target_since)


def without(graph: CausalGraph, drop: tuple[str, ...]) -> CausalGraph:
    """``graph`` without the ``drop`` nodes: each parent of a dropped node gets an edge to each of its
    children (the lags of the two edges added), so paths through it are kept."""
    edges = list(graph.edges)
    for node in drop:
        into = [e for e in edges if e.target == node and e.source != node]
        out = [e for e in edges if e.source == node and e.target != node]
        edges = [e for e in edges if node not in (e.source, e.target)]
        have = {(e.source, e.target, e.lag) for e in edges}
        for a in into:
            for b in out:
                edge = Edge(a.source, b.target, a.lag + b.lag)
                if (edge.source, edge.target, edge.lag) in have or (edge.source == edge.target and edge.lag == 0):
                    continue
                edges.append(edge)
                have.add((edge.source, edge.target, edge.lag))
    kept = {n for n in graph.nodes if n not in drop}
    nodes = {n: node for n, node in graph.restricted(kept).nodes.items()}
    return build_graph(graph.name, graph.unit, nodes, edges, graph.name)
