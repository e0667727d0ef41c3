"""Loopback HTTP servers that play the chat platforms for the tests.

Each :class:`FakePlatform` listens on 127.0.0.1 (a free port), checks every posted body
against the platform's documented shape and size limits (written here independently of
``reports.chat``), records what arrived, and answers from a script: e.g. ``429`` with a
``Retry-After`` header, ``500`` then ``200``, ``400``, or a slow answer for timeouts. A
body that breaks the platform's rules gets the platform's own 400 answer, so a test sees it.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SECRET = "T0SECRET/B0SECRET/xoxbSuperSecretToken"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay_s: float = 0.0


def _len(s: Any) -> int:
    return len(s) if isinstance(s, str) else 0


def check(kind: str, body: Any, raw: bytes) -> list[str]:
    """Problems with ``body`` as ``kind`` would see them (empty: accepted)."""
    bad: list[str] = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    if kind == "slack":
        if not isinstance(body.get("text"), str) or not body["text"]:
            bad.append("missing text fallback")
        blocks = body.get("blocks", [])
        if len(blocks) > 50:
            bad.append("more than 50 blocks")
        for b in blocks:
            if b.get("type") == "section" and _len(b["text"]["text"]) > 3000:
                bad.append("section text over 3000")
            if b.get("type") == "header" and (b["text"]["type"] != "plain_text" or _len(b["text"]["text"]) > 150):
                bad.append("bad header")
            if b.get("type") not in {"header", "section", "context", "actions", "divider"}:
                bad.append(f"unknown block {b.get('type')}")
    elif kind == "teams":
        if len(raw) > 28 * 1024:
            bad.append("over 28 KB")
        att = body.get("attachments") or [{}]
        card = att[0].get("content", {})
        if body.get("type") != "message" or att[0].get("contentType") != "application/vnd.microsoft.card.adaptive":
            bad.append("not a message with an Adaptive Card attachment")
        if card.get("type") != "AdaptiveCard" or not card.get("version") or not isinstance(card.get("body"), list):
            bad.append("not an AdaptiveCard")
    elif kind == "discord":
        if _len(body.get("content")) > 2000:
            bad.append("content over 2000")
        embeds = body.get("embeds", [])
        if len(embeds) > 10:
            bad.append("more than 10 embeds")
        total = 0
        for e in embeds:
            total += _len(e.get("title")) + _len(e.get("description"))
            if _len(e.get("title")) > 256 or _len(e.get("description")) > 4096 or len(e.get("fields", [])) > 25:
                bad.append("embed over its limits")
            for f in e.get("fields", []):
                total += _len(f["name"]) + _len(f["value"])
                if _len(f["name"]) > 256 or _len(f["value"]) > 1024:
                    bad.append("field over its limits")
        if total > 6000:
            bad.append("embeds over 6000 characters")
        if not body.get("content") and not embeds:
            bad.append("empty message")
    elif kind == "mattermost":
        if not body.get("text") or _len(body["text"]) > 16383:
            bad.append("text missing or over 16383")
    elif kind == "googlechat":
        if len(raw) > 32_000:
            bad.append("over 32,000 bytes")
        if not body.get("text") and not body.get("cardsV2"):
            bad.append("neither text nor cardsV2")
    elif kind == "generic" and (not body.get("schema") or not isinstance(body.get("summary"), list)):
        bad.append("not a whydunnit summary")
    return bad


_OK = {"slack": Reply(200, body="ok"), "teams": Reply(202), "discord": Reply(204), "mattermost": Reply(200, body="ok"),
       "googlechat": Reply(200, {"Content-Type": "application/json"}, "{}"), "generic": Reply(200)}


class FakePlatform:
    """A webhook endpoint for ``kind`` at ``url`` (with a secret path), answering ``script`` in turn."""

    def __init__(self, kind: str, script: list[Reply] | None = None) -> None:
        self.kind = kind
        self.script = list(script or [])
        self.received: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.problems: list[list[str]] = []
        self._lock = threading.Lock()
        platform = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with platform._lock:
                    platform.times.append(time.monotonic())
                    reply = platform.script.pop(0) if platform.script else _OK[platform.kind]
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                problems = check(platform.kind, body, raw) if self.path.endswith(SECRET) else ["wrong path"]
                with platform._lock:
                    platform.received.append(body)
                    platform.problems.append(problems)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if problems and reply.status < 300:
                    reply = Reply(400, body="invalid_payload: " + "; ".join(problems))
                data = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{SECRET}"
        # A short poll keeps shutdown (and so each test) quick.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakePlatform:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
