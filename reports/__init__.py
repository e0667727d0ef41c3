"""Render investigation results: HTML (Jinja2, autoescaped), Markdown and JSON.

Reports render :class:`results.InvestigationResult` objects and never compute
statistics; chat summaries (``reports/chat.py``) are made from the same objects.
"""

from reports.render import render, write_reports

__all__ = ["render", "write_reports"]
