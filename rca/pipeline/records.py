"""What the pipeline keeps of each question it answers and each run, and how a face reads them back.

A record is opened ``running`` with the question as asked, and closed ``done`` with the JSON
result or ``failed`` with the one-line error (and the result, when one was made but could not
be used), so an HTTP API or a person can look it up later by id. :func:`keep` wraps one piece
of work in that life cycle; an error is scrubbed of secrets and made one printable line before
it is stored. A store that cannot keep a good answer (read-only, down) does not cost the answer:
:func:`keep` returns it with why it was not kept, and :func:`kept` raises that for callers that
need the record.

Reading back (:func:`question`, :func:`questions`, :func:`run`, :func:`runs`) scrubs every error
text again, and each error and failure in a run's outputs: rows written before they were scrubbed
on the way in, or by another writer, never serve a secret.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.errors import BadInput, WhydunnitError
from rca.config import scrubber

if TYPE_CHECKING:
    from rca.store import InvestigationRecord, RunRecord, Store

Scrub = Callable[[str], str]

R = TypeVar("R")


def now() -> datetime:
    """The store's clock: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def opened(*, scope: str, target: str, question: dict[str, Any], kind: str = "investigation") -> InvestigationRecord:
    """A new record, ``running``, for a question about ``target`` in ``scope``."""
    from rca.records import InvestigationRecord

    scope = scope if len(scope) <= 255 else scope[:254] + "…"
    return InvestigationRecord(id=str(uuid.uuid4()), created_at=now(), status="running", scope=scope, target=target,
                               question=question, kind=kind)


def closed(record: InvestigationRecord, status: str, *, result: Any = None, error: str | None = None
           ) -> InvestigationRecord:
    """``record`` finished as ``status`` with the result's JSON (anything with ``to_dict``) or an error."""
    return replace(record, status=status, result=result.to_dict() if result is not None else None, error=error,
                   finished_at=now())


@dataclass(frozen=True)
class Kept(Generic[R]):
    """An answer and, when the store could not keep it, the store's error (``None``: kept, or not asked to be)."""

    result: R
    unkept: WhydunnitError | None = None


def keep(store: Store | None, record: InvestigationRecord, work: Callable[[], R],
         problem: Callable[[R], str | None] | None = None, *, scrub: Callable[[str], str] | None = None) -> Kept[R]:
    """Run ``work`` and record how it ended (when ``store`` is given); ``problem`` may refuse its result.

    The work's failure (or a refused result, raised as :class:`BadInput`) is recorded ``failed`` and
    raised. The store's failure to record a good answer is not raised: the answer comes back with it.
    ``scrub`` cleans error text before it is stored (default: credential shapes hidden, one line).
    """
    scrub = scrub or scrubber(None)
    result: R | None = None
    try:
        result = work()
        why = problem(result) if problem is not None else None
        if why:
            raise BadInput(why)
    except Exception as exc:
        if store is not None:
            with contextlib.suppress(WhydunnitError):  # the store's own trouble must not hide why the work failed
                store.save_investigation(closed(record, "failed", result=result, error=scrub(str(exc))))
        raise
    if store is not None:
        try:
            store.save_investigation(closed(record, "done", result=result))
        except WhydunnitError as exc:
            return Kept(result, exc)
    return Kept(result)


def kept(store: Store | None, record: InvestigationRecord, work: Callable[[], R],
         problem: Callable[[R], str | None] | None = None, *, scrub: Callable[[str], str] | None = None) -> R:
    """:func:`keep`, raising the store's error when the answer could not be kept."""
    done = keep(store, record, work, problem, scrub=scrub)
    if done.unkept is not None:
        raise done.unkept
    return done.result


# --- reading back ------------------------------------------------------------------------------------


def question(store: Store, id_: str, scrub: Scrub) -> InvestigationRecord | None:
    """The question ``id_`` (its error scrubbed), or None."""
    rec = store.investigation(id_)
    return _clean_question(rec, scrub) if rec is not None else None


def questions(store: Store, scrub: Scrub, *, limit: int = 50, status: str | None = None,
              kind: str | None = None) -> list[InvestigationRecord]:
    """The newest questions first (of every kind, or of ``kind``), errors scrubbed."""
    return [_clean_question(r, scrub) for r in store.investigations(limit=limit, status=status, kind=kind)]


def run(store: Store, id_: str, scrub: Scrub) -> RunRecord | None:
    """The run ``id_`` (its error and the errors in its outputs scrubbed), or None."""
    rec = store.run(id_)
    return _clean_run(rec, scrub) if rec is not None else None


def runs(store: Store, scrub: Scrub, *, limit: int = 50, job: str | None = None,
         status: str | None = None) -> list[RunRecord]:
    """The newest runs first (of every job, or of ``job``), scrubbed."""
    return [_clean_run(r, scrub) for r in store.runs(limit=limit, job=job, status=status)]


def _clean_question(rec: InvestigationRecord, scrub: Scrub) -> InvestigationRecord:
    return replace(rec, error=scrub(rec.error)) if rec.error else rec


def _clean_run(rec: RunRecord, scrub: Scrub) -> RunRecord:
    return replace(rec, error=scrub(rec.error) if rec.error else rec.error,
                   outputs=_scrubbed(rec.outputs, scrub) if rec.outputs else rec.outputs)


def _scrubbed(value: Any, scrub: Scrub) -> Any:
    """``value`` (a run's outputs) with every ``error`` text and each of its ``failures`` scrubbed."""
    if isinstance(value, dict):
        return {k: (scrub(v) if k == "error" and isinstance(v, str) else
                    [scrub(x) if isinstance(x, str) else x for x in v] if k in ("failures", "skipped") and
                    isinstance(v, list) else _scrubbed(v, scrub)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    return value
