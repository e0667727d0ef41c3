"""An effect question made ready: the rows, the unrolled graph, the treatment's columns, the weights.

Every step of an effect question (identify, estimate, refute, check) takes the :class:`EffectData`
this module builds first, as DoWhy's gcm functions take the fitted model first. Building it checks
the question against the graph and the data once:

- the treatment must be upstream of the outcome; both must be columns of the data;
- the graph is unrolled (a lagged edge becomes a column ``node[t-k]``) and the treatment is a
  *sustained* change: its column and every lagged copy on a path to the outcome move together;
- a graph node with no column is *unobserved* (latent): that is how a graph says "team pressure
  drives both, and we cannot measure it";
- rows are **weighted** as investigations weigh ratios: a ratio of events with a denominator (a
  bug-fix ratio over commits, declared in the graph or read off the data) is pooled by that
  denominator, so a week of one commit counts as one commit, not as a week. A ratio outcome's
  denominator weighs the rows of every regression and check; a ratio treatment's own denominator
  weighs the quantiles its typical step is read from (recommendations follow the same rule);
- columns of the data the graph does not name stay beside the rows (``extra``), so a check can ask
  whether one of them is tied to both treatment and outcome.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import kind_of, unit_of, unrolled
from rca.engine.errors import EngineInputError
from rca.engine.fitting import node_kind
from rca.engine.frames import Prepared, prepare
from results.format import format_value

MIN_ROWS = 20


@dataclass(frozen=True)
class EffectData:
    """One effect question, checked and prepared: what every later step takes first."""

    graph: CausalGraph
    treatment: str
    outcome: str
    data: pd.DataFrame  # complete rows; the observed unrolled columns
    dag: nx.DiGraph  # the unrolled graph, unobserved nodes included
    columns: dict[str, tuple[str, int]]  # unrolled column -> (node, lag)
    tcols: tuple[str, ...]  # the treatment's column and its lagged copies on a path to the outcome
    latent: tuple[str, ...]  # graph nodes without data
    binary: bool
    weights: np.ndarray | None  # row weights (the outcome's denominator), or None for equal rows
    weight_column: str | None
    treatment_weights: np.ndarray | None  # the treatment's own denominator, for its typical step
    extra: pd.DataFrame  # numeric columns the graph does not name, on the same rows
    caveats: tuple[str, ...] = field(default=())

    @property
    def rows(self) -> int:
        return len(self.data)

    def w(self) -> np.ndarray:
        """The row weights, ones when the rows are not weighted, scaled to sum to the number of rows."""
        if self.weights is None:
            return np.ones(len(self.data))
        return self.weights * (len(self.weights) / float(np.sum(self.weights)))


# --- checking the question ------------------------------------------------------------------------

def check_pair(graph: CausalGraph, treatment: str, outcome: str) -> None:
    """Raise :class:`EngineInputError` unless ``treatment`` can cause ``outcome`` in ``graph``."""
    names = ", ".join(list(graph.nodes)[:12]) + (", ..." if len(graph.nodes) > 12 else "")
    for role, node in (("treatment", treatment), ("outcome", outcome)):
        if node not in graph.nodes:
            raise EngineInputError(f"{role} {node!r} is not a node of graph {graph.name!r} (nodes: {names})")
    if treatment == outcome:
        raise EngineInputError(f"treatment and outcome are both {treatment!r}; pick two different nodes")
    if treatment not in graph.ancestors(outcome):
        raise EngineInputError(
            f"{outcome!r} is not downstream of {treatment!r} in graph {graph.name!r}: no directed path leads "
            "from the treatment to the outcome, so its causal effect is zero by assumption; swap them or add the edge"
        )


def observed_part(frame: pd.DataFrame | Mapping[str, pd.DataFrame], graph: CausalGraph,
                  needed: tuple[str, ...]) -> tuple[Prepared, tuple[str, ...]]:
    """Prepare the columns the frame has; graph nodes without a column are unobserved (latent).

    A mapping ``scope -> frame`` is pooled: each scope is prepared on its own (a lagged column
    never reaches into another scope's rows) and the rows are stacked.
    """
    if isinstance(frame, Mapping):
        return _pooled(frame, graph, needed)
    missing = [n for n in needed if n not in frame.columns]
    if missing:
        raise EngineInputError(
            f"the data has no column for {', '.join(map(repr, missing))}; collect it or choose another node"
        )
    latent = tuple(n for n in graph.nodes if n not in frame.columns)
    sub = graph.restricted(set(graph.nodes) - set(latent), denominators=False) if latent else graph
    return prepare(frame, sub), latent


def _pooled(frames: Mapping[str, pd.DataFrame], graph: CausalGraph,
            needed: tuple[str, ...]) -> tuple[Prepared, tuple[str, ...]]:
    if not frames:
        raise EngineInputError("no scope to pool: give at least one frame")
    if len(frames) == 1:
        return observed_part(next(iter(frames.values())), graph, needed)
    # A node is observed only where every scope has its column; otherwise it is latent everywhere.
    latent = [n for n in graph.nodes if any(n not in f.columns for f in frames.values())]
    parts, caveats, columns = [], [], {}
    for scope, f in frames.items():
        missing = [n for n in needed if n not in f.columns]
        if missing:
            raise EngineInputError(f"scope {scope!r} has no column for {', '.join(map(repr, missing))}; "
                                   "collect it there or leave that scope out")
        prepared, _ = observed_part(f.drop(columns=[n for n in latent if n in f.columns]), graph, needed)
        parts.append(prepared.frame)
        columns = prepared.columns
        caveats += [f"{scope}: {c}" for c in prepared.caveats]
    names = ", ".join(list(frames)[:5]) + (", ..." if len(frames) > 5 else "")
    caveats.append(f"pooled over {len(frames)} scopes ({names}): one average effect for all of them "
                   "(effects by scope compare them)")
    return Prepared(frame=pd.concat(parts), columns=columns, caveats=tuple(caveats)), tuple(latent)


def treatment_columns(dag: nx.DiGraph, columns: dict[str, tuple[str, int]], treatment: str, outcome: str) -> list[str]:
    """The treatment's column and its lagged copies that have a directed path to the outcome."""
    cols = [c for c, (node, _lag) in columns.items() if node == treatment and c in dag and nx.has_path(dag, c, outcome)]
    return sorted(cols, key=lambda c: columns[c][1])


def is_binary(values: pd.Series) -> bool:
    v = values.dropna().unique()
    return len(v) == 2 and set(np.asarray(v, dtype=float)) == {0.0, 1.0}


def node_unit(graph: CausalGraph, node: str, values: pd.Series | None = None) -> str:
    """A node's unit: from its declared kind, else its metric's suffix, else the kind its values suggest."""
    n = graph.nodes[node]
    return unit_of(n.metric, n.kind) or unit_of(n.metric, node_kind(graph, node, values))


# --- weights and the typical step -------------------------------------------------------------------

def denominator_of(graph: CausalGraph, node: str, frame: pd.DataFrame) -> str | None:
    """The count column a ratio node is events over (declared, else read off the data), when the frame has it.

    The same rule investigations use to pool a ratio (``infer_denominator``): one rule for both.
    """
    from rca.engine.denominators import infer_denominator

    spec = graph.nodes[node]
    if kind_of(spec.metric, spec.kind) != "ratio" and node_kind(graph, node, frame[node]) != "ratio":
        return None
    denom = spec.denominator or infer_denominator(frame, graph, node)
    return denom if denom is not None and denom in frame.columns and denom != node else None


def row_weights(graph: CausalGraph, frame: pd.DataFrame, node: str) -> tuple[np.ndarray | None, str | None]:
    """A ratio node's denominator as row weights (None when the node has none): the rule investigations
    pool ratios by, used for every regression on the node and every mean or quantile of it."""
    denom = denominator_of(graph, node, frame)
    if denom is None:
        return None, None
    w = np.maximum(frame[denom].to_numpy(float), 0.0)
    if np.sum(w) > 0 and np.count_nonzero(w) >= 2:
        return w, denom
    return None, None


def weighted_quantile(values: np.ndarray, q: float | list[float], weights: np.ndarray | None = None) -> np.ndarray:
    """Quantiles of ``values`` with each row counting ``weights`` times (plain quantiles without weights)."""
    v = np.asarray(values, dtype=float)
    if weights is None:
        return np.quantile(v, q)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    v, w = v[keep], w[keep]
    order = np.argsort(v)
    v, w = v[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(q, cum, v)


def nice_step(x: float) -> float:
    """The 1-2-5 round number nearest ``x`` (on a log scale)."""
    if not x or not math.isfinite(x) or x <= 0:
        return 1.0
    e = math.floor(math.log10(x))
    candidates = [m * 10.0**p for p in (e - 1, e, e + 1) for m in (1, 2, 5)]
    return min(candidates, key=lambda c: abs(math.log(c / x)))


def typical_step(values: pd.Series, higher_is_worse: bool, weights: np.ndarray | None = None) -> float:
    """A round, typical change of the treatment, in its good direction: the nice-rounded (weighted) IQR."""
    v = values.to_numpy(float)
    q1, q3 = weighted_quantile(v, [0.25, 0.75], weights)
    spread = float(q3 - q1) or float(values.std())
    step = nice_step(spread)
    return -step if higher_is_worse else step


# --- building the question ----------------------------------------------------------------------------

def _extra_columns(frame: pd.DataFrame | Mapping[str, pd.DataFrame], graph: CausalGraph,
                   index: pd.Index) -> pd.DataFrame:
    """Numeric columns of the data that are not graph nodes, on the prepared rows (complete ones only)."""
    frames = list(frame.values()) if isinstance(frame, Mapping) else [frame]
    if len(frames) > 1 or index.has_duplicates:
        return pd.DataFrame(index=index)  # pooled scopes: rows repeat their timestamps
    f = frames[0]
    names = [c for c in f.columns if c not in graph.nodes and c != "scope" and pd.api.types.is_numeric_dtype(f[c])]
    if not names:
        return pd.DataFrame(index=index)
    out = f.loc[index, names].astype(float)
    keep = [c for c in names if out[c].notna().all() and out[c].nunique() > 1]
    return out[keep]


def effect_data(frame: pd.DataFrame | Mapping[str, pd.DataFrame], graph: CausalGraph, treatment: str, outcome: str,
                *, min_rows: int = MIN_ROWS) -> EffectData:
    """Check the question against ``graph`` and ``frame`` and prepare it.

    Raises :class:`EngineInputError` for an unknown node, a treatment that is the outcome or not
    upstream of it, a missing or constant column, or too few complete rows.
    """
    check_pair(graph, treatment, outcome)
    prepared, latent = observed_part(frame, graph, (treatment, outcome))
    data = prepared.frame
    dag, columns = unrolled(graph)
    tcols = [c for c in treatment_columns(dag, columns, treatment, outcome) if c in data.columns]
    if not tcols:
        raise EngineInputError(f"no observed column of {treatment!r} has a path to {outcome!r} in the unrolled graph")
    for c in (treatment, outcome):
        if data[c].nunique() <= 1:
            raise EngineInputError(
                f"{c!r} is constant ({format_value(float(data[c].iloc[0]), unit_of(c)) if len(data) else 'no rows'}) "
                f"over the {len(data)} complete row(s): an effect needs it to vary"
            )
    if len(data) < min_rows:
        raise EngineInputError(
            f"only {len(data)} complete row(s); an effect question needs at least {min_rows} "
            "(collect a longer history, or use a finer unit)"
        )
    caveats = list(prepared.caveats)
    if latent:
        caveats.append(f"no data for {', '.join(latent)}: treated as unobserved")
    weights, weight_column = row_weights(graph, data, outcome)
    if weights is not None:
        keep = weights > 0
        if not keep.all():  # a ratio over nothing (0 of 0 commits) says nothing
            caveats.append(f"{int((~keep).sum())} row(s) with no {weight_column} were left out (a ratio of nothing)")
            data, weights = data[keep], weights[keep]
            if len(data) < min_rows or data[treatment].nunique() <= 1 or data[outcome].nunique() <= 1:
                raise EngineInputError(f"only {len(data)} row(s) with {weight_column} above zero vary enough; an effect "
                                       f"question needs at least {min_rows}")
        light = int(np.sum(weights < 2))
        caveats.append(f"rows are weighted by {weight_column} (a ratio's denominator), as investigations pool ratios"
                       + (f"; {light} row(s) with fewer than 2 count little" if light else ""))
    extra = _extra_columns(frame, graph, data.index)
    step_weights, _ = row_weights(graph, data, treatment)
    return EffectData(graph=graph, treatment=treatment, outcome=outcome, data=data, dag=dag, columns=columns,
                      tcols=tuple(tcols), latent=tuple(latent), binary=is_binary(data[treatment]), weights=weights,
                      weight_column=weight_column, treatment_weights=step_weights, extra=extra, caveats=tuple(caveats))
