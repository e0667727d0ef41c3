"""The Markdown report: the same content as the HTML page, for wikis, pull requests and chat.

One investigation or several (an overview table, then a section each). Charts become their
text alternatives and tables. Text from data is escaped for Markdown (``|``, ``*``, ``_``,
``<`` and friends) so a node name or label value cannot inject markup or HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from reports import notes
from reports.escaping import md_escape
from results import InvestigationResult, format_value, wording


def _section(r: InvestigationResult, level: int) -> list[str]:
    h = "#" * level
    unit = r.observed.unit
    e = md_escape
    age = wording.data_age(r, datetime.now(UTC))
    lines = [
        f"**{wording.verdict(r)}**: {e(wording.confidence(r))}",
        "",
        *([f"> {e(age)}", ""] if age else []),
        f"| | {'expected' if r.kind == 'anomaly' else 'before'} | {'observed' if r.kind == 'anomaly' else 'now'} "
        "| change | window |",
        "|---|---:|---:|---:|---|",
        f"| {e(r.title(r.target))} | {format_value(r.observed.baseline, unit)} | "
        f"{format_value(r.observed.current, unit)} | {wording.change_text(r)} | {e(wording.window_text(r))} |",
        "",
        e(r.explanation),
        "",
        f"{h} Likely causes",
        "",
    ]
    if r.causes:
        quiet = wording.quiet_causes_text(r)
        lines += ([e(quiet), ""] if quiet else []) + [
            e(notes.fit(r)), "", "| cause | contribution | share | interval | significant | own change |",
            "|---|---:|---:|---|---|---:|"]
        for c in (c for c in r.causes if not wording.negligible(r, c)):
            name = e(wording.cause_title(r, c.node))
            lines.append(f"| {'**' + name + '**' if c.significant else name} | {wording.delta(c.contribution, unit)} | "
                         f"{wording.pct(c.share)} | {wording.delta(c.interval[0], unit)} to "
                         f"{wording.delta(c.interval[1], unit)} | {'yes' if c.significant else 'no'} | "
                         f"{c.evidence:.1f}{' unusual' if c.unusual else ''} |")
    else:
        lines.append("No causes were attributed.")
    if r.counterfactuals:
        lines += ["", f"{h} What would have happened", "",
                  f"| had… | {e(r.title(r.target))} would be | interval | instead of |", "|---|---:|---|---:|"]
        for cf in r.counterfactuals:
            had = " and ".join(e(wording.held(r, k, v, had=True)) for k, v in cf.intervention.items())
            lines.append(f"| {had} | {format_value(cf.target, unit)} | {format_value(cf.interval[0], unit)} to "
                         f"{format_value(cf.interval[1], unit)} | {format_value(r.observed.current, unit)} |")
    if r.edges:
        from reports.graph_chart import highlighted

        hot = highlighted(r)
        lines += ["", f"{h} The causal graph", ""]
        if hot:
            lines += [f"Graph {e(r.model.graph)}; edges on paths from the main causes to {e(r.title(r.target))}:", ""]
            lines += [f"- {e(r.title(s))} → {e(r.title(t))}" + (f" (lag {lag})" if lag else "")
                      for s, t, lag in r.edges if (s, t) in hot]
        else:
            lines.append(f"Graph {e(r.model.graph)}, {len(r.edges)} edges: none of the graph's edges leads from a "
                         f"significant or notable cause to {e(r.title(r.target))}.")
    evidence = [c for c in wording.upstream(r) if c.node in r.series]
    if evidence:
        lines += ["", f"{h} Evidence per cause", "", e(notes.fit(r)), ""]
        for c in evidence:
            span = notes.span(r, c.node)
            lines.append(f"- {e(r.title(c.node))}: contributed {wording.delta(c.contribution, unit)} "
                         f"({wording.pct(c.share)}, {'significant' if c.significant else 'not significant'})"
                         + (f"; the series: {e(span)}" if span else ""))
    lines += ["", f"{h} Caveats", ""]
    lines += [f"- {e(c)}" for c in r.caveats] or ["None noted."]
    versions = e(", ".join(f"{k} {v}" for k, v in r.versions.items()))
    fw = notes.fit_window(r)
    timings = ", ".join(f"{e(k)} {v:.2f} s" for k, v in r.timings_s.items())
    lines += ["", f"{h} Method", "",
              f"Graph {e(r.model.graph)}" + (f" (one row per {e(r.graph_unit)})" if r.graph_unit else "")
              + f"; DoWhy gcm structural causal model on {r.model.rows} rows"
              + (f" ({wording.day(fw[0])} to {wording.day(fw[1])})" if fw else "")
              + f", seed {r.model.seed}, fitted {e(r.model.fitted_at)}. Regression test: "
              f"{e(r.regression.method or 'n/a')}. Windows: {e(wording.window_text(r))}."
              + (f" Versions: {versions}." if versions else "")
              + (f" Timings: {timings}." if timings else ""), ""]
    return lines


def render_markdown(results: InvestigationResult | Sequence[InvestigationResult], *, report_url: str = "",
                    skipped: Sequence[str] = (), effects: Sequence = ()) -> str:
    """The report as Markdown: one investigation, or an overview and a section per investigation;
    ``effects`` (effect results) add an "Effects and recommendations" section, or make the whole report."""
    items = [results] if isinstance(results, InvestigationResult) else list(results)
    if not items and not effects:
        raise ValueError("a report needs at least one investigation result")
    from reports.effect_markdown import section as effects_section

    link = [f"Full report: <{report_url}>", ""] if report_url and "\n" not in report_url and ">" not in report_url else []
    if skipped:
        link += ["**Not investigated:**", ""] + [f"- {md_escape(line)}" for line in skipped] + [""]
    if not items:
        from results.effect_wording import headline as effects_headline

        return "\n".join([f"# {md_escape(effects_headline(list(effects)))}", ""] + link
                         + effects_section(effects, 2)[1:])
    if len(items) == 1:
        r = items[0]
        return "\n".join([f"# {md_escape(wording.headline(r))}", ""] + link + _section(r, 2)
                         + effects_section(effects, 2))
    lines = [f"# {md_escape(wording.multi_headline(items))}", ""] + link + [
        "## Overview", "", "| metric | scope | before | now | change | verdict | top cause |",
        "|---|---|---:|---:|---:|---|---|"]
    for row in wording.overview(items):
        metric = row.metric[:1].upper() + row.metric[1:]
        lines.append(f"| {md_escape(metric)} | {md_escape(row.scope)} | {row.before} | {row.now} | {row.change} | "
                     f"{row.verdict} | {md_escape(row.top_cause)} |")
    for r in sorted(items, key=lambda r: not r.regression.detected):  # regressions first, as in the overview
        name = r.title(r.target)
        lines += ["", f"## {md_escape(name[:1].upper() + name[1:])}" + (f" in {md_escape(r.scope)}" if r.scope else ""), "",
                  f"**{md_escape(wording.headline(r))}**", ""]
        lines += _section(r, 3)
    return "\n".join(lines + effects_section(effects, 2))
