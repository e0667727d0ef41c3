"""Domain causal graphs: what drives what, loaded from YAML or Graphviz DOT and validated.

The shipped graphs (``delivery.yaml`` and friends) live beside this module; see
:mod:`graphs.model` for the format and the checks.
"""

from graphs.model import AGGREGATIONS, UNITS, CausalGraph, Edge, GraphError, Node, load_graph, shipped_graph

__all__ = [
    "AGGREGATIONS",
    "UNITS",
    "CausalGraph",
    "Edge",
    "GraphError",
    "Node",
    "load_graph",
    "shipped_graph",
]
