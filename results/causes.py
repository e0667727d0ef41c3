"""Which cause a result names first: the one rule behind "the top cause", wherever it is said.

A cause *pushed* the target if its contribution moved it the way it moved (not against it): its
share (the result's own: shares of the causes and the unexplained part add up to the observed
change, each with the sign of its push) is positive. The top cause is the first upstream cause, in
the result's order (the engine's ranking), that pushed the target and carries a noticeable share of
the change or an unusual change of its own;
there may be none. Reports, chat messages, the command line and a scheduled run's record all
name it by :func:`top_cause`, so none names a cause that pulled the other way.
"""

from __future__ import annotations

from results.format import notable
from results.investigation import Cause, InvestigationResult


def upstream(r: InvestigationResult) -> list[Cause]:
    """Causes other than the target's own mechanism, in the result's order."""
    return [c for c in r.causes if c.node != r.target]


def pushes(r: InvestigationResult, c: Cause) -> bool:
    """Whether a cause moved the target the way it moved (not against it): its share, which carries the
    sign of its push, is positive."""
    return c.contribution != 0 and c.share > 0


def top_cause(r: InvestigationResult) -> Cause | None:
    """The first upstream cause (in the result's order) that pushed the target the way it moved
    and carries a noticeable share or an unusual change of its own."""
    return next((c for c in upstream(r) if pushes(r, c) and (notable(c.share) or c.unusual)), None)
