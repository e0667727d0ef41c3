"""Escaping, one function per markup: untrusted text (node names, scopes, commit messages, label
values) stays text in every rendering.

Markdown for reports, wikis and chat; Slack's mrkdwn; Google Chat's two text forms. Each keeps
the text readable raw and neutralises only what could start markup, a link or a mention. HTML
reports escape through Jinja2's autoescape and :func:`markupsafe.escape`.
"""

from __future__ import annotations

import html
import re

# Only what can start markup: brackets (links, images), emphasis, code, tables, HTML, entities.
# Parentheses, '+', '!' and '#' are harmless once brackets are escaped or away from a line's start.
_SPECIAL = re.compile(r"([\\`*_\[\]|<>~&])")
_LINE_START = re.compile(r"^(\s*)(?:([#>+\-])|(\d+)(?=[.)]))")


def _line_start(m: re.Match[str]) -> str:
    # '#', '>', '+', '-' are escaped themselves; for '1.' the escape goes on the dot ('1\.').
    return m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\")


def md_escape(text: object) -> str:
    """Text safe inside Markdown (and any HTML a Markdown renderer lets through), still readable raw."""
    return _LINE_START.sub(_line_start, _SPECIAL.sub(r"\\\1", str(text).replace("\r", " ").replace("\n", " ")))



def slack_escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters (links, mentions); formatting marks are
    neutralised with a zero-width space so data cannot bold, strike or quote itself."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([*_~`])", "\u200b\\1\u200b", text)


def chat_md_escape(text: str) -> str:
    """Markdown (Discord, Mattermost, Teams TextBlocks): the report's Markdown escaping, and '@'
    gets a zero-width space so '@everyone', '@channel' or '@here' never notify."""
    return md_escape(text).replace("@", "@\u200b")


def html_escape(text: str) -> str:
    """Google Chat text paragraphs accept a little HTML: escape it all."""
    return html.escape(text, quote=True)


def gchat_text_escape(text: str) -> str:
    """Google Chat's plain ``text`` turns ``<users/all>`` into a mention and ``<url|label>`` into a link and
    has no escape sequence: angle brackets become look-alikes, formatting marks are broken up."""
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    return re.sub(r"([*_~`])", "\u200b\\1\u200b", text)
