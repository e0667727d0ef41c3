"""Candidate actions ranked by their predicted effect on a target: "split PRs over 400 lines".

An action is a named set of interventions on graph nodes (``median_change_size_lines -> 300``,
``review_hours +1``); it comes from a file the user wrote or from a language model's draft, and
each is ranked by how much better the target would be under all its moves at once than where it is
now, with an interval. Actions that could not be ranked (an unknown node, a node the team cannot
change, a value the node's kind cannot take, a draft that did not follow the schema) are listed in
``rejected`` with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from results.format import json_number, node_title


def _num(x: float | None) -> float | None:
    return json_number(x, 6, significant=True)


@dataclass(frozen=True)
class ActionEffect:
    """One action's predicted effect: each node moved from ``now`` to ``after`` at once."""

    name: str
    source: str  # "file" or "model"
    moves: dict[str, tuple[float, float]]  # node -> (now, after)
    target_now: float
    target_after: float
    improvement: float  # in the target's unit, positive is better
    interval: tuple[float, float]
    probability_better: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source,
                "moves": {k: {"now": _num(a), "after": _num(b)} for k, (a, b) in self.moves.items()},
                "target_now": _num(self.target_now), "target_after": _num(self.target_after),
                "improvement": _num(self.improvement), "interval": [_num(self.interval[0]), _num(self.interval[1])],
                "probability_better": json_number(self.probability_better, 4), "sentence": self.sentence}


@dataclass(frozen=True)
class ActionRanking:
    """Candidate actions for a target, best first."""

    target: str
    items: tuple[ActionEffect, ...]
    rejected: dict[str, str]  # action name -> why it was not ranked
    current_rows: int
    confidence: float
    answer: str
    caveats: tuple[str, ...]
    rows: int
    graph: str
    seed: int
    bootstrap: int
    units: dict[str, str] = field(default_factory=dict)
    weights: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    higher_is_worse: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    edges: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)

    def title(self, node: str) -> str:
        return node_title(self.titles, node)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "actions": [a.to_dict() for a in self.items], "rejected": dict(self.rejected),
                "current_rows": int(self.current_rows), "confidence": self.confidence, "answer": self.answer,
                "caveats": list(self.caveats), "rows": int(self.rows), "graph": self.graph, "seed": self.seed,
                "bootstrap": int(self.bootstrap), "units": dict(self.units), "weights": self.weights,
                "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
