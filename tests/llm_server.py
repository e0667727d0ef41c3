"""A loopback HTTP server that speaks the OpenAI chat-completions protocol, for the action-drafting tests.

:class:`FakeModel` listens on 127.0.0.1 (a free port) at ``POST /v1/chat/completions``, checks each
request's shape (a model name, a list of ``{role, content}`` messages), records what arrived (body and
``Authorization`` header), and answers from a script of :class:`Reply`: a chat-completions object
holding the given text, or something hostile (raw bytes that are not JSON, a body far over any bound,
an HTTP error, a redirect, a reply that trickles in too slowly).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    content: str | None = None  # the model's text, wrapped in a chat-completions object
    raw: bytes | None = None  # or these bytes as they are
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0  # send the body in pieces this far apart


def completion(content: str, model: str = "test-model") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class FakeModel:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = None
                outer.requests.append({"path": self.path, "body": body,
                                       "authorization": self.headers.get("Authorization")})
                if self.path != "/v1/chat/completions":
                    outer.problems.append(f"unexpected path {self.path}")
                if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not all(
                        isinstance(m, dict) and m.get("role") in {"system", "user", "assistant"}
                        and isinstance(m.get("content"), str) for m in body["messages"]):
                    outer.problems.append("request is not a chat-completions body")
                reply = outer.replies.pop(0) if outer.replies else Reply(status=500)
                data = reply.raw if reply.raw is not None else json.dumps(completion(reply.content or "")).encode()
                self.send_response(reply.status)
                for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if reply.trickle_s:
                        for i in range(0, len(data), 16):
                            self.wfile.write(data[i : i + 16])
                            self.wfile.flush()
                            time.sleep(reply.trickle_s)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
