"""Pick a renderer by format and write reports to a folder.

A report is one investigation result or a list of them (a scheduled report over several
targets and scopes). JSON is exactly ARCHITECTURE.md's object for one result and a list of
those objects for several; Markdown and HTML carry the same content for people.

A report may also carry effect results (``effects``: effect questions, effects by scope,
recommendations), shown in an "Effects and recommendations" section. Its JSON is then a
bundle, ``{"schema": "whydunnit.report/1", "investigations": [...], "effects": [...],
"effects_by_scope": [...], "recommendations": [...], "what_ifs": [...], "actions": [...]}``, each list
holding the results' own ``to_dict`` objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from results import InvestigationResult
from results.io import write_text_atomic

if TYPE_CHECKING:  # the effect modules load only for a report that carries effects (not for one JSON answer)
    from results.effect_wording import EffectItem

FORMATS = ("json", "md", "html")
BUNDLE_SCHEMA = "whydunnit.report/1"

Results = InvestigationResult | Sequence[InvestigationResult]


def _items(results: Results) -> list[InvestigationResult]:
    return [results] if isinstance(results, InvestigationResult) else list(results)


def bundle(results: Results, effects: Sequence[EffectItem]) -> dict:
    """The JSON object of a report that carries effect results beside its investigations."""
    from results.effect_wording import item_kind

    keys = {"effect": "effects", "heterogeneity": "effects_by_scope", "recommendations": "recommendations",
            "what_if": "what_ifs", "actions": "actions"}
    out: dict = {"schema": BUNDLE_SCHEMA, "investigations": [r.to_dict() for r in _items(results)]}
    out.update({key: [] for key in keys.values()})
    for item in effects:
        out[keys[item_kind(item)]].append(item.to_dict())
    return out


def render_json(results: Results, effects: Sequence[EffectItem] = ()) -> str:
    """One result: its object; a list (even of one): a JSON list of objects; with ``effects``: the bundle."""
    if effects:
        return json.dumps(bundle(results, effects), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if isinstance(results, InvestigationResult):
        return results.to_json() + "\n"
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render(results: Results, fmt: str, *, report_url: str = "", skipped: Sequence[str] = (),
           effects: Sequence[EffectItem] = ()) -> str:
    """The result(s) as ``json``, ``md`` or ``html`` text.

    ``skipped`` lists targets a scheduled report could not investigate (one line each, with the
    reason); HTML and Markdown show them, the JSON stays the contract's list of results.
    ``effects`` add the effects-and-recommendations section (``results`` may then be empty).
    """
    if fmt == "json":
        return render_json(results, effects)
    if fmt == "md":
        from reports.markdown import render_markdown

        return render_markdown(_items(results), report_url=report_url, skipped=skipped, effects=effects)
    if fmt == "html":
        from reports.html import render_html

        return render_html(_items(results), report_url=report_url, skipped=skipped, effects=effects)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_reports(results: Results, out_dir: Path, stem: str, formats: list[str], *,
                  report_url: str = "", skipped: Sequence[str] = (), effects: Sequence[EffectItem] = ()
                  ) -> dict[str, Path]:
    """Write one file per format as ``<out_dir>/<stem>.<fmt>`` and return their paths."""
    return {fmt: write_text_atomic(out_dir / f"{stem}.{fmt}", render(results, fmt, report_url=report_url,
                                                                      skipped=skipped, effects=effects))
            for fmt in formats}
