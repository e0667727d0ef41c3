"""The graphs' one error: a graph file or text the user must fix (a branch of the ground floor's ``BadInput``)."""

from __future__ import annotations

from core.errors import InputError


class GraphError(InputError):
    """The graph file is malformed or does not describe a usable causal DAG."""
