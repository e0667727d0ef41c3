"""The causal engine: fit a structural causal model on a wide frame, detect, attribute, explain.

It knows nothing of Git, Prometheus, the store or reports: it takes a frame (one column per
graph node, indexed by time) and a :class:`graphs.CausalGraph` and returns the result types
of :mod:`results`. These are the names the faces' pipeline uses; everything else in the
package is its own business.

- :func:`investigate` answers a :class:`Question` (an anomaly ``at`` a window, or a change
  from ``baseline`` to ``current``) with causes, intervals and counterfactuals;
- :func:`intervene` predicts a target had some nodes been set to values (what-if);
- :func:`check_graph` tests a graph's claims against data;
- :class:`ModelCache` keeps fitted models between questions about the same rows;
- :class:`Options` holds every tunable; :class:`EngineInputError` says the data cannot answer.

The modules that import DoWhy, scikit-learn and SciPy load on first use, so asking for
``Question`` or ``Options`` costs no model imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rca.engine.errors import EngineInputError
from rca.engine.question import Options, Question, Window

if TYPE_CHECKING:
    from rca.engine.checks import check_graph
    from rca.engine.fitting import ModelCache
    from rca.engine.investigation import investigate
    from rca.engine.what_if import intervene

_LAZY = {
    "investigate": "rca.engine.investigation",
    "intervene": "rca.engine.what_if",
    "check_graph": "rca.engine.checks",
    "ModelCache": "rca.engine.fitting",
}

__all__ = ["EngineInputError", "ModelCache", "Options", "Question", "Window", "check_graph", "intervene", "investigate"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rca.engine' has no attribute {name!r}")
