"""The faces' inputs, validated the pipeline's way: configuration and requests.

A face builds its settings and its requests through these functions, so a bad value (a
negative seed from a flag, an environment override that is not JSON, a request with no
question) is refused as one :class:`~core.errors.BadInput` line like every other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rca.config import InvestigationSettings, Settings, load_settings, validated

if TYPE_CHECKING:
    from graphs import CausalGraph


def settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """``rca.yaml`` (found as :func:`rca.config.load_settings` says) with ``overrides`` laid over it."""
    return load_settings(path, **overrides)


def request(**fields: Any) -> InvestigationSettings:
    """A validated investigation request: ``target``, ``scope``, ``graph`` and a question
    (``at``; or ``baseline`` and ``current``; or ``last``)."""
    return validated(InvestigationSettings, {k: v for k, v in fields.items() if v is not None})


def graph(ref: str | Path) -> CausalGraph:
    """A graph loaded from a file (.yaml, .dot) or a shipped name, validated."""
    from rca.pipeline.data import graph_of  # here: reading settings needs no frames (pandas)

    return graph_of(ref)
