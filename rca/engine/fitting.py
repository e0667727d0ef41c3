"""Choose a causal mechanism for every node and fit DoWhy ``gcm`` models.

Mechanisms are chosen here, not by ``gcm.auto``: auto-assignment is slow, varies between
runs, and picks discrete noise models for whole-number data that then fail on any value
outside the training set. Root nodes (and lagged copies) get the empirical distribution;
other nodes an additive-noise model whose regressor is linear by default (weekly histories
are short, and a linear model is what 50-150 rows can support) or gradient-boosted where the
graph asks for ``mechanism: nonlinear``. Each fit reports its in-sample R² per node so the
report can say what the graph explains.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unrolled


@dataclass(frozen=True)
class Fitted:
    scm: object  # dowhy.gcm.InvertibleStructuralCausalModel
    mechanisms: dict[str, str]
    quality: dict[str, float]
    rows: int


def gcm():
    """Import ``dowhy.gcm`` lazily (1-2 s) with its progress bars off."""
    from dowhy import gcm as _gcm

    _gcm.config.disable_progress_bars()
    return _gcm


def seed_everything(seed: int) -> None:
    np.random.seed(seed)
    gcm().util.general.set_random_seed(seed)


def _mechanism_name(graph: CausalGraph, column: str, columns: dict[str, tuple[str, int]], is_root: bool) -> str:
    node, lag = columns[column]
    if is_root or lag:
        return "empirical"
    requested = graph.nodes[node].mechanism
    if requested in ("auto", "empirical"):
        return "linear"
    return requested


def build(graph: CausalGraph) -> tuple[object, dict[str, str]]:
    """A fresh invertible SCM with a mechanism assigned to every column (unfitted)."""
    g = gcm()
    dag, columns = unrolled(graph)
    scm = g.InvertibleStructuralCausalModel(dag)
    chosen: dict[str, str] = {}
    for column in dag.nodes:
        is_root = dag.in_degree(column) == 0
        name = _mechanism_name(graph, column, columns, is_root)
        if is_root:
            scm.set_causal_mechanism(column, g.EmpiricalDistribution())
            name = "empirical"
        elif name == "nonlinear":
            scm.set_causal_mechanism(column, g.AdditiveNoiseModel(g.ml.create_hist_gradient_boost_regressor(
                max_iter=100, random_state=0)))
        else:
            scm.set_causal_mechanism(column, g.AdditiveNoiseModel(g.ml.create_linear_regressor()))
            name = "linear"
        chosen[column] = name
    return scm, chosen


def fit(graph: CausalGraph, frame: pd.DataFrame) -> Fitted:
    """Build and fit an SCM for ``graph`` on ``frame`` (the prepared, unrolled columns)."""
    g = gcm()
    scm, chosen = build(graph)
    dag: nx.DiGraph = scm.graph
    data = frame[list(dag.nodes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g.fit(scm, data)
    return Fitted(scm=scm, mechanisms=chosen, quality=r_squared(scm, data), rows=len(frame))


def r_squared(scm: object, data: pd.DataFrame) -> dict[str, float]:
    """In-sample R² of every non-root node's mechanism (how much its parents explain)."""
    dag: nx.DiGraph = scm.graph  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for node in dag.nodes:
        parents = list(dag.predecessors(node))
        if not parents:
            continue
        mech = scm.causal_mechanism(node)  # type: ignore[attr-defined]
        y = data[node].to_numpy()
        pred = np.asarray(mech.prediction_model.predict(data[parents].to_numpy())).reshape(-1)
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        out[node] = round(1.0 - float(np.sum((y - pred) ** 2)) / ss_tot, 4) if ss_tot > 0 else 1.0
    return out
