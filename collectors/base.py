"""The collector seam: what every collector takes from the pipeline and gives back.

A collector is a module with a config model (a :class:`Section`: one section of ``rca.yaml``)
and a ``collect(section, state, progress)`` function, published as a :class:`Collector`.
It turns its source into the observation table (:mod:`collectors.observations`) and a
:class:`Collected` saying what to store, which stored rows the run supersedes, the
incremental state to keep for next time, and what failed without stopping the rest. It knows
nothing of the store: the pipeline writes all of it in one transaction, so a run lands
whole or not at all. Adding a source means one module plus its section in ``rca.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from collectors import observations

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[str, int, "int | None"], None]
"""``(stage, done, total)``: how far a long step is; the faces draw it (total ``None``: unknown)."""


class Section(BaseModel):
    """A collector's configuration section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def configured(self) -> bool:
        """Whether this section asks for anything to be collected (the pipeline skips it if not)."""
        return False


@dataclass(frozen=True)
class Replace:
    """Stored rows a run supersedes: one scope's rows from one source (from ``since`` on, if given;
    only those of ``metric``, if given, so one query's re-read leaves the other metrics of its scope alone)."""

    scope: str
    source: str
    since: pd.Timestamp | None = None
    metric: str | None = None


@dataclass(frozen=True)
class Collected:
    """What one collector run gives the pipeline to store."""

    observations: pd.DataFrame = field(default_factory=observations.empty)
    replaces: tuple[Replace, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)  # key -> JSON-able value, saved with the rows
    lines: tuple[str, ...] = ()  # one line per unit read ("payments (main @ 1a2b3c): 12 new commits")
    units: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # unit (a repository...) -> its figures
    notes: tuple[str, ...] = ()  # what the user should know (a shallow clone, a rewritten history)
    failures: tuple[str, ...] = ()  # parts that failed, one line each, while the rest was collected


S = TypeVar("S", bound=Section)


@dataclass(frozen=True)
class Collector(Generic[S]):
    """A source: its name (the config section, the state namespace), its section model, its run.

    ``collect(section, state, progress)`` gets the state this collector saved last time (key ->
    value) and must not mutate it.
    """

    name: str
    section: type[S]
    collect: Callable[[S, Mapping[str, Any], Progress | None], Collected]
