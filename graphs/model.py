"""Load, validate and unroll causal graphs.

A graph names its unit of analysis (``commit`` or a time bucket), its nodes (each with the
metric it reads, how it aggregates into a bucket, which direction is bad, and optionally the
mechanism to model it with) and its edges (optionally lagged by whole buckets). The same
graph can be written in YAML or as a Graphviz ``digraph`` with the fields as attributes.
Validation rejects unknown nodes, self-loops and cycles among same-bucket edges with one
line each; an edge lagged by ``k >= 1`` buckets points into the past, so it may close a
loop (``bugs -> coverage, lag: 1`` beside ``coverage -> bugs``) and may even be a node's
own autoregression. :func:`unrolled` turns lagged edges into extra columns
(``node[t-k]``) so that the engine sees a plain DAG. networkx loads when a graph is built,
not when this module is imported (the configuration reads YAML through :func:`load_yaml`).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from graphs.dot import read_dot
from graphs.errors import GraphError

if TYPE_CHECKING:
    import networkx as nx

UNITS: tuple[str, ...] = ("commit", "hour", "day", "week", "month")
AGGREGATIONS: tuple[str, ...] = ("sum", "mean", "median", "last", "rate", "max", "min", "count")
MECHANISMS: tuple[str, ...] = ("auto", "linear", "loglinear", "nonlinear", "empirical")
MAX_LAG = 520  # ten years of weeks: a lag is a column of the model, and every lagged row is a row lost
KINDS: tuple[str, ...] = ("auto", "continuous", "count", "ratio", "duration")


_NODE_FIELDS = frozenset({"metric", "agg", "higher_is_worse", "actionable", "mechanism", "kind", "label", "denominator",
                          "lag_of", "lag"})

# What a metric's name says about it (the observation schema's unit suffixes): its kind, its unit.
_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    ("_ratio", "ratio", "ratio"),
    ("_rate", "ratio", "ratio"),
    ("_seconds", "duration", "seconds"),
    ("_count", "count", "count"),
    ("_total", "count", "count"),
    ("_lines", "auto", "lines"),
    ("_bytes", "auto", "bytes"),
    ("_percent", "auto", "percent"),
)
_KIND_UNITS = {"ratio": "ratio", "duration": "seconds", "count": "count"}


def kind_of(metric: str, kind: str = "auto") -> str:
    """A metric's kind: the declared one, else what its name's suffix says, else ``auto``."""
    if kind != "auto":
        return kind
    return next((k for suffix, k, _ in _SUFFIXES if metric.endswith(suffix)), "auto")


def unit_of(metric: str, kind: str = "auto") -> str:
    """The unit a metric is measured in, from its declared kind or its name's suffix ('' if unknown)."""
    if kind in _KIND_UNITS:
        return _KIND_UNITS[kind]
    return next((u for suffix, _, u in _SUFFIXES if metric.endswith(suffix)), "")


@dataclass(frozen=True)
class Node:
    name: str
    metric: str
    agg: str = "mean"
    higher_is_worse: bool = True
    actionable: bool = True
    mechanism: str = "auto"
    kind: str = "auto"
    label: str | None = None
    # For a ratio of events per bucket (bug fixes per commit): the node counting the events, so
    # a week of 1 commit weighs what one commit weighs, not what 40 do.
    denominator: str | None = None
    # A lag node: this column is ``lag_of`` shifted ``lag`` buckets back (``bug_ratio_lag1``), so its
    # causes are that node's parents, shifted the same way (see :attr:`CausalGraph.model_edges`).
    lag_of: str | None = None
    lag: int = 0

    @property
    def title(self) -> str:
        """A human label: the explicit one, else the name with underscores as spaces."""
        return self.label or self.name.replace("_", " ")

    @property
    def unit(self) -> str:
        return unit_of(self.metric, self.kind)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    lag: int = 0


@dataclass(frozen=True)
class CausalGraph:
    name: str
    unit: str
    nodes: dict[str, Node] = field(hash=False)
    edges: tuple[Edge, ...]

    def parents(self, node: str) -> list[Edge]:
        return [e for e in self.model_edges if e.target == node]

    @property
    def model_edges(self) -> tuple[Edge, ...]:
        """The declared edges, and those a lag node inherits: ``L = X[t-k]`` is caused by each parent
        ``P`` of ``X`` (edge lag ``j``) at ``t-k-j``, so a cause acting through the lag is traced to
        where it started instead of ending at a root that only copies ``X``."""
        out = list(self.edges)
        seen = {(e.source, e.target, e.lag) for e in out}
        for name, node in self.nodes.items():
            if node.lag_of is None:
                continue
            for e in self.edges:
                key = (e.source, name, e.lag + node.lag)
                if e.target == node.lag_of and key not in seen:
                    seen.add(key)
                    out.append(Edge(*key))
        return tuple(out)

    def ancestors(self, node: str) -> set[str]:
        """Every node with a directed path (any lag) into ``node``."""
        import networkx as nx

        return set(nx.ancestors(self._paths(), node))

    def descendants(self, node: str) -> set[str]:
        """Every node with a directed path (any lag) from ``node``."""
        import networkx as nx

        return set(nx.descendants(self._paths(), node))

    def _paths(self):  # -> nx.DiGraph: every node, every edge but self-loops (lags folded)
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((e.source, e.target) for e in self.model_edges if e.source != e.target)
        return g

    def restricted(self, keep: set[str], *, denominators: bool = True) -> CausalGraph:
        """The graph over the ``keep`` nodes and the edges between them.

        A kept ratio keeps its denominator node too (``denominators``), or else loses the field.
        """
        keep = set(keep)
        if denominators:
            keep |= {self.nodes[n].denominator for n in keep if self.nodes[n].denominator in self.nodes}
        nodes = {}
        for name, node in self.nodes.items():
            if name in keep:
                if node.denominator is not None and node.denominator not in keep:
                    node = replace(node, denominator=None)
                if node.lag_of is not None and node.lag_of not in keep:
                    node = replace(node, lag_of=None, lag=0)
                nodes[name] = node
        edges = [e for e in self.edges if e.source in keep and e.target in keep]
        return build_graph(self.name, self.unit, nodes, edges, self.name)

    @property
    def max_lag(self) -> int:
        return max((e.lag for e in self.model_edges), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "nodes": {
                n.name: {
                    "metric": n.metric,
                    "agg": n.agg,
                    "higher_is_worse": n.higher_is_worse,
                    "actionable": n.actionable,
                    "mechanism": n.mechanism,
                    "kind": n.kind,
                    **({"denominator": n.denominator} if n.denominator else {}),
                    **({"lag_of": n.lag_of, "lag": n.lag} if n.lag_of else {}),
                }
                for n in self.nodes.values()
            },
            "edges": [[e.source, e.target, {"lag": e.lag}] for e in self.edges],
        }


def lagged_name(node: str, lag: int) -> str:
    """Column name of ``node`` shifted ``lag`` buckets back."""
    return f"{node}[t-{lag}]"


def unrolled(graph: CausalGraph) -> tuple[nx.DiGraph, dict[str, tuple[str, int]]]:
    """A fresh DAG over the graph's nodes plus one column per lagged parent.

    Returns the DAG and a map from each column to ``(node, lag)``. A new object is built on
    every call because DoWhy stores fitted mechanisms on the graph it is given.
    """
    import networkx as nx

    dag = nx.DiGraph()
    columns: dict[str, tuple[str, int]] = {}
    for name in graph.nodes:
        dag.add_node(name)
        columns[name] = (name, 0)
    for e in graph.model_edges:
        if e.lag == 0:
            dag.add_edge(e.source, e.target)
        else:
            col = lagged_name(e.source, e.lag)
            columns[col] = (e.source, e.lag)
            dag.add_edge(col, e.target)
    return dag, columns


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise GraphError(f"{where} must be true or false, not {value!r}")


def _node(name: str, spec: dict[str, Any] | None, where: str) -> Node:
    spec = dict(spec or {})
    unknown = set(spec) - _NODE_FIELDS
    if unknown:
        raise GraphError(f"{where}: node {name!r} has unknown field(s) {sorted(unknown)}")
    agg = str(spec.get("agg", "mean"))
    if agg not in AGGREGATIONS:
        raise GraphError(f"{where}: node {name!r} has agg {agg!r}; use one of {', '.join(AGGREGATIONS)}")
    mechanism = str(spec.get("mechanism", "auto"))
    if mechanism not in MECHANISMS:
        raise GraphError(f"{where}: node {name!r} has mechanism {mechanism!r}; use one of {', '.join(MECHANISMS)}")
    kind = str(spec.get("kind", "auto"))
    if kind not in KINDS:
        raise GraphError(f"{where}: node {name!r} has kind {kind!r}; use one of {', '.join(KINDS)}")
    return Node(
        name=name,
        metric=str(spec.get("metric", name)),
        agg=agg,
        higher_is_worse=_bool(spec.get("higher_is_worse", True), f"{where}: {name}.higher_is_worse"),
        actionable=_bool(spec.get("actionable", True), f"{where}: {name}.actionable"),
        mechanism=mechanism,
        kind=kind,
        label=str(spec["label"]) if spec.get("label") is not None else None,
        denominator=str(spec["denominator"]) if spec.get("denominator") is not None else None,
        lag_of=str(spec["lag_of"]) if spec.get("lag_of") is not None else None,
        lag=_node_lag(name, spec, where),
    )


def _node_lag(name: str, spec: dict[str, Any], where: str) -> int:
    if spec.get("lag_of") is None:
        if spec.get("lag") is not None:
            raise GraphError(f"{where}: node {name!r} has a lag but no lag_of; say which node it is a lagged copy of "
                             "(lag_of: X), or put the lag on an edge")
        return 0
    lag = _lag(spec.get("lag", 1), f"{where}: node {name!r}")
    if lag < 1:
        raise GraphError(f"{where}: node {name!r} is a lagged copy of {spec['lag_of']!r} with lag {lag}; a lag node "
                         "is at least one bucket back")
    return lag


def _lag(value: Any, where: str) -> int:
    try:
        lag = int(value)
    except (TypeError, ValueError):
        raise GraphError(f"{where}: lag must be a whole number of buckets, not {value!r}") from None
    if lag < 0 or lag != float(value):
        raise GraphError(f"{where}: lag must be a whole number >= 0, not {value!r}")
    if lag > MAX_LAG:
        raise GraphError(f"{where}: lag {lag} is more than {MAX_LAG} buckets; a cause that far back is not an edge "
                         "of this graph (use a coarser unit)")
    return lag


def build_graph(name: str, unit: str, nodes: dict[str, Node], edges: list[Edge], where: str) -> CausalGraph:
    """Validate the parts and assemble a :class:`CausalGraph`."""
    import networkx as nx

    if unit not in UNITS:
        raise GraphError(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
    if not nodes:
        raise GraphError(f"{where}: the graph has no nodes")
    for n in nodes.values():
        if n.lag_of is not None and (n.lag_of not in nodes or n.lag_of == n.name):
            raise GraphError(f"{where}: node {n.name!r} has lag_of {n.lag_of!r}, which is not another node of the graph")
        if n.denominator is not None and (n.denominator not in nodes or n.denominator == n.name):
            raise GraphError(f"{where}: node {n.name!r} has denominator {n.denominator!r}, which is not another node "
                             "of the graph; declare the count node (e.g. commits_count) under nodes")
    seen: set[tuple[str, str, int]] = set()
    for e in edges:
        for end in (e.source, e.target):
            if end not in nodes:
                raise GraphError(f"{where}: edge {e.source} -> {e.target} names unknown node {end!r}; declare it under nodes")
        if e.source == e.target and e.lag == 0:
            raise GraphError(f"{where}: self-loop on {e.source!r}; a node cannot cause itself in the same bucket (use lag >= 1)")
        key = (e.source, e.target, e.lag)
        if key in seen:
            raise GraphError(f"{where}: edge {e.source} -> {e.target} (lag {e.lag}) is declared twice")
        seen.add(key)
    same_bucket = nx.DiGraph((e.source, e.target) for e in edges if e.lag == 0)
    try:
        cycle = nx.find_cycle(same_bucket)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        raise GraphError(f"{where}: the graph has a cycle {path}; break it or lag one of its edges")
    return CausalGraph(name=name, unit=unit, nodes=dict(nodes), edges=tuple(edges))


def _from_mapping(doc: Any, where: str) -> CausalGraph:
    if not isinstance(doc, dict):
        raise GraphError(f"{where}: a graph file must be a mapping with name, unit, nodes and edges")
    unknown = set(doc) - {"name", "unit", "nodes", "edges", "description"}
    if unknown:
        raise GraphError(f"{where}: unknown top-level field(s) {sorted(unknown)}")
    raw_nodes = doc.get("nodes") or {}
    if isinstance(raw_nodes, list):
        raw_nodes = {str(n): {} for n in raw_nodes}
    if not isinstance(raw_nodes, dict):
        raise GraphError(f"{where}: nodes must be a mapping of name to fields")
    nodes: dict[str, Node] = {}
    for key, spec in raw_nodes.items():
        if spec is not None and not isinstance(spec, dict):
            raise GraphError(f"{where}: node {key!r} must map to fields like {{metric: ..., agg: ...}}")
        nodes[str(key)] = _node(str(key), spec, where)
    edges: list[Edge] = []
    for i, raw in enumerate(doc.get("edges") or []):
        if not isinstance(raw, list | tuple) or len(raw) not in (2, 3):
            raise GraphError(f"{where}: edge #{i + 1} must be [source, target] or [source, target, {{lag: k}}]")
        attrs = raw[2] if len(raw) == 3 else {}
        if not isinstance(attrs, dict) or set(attrs) - {"lag"}:
            raise GraphError(f"{where}: edge #{i + 1} may only carry {{lag: k}}")
        edges.append(Edge(str(raw[0]), str(raw[1]), _lag(attrs.get("lag", 0), f"{where}: edge #{i + 1}")))
    return build_graph(str(doc.get("name") or Path(where).stem), str(doc.get("unit", "week")), nodes, edges, where)


def _from_dot(text: str, where: str) -> CausalGraph:
    dot = read_dot(text, where)
    if dot.kind != "digraph":
        raise GraphError(f"{where}: a causal graph must be a 'digraph', not a {dot.kind!r}")
    edges = [Edge(src, dst, _lag(attrs.get("lag", 0), f"{where}: edge {src} -> {dst}")) for src, dst, attrs in dot.edges]
    # Styling attributes (shape, color, ...) are welcome in DOT and ignored here.
    built = {name: _node(name, {k: v for k, v in spec.items() if k in _NODE_FIELDS}, where)
             for name, spec in dot.nodes.items()}
    # DOT declares nodes implicitly through edges, so an unknown node cannot be caught the
    # YAML way; a graph attribute `strict_nodes=true` asks for it.
    if dot.attrs.get("strict_nodes", "false").lower() == "true":
        for e in edges:
            for end in (e.source, e.target):
                if end not in dot.declared:
                    raise GraphError(f"{where}: edge {e.source} -> {e.target} names undeclared node {end!r}")
    return build_graph(dot.attrs.get("name", Path(where).stem), dot.attrs.get("unit", "week"), built, edges, where)


def load_graph(path: str | Path) -> CausalGraph:
    """Load a graph from a ``.yaml``/``.yml``/``.json`` or ``.dot``/``.gv`` file.

    A bare name such as ``delivery`` names a graph shipped with whydunnit.
    """
    p = Path(path)
    if not p.exists() and p.suffix == "" and _shipped(str(path)) is not None:
        return shipped_graph(str(path))
    if not p.is_file():
        raise GraphError(f"graph file {str(path)!r} does not exist; give a .yaml or .dot file or a shipped name")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"cannot read graph file {str(path)!r}: {exc}") from None
    return parse_graph(text, p.name)


def parse_graph(text: str, where: str = "<graph>") -> CausalGraph:
    """Parse graph text; DOT is recognised by its ``digraph`` header, anything else is YAML."""
    stripped = text.lstrip()
    if stripped.startswith(("digraph", "strict digraph", "graph", "strict graph")) or where.endswith((".dot", ".gv")):
        return _from_dot(text, where)
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise GraphError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return _from_mapping(doc, where)


MAX_YAML_DEPTH = 64  # a configuration or a graph is a few levels deep; 20,000 "[" would exhaust the recursion


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors' aliases (a few lines of ``*ref`` can expand to gigabytes, a "billion laughs")
    and nested at most :data:`MAX_YAML_DEPTH` deep (the composer recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed; write the value out", mark)
        if self._depth >= MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """Parse YAML safely: no Python objects, no aliases (so no expansion bombs), bounded nesting."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def _shipped(name: str) -> str | None:
    res = importlib.resources.files("graphs").joinpath(f"{name}.yaml")
    return res.read_text(encoding="utf-8") if res.is_file() else None


def shipped_names() -> list[str]:
    """The names of the graphs shipped with whydunnit (``delivery``, ``git-quality``...)."""
    return sorted(p.name.removesuffix(".yaml") for p in importlib.resources.files("graphs").iterdir()
                  if p.name.endswith(".yaml"))


def shipped_graph(name: str = "delivery") -> CausalGraph:
    """A graph shipped with whydunnit, by name (``delivery``)."""
    text = _shipped(name)
    if text is None:
        raise GraphError(f"no shipped graph named {name!r}")
    return parse_graph(text, f"{name}.yaml")
