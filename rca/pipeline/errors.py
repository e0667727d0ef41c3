"""The one error hierarchy the faces see.

Sources, graphs, the store and the engine each raise their own "bad input" error (they may
not import one another). At the pipeline's edge every one of them becomes a
:class:`PipelineError` with the same one-line message, so a face catches one type and prints
one line: the CLI as ``rca: error: ...`` and exit status 2, the HTTP API as a 4xx answer, the
scheduler as a failed run. Messages name what is wrong and what to do in the request's own
terms (``at``, ``scope``), never a face's spelling of it (a CLI flag).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from pydantic import ValidationError

from collectors.observations import InputError
from rca.config import one_line
from rca.engine.errors import EngineInputError


class PipelineError(Exception):
    """Something a user can act on went wrong; ``str(exc)`` is one line saying what and what to do."""


class BadInput(PipelineError):
    """The request, the configuration or the data cannot answer the question as asked."""


class JobFailed(PipelineError):
    """A job ran but part of it failed (a chat post, a collector); what landed is kept."""


@contextmanager
def translated() -> Iterator[None]:
    """Turn the layers' own input errors into :class:`BadInput` with the same message."""
    try:
        yield
    except PipelineError:
        raise
    except (InputError, EngineInputError) as exc:
        raise BadInput(str(exc)) from exc
    except ValidationError as exc:
        raise BadInput(one_line(exc)) from exc


P = ParamSpec("P")
R = TypeVar("R")


def faced(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a pipeline function a face may call: its input errors arrive as :class:`BadInput`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return fn(*args, **kwargs)

    return wrapper
