"""The kinds of question whydunnit answers and keeps: the one list the store, the service and the faces share.

An ``investigation`` asks why a metric changed (:class:`results.InvestigationResult`); an
``effect`` what a treatment does to an outcome, ``heterogeneity`` the same effect scope by scope,
``recommendations`` which lever to move (:mod:`results.effects`) and ``actions`` which candidate
action to take (:mod:`results.actions`). Every kind is kept the same way: a record with the
question, its status and its JSON result, in one table and one id space. The service queues
every kind but ``actions`` (:data:`QUEUED_KINDS`): candidates drafted by a language model are
asked for from the command line, where the model is configured.
"""

from __future__ import annotations

QUESTION_KINDS: tuple[str, ...] = ("investigation", "effect", "heterogeneity", "recommendations", "actions")
QUEUED_KINDS: tuple[str, ...] = tuple(k for k in QUESTION_KINDS if k != "actions")
