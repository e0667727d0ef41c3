"""Pick a renderer by format and write a result's reports to a folder."""

from __future__ import annotations

from pathlib import Path

from rca.engine.result import InvestigationResult

FORMATS = ("json", "md", "html")


def render(result: InvestigationResult, fmt: str) -> str:
    """The result as ``json``, ``md`` or ``html`` text."""
    if fmt == "json":
        return result.to_json() + "\n"
    if fmt == "md":
        from reports.markdown import render_markdown

        return render_markdown(result)
    if fmt == "html":
        from reports.html import render_html

        return render_html(result)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def write_reports(result: InvestigationResult, out_dir: Path, stem: str, formats: list[str]) -> dict[str, Path]:
    """Write one file per format as ``<out_dir>/<stem>.<fmt>`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(render(result, fmt), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a report
        paths[fmt] = path
    return paths
