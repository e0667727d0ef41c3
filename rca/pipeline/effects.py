"""Effect questions: "what does X do to Y?", "for which scope?", "what should we change?".

Three jobs, each a request in and a result (and its renderings) out, like an investigation:

- :func:`effect`: the average causal effect of a treatment node on an outcome node
  (:func:`rca.engine.effects.estimate_effect`: identified, estimated, refuted), over one scope
  or pooled over several (each scope's lags stay within its own rows);
- :func:`effects_by_scope`: the effect in each scope, with intervals
  (:func:`rca.engine.heterogeneity.heterogeneous_effects`);
- :func:`recommendations`: a target's levers ranked by what a realistic move of each would
  bring (:func:`rca.engine.recommend.recommend`), for one scope;
- :func:`what_if`: the target had some nodes been held at values, over the model's population (an
  intervention) or over the rows of a window (a counterfactual: :mod:`rca.engine.what_if`);
- :func:`actions`: candidate actions (a file of them, and/or a language model's draft:
  :mod:`rca.pipeline.action_drafts`) ranked by their predicted effect on a target
  (:mod:`rca.engine.actions`), for one scope.

The graph is an object, a file or a shipped name; the data a frame or a table file (wide, wide
with a ``scope`` column, or long), else the store's observations for the named scopes (every
scope that holds the graph's metrics when none is named). Answers from the store are kept in it
like investigations (``kind``: ``effect``, ``heterogeneity``, ``recommendations``), failures
too. A question the graph cannot identify is an error here (the message says why, and the kept
record holds the full answer), unless the caller asks for the unidentified result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import BadInput
from rca.config import Settings
from rca.pipeline import records
from rca.pipeline.compute import on_cluster
from rca.pipeline.data import (
    Data,
    GraphRef,
    graph_asked,
    graph_of,
    stored_frame,
    stored_frames,
    wide_frame,
    wide_frames,
)
from results import WhatIf
from results.actions import ActionRanking
from results.effects import EffectResult, HeterogeneousEffects, Recommendations

if TYPE_CHECKING:
    from graphs import CausalGraph
    from rca.store import Store

EffectItem = EffectResult | HeterogeneousEffects | Recommendations | WhatIf | ActionRanking
Scopes = str | Sequence[str]


@dataclass(frozen=True)
class Answer:
    """One answered effect question: the result, its id in the store (if kept), its renderings."""

    result: EffectItem
    kind: str  # effect | heterogeneity | recommendations
    scopes: tuple[str, ...] = ()  # the scopes the data came from
    id: str | None = None
    rendered: Mapping[str, str] = field(default_factory=dict)  # format -> text



def _scopes(scopes: Scopes) -> tuple[str, ...]:
    items = (scopes,) if isinstance(scopes, str) else tuple(scopes)
    return tuple(s for s in items if s)


def render_answer(result: EffectItem, formats: Sequence[str]) -> dict[str, str]:
    """The result in each format asked for: json is its own object; md and html a report of it."""
    out = {}
    for fmt in formats:
        if fmt == "json":
            out[fmt] = result.to_json() + "\n"
        else:
            from reports import render

            out[fmt] = render([], fmt, effects=[result])
    return out


def _ask(kind: str, target: str, question: dict[str, Any], g: CausalGraph, settings: Settings, data: Data | None,
         scopes: tuple[str, ...], store: Store | None, keep: bool | None, formats: Sequence[str],
         compute: Callable[[dict[str, pd.DataFrame]], EffectItem],
         problem: Callable[[EffectItem], str | None] = lambda _: None, *, min_scopes: int = 1,
         max_scopes: int | None = None) -> Answer:
    """Resolve the frames, run ``compute`` and keep the record (done, or failed with the error)."""
    keep = data is None if keep is None else keep
    own = store is None and (data is None or keep)
    if own:  # imported only then: SQLAlchemy costs a question from a file ~0.3 s of start-up
        from rca.store import Store as StoreType

        store = StoreType(settings.store_url)
    try:
        frames = wide_frames(data, g, scopes) if data is not None else stored_frames(store, g, scopes)
        _count_scopes(kind, frames, min_scopes, max_scopes)
        record = records.opened(scope=", ".join(frames), target=target, kind=kind,
                                question={**question, "graph": g.name, "scopes": list(frames)})
        result = records.kept(store if keep else None, record, lambda: compute(frames), problem)
    finally:
        if own:
            store.close()
    return Answer(result, kind, tuple(frames), record.id if keep else None, render_answer(result, formats))


def _pooled(frames: dict[str, pd.DataFrame]) -> pd.DataFrame | dict[str, pd.DataFrame]:
    return next(iter(frames.values())) if len(frames) == 1 else frames


def _seed(settings: Settings, seed: int | None) -> int:
    return settings.engine.seed if seed is None else seed


@on_cluster
def effect(treatment: str, outcome: str, settings: Settings, *, graph: GraphRef = "delivery", data: Data | None = None,
           scopes: Scopes = (), seed: int | None = None, confidence: float = 0.95, simulations: int = 50,
           bootstrap: int = 200, refute: bool = True, dml: bool = True, require_identified: bool = True,
           formats: Sequence[str] = (), keep: bool | None = None, store: Store | None = None) -> Answer:
    """The average causal effect of ``treatment`` on ``outcome``, over one scope or pooled over several.

    ``simulations`` re-estimations per refutation check, ``bootstrap`` resamples behind bootstrap
    intervals (binary, front-door and IV estimates); ``dml`` adds the double-ML check. A graph
    that does not identify the effect raises :class:`BadInput` (with the reason) unless
    ``require_identified`` is false, when the unidentified result is returned.
    """
    from rca.engine.effects import estimate_effect

    g = graph_of(graph)
    _check_counts(confidence, simulations=simulations, bootstrap=bootstrap)
    s = _seed(settings, seed)
    question = {"treatment": treatment, "outcome": outcome, "confidence": confidence, "simulations": simulations,
                "refute": refute, "seed": s}

    def compute(frames: dict[str, pd.DataFrame]) -> EffectResult:
        return estimate_effect(_pooled(frames), g, treatment, outcome, seed=s, confidence=confidence, refute=refute,
                               simulations=simulations, dml=dml, bootstrap=bootstrap)

    def problem(r: EffectItem) -> str | None:
        if require_identified and isinstance(r, EffectResult) and not r.identified:
            return (f"the effect of {treatment!r} on {outcome!r} is not identifiable from graph {g.name!r}: "
                    f"{r.identification.reason}")
        return None

    return _ask("effect", outcome, question, g, settings, data, _scopes(scopes), store, keep, formats, compute, problem)


def effects_by_scope(treatment: str, outcome: str, settings: Settings, *, graph: GraphRef = "delivery",
                     data: Data | None = None, scopes: Scopes = (), features: Sequence[str] = (),
                     seed: int | None = None, confidence: float = 0.95, min_rows_per_scope: int = 10,
                     formats: Sequence[str] = (), keep: bool | None = None, store: Store | None = None) -> Answer:
    """The effect of ``treatment`` on ``outcome`` in each scope (at least two), best-helped first.

    ``features`` name columns of a wide table that describe a scope or a row (team size,
    repository age, language): the effect is then modelled as varying with them.
    """
    from rca.engine.heterogeneity import heterogeneous_effects

    g = graph_of(graph)
    _check_counts(confidence)
    s = _seed(settings, seed)
    question = {"treatment": treatment, "outcome": outcome, "features": list(features), "confidence": confidence,
                "seed": s}

    def compute(frames: dict[str, pd.DataFrame]) -> HeterogeneousEffects:
        return heterogeneous_effects(frames, g, treatment, outcome, features=features, seed=s, confidence=confidence,
                                     min_rows_per_scope=min_rows_per_scope)

    return _ask("heterogeneity", outcome, question, g, settings, data, _scopes(scopes), store, keep, formats, compute,
                min_scopes=2)


@on_cluster
def recommendations(target: str, settings: Settings, *, graph: GraphRef = "delivery", data: Data | None = None,
                    scope: Scopes = (), levers: Sequence[str] | None = None, seed: int | None = None,
                    confidence: float = 0.95, bootstrap: int = 100, samples: int = 1000,
                    current_rows: int | None = None, formats: Sequence[str] = (), keep: bool | None = None,
                    store: Store | None = None) -> Answer:
    """``target``'s levers (``levers``, default: every actionable ancestor in the graph) ranked by the
    improvement of moving each from where it is now to its good quartile, for one scope."""
    from rca.engine.recommend import recommend

    g = graph_of(graph)
    _check_counts(confidence, bootstrap=bootstrap)
    chosen = _scopes(scope)
    if len(chosen) > 1:
        raise BadInput(f"recommendations are for one scope at a time (where is 'now' for {len(chosen)} scopes?); "
                       f"name one scope, not {', '.join(chosen)}")
    s = _seed(settings, seed)
    question = {"target": target, "levers": list(levers) if levers is not None else None, "confidence": confidence,
                "bootstrap": bootstrap, "seed": s}

    def compute(frames: dict[str, pd.DataFrame]) -> Recommendations:
        return recommend(next(iter(frames.values())), g, target, seed=s, confidence=confidence, bootstrap=bootstrap,
                         samples=samples, current_rows=current_rows, levers=list(levers) if levers else None)

    return _ask("recommendations", target, question, g, settings, data, chosen, store, keep, formats, compute,
                max_scopes=1)


def what_if(target: str, values: Mapping[str, float], settings: Settings, *, graph: GraphRef,
            data: Data | None = None, scope: str = "", seed: int | None = None, window: str | None = None,
            formats: Sequence[str] = (), store: Store | None = None) -> Answer:
    """The target had ``values`` been imposed: over the model's population, or (``window``: ``START..END``)
    over the rows of that window, what it would have averaged instead of what it did. Fitted on ``data``
    or the store's ``scope``; the result and its renderings (``formats``) in an :class:`Answer`."""
    from rca.engine.what_if import counterfactual, intervene
    from rca.pipeline.questions import parse_window

    g = graph_of(graph)
    options = settings.engine if seed is None else settings.engine.model_copy(update={"seed": seed})
    chosen = parse_window(window) if window else None
    if data is not None:
        frame, label = wide_frame(data, g, scope)
    elif store is not None:
        frame, label = stored_frame(store, g, scope), scope
    else:
        from rca.store import Store as StoreType

        with StoreType(settings.store_url) as own:
            frame, label = stored_frame(own, g, scope), scope
    if chosen is not None:
        result = counterfactual(frame, g, target, dict(values), chosen, options=options)
    else:
        result = intervene(frame, g, target, dict(values), options=options)
    return Answer(result, "what_if", (label,) if label else (), None, render_answer(result, formats))


def what_if_question(ask: Mapping[str, Any], settings: Settings, *, store: Store) -> WhatIf:
    """A what-if as the HTTP API asks it (``target``, ``scope``, ``set``, and optionally ``graph``, ``window``,
    ``seed``), answered now from the store. The graph is a shipped name or a definition, never a path: a
    client of the service does not get to read the server's files."""

    if not ask.get("scope"):
        raise BadInput("say which scope of the store to read (scope)")
    answer = what_if(str(ask.get("target", "")), dict(ask.get("set") or {}), settings, graph=graph_asked(ask.get("graph")),
                     scope=str(ask["scope"]), seed=ask.get("seed"), window=ask.get("window"), store=store)
    return answer.result


MAX_ACTIONS_FILE = 64 * 1024


def _read_actions(path: str | Path) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_ACTIONS_FILE:
            raise BadInput(f"actions file {str(p)!r} is over {MAX_ACTIONS_FILE // 1024} KB")
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read actions file {str(p)!r}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None


@on_cluster
def actions(target: str, settings: Settings, *, graph: GraphRef = "delivery", data: Data | None = None,
            scope: Scopes = (), actions_file: str | Path | None = None, ask_model: bool = False,
            seed: int | None = None, confidence: float = 0.95, bootstrap: int = 100, current_rows: int | None = None,
            formats: Sequence[str] = (), keep: bool | None = None, store: Store | None = None) -> Answer:
    """Candidate actions for ``target`` (from ``actions_file`` and/or, with ``ask_model``, drafted by the model
    configured under ``recommend.drafts``) ranked by their predicted effect, for one scope."""
    from rca.engine.actions import parse_actions, rank_actions
    from rca.engine.recommend import levers_of

    g = graph_of(graph)
    _check_counts(confidence, bootstrap=bootstrap)
    if actions_file is None and not ask_model:
        raise BadInput("give candidate actions: --actions FILE, or --ask-model to have the configured model draft them")
    if target not in g.nodes:
        raise BadInput(f"target {target!r} is not a node of graph {g.name!r}")
    chosen = _scopes(scope)
    if len(chosen) > 1:
        raise BadInput(f"actions are ranked for one scope at a time, not {', '.join(chosen)}")
    candidates = parse_actions(_read_actions(actions_file), "file") if actions_file is not None else []
    s = _seed(settings, seed)
    question = {"target": target, "actions": [a.name for a in candidates], "ask_model": ask_model,
                "confidence": confidence, "bootstrap": bootstrap, "seed": s}

    def compute(frames: dict[str, pd.DataFrame]) -> ActionRanking:
        frame = next(iter(frames.values()))
        rejected: dict[str, str] = {}
        found = list(candidates)
        if ask_model:
            from rca.pipeline.action_drafts import drafted, prompt
            from results.format import format_value

            latest = frame.tail(13)
            levers = {n: format_value(float(latest[n].mean()), g.nodes[n].unit) for n in levers_of(g, target)
                      if n in frame.columns}
            drafts, rejected = drafted(settings.recommend.drafts,
                                       prompt(target, g.nodes[target].title, levers, g.nodes[target].higher_is_worse,
                                              settings.recommend.drafts.max_actions))
            taken = {a.name for a in found}
            found += [a for a in drafts if a.name not in taken]
        return rank_actions(frame, g, target, found, rejected=rejected, seed=s, confidence=confidence,
                            bootstrap=bootstrap, current_rows=current_rows)

    return _ask("actions", target, question, g, settings, data, chosen, store, keep, formats, compute, max_scopes=1)


def _check_counts(confidence: float, **counts: int) -> None:
    if not 0.5 <= confidence < 1:
        raise BadInput(f"confidence must be in [0.5, 1), not {confidence}")
    for name, n in counts.items():
        if n < 2:
            raise BadInput(f"{name} must be at least 2, not {n}")


def _count_scopes(kind: str, frames: dict[str, pd.DataFrame], least: int, most: int | None) -> None:
    names = ", ".join(list(frames)[:5]) + (", ..." if len(frames) > 5 else "")
    if len(frames) < least:
        raise BadInput(f"effects by scope need at least {least} scopes; the data gives {len(frames)} ({names}): "
                       "name more scopes, or give a table that holds several")
    if most is not None and len(frames) > most:
        raise BadInput(f"{kind} are for one scope at a time, and the data holds {len(frames)} ({names}): "
                       "say which one (scope)")
