"""Choose a causal mechanism for every node and fit DoWhy ``gcm`` models.

Mechanisms are chosen here, not by ``gcm.auto``: auto-assignment takes seconds, varies between
runs, and picks discrete noise models for whole-number data that then fail on any value outside
the training set. Every column is modelled as a float. Roots (and lagged copies) get the
empirical distribution, which suits counts, bounded ratios and heavy-tailed durations alike
because it assumes no shape. Other nodes get an additive-noise model whose regressor is linear
by default: counts, ratios and durations of weekly histories are short (50-150 rows), a linear
model is what such histories support, and it keeps contributions in the target's units and
exactly additive. A graph may ask for ``mechanism: nonlinear`` (gradient boosting) or
``linear`` per node. Each fit reports its in-sample R² per node. :class:`ModelCache` keeps
fitted models between investigations of the same data; it is an explicit object the caller
owns, never module state.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import kind_of, unrolled


@dataclass(frozen=True)
class Fitted:
    scm: object  # dowhy.gcm.InvertibleStructuralCausalModel
    mechanisms: dict[str, str]
    quality: dict[str, float]
    rows: int
    kinds: dict[str, str] = field(default_factory=dict)


def gcm():
    """Import ``dowhy.gcm`` lazily (1-2 s) with its progress bars off."""
    from dowhy import gcm as _gcm

    _gcm.config.disable_progress_bars()
    return _gcm


def seed_everything(seed: int) -> None:
    np.random.seed(seed)
    gcm().util.general.set_random_seed(seed)


def node_kind(graph: CausalGraph, node: str, values: pd.Series | None = None) -> str:
    """The kind of a node: declared, else from its metric's suffix, else from its values."""
    declared = kind_of(graph.nodes[node].metric, graph.nodes[node].kind)
    if declared != "auto":
        return declared
    if values is not None and len(values):
        v = values.to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if len(v) and np.all(v >= 0) and np.all(v == np.round(v)):
            return "count"
        if len(v) and np.all((v >= 0) & (v <= 1)):
            return "ratio"
    return "continuous"


def mechanism_of(
    graph: CausalGraph,
    column: str,
    columns: dict[str, tuple[str, int]],
    is_root: bool,
    log_ok: bool = False,
) -> str:
    """``empirical`` for roots and lagged copies; a child's declared mechanism, else linear or log-linear.

    ``log_ok`` says the data favour a log-linear model for this column (see :func:`prefers_log`).
    """
    node, lag = columns[column]
    if is_root or lag:
        return "empirical"
    requested = graph.nodes[node].mechanism
    if requested in ("nonlinear", "loglinear", "linear"):
        return requested
    return "loglinear" if log_ok else "linear"


def prefers_log(y: np.ndarray, parents: np.ndarray, margin: float = 2.0) -> bool:
    """Whether ``log y = a + b.parents + N`` fits better than ``y = a + b.parents + N`` (Gaussian likelihood).

    Durations are often multiplicative (a slow week makes every step slower), which a linear model
    mistakes for one huge noise term. Both models have the same parameters; the log model's
    likelihood includes its Jacobian, so the comparison is on ``y``'s own scale.
    """
    y = np.asarray(y, dtype=float)
    if len(y) < 10 or np.any(y <= 0):
        return False
    z = np.column_stack([np.ones(len(y)), np.asarray(parents, dtype=float).reshape(len(y), -1)])

    def rss(target: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(z, target, rcond=None)
        r = target - z @ coef
        return max(float(r @ r), 1e-300)

    n = len(y)
    ll_lin = -0.5 * n * np.log(rss(y) / n)
    ll_log = -0.5 * n * np.log(rss(np.log(y)) / n) - float(np.sum(np.log(y)))
    return bool(ll_log > ll_lin + margin)


def build(graph: CausalGraph, log_columns: frozenset[str] = frozenset()) -> tuple[object, dict[str, str]]:
    """A fresh invertible SCM with a mechanism assigned to every column (unfitted)."""
    g = gcm()
    dag, columns = unrolled(graph)  # a new DiGraph per model: DoWhy stores mechanisms on it
    scm = g.InvertibleStructuralCausalModel(dag)
    chosen: dict[str, str] = {}
    for column in dag.nodes:
        name = mechanism_of(graph, column, columns, dag.in_degree(column) == 0, column in log_columns)
        if name == "empirical":
            scm.set_causal_mechanism(column, g.EmpiricalDistribution())
        elif name == "nonlinear":
            scm.set_causal_mechanism(
                column,
                g.AdditiveNoiseModel(g.ml.create_hist_gradient_boost_regressor(max_iter=100, random_state=0)),
            )
        elif name == "loglinear":
            from dowhy.gcm.ml.regression import InvertibleExponentialFunction

            pnl = g.PostNonlinearModel(
                g.ml.create_linear_regressor(), g.EmpiricalDistribution(), InvertibleExponentialFunction()
            )
            scm.set_causal_mechanism(column, pnl)
        else:
            scm.set_causal_mechanism(column, g.AdditiveNoiseModel(g.ml.create_linear_regressor()))
        chosen[column] = name
    return scm, chosen


def log_candidates(graph: CausalGraph, frame: pd.DataFrame) -> frozenset[str]:
    """Duration columns (declared, or named ``*_seconds``) whose data favour a log-linear mechanism.

    Only durations driven by counts, ratios or sizes qualify: time adds up along a chain (a
    caller's latency includes its callees', lead time includes build time), so a duration with a
    duration parent stays additive, and an exponential link would blow up a large upstream spike.
    """
    dag, columns = unrolled(graph)
    kinds = {n: node_kind(graph, n, frame[n]) for n in graph.nodes}
    out = set()
    for column in dag.nodes:
        node, lag = columns[column]
        parents = list(dag.predecessors(column))
        if lag or not parents or graph.nodes[node].mechanism != "auto":
            continue
        if any(kinds[columns[p][0]] == "duration" for p in parents):
            continue
        if kinds[node] == "duration" and prefers_log(
            frame[column].to_numpy(float), frame[parents].to_numpy(float)
        ):
            out.add(column)
    return frozenset(out)


def fit(graph: CausalGraph, frame: pd.DataFrame) -> Fitted:
    """Build and fit an SCM for ``graph`` on ``frame`` (the prepared, unrolled columns)."""
    g = gcm()
    scm, chosen = build(graph, log_candidates(graph, frame))
    dag: nx.DiGraph = scm.graph
    data = frame[list(dag.nodes)].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.fit(scm, data)
    kinds = {n: node_kind(graph, n, frame[n]) for n in graph.nodes}
    return Fitted(scm=scm, mechanisms=chosen, quality=r_squared(scm, data), rows=len(frame), kinds=kinds)


def r_squared(scm: object, data: pd.DataFrame) -> dict[str, float]:
    """In-sample R² of every non-root node's mechanism (how much its parents explain)."""
    from dowhy.graph import get_ordered_predecessors

    dag: nx.DiGraph = scm.graph  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for node in dag.nodes:
        # The regressor was fitted on DoWhy's parent order, not networkx's insertion order.
        parents = get_ordered_predecessors(dag, node)
        if not parents:
            continue
        mech = scm.causal_mechanism(node)  # type: ignore[attr-defined]
        y = data[node].to_numpy()
        pred = np.asarray(mech.prediction_model.predict(data[parents].to_numpy())).reshape(-1)
        if hasattr(mech, "invertible_function"):  # log-linear: the prediction is on the log scale
            pred = np.asarray(mech.invertible_function.evaluate(pred)).reshape(-1)
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        out[node] = round(1.0 - float(np.sum((y - pred) ** 2)) / ss_tot, 4) if ss_tot > 0 else 1.0
    return out


def fingerprint(graph: CausalGraph, frame: pd.DataFrame) -> str:
    """A key for a fitted model: the graph's definition and the exact rows and values it was fitted on."""
    h = hashlib.sha256(repr(graph.to_dict()).encode())
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(
        np.ascontiguousarray(
            frame.index.asi8 if isinstance(frame.index, pd.DatetimeIndex) else np.arange(len(frame))
        ).tobytes()
    )
    h.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()


@dataclass
class ModelCache:
    """Fitted models kept between investigations, keyed by graph and data fingerprint (LRU, bounded).

    Fitting is deterministic (OLS and empirical distributions; gradient boosting is seeded), so
    a cached model is the model a refit would give.
    """

    capacity: int = 16
    _models: OrderedDict[str, Fitted] = field(default_factory=OrderedDict, repr=False)
    hits: int = 0
    misses: int = 0

    def fit(self, graph: CausalGraph, frame: pd.DataFrame) -> Fitted:
        key = fingerprint(graph, frame)
        if key in self._models:
            self._models.move_to_end(key)
            self.hits += 1
            return self._models[key]
        self.misses += 1
        model = fit(graph, frame)
        self._models[key] = model
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)
        return model
