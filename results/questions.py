"""The kinds of question whydunnit answers and keeps: the one list the store, the service and the faces share.

An ``investigation`` asks why a metric changed (:class:`results.InvestigationResult`); an
``effect`` what a treatment does to an outcome, ``heterogeneity`` the same effect scope by scope,
and ``recommendations`` which lever to move (:mod:`results.effects`). Every kind is kept the same
way: a record with the question, its status and its JSON result, in one table and one id space.
"""

from __future__ import annotations

QUESTION_KINDS: tuple[str, ...] = ("investigation", "effect", "heterogeneity", "recommendations")
