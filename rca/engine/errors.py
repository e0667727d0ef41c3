"""The engine's one error type: the data cannot answer the question as asked.

It lives alone, with no heavy imports, so the faces can catch it without loading the engine.
It is deliberately not a subclass of the collectors' ``InputError``: the engine imports
nothing of the collectors. Faces catch both (see ``rca.cli.main`` and ``rca.pipeline``).
"""

from __future__ import annotations


class EngineInputError(ValueError):
    """The data cannot answer the question as asked; the message says what to change, in one line."""
