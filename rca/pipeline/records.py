"""What the pipeline keeps of each question it answers: a record in the store's investigations table.

A record is opened ``running`` with the question as asked, and closed ``done`` with the JSON
result or ``failed`` with the one-line error (and the result, when one was made but could not
be used), so an HTTP API or a person can look it up later by id. :func:`kept` wraps one piece
of work in that life cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from rca.pipeline.errors import BadInput

if TYPE_CHECKING:
    from rca.store import InvestigationRecord, Store

R = TypeVar("R")


def now() -> datetime:
    """The store's clock: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def opened(*, scope: str, target: str, question: dict[str, Any], kind: str = "investigation") -> InvestigationRecord:
    """A new record, ``running``, for a question about ``target`` in ``scope``."""
    from rca.store import InvestigationRecord

    scope = scope if len(scope) <= 255 else scope[:254] + "…"
    return InvestigationRecord(id=str(uuid.uuid4()), created_at=now(), status="running", scope=scope, target=target,
                               question=question, kind=kind)


def closed(record: InvestigationRecord, status: str, *, result: Any = None, error: str | None = None
           ) -> InvestigationRecord:
    """``record`` finished as ``status`` with the result's JSON (anything with ``to_dict``) or an error."""
    return replace(record, status=status, result=result.to_dict() if result is not None else None, error=error,
                   finished_at=now())


def kept(store: Store | None, record: InvestigationRecord, work: Callable[[], R],
         problem: Callable[[R], str | None] | None = None) -> R:
    """Run ``work`` and record how it ended (when ``store`` is given); ``problem`` may refuse its result.

    A refused result is kept with the record (``failed``) and raised as :class:`BadInput`.
    """
    result: R | None = None
    try:
        result = work()
        why = problem(result) if problem is not None else None
        if why:
            raise BadInput(why)
    except Exception as exc:
        if store is not None:
            store.save_investigation(closed(record, "failed", result=result, error=str(exc)))
        raise
    if store is not None:
        store.save_investigation(closed(record, "done", result=result))
    return result
