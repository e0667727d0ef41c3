"""Which cause a result names first: the one rule behind "the top cause", wherever it is said.

A cause *pushed* the target if its contribution moved it the way it moved (not against it).
The top cause is the first upstream cause, in the result's order (the engine's ranking), that
pushed the target and carries a noticeable share of the change or an unusual change of its own;
there may be none. Reports, chat messages, the command line and a scheduled run's record all
name it by :func:`top_cause`, so none names a cause that pulled the other way.
"""

from __future__ import annotations

from results.format import notable
from results.investigation import Cause, InvestigationResult


def upstream(r: InvestigationResult) -> list[Cause]:
    """Causes other than the target's own mechanism, in the result's order."""
    return [c for c in r.causes if c.node != r.target]


def _change(r: InvestigationResult) -> float:
    return r.observed.current - r.observed.baseline


def pushes(r: InvestigationResult, c: Cause) -> bool:
    """Whether a cause moved the target the way it moved (not against it)."""
    change = _change(r)
    return change != 0 and (c.contribution > 0) == (change > 0) and c.contribution != 0


def share_of_change(r: InvestigationResult, c: Cause) -> float:
    """A cause's contribution as a share of the observed change (contributions add up to it)."""
    change = _change(r)
    return c.contribution / change if change else 0.0


def top_cause(r: InvestigationResult) -> Cause | None:
    """The first upstream cause (in the result's order) that pushed the target the way it moved
    and carries a noticeable share or an unusual change of its own."""
    return next((c for c in upstream(r) if pushes(r, c) and (notable(share_of_change(r, c)) or c.unusual)), None)
