"""Pick a renderer by format and write reports to a folder.

A report is one investigation result or a list of them (a scheduled report over several
targets and scopes). JSON is exactly ARCHITECTURE.md's object for one result and a list of
those objects for several; Markdown and HTML carry the same content for people.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from results import InvestigationResult
from results.io import write_text_atomic

FORMATS = ("json", "md", "html")

Results = InvestigationResult | Sequence[InvestigationResult]


def _items(results: Results) -> list[InvestigationResult]:
    return [results] if isinstance(results, InvestigationResult) else list(results)


def render_json(results: Results) -> str:
    """One result: its object; a list (even of one): a JSON list of objects."""
    if isinstance(results, InvestigationResult):
        return results.to_json() + "\n"
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render(results: Results, fmt: str, *, report_url: str = "", skipped: Sequence[str] = ()) -> str:
    """The result(s) as ``json``, ``md`` or ``html`` text.

    ``skipped`` lists targets a scheduled report could not investigate (one line each, with the
    reason); HTML and Markdown show them, the JSON stays the contract's list of results.
    """
    if fmt == "json":
        return render_json(results)
    if fmt == "md":
        from reports.markdown import render_markdown

        return render_markdown(_items(results), report_url=report_url, skipped=skipped)
    if fmt == "html":
        from reports.html import render_html

        return render_html(_items(results), report_url=report_url, skipped=skipped)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_reports(results: Results, out_dir: Path, stem: str, formats: list[str], *,
                  report_url: str = "", skipped: Sequence[str] = ()) -> dict[str, Path]:
    """Write one file per format as ``<out_dir>/<stem>.<fmt>`` and return their paths."""
    return {fmt: write_text_atomic(out_dir / f"{stem}.{fmt}", render(results, fmt, report_url=report_url, skipped=skipped))
            for fmt in formats}
