"""The engine's one error type: the data cannot answer the question as asked.

It lives alone, with no heavy imports, so the faces can catch it without loading the engine.
It is a :class:`core.errors.BadInput`, the branch of the one error tree every face maps to
"the user can fix it".
"""

from __future__ import annotations

from core.errors import BadInput


class EngineInputError(BadInput):
    """The data cannot answer the question as asked; the message says what to change, in one line."""
