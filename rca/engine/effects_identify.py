"""Identification: can the graph turn "what does X do to Y" into something the data can answer?

Pearl's three criteria, checked on the unrolled graph with networkx's d-separation (the same
criteria DoWhy's ``identify_effect`` applies, without its start-up cost of several seconds):

- **back-door**: a set of observed nodes, none downstream of the treatment, that blocks every
  back-door path (preferred: it uses all the data and needs no further assumption). The set
  tried first is the treatment's observed common causes with the outcome; then its observed
  parents; then every observed node not downstream of it. The first valid one is used;
- **front-door**: observed mediators that carry every directed path from the treatment to the
  outcome, with no unblocked back-door path into them and their own back-door paths to the
  outcome blocked by the treatment (a hidden confounder of treatment and outcome then does not
  matter);
- **instrumental variable**: observed nodes that move the treatment and reach the outcome only
  through it.

When none applies the identification says so and why: "not identifiable" is an answer about the
graph, not an input error.
"""

from __future__ import annotations

import networkx as nx

from rca.engine.effects_data import EffectData
from results.effects import Identification


def _without_out_edges(dag: nx.DiGraph, nodes: set[str]) -> nx.DiGraph:
    g = dag.copy()
    g.remove_edges_from([(u, v) for u in nodes for v in list(dag.successors(u))])
    return g


def _separated(g: nx.DiGraph, x: set[str], y: set[str], z: set[str]) -> bool:
    return nx.is_d_separator(g, x, y, z)


def _descendants(dag: nx.DiGraph, nodes: set[str]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        out |= nx.descendants(dag, n)
    return out


def _ancestors(dag: nx.DiGraph, nodes: set[str]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        out |= nx.ancestors(dag, n)
    return out


def backdoor_set(dag: nx.DiGraph, treat: set[str], outcome: str, observed: set[str]) -> list[str] | None:
    """The first valid back-door adjustment set among the candidates (module docstring), or None."""
    down = _descendants(dag, treat) | treat
    cut = _without_out_edges(dag, treat)
    allowed = observed - down - {outcome}
    common = allowed & _ancestors(dag, treat) & nx.ancestors(cut, outcome)
    parents = allowed & {p for t in treat for p in dag.predecessors(t)}
    for candidate in (common, parents, allowed):
        if _separated(cut, treat, {outcome}, candidate):
            return sorted(candidate, key=_order(dag))
    return None


def frontdoor_set(dag: nx.DiGraph, treat: set[str], outcome: str, observed: set[str]) -> list[str] | None:
    """Observed mediators satisfying the front-door criterion (all of them, else a single one), or None."""
    on_paths = (_descendants(dag, treat) & nx.ancestors(dag, outcome)) - treat - {outcome}
    mediators = on_paths & observed
    candidates = [mediators] + [{m} for m in sorted(mediators, key=_order(dag))] if mediators else []
    cut_t = _without_out_edges(dag, treat)
    for m in candidates:
        blocked = dag.copy()
        blocked.remove_nodes_from(m)
        if any(t in blocked and outcome in blocked and nx.has_path(blocked, t, outcome) for t in treat):
            continue  # (i) some directed path avoids the mediators
        if not _separated(cut_t, treat, m, set()):
            continue  # (ii) a back-door path from the treatment into a mediator is open
        if not _separated(_without_out_edges(dag, m), m, {outcome}, treat):
            continue  # (iii) a back-door path from a mediator to the outcome is not blocked by the treatment
        return sorted(m, key=_order(dag))
    return None


def instruments(dag: nx.DiGraph, treat: set[str], outcome: str, observed: set[str]) -> list[str]:
    """Observed nodes that move the treatment and reach the outcome only through it."""
    down = _descendants(dag, treat) | treat
    cut = _without_out_edges(dag, treat)
    out = []
    for z in sorted(observed - down - {outcome}, key=_order(dag)):
        if _separated(dag, {z}, treat, set()):
            continue  # not relevant: it does not move the treatment
        if _separated(cut, {z}, {outcome}, set()):
            out.append(z)
    return out


def _order(dag: nx.DiGraph):
    rank = {n: i for i, n in enumerate(nx.lexicographical_topological_sort(dag, key=str))}
    return lambda n: rank.get(n, len(rank))


def hidden_confounders(dag: nx.DiGraph, latent: set[str], treat: set[str], outcome: str) -> list[str]:
    """Unobserved nodes with a directed path to both the treatment and the outcome."""
    out = []
    for u in sorted(latent):
        down = nx.descendants(dag, u)
        if outcome in down and any(t in down for t in treat):
            out.append(u)
    return out


def identify(q: EffectData) -> Identification:
    """Back-door, else front-door, else an instrument; or why none applies."""
    dag, treat, outcome = q.dag, set(q.tcols), q.outcome
    observed = {c for c in dag.nodes if c in q.data.columns}
    latent = {c for c in dag.nodes if c not in q.data.columns}
    hidden = hidden_confounders(dag, latent, treat, outcome)
    latent_nodes = tuple(sorted(latent))
    adj = backdoor_set(dag, treat, outcome, observed)
    front = frontdoor_set(dag, treat, outcome, observed)
    ivs = instruments(dag, treat, outcome, observed)
    alternatives: dict[str, tuple[str, ...]] = {}
    if front:
        alternatives["frontdoor"] = tuple(front)
    if ivs:
        alternatives["iv"] = tuple(ivs)
    t, y = q.treatment, q.outcome
    if adj is not None:
        if adj:
            reason = f"adjusting for {', '.join(adj)} blocks every back-door path from {t} to {y} (back-door criterion)"
        else:
            reason = (f"nothing in the graph drives both {t} and {y}, so no adjustment is needed "
                      "(back-door criterion with an empty set)")
        return Identification(True, "backdoor", tuple(adj), reason, alternatives, latent_nodes)
    shared = ", ".join(hidden) or "(a node with no data)"
    if (front or ivs) and len(q.tcols) > 1:
        reason = (f"{t} and {y} share the unobserved cause {shared}; the graph offers a "
                  f"{'front-door mediator' if front else 'instrument'}, but {t} also acts through its lagged copies "
                  f"({', '.join(q.tcols[1:])}), which only a back-door adjustment handles here; measure that cause "
                  "(or a proxy of it) and add its column")
        return Identification(False, "none", (), reason, alternatives, latent_nodes)
    if front:
        reason = (f"{t} and {y} share the unobserved cause {shared}, but {t} acts on {y} only through "
                  f"{', '.join(front)}, which that cause does not touch (front-door criterion)")
        return Identification(True, "frontdoor", tuple(front), reason, {"iv": tuple(ivs)} if ivs else {}, latent_nodes)
    if ivs:
        reason = (f"{t} and {y} share the unobserved cause {shared}, but {', '.join(ivs)} moves {t} and reaches {y} "
                  "only through it (instrumental variable)")
        return Identification(True, "iv", tuple(ivs), reason, {}, latent_nodes)
    reason = (f"{t} and {y} share the unobserved cause {shared} and the graph offers no adjustment set, no fully "
              "mediating node and no instrument; measure that cause (or a proxy of it) and add its column, or add a "
              "mediator or an instrument to the graph")
    return Identification(False, "none", (), reason, {}, latent_nodes)
