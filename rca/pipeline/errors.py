"""The errors a face sees from the pipeline: the ground floor's one tree, under the names faces use.

Every layer raises a branch of :mod:`core.errors` (a collector's ``InputError``, a graph's
``GraphError`` and the engine's ``EngineInputError`` are :class:`BadInput`; a store outage is
:class:`Unavailable`), so a face catches :class:`PipelineError` (the root) and maps it by its
class: the CLI prints one line and exits with ``exc.exit_code``, the HTTP API answers
``exc.http_status``, the scheduler retries what is ``retryable``. Messages name what is wrong
and what to do in the request's own terms (``at``, ``scope``), never a face's spelling of it
(a CLI flag). :func:`translated` remains for the one outside error that is not ours: a pydantic
``ValidationError`` becomes :class:`BadInput` with its first problems on one line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from pydantic import ValidationError

from core.errors import BadInput, Internal, Unavailable, WhydunnitError
from rca.config import one_line

PipelineError = WhydunnitError

__all__ = ["BadInput", "Internal", "JobFailed", "PipelineError", "Unavailable", "faced", "translated"]


class JobFailed(WhydunnitError):
    """A job ran but part of it failed (a chat post, a collector); what landed is kept (exit 1)."""


@contextmanager
def translated() -> Iterator[None]:
    """Turn a pydantic validation error into :class:`BadInput` with its first problems on one line."""
    try:
        yield
    except ValidationError as exc:
        raise BadInput(one_line(exc)) from exc


P = ParamSpec("P")
R = TypeVar("R")


def faced(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a pipeline function a face may call: a validation error arrives as :class:`BadInput`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return fn(*args, **kwargs)

    return wrapper
