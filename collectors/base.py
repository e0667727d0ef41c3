"""The collector seam: what every collector takes from the pipeline and gives back.

A collector is a module with a config model (a :class:`Section`: one section of ``rca.yaml``)
and a ``collect(section, state, progress)`` function, published as a :class:`Collector`.
It turns its source into the observation table (:mod:`core.observations`) and a
:class:`Collected` saying what to store, which stored rows the run supersedes, the
incremental state to keep for next time, and what failed without stopping the rest. It knows
nothing of the store: the pipeline writes all of it in one transaction, so a run lands
whole or not at all. Adding a source means one module plus its section in ``rca.yaml``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from core import observations
from core.observations import Replace

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[str, int, "int | None"], None]
"""``(stage, done, total)``: how far a long step is; the faces draw it (total ``None``: unknown).
A stage names its unit and what is done to it ("pallets/flask: commits read")."""

PROGRESS_EVERY_S = 30.0  # off a terminal, a long stage says how far it got at least this often


def progress_lines(write: Callable[[str], None], *, every_s: float = PROGRESS_EVERY_S,
                   clock: Callable[[], float] = time.monotonic) -> Progress:
    """A :data:`Progress` for a log instead of a terminal: one line when a stage starts, one when it is
    done (``done == total``), and in between one every ``every_s`` seconds, so a long step (a history's
    SZZ) is never silent for minutes."""
    started: dict[str, float] = {}
    said: dict[str, float] = {}
    finished: set[str] = set()

    def update(stage: str, done: int, total: int | None) -> None:
        now = clock()
        if stage in finished:
            return
        of = f" of {total:,}" if total is not None else ""
        if stage not in started:
            started[stage] = said[stage] = now
            write(f"{stage}: started" + (f", {total:,} to do" if total is not None else ""))
        if total is not None and done >= total:
            finished.add(stage)
            write(f"{stage}: done, {done:,}{of} in {now - started[stage]:.1f} s")
        elif now - said[stage] >= every_s:
            said[stage] = now
            write(f"{stage}: {done:,}{of} after {now - started[stage]:.0f} s")

    return update


class Section(BaseModel):
    """A collector's configuration section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def configured(self) -> bool:
        """Whether this section asks for anything to be collected (the pipeline skips it if not)."""
        return False


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
    # Optional: ``parts(section, state)`` cuts the section into parts that can be collected apart (one
    # repository each), each with the part of the saved state it reads; their results :func:`merged`
    # equal the whole section's. The pipeline uses it to spread a collection over a cluster's
    # workers; a collector without it is collected whole.
    parts: Callable[[S, Mapping[str, Any]], list[tuple[S, Mapping[str, Any]]]] | None = None


def merged(results: list[Collected]) -> Collected:
    """The parts' results as one (their rows, replacements, state and lines, in order)."""
    import pandas as pd

    frames = [r.observations for r in results if not r.observations.empty]
    state: dict[str, Any] = {}
    units: dict[str, Mapping[str, Any]] = {}
    for r in results:
        state.update(r.state)
        units.update(r.units)
    return Collected(
        observations=pd.concat(frames, ignore_index=True) if frames else observations.empty(),
        replaces=tuple(x for r in results for x in r.replaces), state=state, units=units,
        lines=tuple(x for r in results for x in r.lines), notes=tuple(x for r in results for x in r.notes),
        failures=tuple(x for r in results for x in r.failures))
