"""The answer to "what if?": the target had some nodes been held at given values.

Two questions share one shape. An **intervention** (``kind: intervention``): the target's mean
under ``do(node = value)`` over the model's whole population, beside its mean without the
intervention. A **counterfactual** (``kind: counterfactual``): over the rows of a window the user
chose, what the target would have averaged had the nodes stayed at those values, beside what it
did average ("had coverage stayed at 80% over those 12 weeks, the bug-fix ratio would have been
...").

``interval`` is the uncertainty of that mean (from refits of the model on resampled rows), not the
spread of single outcomes; the spread is in ``quantiles`` (interventions only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from results.format import json_number as _num
from results.format import node_title


@dataclass(frozen=True)
class WhatIf:
    """The target's mean had some nodes been set to values, with the uncertainty of that mean."""

    target: str
    intervention: dict[str, float]
    mean: float
    interval: tuple[float, float]  # confidence interval of ``mean`` (NaN ends: not computed)
    baseline_mean: float  # without the intervention: the model's mean, or (counterfactual) the observed mean
    samples: int
    quantiles: dict[str, float] = field(default_factory=dict)  # spread of single outcomes under the intervention
    notes: tuple[str, ...] = ()  # e.g. a value outside the range the model was fitted on
    kind: str = "intervention"  # or "counterfactual"
    window: tuple[str, str] | None = None  # the counterfactual's rows: first and last timestamp
    rows: int = 0  # rows the model was fitted on
    window_rows: int = 0  # rows of the window (counterfactual)
    confidence: float = 0.9
    seed: int = 0
    refits: int = 0  # refits behind the interval
    caveats: tuple[str, ...] = ()
    answer: str = ""
    graph: str = ""
    units: dict[str, str] = field(default_factory=dict)  # target and set nodes -> unit
    # Outside the JSON: what the sentence and the report's drawing need.
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    higher_is_worse: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    edges: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)

    def title(self, node: str) -> str:
        return node_title(self.titles, node)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "intervention": {k: _num(v) for k, v in self.intervention.items()},
            "mean": _num(self.mean),
            "interval": [_num(self.interval[0]), _num(self.interval[1])],
            "interval_of": "mean",
            "confidence": self.confidence,
            "baseline_mean": _num(self.baseline_mean),
            "window": list(self.window) if self.window else None,
            "samples": int(self.samples),
            "quantiles": {k: _num(v) for k, v in self.quantiles.items()},
            "notes": list(self.notes),
            "caveats": list(self.caveats),
            "answer": self.answer,
            "rows": int(self.rows),
            "window_rows": int(self.window_rows),
            "refits": int(self.refits),
            "seed": self.seed,
            "graph": self.graph,
            "units": dict(self.units),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
