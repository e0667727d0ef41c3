"""The HTML report: one self-contained page (inline CSS and SVG, no external loads).

:func:`render_html` takes one result or several (a scheduled report: an overview table, then
a section per investigation) and returns the page. Each investigation is turned into a
small view (headline, charts, tables) here and laid out by ``templates/report.html.j2``,
rendered by Jinja2 with autoescape on, so commit messages, author names, label values and
node names stay text. The page's Content-Security-Policy forbids every load from outside
the page (``default-src 'none'``), so it opens offline and cannot leak a request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from reports import charts, graph_chart, notes
from reports.effect_views import views as effect_views
from results import Cause, InvestigationResult, effect_wording, format_value, package_versions, wording
from results.effect_wording import EffectItem


@dataclass(frozen=True)
class Evidence:
    cause: Cause
    title: str
    chart: Markup
    note: str


@dataclass(frozen=True)
class CounterfactualRow:
    had: str
    target: str
    interval: str
    instead_of: str


@dataclass(frozen=True)
class View:
    """What the template needs for one investigation, already worded and drawn."""

    r: InvestigationResult
    ident: str
    headline: str
    verdict: str
    confidence: str
    window: str
    change: str
    target_chart: Markup
    cause_chart: Markup
    graph_chart: Markup
    graph_folded: bool  # drawn over several bands (an arrow leaving a band continues on the next)
    evidence: tuple[Evidence, ...]
    counterfactuals: tuple[CounterfactualRow, ...]
    mechanisms: str
    fit_quality: tuple[tuple[str, str], ...]
    target_note: str  # what the target's chart shows
    fit_note: str  # the rows the model was fitted on and the windows it compared
    paths: int  # edges on paths from the main causes to the target (highlighted in the graph)
    fit_span: str  # the fit window's dates, '' when unknown
    age: str = ""  # how old the data is, when it stopped more than two buckets before the report
    question: str = ""  # which question it answers ("anomaly on 2026-08-17"): what tells two sections apart
    quiet: str = ""  # one sentence for the causes that contributed nothing visible
    shown_causes: tuple[Cause, ...] = ()  # the causes table's rows (and the bars)
    zero_causes: tuple[Cause, ...] = ()  # ±0 rows, folded away under the sentence


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["value"] = format_value
    env.filters["delta"] = wording.delta
    env.filters["pct"] = wording.pct
    env.globals["cause_title"] = wording.cause_title
    env.filters["capfirst"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    # Table cells: a long name gets places to break; a figure keeps its number and unit together
    # (an interval may break at "to").
    env.filters["soft"] = soft_breaks
    env.filters["nobr"] = lambda text: str(text).replace(" ", "\u00a0").replace("\u00a0to\u00a0", " to ")
    return env


_SEPARATORS = set("/:._-?&=,;|")


def soft_breaks(text: object) -> Markup:
    """``text`` escaped, with ``<wbr>`` break opportunities inside runs of 30 or more characters
    without a space (URLs, qualified names, hostile strings): after their separators, and at least
    every 16 characters. A table column can then narrow to fit a phone without ordinary words
    breaking in the middle (``overflow-wrap: anywhere`` would break those too)."""
    out: list[str] = []
    for word in re.split(r"(\s+)", str(text)):
        if len(word) < 30 or word.isspace():
            out.append(str(escape(word)))
            continue
        run = 0
        for i, ch in enumerate(word):
            out.append(str(escape(ch)))
            run += 1
            if i < len(word) - 1 and (ch in _SEPARATORS or run >= 16):
                out.append("<wbr>")
                run = 0
    return Markup("".join(out))


def _evidence(r: InvestigationResult, ident: str) -> tuple[Evidence, ...]:
    cf_level = {k: v for cf in r.counterfactuals for k, v in cf.intervention.items()}
    out = []
    ranked = sorted(wording.upstream(r), key=lambda c: not c.significant)
    for i, c in enumerate(ranked):
        if c.node not in r.series:
            continue
        level = cf_level.get(c.node)
        label = f"counterfactual level {format_value(level, r.unit(c.node))}" if level is not None else ""
        chart = charts.series_pair(r, c.node, f"{ident}-ev{i}", height=170, reference=level, reference_label=label)
        held = (f" Dashed: the level the counterfactual holds it at ({format_value(level, r.unit(c.node))})."
                if level is not None else "")
        shows = f" {notes.chart(r, c.node)}" if chart else ""
        note = (f"Contributed {wording.delta(c.contribution, r.observed.unit)} to {r.title(r.target)} "
                f"({wording.pct(c.share)} of the change; interval {wording.delta(c.interval[0], r.observed.unit)} "
                f"to {wording.delta(c.interval[1], r.observed.unit)}; "
                f"{'significant' if c.significant else 'not significant'}), by the model fitted on "
                f"{r.model.rows:,} row{'' if r.model.rows == 1 else 's'}.{held}{shows}")
        out.append(Evidence(cause=c, title=r.title(c.node), chart=chart, note=note))
    return tuple(out)


def _counterfactuals(r: InvestigationResult) -> tuple[CounterfactualRow, ...]:
    unit = r.observed.unit
    rows = []
    for cf in r.counterfactuals:
        had = " and ".join(wording.held(r, k, v, had=True) for k, v in cf.intervention.items())
        rows.append(CounterfactualRow(had=had, target=format_value(cf.target, unit),
                                      interval=f"{format_value(cf.interval[0], unit)} to {format_value(cf.interval[1], unit)}",
                                      instead_of=format_value(r.observed.current, unit)))
    return tuple(rows)


def _fit_quality(r: InvestigationResult) -> tuple[tuple[str, str], ...]:
    r2 = r.model.quality.get("r2") if isinstance(r.model.quality, dict) else None
    if not isinstance(r2, dict):
        return ()
    return tuple((r.title(str(k)), f"{v:.2f}" if isinstance(v, int | float) else str(v)) for k, v in r2.items())


def view(r: InvestigationResult, ident: str, now: datetime | None = None) -> View:
    graph, folded = graph_chart.responsive(r, f"{ident}-graph")
    zero = tuple(c for c in r.causes if wording.negligible(r, c))
    shown = tuple(c for c in r.causes if c not in zero)
    kinds: dict[str, int] = {}
    for m in r.model.mechanisms.values():
        kinds[m] = kinds.get(m, 0) + 1
    return View(
        r=r,
        ident=ident,
        headline=wording.headline(r),
        verdict=wording.verdict(r),
        confidence=wording.confidence(r),
        window=wording.window_text(r),
        change=wording.change_text(r),
        target_chart=charts.series_pair(r, r.target, f"{ident}-target"),
        cause_chart=charts.cause_bars(r, f"{ident}-causes", causes=shown, folded=len(zero)),
        graph_chart=graph,
        graph_folded=folded,
        evidence=_evidence(r, ident),
        counterfactuals=_counterfactuals(r),
        mechanisms=", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])),
        fit_quality=_fit_quality(r),
        target_note=notes.chart(r, r.target),
        fit_note=notes.fit(r),
        paths=len(graph_chart.highlighted(r)),
        fit_span=" to ".join(wording.day(t) for t in fw) if (fw := notes.fit_window(r)) else "",
        age=wording.data_age(r, now or datetime.now(UTC)),
        question=wording.question_text(r),
        quiet=wording.quiet_causes_text(r),
        shown_causes=shown,
        zero_causes=zero,
    )


def render_html(results: InvestigationResult | list[InvestigationResult], *, report_url: str = "",
                skipped: Sequence[str] = (), effects: Sequence[EffectItem] = ()) -> str:
    """The whole report page as a string: one investigation, or an overview and one section each.

    ``effects`` (effect questions, effects by scope, recommendations) make an "Effects and
    recommendations" section after the investigations; a page may hold only that section.
    """
    items = [results] if isinstance(results, InvestigationResult) else list(results)
    if not items and not effects:
        raise ValueError("a report needs at least one investigation result")
    now = datetime.now(UTC)
    # Regressions first, as in the overview; ids keep the input order so links stay stable.
    views = [view(r, f"inv{i}", now) for i, r in sorted(enumerate(items), key=lambda ir: not ir[1].regression.detected)]
    if items:
        title = wording.report_title(items)
        head = wording.headline(items[0]) if len(items) == 1 else wording.multi_headline(items)
        version = items[0].versions.get("whydunnit", "")
    else:
        title, head = effect_wording.report_title(list(effects)), effect_wording.headline(list(effects))
        version = package_versions().get("whydunnit", "")
    return _env().get_template("report.html.j2").render(
        views=views,
        multi=len(views) > 1,
        title=title,
        headline=head,
        overview=wording.overview(items) if len(items) > 1 else [],
        generated=now.strftime("%Y-%m-%d %H:%M UTC"),
        version=version,
        report_url=report_url,
        skipped=list(skipped),
        effects=effect_views(effects) if effects else [],
    )
