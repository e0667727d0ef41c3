"""Collectors turn a source (Git, Prometheus, coverage reports, files) into the tidy observation table.

They know nothing of the store or the engine: each returns a frame shaped by
:mod:`core.observations` and lets the pipeline decide where it goes. Each is a module
``collectors.<name>`` publishing a :class:`collectors.base.Collector` as ``COLLECTOR``; the
names below are the ones the pipeline runs, in this order, when their section is configured.
"""

from __future__ import annotations

import importlib

from collectors.base import Collector

NAMES: tuple[str, ...] = ("git", "prometheus", "coverage", "files")


def load(name: str) -> Collector:
    """The collector called ``name`` (its module is imported only when asked for)."""
    if name not in NAMES:
        raise KeyError(name)
    return importlib.import_module(f"collectors.{name}").COLLECTOR
