"""Result types of an investigation and their JSON form.

These frozen dataclasses are the contract between the engine and everything after it:
reports render them, the API serves them, and :meth:`InvestigationResult.to_dict` produces
exactly the JSON object ARCHITECTURE.md fixes (other tools parse it). Numbers are plain
floats, timestamps ISO 8601 in UTC with a ``Z``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from graphs.model import unit_of
from results.format import json_number as _num
from results.format import node_title


@dataclass(frozen=True)
class Cause:
    node: str
    contribution: float
    share: float
    interval: tuple[float, float]
    significant: bool
    direction: str  # "worse" | "better" | "neutral"
    # How unusual the node's own deviation is (its noise: what its parents do not explain), as a
    # robust z-score, and whether that passes the bar for "this is where something changed".
    evidence: float = 0.0
    unusual: bool = False
    # Off the graph's paths to the target, but tied to it in the data (a dependency the graph check
    # found and the graph lacks): a candidate the model cannot attribute to, named so the graph gets fixed.
    outside_graph: bool = False
    # How the contribution splits over the lags it acts through, ``((lag, part), ...)``, when it acts through
    # a lagged edge (``bug_introducing -> bug_fix, lag: 1``): so the words can describe the cause at the lag
    # that carried it. Empty when it acts only within the same bucket. Not part of the JSON.
    lags: tuple[tuple[int, float], ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "contribution": _num(self.contribution),
            "share": _num(self.share, 4),
            "interval": [_num(self.interval[0]), _num(self.interval[1])],
            "significant": bool(self.significant),
            "direction": self.direction,
            "evidence": _num(self.evidence, 3),
            "unusual": bool(self.unusual),
            "outside_graph": bool(self.outside_graph),
        }


@dataclass(frozen=True)
class Unexplained:
    """The part of the deviation no modelled cause explains: the target's own noise or mechanism change."""

    contribution: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {"contribution": _num(self.contribution), "share": _num(self.share, 4)}


@dataclass(frozen=True)
class Counterfactual:
    intervention: dict[str, float]
    target: float
    interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "intervention": {k: _num(v) for k, v in self.intervention.items()},
            "target": _num(self.target),
            "interval": [_num(self.interval[0]), _num(self.interval[1])],
        }


@dataclass(frozen=True)
class Regression:
    detected: bool
    score: float
    method: str = ""
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detected": bool(self.detected), "score": _num(self.score, 4)}
        if self.method:
            out["method"] = self.method
        if self.p_value is not None:
            out["p_value"] = _num(self.p_value, 6)
        return out


@dataclass(frozen=True)
class Observed:
    baseline: float
    current: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": _num(self.baseline), "current": _num(self.current), "unit": self.unit}


@dataclass(frozen=True)
class ModelInfo:
    graph: str
    fitted_at: str
    rows: int
    quality: dict[str, Any] = field(default_factory=dict)
    mechanisms: dict[str, str] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph": self.graph,
            "fitted_at": self.fitted_at,
            "rows": int(self.rows),
            "quality": self.quality,
            "mechanisms": self.mechanisms,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class InvestigationResult:
    target: str
    kind: str  # "anomaly" | "distribution_change"
    scope: str
    window: dict[str, Any]
    observed: Observed
    regression: Regression
    causes: tuple[Cause, ...]
    counterfactuals: tuple[Counterfactual, ...]
    explanation: str
    caveats: tuple[str, ...]
    model: ModelInfo
    timings_s: dict[str, float]
    unexplained: Unexplained = field(default_factory=lambda: Unexplained(0.0, 0.0))
    # Not part of the JSON contract: series for charts, kept so reports need not recompute.
    series: dict[str, list[tuple[str, float]]] = field(default_factory=dict, compare=False, repr=False)
    higher_is_worse: bool = field(default=True, compare=False)
    # Also outside the JSON contract: what the reports need to draw the graph and name things.
    titles: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # node -> human label
    units: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # node -> unit
    # (source, target, lag) for each edge of the graph
    edges: tuple[tuple[str, str, int], ...] = field(default=(), compare=False, repr=False)
    graph_unit: str = field(default="", compare=False)  # the graph's bucket: week, day, commit...
    versions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # package -> version
    # node -> (its mean over the baseline/fit rows, its mean over the current/anomalous rows), so
    # a report can say "falling coverage" without computing anything; also each lagged copy a lagged
    # edge makes (``node[t-1]``: the node's values one bucket earlier), so a cause acting through a lag
    # can be described at that lag.
    levels: dict[str, tuple[float, float]] = field(default_factory=dict, compare=False, repr=False)
    # What the numbers were computed on, so every figure can say it: the first and last row the
    # model was fitted on (``model.rows`` counts them), and how many rows the current (or
    # anomalous) window held. Empty / 0 when not known (results built without the engine).
    fit_window: tuple[str, str] | tuple[()] = field(default=(), compare=False)
    current_rows: int = field(default=0, compare=False)
    # The start of the data's last bucket (ISO), so a report can say how old the data is when it is read;
    # and, when the target's own figures in the rows asked about are still settling (a bug-introducing
    # share whose fixes have not come yet), the date they settle from. Empty when not known / not so.
    data_end: str = field(default="", compare=False)
    settling_since: str = field(default="", compare=False)

    def title(self, node: str) -> str:
        """A node's human label (the graph's ``label``, else its name with spaces for underscores)."""
        return node_title(self.titles, node)

    def unit(self, node: str) -> str:
        """A node's unit; the target's is the observed unit."""
        return self.observed.unit if node == self.target else self.units.get(node, unit_of(node))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "scope": self.scope,
            "window": self.window,
            "observed": self.observed.to_dict(),
            "regression": self.regression.to_dict(),
            "causes": [c.to_dict() for c in self.causes],
            "unexplained": self.unexplained.to_dict(),
            "counterfactuals": [c.to_dict() for c in self.counterfactuals],
            "explanation": self.explanation,
            "caveats": list(self.caveats),
            "model": self.model.to_dict(),
            "timings_s": {k: round(float(v), 3) for k, v in self.timings_s.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on, for the report's method note."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("whydunnit", "dowhy", "numpy", "pandas", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
