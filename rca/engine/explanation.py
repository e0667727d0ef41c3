"""Say what the numbers mean, in plain language, from the result's own parts.

One short paragraph: what moved and how far, whether that is a regression beyond normal
noise, which causes explain it and how sure we are, and what would have happened had the top
cause stayed where it was. Node names are used as given (the renderers escape them).
"""

from __future__ import annotations

from results import Cause, Counterfactual, Observed, Regression, format_value, notable


def _title(node: str, titles: dict[str, str]) -> str:
    return titles.get(node, node)


def explain(
    target: str,
    kind: str,
    observed: Observed,
    regression: Regression,
    causes: tuple[Cause, ...],
    counterfactuals: tuple[Counterfactual, ...],
    titles: dict[str, str],
    units: dict[str, str],
    when: str,
) -> str:
    name = _title(target, titles)
    name = name[:1].upper() + name[1:]
    b, c = format_value(observed.baseline, observed.unit), format_value(observed.current, observed.unit)
    moved = (
        "rose"
        if observed.current > observed.baseline
        else "fell"
        if observed.current < observed.baseline
        else "stayed"
    )
    if kind == "anomaly":
        first = f"{name} was {c} {when}, against an expected {b}."
    elif moved == "stayed":
        first = f"{name} stayed at {c} {when}."
    else:
        first = f"{name} {moved} from {b} to {c} {when}."
    if regression.detected:
        verdict = f"That is a regression beyond normal noise (score {regression.score:.1f})."
    else:
        verdict = (
            f"That is within normal noise (score {regression.score:.1f}), "
            "so it is not flagged as a regression."
        )
    parts = [first, verdict]
    upstream = [x for x in causes if x.node != target and notable(x.share)]
    if upstream:
        top = upstream[0]
        sure = "" if top.significant else " (not significant: the interval includes zero)"
        word = "rise" if moved == "rose" else "fall" if moved == "fell" else "deviation"
        parts.append(
            f"Most of the {word} ({top.share * 100:.0f}%) is attributed to {_title(top.node, titles)}{sure}."
        )
        others = [f"{_title(x.node, titles)} ({x.share * 100:.0f}%)" for x in upstream[1:3]]
        if others:
            parts.append("Also contributing: " + ", ".join(others) + ".")
    own = next((x for x in causes if x.node == target), None)
    if own is not None and abs(own.share) >= 0.2:
        parts.append(
            f"{own.share * 100:.0f}% is not explained by the modelled causes of {_title(target, titles)}."
        )
    if not upstream and own is None:
        parts.append("No upstream node explains the change.")
    if counterfactuals and upstream:
        cf = counterfactuals[0]
        ((node, value),) = list(cf.intervention.items())[:1]
        parts.append(
            f"Had {_title(node, titles)} stayed at {format_value(value, units.get(node, ''))}, "
            f"{_title(target, titles)} would have been about {format_value(cf.target, observed.unit)}, "
            f"not {c}."
        )
    return " ".join(parts)
