"""The Markdown report: the same content as the HTML page, for wikis, PRs and chat.

Text from data is escaped for Markdown (``|``, ``*``, ``_``, ``<`` and friends) so a node
name or label value cannot inject markup or HTML.
"""

from __future__ import annotations

import re

from rca.engine.result import InvestigationResult, format_delta, format_value

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def render_markdown(result: InvestigationResult) -> str:
    r, unit = result, result.observed.unit
    lines = [
        f"# whydunnit: {md_escape(r.target)}" + (f" in {md_escape(r.scope)}" if r.scope else ""),
        "",
        f"**{'Regression' if r.regression.detected else 'Within normal noise'}** "
        f"(score {r.regression.score:.1f}; {md_escape(r.regression.method)})",
        "",
        md_escape(r.explanation),
        "",
        "| | " + ("expected" if r.kind == "anomaly" else "baseline") + " | "
        + ("observed" if r.kind == "anomaly" else "current") + " | change |",
        "|---|---:|---:|---:|",
        f"| {md_escape(r.target)} | {format_value(r.observed.baseline, unit)} | {format_value(r.observed.current, unit)} "
        f"| {format_delta(r.observed.current - r.observed.baseline, unit)} |",
        "",
        "## Likely causes",
        "",
        "| cause | contribution | share | interval | significant |",
        "|---|---:|---:|---|---|",
    ]
    for c in r.causes:
        lines.append(f"| {md_escape(c.node)} | {format_delta(c.contribution, unit)} | {c.share * 100:.0f}% | "
                     f"{format_delta(c.interval[0], unit)} … {format_delta(c.interval[1], unit)} | "
                     f"{'yes' if c.significant else 'no'} |")
    if r.counterfactuals:
        lines += ["", "## What would have happened", "", f"| had… | {md_escape(r.target)} would be | interval |",
                  "|---|---:|---|"]
        for cf in r.counterfactuals:
            had = ", ".join(f"{md_escape(k)} stayed at {v:.4g}" for k, v in cf.intervention.items())
            lines.append(f"| {had} | {format_value(cf.target, unit)} | {format_value(cf.interval[0], unit)} … "
                         f"{format_value(cf.interval[1], unit)} |")
    lines += ["", "## Caveats", ""]
    lines += [f"- {md_escape(c)}" for c in r.caveats] or ["None noted."]
    lines += ["", "## Method", "",
              f"Graph {md_escape(r.model.graph)}, DoWhy gcm on {r.model.rows} rows, seed {r.model.seed}. "
              f"Timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.timings_s.items()) + ".", ""]
    return "\n".join(lines)
