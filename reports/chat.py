"""Chat summaries of a report for Slack, Microsoft Teams, Discord, Mattermost, Google Chat and
a generic JSON webhook.

:func:`payload` turns one or several investigation results into the JSON body one platform
expects: the gist (what regressed, the top causes, the counterfactual) and one link to the
full report. Each payload stays within its platform's documented limits (:data:`LIMITS`):
when the content is too long, investigations are dropped from the message (counted in an
"…and N more" line) and texts are cut with a pointer to the full report, never an error.
Text from data is escaped for each platform's markup. Sending lives in
:mod:`reports.chat_send`; this module only builds dictionaries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from reports.escaping import chat_md_escape as md_escape
from reports.escaping import gchat_text_escape, html_escape, slack_escape
from results import InvestigationResult, effect_wording, format_value, notable, wording
from results.effects import Recommendations
from results.format import plural

KINDS = ("slack", "teams", "discord", "mattermost", "googlechat", "generic")


@dataclass(frozen=True)
class Limits:
    """A platform's size limits, in characters unless the name says bytes."""

    text: int  # the main text (Slack section, Discord content, Mattermost message...)
    total_bytes: int  # the whole JSON body
    blocks: int = 0  # Slack blocks per message
    embed_total: int = 0  # Discord: characters across all embeds
    embed_description: int = 0
    embed_fields: int = 0
    field_value: int = 0
    title: int = 0


LIMITS: dict[str, Limits] = {
    "slack": Limits(text=3000, total_bytes=40_000, blocks=50, title=150),
    "teams": Limits(text=20_000, total_bytes=28 * 1024),
    "discord": Limits(text=2000, total_bytes=60_000, embed_total=6000, embed_description=4096, embed_fields=25,
                      field_value=1024, title=256),
    "mattermost": Limits(text=16_000, total_bytes=60_000),
    "googlechat": Limits(text=4000, total_bytes=32_000),
    "generic": Limits(text=10_000, total_bytes=256 * 1024),
}

ELLIPSIS = "…"


@dataclass(frozen=True)
class Item:
    """One investigation as chat lines, in plain text (each platform escapes it)."""

    title: str
    headline: str
    verdict: str
    regressed: bool
    causes: tuple[str, ...]
    counterfactual: str
    caveats: int
    lever: str = ""  # "What to change: ..." from the target's top recommendation, when there is one
    age: str = ""  # how old the data is, when it stopped more than two buckets ago


def items(results: Sequence[InvestigationResult]) -> list[Item]:
    """Plain-text summaries, regressions first."""
    now = datetime.now(UTC)
    out = []
    for r in sorted(results, key=lambda r: not r.regression.detected):
        causes = []
        # Within normal noise: the verdict is the news; its causes would only be noise in a chat message.
        for c in wording.upstream(r)[:3] if r.regression.detected else []:
            if not notable(c.share) and not c.significant:
                continue
            causes.append(f"{r.title(c.node)}: {wording.delta(c.contribution, r.observed.unit)} "
                          f"({wording.pct(c.share)}{', significant' if c.significant else ', not significant'})")
        out.append(Item(
            title=r.title(r.target)[:1].upper() + r.title(r.target)[1:] + (f" in {r.scope}" if r.scope else ""),
            headline=wording.headline(r),
            verdict=(f"{wording.verdict(r)}: {format_value(r.observed.baseline, r.observed.unit)} → "
                     f"{format_value(r.observed.current, r.observed.unit)} ({wording.change_text(r)})"),
            regressed=r.regression.detected,
            causes=tuple(causes),
            counterfactual=wording.counterfactual_text(r) if r.regression.detected and wording.top_cause(r) else "",
            caveats=len(r.caveats),
            age=wording.data_age(r, now, what="this summary"),
        ))
    return out


def with_levers(its: list[Item], ordered: Sequence[InvestigationResult],
                recommendations: Sequence[Recommendations]) -> list[Item]:
    """``its`` (in ``ordered``'s order) with each recommendation's chat line on its target's item."""
    its = list(its)
    for recs in recommendations:
        line = effect_wording.chat_line(recs)
        if not line or not its:
            continue
        i = next((k for k, r in enumerate(ordered) if r.target == recs.target and not its[k].lever),
                 next((k for k, it in enumerate(its) if not it.lever), None))
        if i is not None:
            its[i] = replace(its[i], lever=line)
    return its


def cut(text: str, limit: int, tail: str = "") -> str:
    """``text`` within ``limit`` characters, cut at a word boundary with '…' and ``tail`` when too long."""
    if len(text) <= limit:
        return text
    room = max(limit - len(tail) - len(ELLIPSIS), 0)
    head = text[:room]
    if " " in head[room // 2:]:
        head = head[: head.rfind(" ")]
    return (head + ELLIPSIS + tail)[:limit]


def _safe_url(url: str) -> str:
    """The report link, only if it is a plain http(s) URL (it is put into markup)."""
    return url if re.fullmatch(r"https?://[^\s<>|\"'`]+", url or "") else ""


# --- per-platform builders -----------------------------------------------------------------

def _more(n: int) -> str:
    return f"…and {n} more in the full report" if n else ""


def _slack(title: str, its: list[Item], hidden: int, url: str, lim: Limits, missing: Sequence[str] = (),
           short: str = "") -> dict[str, Any]:
    link = f" <{url}|full report>" if url else ""
    # A header is plain text of at most 150 characters: a headline that does not fit gives way to the
    # report's short title (the headline is in the investigation's section below, whole).
    header = title if len(title) <= lim.title or not short else short
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": cut(header, lim.title),
                                                                "emoji": False}}]
    if missing:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(
            "*Not investigated* (see the report):\n" + "\n".join(f"• {slack_escape(m)}" for m in missing), lim.text)}})
    for it in its:
        body = "\n".join([f"*{slack_escape(it.title)}*: {slack_escape(it.verdict)}", slack_escape(it.headline)]
                         + ([f"_{slack_escape(it.age)}_"] if it.age else [])
                         + [f"• {slack_escape(c)}" for c in it.causes]
                         + ([f"_{slack_escape(it.counterfactual)}_"] if it.counterfactual else [])
                         + ([slack_escape(it.lever)] if it.lever else [])
                         + ([f"{plural(it.caveats, 'caveat')}: see the report"] if it.caveats else []))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(body, lim.text, link)}})
    if hidden:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(_more(hidden))}]})
    if url:
        blocks.append({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text",
                                                                                   "text": "Open full report"},
                                                        "url": url}]})
    fallback = (title + " " + " | ".join(it.headline for it in its) + (f" {_more(hidden)}" if hidden else "")
                + (" | Not investigated: " + "; ".join(missing) if missing else ""))
    return {"text": cut(slack_escape(fallback), lim.text, f" {url}" if url else ""), "blocks": blocks,
            "unfurl_links": False}


def _teams(title: str, its: list[Item], hidden: int, url: str, lim: Limits, missing: Sequence[str] = (),
           short: str = "") -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": md_escape(title), "weight": "Bolder",
                                   "size": "Large", "wrap": True}]
    if missing:
        body.append({"type": "TextBlock", "wrap": True, "color": "Warning",
                     "text": md_escape("Not investigated (see the report): " + "; ".join(missing))})
    for it in its:
        body += [
            {"type": "TextBlock", "text": md_escape(it.title), "weight": "Bolder", "wrap": True, "spacing": "Large",
             "color": "Attention" if it.regressed else "Good"},
            {"type": "TextBlock", "text": md_escape(it.headline), "wrap": True},
            *([{"type": "TextBlock", "text": md_escape(it.age), "wrap": True, "color": "Warning"}] if it.age else []),
            {"type": "FactSet", "facts": [{"title": "Verdict", "value": md_escape(it.verdict)}]
             + [{"title": f"Cause {i + 1}", "value": md_escape(c)} for i, c in enumerate(it.causes)]
             + ([{"title": "What to change", "value": md_escape(it.lever.removeprefix("What to change: "))}]
                if it.lever else [])},
        ]
        if it.counterfactual:
            body.append({"type": "TextBlock", "text": md_escape(it.counterfactual), "wrap": True, "isSubtle": True})
    if hidden:
        body.append({"type": "TextBlock", "text": md_escape(_more(hidden)), "wrap": True, "isSubtle": True})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body, "msteams": {"width": "Full"}}
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open full report", "url": url}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def _discord(title: str, its: list[Item], hidden: int, url: str, lim: Limits, missing: Sequence[str] = (),
             short: str = "") -> dict[str, Any]:
    embeds = []
    for it in its:
        desc = "\n".join([md_escape(it.headline), *([f"*{md_escape(it.age)}*"] if it.age else []), "",
                          f"**{md_escape(it.verdict)}**"]
                         + ([f"*{md_escape(it.counterfactual)}*"] if it.counterfactual else [])
                         + ([md_escape(it.lever)] if it.lever else []))
        embed: dict[str, Any] = {
            "title": cut(md_escape(it.title), lim.title),
            "description": cut(desc, min(lim.embed_description, 1500)),
            "color": 0xD55E00 if it.regressed else 0x009E73,
            "fields": [{"name": "Top causes", "value": cut("\n".join(md_escape(c) for c in it.causes), lim.field_value)}]
            if it.causes else [],
        }
        if url:
            embed["url"] = url
        embeds.append(embed)
    content = (f"**{md_escape(title)}**" + (f"\n{md_escape(_more(hidden))}" if hidden else "")
               + "".join(f"\nNot investigated: {md_escape(m)}" for m in missing))
    content = cut(content, lim.text - len(url) - 30) + (f"\nFull report: <{url}>" if url else "")
    return {"content": content, "embeds": embeds[:10], "allowed_mentions": {"parse": []}}


def _markdown_text(title: str, its: list[Item], hidden: int, url: str, escape: Callable[[str], str],
                   missing: Sequence[str] = ()) -> list[str]:
    lines = [f"#### {escape(title)}"]
    if missing:
        lines += ["", "**Not investigated** (see the report):"] + [f"- {escape(m)}" for m in missing]
    for it in its:
        lines += ["", f"**{escape(it.title)}**: {escape(it.verdict)}", escape(it.headline)]
        lines += [f"*{escape(it.age)}*"] if it.age else []
        lines += [f"- {escape(c)}" for c in it.causes]
        if it.counterfactual:
            lines.append(f"*{escape(it.counterfactual)}*")
        if it.lever:
            lines.append(escape(it.lever))
    if hidden:
        lines += ["", escape(_more(hidden))]
    if url:
        lines += ["", f"[Open the full report]({url})"]
    return lines


def _mattermost(title: str, its: list[Item], hidden: int, url: str, lim: Limits, missing: Sequence[str] = (),
                short: str = "") -> dict[str, Any]:
    text = "\n".join(_markdown_text(title, its, hidden, url, md_escape, missing))
    if len(its) > 1:  # too long: payload() shows fewer investigations rather than cutting one in half
        return {"text": text, "username": "whydunnit"}
    return {"text": cut(text, lim.text, f" [full report]({url})" if url else ""), "username": "whydunnit"}


def _googlechat(title: str, its: list[Item], hidden: int, url: str, lim: Limits, missing: Sequence[str] = (),
                short: str = "") -> dict[str, Any]:
    sections = []
    if missing:
        sections.append({"header": "Not investigated", "widgets": [{"textParagraph": {"text": cut(
            "<br>".join(html_escape(m) for m in missing), lim.text)}}]})
    for it in its:
        html = "<br>".join([f"<b>{html_escape(it.verdict)}</b>", html_escape(it.headline)]
                           + ([f"<i>{html_escape(it.age)}</i>"] if it.age else [])
                           + [f"• {html_escape(c)}" for c in it.causes]
                           + ([f"<i>{html_escape(it.counterfactual)}</i>"] if it.counterfactual else [])
                           + ([html_escape(it.lever)] if it.lever else []))
        sections.append({"header": html_escape(cut(it.title, 200)),
                         "widgets": [{"textParagraph": {"text": cut(html, lim.text)}}]})
    if hidden or url:
        widgets: list[dict[str, Any]] = []
        if hidden:
            widgets.append({"textParagraph": {"text": html_escape(_more(hidden))}})
        if url:
            widgets.append({"buttonList": {"buttons": [{"text": "Open full report",
                                                         "onClick": {"openLink": {"url": url}}}]}})
        sections.append({"widgets": widgets})
    text = gchat_text_escape(cut(title, 500)) + (f": {url}" if url else "")
    return {"text": text, "cardsV2": [{"cardId": "whydunnit-report",
                                       "card": {"header": {"title": gchat_text_escape(cut(title, 200)), "subtitle": "whydunnit"},
                                                "sections": sections}}]}


def _generic(title: str, its: list[Item], hidden: int, url: str, lim: Limits,
             results: Sequence[InvestigationResult] = (), missing: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "schema": "whydunnit.chat-summary/1",
        "title": title,
        "report_url": url,
        **({"not_investigated": list(missing)} if missing else {}),
        "summary": [{"title": it.title, "headline": it.headline, "verdict": it.verdict, "regressed": it.regressed,
                     "causes": list(it.causes), "counterfactual": it.counterfactual, **({"data_age": it.age} if it.age else {}),
                     **({"what_to_change": it.lever} if it.lever else {})} for it in its],
        "more": hidden,
        "investigations": [r.to_dict() for r in results][: len(its)],
    }


_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "slack": _slack, "teams": _teams, "discord": _discord, "mattermost": _mattermost, "googlechat": _googlechat,
}


def size(payload: dict[str, Any]) -> int:
    """Bytes of the JSON body as it will be sent."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def violations(kind: str, payload: dict[str, Any]) -> list[str]:
    """Which of ``kind``'s limits ``payload`` breaks (empty when it fits)."""
    lim = LIMITS[kind]
    bad = []
    if size(payload) > lim.total_bytes:
        bad.append(f"body is {size(payload)} bytes > {lim.total_bytes}")
    if kind == "slack":
        if len(payload.get("blocks", [])) > lim.blocks:
            bad.append(f"{len(payload['blocks'])} blocks > {lim.blocks}")
        for b in payload.get("blocks", []):
            text = b.get("text", {}).get("text", "") if isinstance(b.get("text"), dict) else ""
            if b["type"] == "section" and len(text) > lim.text:
                bad.append(f"section of {len(text)} chars > {lim.text}")
            if b["type"] == "header" and len(text) > lim.title:
                bad.append(f"header of {len(text)} chars > {lim.title}")
    if kind == "discord":
        if len(payload.get("content", "")) > lim.text:
            bad.append(f"content of {len(payload['content'])} chars > {lim.text}")
        embeds = payload.get("embeds", [])
        total = sum(len(e.get("title", "")) + len(e.get("description", ""))
                    + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", [])) for e in embeds)
        if total > lim.embed_total:
            bad.append(f"embeds hold {total} chars > {lim.embed_total}")
        if len(embeds) > 10:
            bad.append(f"{len(embeds)} embeds > 10")
    if kind == "mattermost" and len(payload.get("text", "")) > lim.text:
        bad.append(f"text of {len(payload['text'])} chars > {lim.text}")
    return bad


def payload(kind: str, results: InvestigationResult | Sequence[InvestigationResult], report_url: str = "",
            title: str | None = None, skipped: int | Sequence[str] = (),
            recommendations: Sequence[Recommendations] = ()) -> dict[str, Any]:
    """The JSON body for ``kind`` summarising ``results``, within the platform's limits.

    Investigations that do not fit are dropped from the end (regressions come first) and
    counted in an "…and N more" line; the link to the full report is always kept. Each of
    ``recommendations`` with a lever that clearly helps adds one "What to change: ..." line to
    the investigation of the same target (else to the first one). ``skipped``: the targets the job
    could not investigate ("target in scope: why"), each named in a part of its own (or how many).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown chat kind {kind!r}; use one of {', '.join(KINDS)}")
    rs = [results] if isinstance(results, InvestigationResult) else list(results)
    its = with_levers(items(rs), sorted(rs, key=lambda r: not r.regression.detected), recommendations)
    url = _safe_url(report_url)
    head = title or (wording.headline(rs[0]) if len(rs) == 1 else wording.multi_headline(rs).split(". ")[0].rstrip(".") + ".")
    short = wording.report_title(rs) if rs else head
    missing = _missing(skipped)
    lim = LIMITS[kind]
    ordered = sorted(rs, key=lambda r: not r.regression.detected)

    def build(shown: int) -> dict[str, Any] | None:
        if kind == "generic":
            body = _generic(head, its[:shown], len(its) - shown, url, lim, ordered, missing)
        else:
            body = _BUILDERS[kind](head, its[:shown], len(its) - shown, url, lim, missing, short)
        if kind == "discord" and len(body["embeds"]) < min(shown, 10):
            return None
        return None if violations(kind, body) else body

    # The largest number of investigations that fits (fitting is monotonic in the count): binary search.
    lo, hi, best = 1, len(its), None
    while lo <= hi:
        mid = (lo + hi) // 2
        body = build(mid)
        if body is not None:
            best, lo = body, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    # Even one investigation is too big: keep only its headline, cut to the bone.
    tiny = [Item(title=its[0].title, headline=cut(its[0].headline, 500), verdict=its[0].verdict,
                 regressed=its[0].regressed, causes=(), counterfactual="", caveats=0)] if its else []
    few = tuple(cut(m, 120) for m in missing[:3])
    if kind == "generic":
        return _generic(cut(head, 500), tiny, len(its) - len(tiny), url, lim, missing=few)
    return _BUILDERS[kind](cut(head, 500), tiny, len(its) - len(tiny), url, lim, few, short)


MAX_SKIPPED = 5  # targets named one by one; more are counted


def _missing(skipped: int | Sequence[str]) -> tuple[str, ...]:
    """The lines naming the targets not investigated (each cut to 300 characters), or one counting them."""
    if isinstance(skipped, int):
        return (f"{plural(skipped, 'target')} could not be investigated",) if skipped else ()
    lines = tuple(cut(" ".join(str(line).split()), 300) for line in skipped[:MAX_SKIPPED])
    more = len(skipped) - MAX_SKIPPED
    return lines + ((f"…and {plural(more, 'more target')}",) if more > 0 else ())
