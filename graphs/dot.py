"""Graphviz DOT text read into what a causal graph needs: its kind, graph attributes, nodes and edges.

The DOT subset graphs are written in (``[strict] digraph [name] { ... }`` with node, edge chain,
attribute and ``key=value`` statements; quoted ids with ``::``, ``/``, ``@``, dots, spaces, URLs
and escaped quotes) is read by a small tokenizer here; pydot's full grammar (subgraphs, ports,
HTML ids) takes anything else. pydot's pyparsing grammar cost ~1 s on an 18-node file, more
than the investigation it was read for, so it loads only when the fast reader declines.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field

from graphs.errors import GraphError


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1].replace('\\"', '"')
    return s


@dataclass
class DotGraph:
    """What a causal graph needs from a DOT file, whichever reader read it."""

    kind: str  # digraph | graph
    attrs: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # every node met, in order, with its attributes
    declared: set[str] = field(default_factory=set)  # nodes named in a statement of their own
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


# A token of the DOT subset read here: a comment or whitespace (skipped), a quoted id (\" inside is a
# quote), an edge operator, a bare id or numeral, or one punctuation mark. Anything else (HTML ids,
# ports, subgraphs, '+' concatenation) is left to pydot.
_TOKEN = re.compile(
    r'(?P<skip>\s+|//[^\n]*|/\*.*?\*/|^\#[^\n]*)'
    r'|(?P<quoted>"(?:[^"\\]|\\.)*")'
    r'|(?P<op>->|--)'
    r'|(?P<id>[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))'
    r'|(?P<punct>[{}\[\];,=])',
    re.DOTALL | re.MULTILINE,
)
_KEYWORDS = frozenset({"graph", "digraph", "node", "edge", "strict", "subgraph"})


def _tokens(text: str) -> list[tuple[str, str]] | None:
    """(type, value) tokens, ids unquoted; None where the text leaves the subset."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() != pos:
            return None  # a character no token starts with
        pos = m.end()
        kind = m.lastgroup
        if kind == "skip":
            continue
        value = m.group()
        if kind == "quoted":
            out.append(("id", value[1:-1].replace('\\"', '"').replace("\\\n", "")))
        elif kind == "id" and value.lower() in _KEYWORDS:
            out.append(("kw", value.lower()))
        else:
            out.append((kind, value))  # type: ignore[arg-type]
    return out if pos == len(text) else None


def _read_dot(text: str) -> DotGraph | None:
    """The DOT subset graphs are written in, read without pydot (whose grammar takes ~1 s to run).

    ``[strict] digraph [name] { ... }`` with node, edge (chains ``a -> b -> c``), attribute
    (``graph [...]``, ``node [...]``, ``edge [...]``) and ``key=value`` statements. Returns None on
    anything else, which pydot then reads (and explains when it cannot).
    """
    toks = _tokens(text)
    if not toks:
        return None
    i = 0

    def peek(k: int = 0) -> tuple[str, str]:
        return toks[i + k] if i + k < len(toks) else ("end", "")

    if peek() == ("kw", "strict"):
        i += 1
    if peek() not in (("kw", "digraph"), ("kw", "graph")):
        return None
    dot = DotGraph(kind=peek()[1])
    i += 1
    if peek()[0] == "id":
        i += 1
    if peek() != ("punct", "{"):
        return None
    i += 1

    def attr_list() -> dict[str, str] | None:
        nonlocal i
        attrs: dict[str, str] = {}
        while peek() == ("punct", "["):
            i += 1
            while peek() != ("punct", "]"):
                if peek()[0] != "id":
                    return None
                key = peek()[1]
                i += 1
                if peek() == ("punct", "="):
                    if peek(1)[0] != "id":
                        return None
                    attrs[key] = peek(1)[1]
                    i += 2
                else:
                    attrs[key] = "true"
                if peek()[1] in (",", ";"):
                    i += 1
            i += 1
        return attrs

    while peek() != ("punct", "}"):
        t = peek()
        if t[0] == "end":
            return None
        if t[1] in (";", ","):
            i += 1
            continue
        if t[0] == "kw" and t[1] in ("graph", "node", "edge"):
            i += 1
            attrs = attr_list()
            if attrs is None:
                return None
            if t[1] == "graph":
                dot.attrs.update(attrs)
            continue  # node and edge defaults carry no graph fields (styling only)
        if t[0] != "id":
            return None
        if peek(1) == ("punct", "="):
            if peek(2)[0] != "id":
                return None
            dot.attrs[t[1]] = peek(2)[1]
            i += 3
            continue
        chain = [t[1]]
        i += 1
        while peek()[0] == "op":
            if peek()[1] != ("->" if dot.kind == "digraph" else "--") or peek(1)[0] != "id":
                return None
            chain.append(peek(1)[1])
            i += 2
        attrs = attr_list()
        if attrs is None:
            return None
        if len(chain) == 1:
            dot.nodes.setdefault(chain[0], {}).update(attrs)
            dot.declared.add(chain[0])
        else:
            for a, b in zip(chain, chain[1:], strict=False):
                dot.nodes.setdefault(a, {})
                dot.nodes.setdefault(b, {})
                dot.edges.append((a, b, dict(attrs)))
    i += 1
    return dot if peek()[0] == "end" else None


def _pydot(text: str, where: str) -> DotGraph:
    """The same reading through pydot's full grammar (subgraphs, ports, HTML ids...)."""
    import pydot

    # pydot's parser prints its error to stdout itself, where it would break a JSON consumer: keep it.
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            parsed = pydot.graph_from_dot_data(text)
    except Exception as exc:  # pydot raises bare parser exceptions
        raise GraphError(f"{where}: not valid Graphviz DOT ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    if not parsed and said.getvalue().strip():
        raise GraphError(f"{where}: not valid Graphviz DOT ({said.getvalue().strip().splitlines()[-1]})")
    if not parsed:
        raise GraphError(f"{where}: not valid Graphviz DOT")
    graph = parsed[0]
    dot = DotGraph(kind=graph.get_type(), attrs={k: _unquote(str(v)) for k, v in graph.get_attributes().items()})
    for n in graph.get_nodes():
        name = _unquote(n.get_name())
        if name == "graph":  # pydot reads ``graph [unit=day]`` as a node named graph
            dot.attrs.update({k: _unquote(str(v)) for k, v in n.get_attributes().items()})
        if name in {"node", "edge", "graph", "\\n"}:
            continue
        dot.nodes.setdefault(name, {}).update({k: _unquote(str(v)) for k, v in n.get_attributes().items()})
        dot.declared.add(name)
    for e in graph.get_edges():
        src, dst = _unquote(str(e.get_source())), _unquote(str(e.get_destination()))
        for end in (src, dst):
            dot.nodes.setdefault(end, {})
        dot.edges.append((src, dst, {k: _unquote(str(v)) for k, v in e.get_attributes().items()}))
    return dot


def read_dot(text: str, where: str) -> DotGraph:
    """``text`` read by the fast reader, or by pydot where it leaves the subset; :class:`GraphError` if neither can."""
    return _read_dot(text) or _pydot(text, where)
