"""The HTTP API's request and answer bodies: what a client may send and gets back (they make the OpenAPI schema).

Unknown fields are refused, counts and the confidence are bounded, and a graph sent in a request
is bounded in size (:func:`graph_fits`) before anything parses it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import BadInput

GraphField = Field(default=None, description="a shipped graph's name (delivery, git-quality) or a graph definition: "
                   "an object as in graphs/*.yaml, or YAML/DOT text; default delivery")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


ConfidenceField = Field(default=0.95, description="coverage of the intervals: a number between 0.5 and 1",
                        json_schema_extra={"minimum": 0.5, "exclusiveMaximum": 1})


def _confidence(value: float) -> float:
    # NaN fails every comparison, so pydantic's bounds would call it "not less than 1": say what it must be.
    if value != value or not 0.5 <= value < 1:
        raise ValueError(f"confidence must be a number between 0.5 and 1 (e.g. 0.95), not {value!r}")
    return value


class InvestigationBody(_Body):
    target: str = Field(description="the graph node to explain", examples=["bug_fix_commit_ratio"])
    scope: str = Field(description="the store's scope to read", examples=["acme/payments"])
    graph: str | dict[str, Any] | None = GraphField
    at: str | None = Field(default=None, description="anomaly: a time, START..END, or latest")
    baseline: str | None = Field(default=None, description="START..END: before (change) or the fit window (anomaly)")
    current: str | None = Field(default=None, description="START..END: the window that got worse")
    last: str | None = Field(default=None, description="e.g. '13 weeks': that span to the latest data vs the one before",
                             examples=["13 weeks"])


class EffectBody(_Body):
    treatment: str = Field(description="the node whose effect is asked (what you change)")
    outcome: str = Field(description="the node it acts on")
    graph: str | dict[str, Any] | None = GraphField
    scopes: list[str] = Field(default=[], description="scopes to read (pooled, or compared with by_scope); "
                              "default: every scope holding the graph's metrics")
    by_scope: bool = Field(default=False, description="one effect per scope (at least two scopes)")
    features: list[str] = Field(default=[], description="with by_scope: columns the effect may vary with")
    confidence: float = ConfidenceField
    simulations: int = Field(default=50, ge=2, le=1000, description="re-estimations per refutation check")
    bootstrap: int = Field(default=200, ge=2, le=5000, description="resamples for bootstrap intervals")
    refute: bool = True
    dml: bool = Field(default=True, description="also estimate by double machine learning with flexible learners, as a check")
    seed: int | None = Field(default=None, ge=0)

    _check_confidence = field_validator("confidence")(_confidence)


class RecommendationsBody(_Body):
    target: str = Field(description="the node to improve")
    scope: str = Field(description="the store's scope to read")
    graph: str | dict[str, Any] | None = GraphField
    levers: list[str] | None = Field(default=None, description="rank only these nodes; default every actionable one")
    confidence: float = ConfidenceField
    bootstrap: int = Field(default=100, ge=2, le=5000)
    seed: int | None = Field(default=None, ge=0)

    _check_confidence = field_validator("confidence")(_confidence)


class WhatIfBody(_Body):
    target: str = Field(description="the graph node to predict", examples=["bug_fix_commit_ratio"])
    scope: str = Field(description="the store's scope to read", examples=["acme/payments"])
    set: dict[str, float] = Field(min_length=1, max_length=20, description="node -> value to hold it at",
                                  examples=[{"line_coverage_ratio": 0.8}])
    graph: str | dict[str, Any] | None = GraphField
    window: str | None = Field(default=None, description="START..END: what it would have been over those rows")
    seed: int | None = Field(default=None, ge=0)


class Accepted(BaseModel):
    id: str
    kind: str
    status: Literal["queued"]
    url: str = Field(description="where to poll for the answer")
    report_url: str = Field(description="the HTML report, once done")


class ErrorBody(BaseModel):
    error: str = Field(description="one line: what is wrong and what to do")


def graph_fits(graph: Any, limit: int) -> None:
    """Refuse a graph sent in a request above ``limit`` bytes (serve.max_graph_bytes): parsing one costs
    time on the service's threads (pydot takes ~55 ms of CPU per KB of DOT), so its size is what bounds it."""
    if graph is None or (isinstance(graph, str) and "\n" not in graph and len(graph) <= 200):
        return  # a shipped graph's name
    try:
        size = len(graph.encode("utf-8")) if isinstance(graph, str) else len(json.dumps(graph))
    except (RecursionError, ValueError, TypeError):
        raise BadInput("the graph cannot be read: it is nested too deeply") from None
    if size > limit:
        raise BadInput(f"the graph is {size} bytes; a graph sent in a request may be at most {limit} bytes "
                       "(serve.max_graph_bytes)")
