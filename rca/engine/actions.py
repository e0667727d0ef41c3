"""Candidate actions: read them (from a file or a model's draft), check them, rank them on the causal model.

The schema, in YAML (or JSON, which YAML reads)::

    actions:
      - name: split PRs over 400 lines
        set:
          median_change_size_lines: 300     # a number: hold the node there
          review_hours: "+1"                # "+N" / "-N": move it from where it is now; "+10%" / "-10%" too
          line_coverage_ratio: "+5"         # a ratio moves in points: +5 is 68% -> 73% (and 0.8 holds it at 80%)

Nothing in the text is trusted beyond that schema: the text is bounded in size, read with a YAML
loader that refuses aliases and builds plain data only (nothing is executed), and every action is
checked on its own. An action is rejected, with the reason, when it names a node the graph does
not have, a node that cannot move the target, a node the graph marks ``actionable: false``, or a
value its node's kind cannot take; the rest are ranked. A text that does not follow the schema at
all is an error for a user's file, and a rejected draft for a model's reply.

Ranking moves every node of an action from where it is now to where the action puts it, at once,
on the same fitted model and bootstrap refits as recommendations (:class:`rca.engine.recommend.Mover`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import kind_of, load_yaml
from rca.engine.effects_data import node_unit
from rca.engine.errors import EngineInputError
from rca.engine.recommend import level, mover, now_rows, range_caveats
from rca.engine.stats import percentile_interval
from results.actions import ActionEffect, ActionRanking
from results.effect_answers import action_sentence, actions_answer

MAX_TEXT = 64 * 1024
MAX_ACTIONS = 20
MAX_SETTINGS = 10
MAX_NAME = 80
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Action:
    """A candidate as written: its name, where it came from, and per node a number or a relative move."""

    name: str
    source: str  # "file" or "model"
    settings: dict[str, float | str]


def parse_actions(text: str, source: str) -> list[Action]:
    """The actions a text holds, by the schema; raises :class:`EngineInputError` (one line) when it does not follow it."""
    if len(text.encode("utf-8", "replace")) > MAX_TEXT:
        raise EngineInputError(f"the actions text is over {MAX_TEXT // 1024} KB; keep to {MAX_ACTIONS} actions")
    try:
        doc = load_yaml(text)
    except Exception as exc:  # a YAML error's message quotes the text: say where, not what
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise EngineInputError(f"the actions are not valid YAML{where}") from None
    items = doc.get("actions") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise EngineInputError("the actions must be a list under 'actions:', each with a name and a 'set:' mapping")
    if len(items) > MAX_ACTIONS:
        raise EngineInputError(f"{len(items)} actions; at most {MAX_ACTIONS} are ranked at once")
    out, names = [], set()
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) - {"name", "set"} or not isinstance(item.get("set"), dict):
            raise EngineInputError(f"action {i} must be a mapping with 'name' and 'set' (node: value) and nothing else")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
            raise EngineInputError(f"action {i} needs a name: one line of text, at most {MAX_NAME} characters")
        name = " ".join(name.split())
        if name in names:
            raise EngineInputError(f"two actions are named {name!r}; give each its own name")
        names.add(name)
        settings = item["set"]
        if not settings or len(settings) > MAX_SETTINGS:
            raise EngineInputError(f"action {name!r} must set 1 to {MAX_SETTINGS} nodes")
        clean: dict[str, float | str] = {}
        for node, value in settings.items():
            if not isinstance(node, str):
                raise EngineInputError(f"action {name!r}: node names are text")
            if isinstance(value, bool) or not (isinstance(value, int | float) or
                                               (isinstance(value, str) and _RELATIVE.match(value))):
                raise EngineInputError(f"action {name!r}: {node} must be a number, or a move such as '+1' or '-10%'")
            clean[node] = float(value) if isinstance(value, int | float) else value.strip()
        out.append(Action(name, source, clean))
    return out


def _after(value: float | str, now: float, ratio: bool) -> float:
    if isinstance(value, float):
        return value
    sign, amount, pct = _RELATIVE.match(value).groups()  # type: ignore[union-attr]
    step = float(amount) * (abs(now) / 100.0 if pct else 0.01 if ratio else 1.0)  # a ratio's points
    return now + step if sign == "+" else now - step


def _why_not(graph: CausalGraph, target: str, node: str, after: float) -> str | None:
    """Why an action may not set ``node`` to ``after`` (None when it may)."""
    if node not in graph.nodes:
        return f"{node!r} is not a node of graph {graph.name!r}"
    if node == target:
        return f"it sets the target {target!r} itself"
    if node not in graph.ancestors(target):
        return f"{node!r} cannot move {target!r} (not upstream of it in the graph)"
    if not graph.nodes[node].actionable:
        return f"{node!r} is not something a team can change (actionable: false in the graph)"
    if not np.isfinite(after):
        return f"{node!r} would be set to {after}"
    kind = kind_of(graph.nodes[node].metric, graph.nodes[node].kind)
    if kind == "ratio" and not 0.0 <= after <= 1.0:
        return f"{node!r} is a ratio, between 0 and 1, not {after:g}"
    if kind in ("count", "duration") and after < 0:
        return f"{node!r} is a {kind} and cannot be {after:g}"
    return None


def rank_actions(frame: pd.DataFrame, graph: CausalGraph, target: str, actions: list[Action], *,
                 rejected: dict[str, str] | None = None, seed: int = 0, confidence: float = 0.95,
                 bootstrap: int = 100, samples: int = 1000, current_rows: int | None = None,
                 min_rows: int = 20) -> ActionRanking:
    """Rank ``actions`` by the improvement of ``target`` when all of an action's moves are made at once."""
    t_start = time.perf_counter()
    if target not in graph.nodes:
        raise EngineInputError(f"target {target!r} is not a node of graph {graph.name!r}")
    rejected = dict(rejected or {})
    wanted = [n for a in actions for n in a.settings if n in graph.nodes and n in graph.ancestors(target)]
    m = mover(frame, graph, target, seed=seed, bootstrap=bootstrap, samples=samples, min_rows=min_rows,
              nodes=sorted(set(wanted)))
    latest = now_rows(m, current_rows)
    plans, moves = {}, {}
    for a in actions:
        now = {n: level(m, n, latest) for n in a.settings if n in m.data.columns}
        after = {n: _after(v, now.get(n, 0.0), n in graph.nodes and
                           kind_of(graph.nodes[n].metric, graph.nodes[n].kind) == "ratio")
                 for n, v in a.settings.items()}
        reasons = [r for n in a.settings if (r := _why_not(graph, target, n, after[n]))]
        if reasons:
            rejected[a.name] = "; ".join(reasons)
            continue
        plans[a.name] = (now, after)
        moves[a.name] = {n: (now[n], after[n]) for n in a.settings}
    if not plans:
        raise EngineInputError("no action could be ranked: " + "; ".join(f"{k}: {v}" for k, v in rejected.items()))
    compared = m.compare(plans)
    sign = 1.0 if graph.nodes[target].higher_is_worse else -1.0
    titles = {n: graph.nodes[n].title for n in graph.nodes}
    units = {n: node_unit(m.graph, n, m.data[n]) for n in {target, *(k for v in moves.values() for k in v)}}
    source = {a.name: a.source for a in actions}
    items = []
    for name, (before, after, diffs) in compared.items():
        d = np.asarray(diffs, dtype=float)
        item = ActionEffect(name=name, source=source[name], moves=moves[name], target_now=before, target_after=after,
                            improvement=sign * (before - after), interval=percentile_interval([-sign * x for x in diffs],
                                                                                     confidence),
                            probability_better=float(np.mean(-sign * d > 0)) if len(d) else float("nan"), sentence="")
        items.append(replace(item, sentence=action_sentence(item, titles, units, target,
                                                            graph.nodes[target].higher_is_worse, confidence)))
    items.sort(key=lambda a: -a.improvement)
    caveats = list(m.caveats) + range_caveats(m, [v for a in items for v in (a.target_now, a.target_after)])
    if len(m.data) < 50:
        caveats.append(f"only {len(m.data)} rows: intervals are wide")
    if any(a.source == "model" for a in actions):
        caveats.append("some candidates were drafted by a language model: only their names and moves were used, "
                       "and the causal model alone ranked them")
    return ActionRanking(
        target=target, items=tuple(items), rejected=rejected, current_rows=len(latest), confidence=confidence,
        answer=actions_answer(titles.get(target, target), items, confidence), caveats=tuple(caveats),
        rows=len(m.data), graph=graph.name, seed=seed, bootstrap=bootstrap, units=units, weights=m.weight_column,
        timings_s={"total": time.perf_counter() - t_start}, titles=titles,
        higher_is_worse={n: graph.nodes[n].higher_is_worse for n in graph.nodes},
        edges=tuple((e.source, e.target, e.lag) for e in graph.edges),
    )


__all__ = ["Action", "parse_actions", "rank_actions"]
