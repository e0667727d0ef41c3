"""Plain-language pieces of a report, shared by the HTML, Markdown and chat renderings.

Each function reads an :class:`~results.InvestigationResult` and says one thing in
words: the headline, the verdict, the top cause, how sure we are, the windows compared. No
statistics are computed here; numbers come from the result and are only formatted (a share is
the result's own ``share``, never recomputed with another denominator). The strings returned are
plain text: every renderer escapes them for its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from graphs.model import lagged_name
from results.causes import pushes, top_cause, upstream
from results.format import format_delta, format_value, notable
from results.intervals import contains
from results.investigation import Cause, InvestigationResult


@dataclass(frozen=True)
class OverviewRow:
    """One line of a multi-target report's overview table (and of a chat summary)."""

    index: int
    metric: str
    scope: str
    question: str  # which question: "anomaly on 2026-08-17", "change in the 13 weeks to 2026-08-23"
    before: str
    now: str
    change: str
    verdict: str
    regressed: bool
    top_cause: str


def delta(value: float, unit: str) -> str:
    """A signed difference as :func:`format_delta` writes it, but '±0' when it rounds to nothing."""
    text = format_delta(value, unit)
    digits = [ch for ch in text if ch.isdigit()]
    if set(digits) <= {"0"}:
        return "±0 pp" if unit == "ratio" else "±0"
    return text


def pct(share: float) -> str:
    """A share as a whole percentage, without '-0%'."""
    text = f"{share * 100:.0f}%"
    return "0%" if text in {"-0%", "+0%"} else text


def _parse(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (ValueError, TypeError, AttributeError):
        return None


def day(ts: str) -> str:
    """An ISO timestamp as its date (``2026-03-02``), or the text as given."""
    return str(ts)[:10]


def window_text(r: InvestigationResult) -> str:
    """The windows compared, in words."""
    w = r.window
    if "baseline" in w and "current" in w:
        (b0, b1), (c0, c1) = w["baseline"], w["current"]
        return f"{day(c0)} to {day(c1)} against {day(b0)} to {day(b1)}"
    if "at" in w:
        return f"{day(w['at'])}" + (f" to {day(w['until'])}" if w.get("until") else "")
    return ", ".join(f"{k}: {v}" for k, v in w.items())


_BUCKET_DAYS = {"week": 7, "day": 1, "month": 30}


def period(r: InvestigationResult) -> str:
    """A short phrase for when: 'over the 13 weeks to 2026-11-29' or 'on 2026-03-02'."""
    w = r.window
    if "current" in w:
        start, end = _parse(w["current"][0]), _parse(w["current"][1])
        if start and end:
            # A last label at a bucket's start (midnight) means the window runs one bucket past it (20
            # weekly rows from 6 January end on the bucket of 19 May: 20 weeks, not 19); one at its last
            # second ("last: 13 weeks" ends 23:59:59) is the window's end already.
            at_start = (end.hour, end.minute, end.second) == (0, 0, 0)
            days = round((end - start).total_seconds() / 86400) + (_BUCKET_DAYS.get(r.graph_unit, 0) if at_start else 0)
            span = f"{round(days / 7)} weeks" if days >= 14 else f"{days} days" if days > 1 else "day"
            return f"in the {span} to {day(w['current'][1])}"
        return f"in {day(w['current'][0])}..{day(w['current'][1])}"
    if "at" in w:
        return f"on {day(w['at'])}" if not w.get("until") else f"from {day(w['at'])} to {day(w['until'])}"
    return ""


def question_text(r: InvestigationResult) -> str:
    """Which question a result answers, short: 'anomaly on 2026-08-17', 'change in the 13 weeks to 2026-08-23'
    (what tells apart two answers about the same metric and scope)."""
    return f"{'anomaly' if r.kind == 'anomaly' else 'change'} {period(r)}".strip()


def negligible(r: InvestigationResult, c: Cause) -> bool:
    """A modelled cause whose part in the change shows as nothing (±0 and 0%) and is not significant: a row
    that says nothing, folded away in reports. (A node off the graph's paths that the data tie to the target
    has no part by construction; its row says where to look, so it stays.)"""
    return (c.node != r.target and not c.significant and not c.outside_graph
            and delta(c.contribution, r.observed.unit).startswith("±0") and pct(c.share) == "0%")


def quiet_causes_text(r: InvestigationResult) -> str:
    """One sentence for the causes that show as nothing: 'None of the 4 modelled causes moved X: ...' when
    that is all of them, else which of them did not; '' when every cause moved it."""
    modelled = [c for c in upstream(r) if not c.outside_graph]
    quiet = [c for c in modelled if negligible(r, c)]
    if not quiet:
        return ""
    name, unit, zero = r.title(r.target), r.observed.unit, delta(0.0, r.observed.unit)
    if len(quiet) < len(modelled):
        names = ", ".join(r.title(c.node) for c in quiet[:4]) + (", ..." if len(quiet) > 4 else "")
        return f"{len(quiet)} of the {len(modelled)} modelled causes contributed {zero}: {names}."
    own = (f"the whole change ({delta(r.unexplained.contribution, unit)}) is {name}'s own"
           if r.unexplained.contribution else "nothing modelled explains the change")
    if len(quiet) == 1:
        return f"The one modelled cause, {r.title(quiet[0].node)}, contributed {zero}: {own}."
    return f"None of the {len(quiet)} modelled causes moved {name}: each contributed {zero}, so {own}."


def why_not_significant(c: Cause) -> str:
    """The reason a cause is not significant, as the numbers say it; '' when it is significant."""
    if c.significant:
        return ""
    if contains(c.interval, 0.0):
        return "its interval includes zero"
    if not c.unusual:
        return "its own change is within its normal variation"
    return "its contribution is too small to tell apart"


def cause_title(r: InvestigationResult, node: str, *, short: bool = False) -> str:
    """A cause's label; the target's own node reads as what its modelled causes leave unexplained
    (``short``: a table cell's "itself (unexplained)"), a node off the graph's paths says so."""
    if node == r.target:
        return f"{r.title(node)} itself ({'unexplained' if short else 'not explained by its modelled causes'})"
    if any(c.node == node and c.outside_graph for c in r.causes):
        return f"{r.title(node)} (off the graph's paths, tied in the data)"
    return r.title(node)


def moved(r: InvestigationResult) -> str:
    b, c = format_value(r.observed.baseline, r.observed.unit), format_value(r.observed.current, r.observed.unit)
    if b == c:
        return "held"
    return "rose" if r.observed.current > r.observed.baseline else "fell"


def verdict(r: InvestigationResult) -> str:
    if r.regression.detected:
        return "Regression"
    return "Within normal noise"


def change_text(r: InvestigationResult) -> str:
    return format_delta(r.observed.current - r.observed.baseline, r.observed.unit)


def _first(r: InvestigationResult, where: str) -> str:
    """What moved, how far and when, as the opening clause of a headline or an explanation."""
    name = r.title(r.target)
    name = name[:1].upper() + name[1:]
    b, c = format_value(r.observed.baseline, r.observed.unit), format_value(r.observed.current, r.observed.unit)
    when = period(r)
    if r.kind == "anomaly":
        return f"{name}{where} was {c} {when}, against an expected {b}"
    if moved(r) == "held":
        return f"{name}{where} held at about {c} {when}"
    return f"{name}{where} {moved(r)} from {b} to {c} {when}"


def _attributed(r: InvestigationResult, top: Cause, verdict: str = "") -> str:
    """'62% of the rise is attributed to falling line coverage ratio (82% to 68%)', with ``verdict``
    (' (significant)') right after the cause."""
    word = {"rose": "rise", "fell": "fall"}.get(moved(r), "deviation")
    share = top.share * 100
    if 99.5 <= share < 100.5:
        return f"{cause_movement(r, top.node)}{verdict} accounts for all of the {word}"
    said = f"{share:.0f}% of the {word} is attributed to {cause_movement(r, top.node)}{verdict}"
    if share >= 100.5:  # the shares add up, so parts pulling the other way offset the excess
        said += f", more than the whole {word}: other parts pulled against it"
    return said


def headline(r: InvestigationResult) -> str:
    """One sentence: what moved, over when, and what most of it is attributed to."""
    first = _first(r, f" in {r.scope}" if r.scope else "")
    if not r.regression.detected:
        return f"{first}: within normal noise."
    top = top_cause(r)
    if top is None:
        off = _off_paths(r)
        if off:
            return (f"{first}; no modelled cause explains it, but {_moved_or_named(r, off[0].node)}, off the graph's "
                    "paths to it, changed unusually.")
        return first + "; no modelled cause explains it."
    if not top.significant:
        return f"{first}; the largest attributed cause, {r.title(top.node)}, is not significant ({why_not_significant(top)})."
    return f"{first}; {_attributed(r, top)}."


def explanation(r: InvestigationResult) -> str:
    """The result's plain-language paragraph (the JSON's ``explanation``); every sentence agrees
    with the numbers beside it."""
    parts = [_first(r, "") + "."]
    if r.regression.detected:
        parts.append(f"That is a regression beyond normal noise (score {r.regression.score:.1f}).")
    elif r.regression.score < 0 and moved(r) != "held":
        parts.append(f"It moved the good way (score {r.regression.score:.1f}): not a regression.")
    else:
        parts.append(f"That is within normal noise (score {r.regression.score:.1f}), so it is not flagged as a regression.")
    top = top_cause(r)
    if top is not None:
        reason = why_not_significant(top)
        sentence = _attributed(r, top, f" (not significant: {reason})" if reason else " (significant)")
        parts.append(sentence[:1].upper() + sentence[1:] + ".")
        others = [c for c in upstream(r) if c is not top and pushes(r, c) and notable(c.share)][:2]
        if others:
            parts.append("Also contributing: " + ", ".join(f"{r.title(c.node)} ({pct(c.share)})" for c in others) + ".")
    against = [c for c in upstream(r) if not pushes(r, c) and c.contribution != 0 and notable(c.share)][:2]
    if against and moved(r) != "held":
        parts.append("Pulling the other way: " + ", ".join(f"{r.title(c.node)} ({pct(c.share)})" for c in against) + ".")
    if moved(r) != "held" and abs(r.unexplained.share) >= 0.2:
        parts.append(f"{pct(r.unexplained.share)} is not explained by the modelled causes of {r.title(r.target)}.")
    if top is None:
        parts.append("No upstream node explains the change." + _fallback(r))
    parts.extend(_outside(r))
    if r.settling_since:
        parts.append(settling_text(r))
    cf = counterfactual_text(r)
    if cf and top is not None:
        parts.append(cf)
    return " ".join(parts)


def _fallback(r: InvestigationResult) -> str:
    """When the model explains nothing: what the data support of the graph, and which nodes changed
    most on their own (the candidates to look at first)."""
    out = ""
    check = r.model.quality.get("graph_check") if isinstance(r.model.quality, dict) else None
    if isinstance(check, dict) and check.get("edges"):
        out += f" The data support {check['supported']} of the {check['edges']} edges of graph {r.model.graph}."
    moved_most = [c for c in upstream(r) if abs(c.evidence) >= 2.0 and not c.outside_graph][:3]
    if moved_most:
        out += (" The upstream nodes whose own values changed most unusually: "
                + ", ".join(f"{_moved_or_named(r, c.node)} (evidence {c.evidence:.1f})" for c in moved_most) + ".")
    return out


def _off_paths(r: InvestigationResult) -> list[Cause]:
    """The nodes the graph keeps off the target's paths though the data tie them to it, whose own
    change is unusual, in the result's order."""
    return [c for c in r.causes if c.outside_graph and c.unusual]


def _outside(r: InvestigationResult) -> list[str]:
    """A sentence on :func:`_off_paths`: the model gives them no share, the reader should still look."""
    off = _off_paths(r)[:2]
    if not off:
        return []
    names = " and ".join(f"{_moved_or_named(r, c.node)} (evidence {c.evidence:.1f})" for c in off)
    verb = "is" if len(off) == 1 else "are"
    return [f"Off the paths graph {r.model.graph} draws to {r.title(r.target)}, {names} changed unusually and "
            f"{verb} tied to it in the data: the graph lacks an edge or a common cause there, so no share is "
            "attributed to it; check whether it drives the change."]


def _moved_or_named(r: InvestigationResult, node: str) -> str:
    """How a node moved ("rising active authors count (1.1 to 2.2)"), or just its name when that is unknown."""
    said = cause_movement(r, node)
    return r.title(node) if said.startswith("changes in ") else said


def acting_lag(c: Cause | None, edges: tuple[tuple[str, str, int], ...] = ()) -> int:
    """The lag (in buckets) a cause is described at: 0 (the rows asked about) when its same-bucket part
    pushes the way the whole did and carries at least a quarter of it; else the lag whose part, pushing
    that way, is largest (a lagged edge that carries the change: last week's value, not this week's).
    A part that comes through the node's own persistence (``X -> X, lag: 1``) reaches the target through
    the node's value in the rows asked about, so it counts there; only lags of edges to other nodes move
    the description (``edges`` given: the graph's, as (source, target, lag))."""
    total = sum(v for _, v in c.lags) if c is not None else 0.0  # the parts' own sum (a rescaled whole may differ)
    if c is None or not c.lags or total == 0:
        return 0
    onward = {lag for s, t, lag in edges if s == c.node and t != c.node} if edges else None
    parts: dict[int, float] = {}
    for lag, v in c.lags:
        key = lag if onward is None or lag in onward else 0
        parts[key] = parts.get(key, 0.0) + v
    acting = [(lag, v) for lag, v in parts.items() if v * total > 0]
    if not acting or any(lag == 0 and v / total >= 0.25 for lag, v in acting):
        return 0
    return max(acting, key=lambda lv: (abs(lv[1]), -lv[0]))[0]


def at_lag(r: InvestigationResult, lag: int) -> str:
    """When a lag puts a cause: 'in the week before' (an anomaly) or '2 weeks earlier' (a change)."""
    unit = r.graph_unit if r.graph_unit and r.graph_unit != "commit" else "row"
    if r.kind == "anomaly":
        return f"in the {unit} before" if lag == 1 else f"{lag} {unit}s before"
    return f"{lag} {unit}{'' if lag == 1 else 's'} earlier"


def _cause(r: InvestigationResult, node: str) -> Cause | None:
    return next((c for c in r.causes if c.node == node), None)


def _levels(r: InvestigationResult, node: str) -> tuple[tuple[float, float] | None, int]:
    """A node's (baseline, current) levels at the lag its contribution comes through, and that lag."""
    lag = acting_lag(_cause(r, node), r.edges)
    key = lagged_name(node, lag) if lag else node
    if key not in r.levels:
        key, lag = node, 0
    return r.levels.get(key), lag


def cause_movement(r: InvestigationResult, node: str) -> str:
    """How a cause moved, in words: "falling line coverage ratio (82% to 70%)", else "changes in ...". A
    cause acting through a lagged edge is described at that lag: "rising X in the week before (16% to 33%)"."""
    levels, lag = _levels(r, node)
    if levels is None or node == r.target:
        return f"changes in {r.title(node)}"
    before, now = levels
    unit = r.unit(node)
    b, n = format_value(before, unit), format_value(now, unit)
    if b == n:
        return f"changes in {r.title(node)}"
    verb = "rising" if now > before else "falling"
    return f"{verb} {r.title(node)}{f' {at_lag(r, lag)}' if lag else ''} ({b} to {n})"


def held(r: InvestigationResult, node: str, value: float, *, had: bool = False) -> str:
    """'line coverage ratio stayed at 81%' (``had``: 'had stayed'); a cause acting through a lag is held at
    that lag and says what it was then: 'X stayed at 16% in the week before (it was 33%)'."""
    # An anomaly's counterfactual holds a cause at its median over the rows fitted on (robust to their outliers),
    # not at the mean its movement is told from: say which, so the two numbers do not read as a contradiction.
    level = format_value(value, r.unit(node))
    at = f"its median, {level}," if r.kind == "anomaly" else level
    text = f"{r.title(node)} {'had stayed' if had else 'stayed'} at {at}"
    levels, lag = _levels(r, node)
    if lag and levels is not None:
        was = "was" if r.kind == "anomaly" else "averaged"
        text += f" {at_lag(r, lag)} (it {was} {format_value(levels[1], r.unit(node))})"
    return text.rstrip(",")


STALE_BUCKETS = 2
"""Data followed by more than this many whole buckets that ended before a report was made is stale."""


def _span_text(days: float) -> str:
    if days >= 14:
        return f"{round(days / 7)} weeks"
    hours = days * 24
    if days >= 2:
        return f"{round(days)} days"
    return f"{round(hours)} hour{'' if round(hours) == 1 else 's'}"


def data_age(r: InvestigationResult, now: datetime, *, what: str = "this report") -> str:
    """'The data end with the week of 2026-04-06, 34 weeks before this report (2026-12-01).' when the
    data's last bucket ended more than :data:`STALE_BUCKETS` buckets before ``now``; '' when fresh or unknown."""
    end = _parse(r.data_end)
    days = _BUCKET_DAYS.get(r.graph_unit) or (1 / 24 if r.graph_unit == "hour" else 0)
    if end is None or not days:
        return ""
    if end.tzinfo is None or now.tzinfo is None:
        end, now = end.replace(tzinfo=None), now.replace(tzinfo=None)
    gap = (now - (end + timedelta(days=days))).total_seconds() / 86400
    if gap // days <= STALE_BUCKETS:  # whole buckets ended since the data's last one
        return ""
    return (f"The data end with the {r.graph_unit} of {day(r.data_end)}, {_span_text(gap)} before {what} "
            f"({now:%Y-%m-%d}): nothing since is in it.")


def settling_text(r: InvestigationResult) -> str:
    """What a target still settling in the rows asked about means for its answer; '' when it is not."""
    if not r.settling_since:
        return ""
    return (f"Its figures from {day(r.settling_since)} on are still settling: a commit counts as bug-introducing "
            "only once a later fix reveals it, so recent weeks read low for now and a fall there is not yet a finding.")


def confidence(r: InvestigationResult) -> str:
    """How sure we are, in one sentence about the verdict and the top cause."""
    reg = (f"The change is beyond normal noise (score {r.regression.score:.1f}"
           if r.regression.detected else
           f"The change is within normal noise (score {r.regression.score:.1f}")
    if r.regression.p_value is not None:
        reg += f", p = {r.regression.p_value:.2g}"
    reg += ")."
    top = top_cause(r)
    if top is None:
        return reg
    unit = r.observed.unit
    lo, hi = delta(top.interval[0], unit), delta(top.interval[1], unit)
    if top.significant:
        return (f"{reg} The top cause's contribution is significant: its interval ({lo} to {hi}) excludes zero "
                "and its own change is unusual.")
    return f"{reg} The top cause is not significant: {why_not_significant(top)} (interval {lo} to {hi})."


def counterfactual_text(r: InvestigationResult, index: int = 0) -> str:
    """'Had X stayed at V, the target would have been about T, not C.' (or 'about the same')."""
    if index >= len(r.counterfactuals):
        return ""
    cf = r.counterfactuals[index]
    had = " and ".join(held(r, k, v) for k, v in cf.intervention.items())
    would, now = format_value(cf.target, r.observed.unit), format_value(r.observed.current, r.observed.unit)
    if would == now:
        return f"Had {had}, {r.title(r.target)} would have been about the same ({now})."
    said = f"Had {had}, {r.title(r.target)} would have been about {would}, not {now}."
    return said + _beyond_share(r, cf.intervention, cf.target)


def _beyond_share(r: InvestigationResult, held_nodes: dict[str, float], would: float) -> str:
    """Why a change's counterfactual moves the target far more (or less) than the cause's share says.

    Between two windows the attribution shares the change among the mechanisms that changed; when a
    cause moved and the way the target responds to it changed too, that joint part is split between
    them, while holding the cause at its old value under today's mechanisms removes all of it. Said,
    so the share and the counterfactual beside it are not read as contradicting each other.
    """
    if r.kind == "anomaly" or len(held_nodes) != 1:
        return ""
    node = next(iter(held_nodes))
    cause = next((c for c in r.causes if c.node == node), None)
    if cause is None:
        return ""
    moved_by = r.observed.current - would
    if abs(moved_by - cause.contribution) <= 0.5 * max(abs(moved_by), abs(cause.contribution)):
        return ""
    if format_value(r.observed.current - cause.contribution, r.observed.unit) == format_value(would, r.observed.unit):
        return ""
    more = "more" if abs(moved_by) > abs(cause.contribution) else "less"
    return (f" That is {more} than the {pct(cause.share)} attributed to {r.title(node)}: how {r.title(r.target)} "
            f"responds to it changed between the windows too, and the attribution splits that joint part between them.")


def overview(results: list[InvestigationResult]) -> list[OverviewRow]:
    """The overview table's rows: regressions first, then the rest, each in the given order."""
    rows = []
    for i, r in enumerate(results):
        top = top_cause(r)
        rows.append(OverviewRow(
            index=i,
            metric=r.title(r.target),
            scope=r.scope,
            question=question_text(r),
            before=format_value(r.observed.baseline, r.observed.unit),
            now=format_value(r.observed.current, r.observed.unit),
            change=change_text(r),
            verdict=verdict(r),
            regressed=r.regression.detected,
            top_cause=(f"{r.title(top.node)} ({pct(top.share)}{'' if top.significant else ', not significant'})"
                       if top else "none"),
        ))
    return sorted(rows, key=lambda row: (not row.regressed, row.index))


def report_title(results: list[InvestigationResult]) -> str:
    if len(results) == 1:
        r = results[0]
        return f"whydunnit: {r.title(r.target)}" + (f" in {r.scope}" if r.scope else "")
    bad = sum(r.regression.detected for r in results)
    return f"whydunnit: {bad} of {len(results)} metrics regressed"


def multi_headline(results: list[InvestigationResult]) -> str:
    """The headline of a scheduled report: how many regressed, and the worst one's headline."""
    bad = [r for r in results if r.regression.detected]
    if not bad:
        return f"No regression in the {len(results)} metrics checked."
    lead = f"{len(bad)} of {len(results)} metrics regressed."
    return f"{lead} {headline(bad[0])}"
