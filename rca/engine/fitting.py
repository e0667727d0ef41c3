"""Choose a causal mechanism for every node and fit the structural causal model.

Mechanisms are chosen here, not by DoWhy's ``gcm.auto``: auto-assignment takes seconds, varies
between runs, and picks discrete noise models for whole-number data that then fail on any value
outside the training set. Every column is modelled as a float. Roots (and lagged copies) get the
empirical distribution, which suits counts, bounded ratios and heavy-tailed durations alike
because it assumes no shape. Other nodes get an additive-noise model whose regressor is linear
by default (or log-linear for multiplicative durations): counts, ratios and durations of weekly
histories are short (50-150 rows), a linear model is what such histories support, and it keeps
contributions in the target's units and exactly additive. These models are the ones DoWhy's
``gcm`` would build (an ``AdditiveNoiseModel`` with a linear regressor, a ``PostNonlinearModel``
with an exponential link), fitted and evaluated here in closed form (:mod:`rca.engine.linear`),
so a linear investigation never imports DoWhy. A graph may ask for ``mechanism: nonlinear``
(gradient boosting) per node; only then is a DoWhy SCM built and fitted. Each fit reports its
in-sample R² per node. :class:`ModelCache` keeps fitted models between investigations of the
same data; it is an explicit object the caller owns, never module state.
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
    dag: nx.DiGraph  # the unrolled graph: one column per node and per lagged parent
    mechanisms: dict[str, str]  # column -> empirical | linear | loglinear | nonlinear
    quality: dict[str, float]  # in-sample R² of each child column
    rows: int
    kinds: dict[str, str] = field(default_factory=dict)  # node -> count | ratio | duration | continuous
    scm: object | None = None  # a fitted DoWhy InvertibleStructuralCausalModel, only for nonlinear graphs
    # What questions about these same rows compute alike (the graph check, the bootstrap refits of a
    # target's structure): kept with the model, so a warm question in a long-running service skips them.
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def remembered(self, key: tuple, compute):  # noqa: ANN001, ANN201 - any deterministic value of these rows
        """``compute()`` once per ``key`` for this model (deterministic given the rows, so a race only repeats it)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    @property
    def exact(self) -> bool:
        """Whether every mechanism has a closed form here (no DoWhy sampling needed)."""
        return "nonlinear" not in self.mechanisms.values()

    @property
    def log_columns(self) -> frozenset[str]:
        return frozenset(c for c, m in self.mechanisms.items() if m == "loglinear")


def gcm():
    """Import ``dowhy.gcm`` lazily (1-2 s) with its progress bars off."""
    from dowhy import gcm as _gcm

    _gcm.config.disable_progress_bars()
    return _gcm


def seed_everything(seed: int, *, dowhy: bool = False) -> None:
    """Seed NumPy's global generator (and DoWhy's, when a DoWhy model is in play)."""
    np.random.seed(seed)
    if dowhy:
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


def build(graph: CausalGraph, chosen: dict[str, str]) -> object:
    """A fresh DoWhy invertible SCM with the chosen mechanism on every column (unfitted)."""
    g = gcm()
    dag, _ = unrolled(graph)  # a new DiGraph per model: DoWhy stores mechanisms on it
    scm = g.InvertibleStructuralCausalModel(dag)
    for column in dag.nodes:
        name = chosen[column]
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
    return scm


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


def fit(frame: pd.DataFrame, graph: CausalGraph) -> Fitted:
    """Choose and fit a mechanism for every column of ``frame`` (the prepared, unrolled columns)."""
    dag, columns = unrolled(graph)
    log_cols = log_candidates(graph, frame)
    chosen = {c: mechanism_of(graph, c, columns, dag.in_degree(c) == 0, c in log_cols) for c in dag.nodes}
    kinds = {n: node_kind(graph, n, frame[n]) for n in graph.nodes}
    data = frame[list(dag.nodes)].astype(float)
    scm = None
    if "nonlinear" in chosen.values():
        g = gcm()
        scm = build(graph, chosen)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g.fit(scm, data)
        quality = r_squared(scm, data)
    else:
        quality = linear_r_squared(dag, data, frozenset(c for c, m in chosen.items() if m == "loglinear"))
    return Fitted(dag=dag, mechanisms=chosen, quality=quality, rows=len(frame), kinds=kinds, scm=scm)


def to_dowhy(frame: pd.DataFrame, graph: CausalGraph) -> object:
    """The same model as :func:`fit` chooses, built and fitted as a DoWhy SCM (for DoWhy's own estimators)."""
    fitted = fit(frame, graph)
    if fitted.scm is not None:
        return fitted.scm
    scm = build(graph, fitted.mechanisms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gcm().fit(scm, frame[list(fitted.dag.nodes)].astype(float))
    return scm


def linear_r_squared(dag: nx.DiGraph, data: pd.DataFrame, log_columns: frozenset[str]) -> dict[str, float]:
    """In-sample R² of every child column's linear (or log-linear) regression on its parents."""
    from rca.engine import linear

    s = linear.whole(dag, log_columns)
    x = data[list(s.columns)].to_numpy(float)
    params = linear.fit(s, x)
    fitted = linear.predict(s, params, x)
    out: dict[str, float] = {}
    for j, (col, pa) in enumerate(zip(s.columns, s.parents, strict=True)):
        if not pa:
            continue
        y = x[:, j]
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        out[col] = round(1.0 - float(np.sum((y - fitted[:, j]) ** 2)) / ss_tot, 4) if ss_tot > 0 else 1.0
    return out


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

    def fit(self, frame: pd.DataFrame, graph: CausalGraph) -> Fitted:
        key = fingerprint(graph, frame)
        if key in self._models:
            self._models.move_to_end(key)
            self.hits += 1
            return self._models[key]
        self.misses += 1
        model = fit(frame, graph)
        self._models[key] = model
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)
        return model
