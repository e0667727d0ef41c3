"""What the store keeps of a question and of a scheduled run: two plain record types.

They live apart from :mod:`rca.store` so that code which only builds or reads a record (a question
answered from a file, a result turned into JSON) does not load SQLAlchemy, a third of a second of
start-up; the store imports them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class InvestigationRecord:
    """One investigation as the store keeps it."""

    id: str
    created_at: datetime
    status: str
    scope: str
    target: str
    question: dict[str, Any]
    result: dict[str, Any] | None = None
    report_path: str | None = None
    error: str | None = None
    finished_at: datetime | None = None
    kind: str = "investigation"  # one of results.questions.QUESTION_KINDS


@dataclass(frozen=True)
class RunRecord:
    """One run of a scheduled job as the store keeps it."""

    id: str
    job: str
    trigger: str
    started_at: datetime
    status: str  # one of RUN_STATUSES
    finished_at: datetime | None = None
    error: str | None = None
    outputs: dict[str, Any] | None = None
    owner: str = ""

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if t is not None else None

        return {"id": self.id, "job": self.job, "trigger": self.trigger, "status": self.status,
                "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "error": self.error,
                "outputs": self.outputs or {}}
