"""Post chat payloads to webhooks with httpx: timeouts, retries, and secrets kept secret.

:func:`post` sends one JSON body to one webhook and returns a :class:`Delivery` saying what
happened; it never raises for HTTP or network trouble. It retries by :mod:`core.retry`: on 429
it waits what the server asks (the ``Retry-After`` header in seconds or as an HTTP date, or
Discord's ``retry_after`` body field) and tries again; on 5xx, timeouts and connection errors it backs off exponentially
with full jitter up to :attr:`RetryPolicy.attempts`; any other 4xx stops at once (the payload
or the URL is wrong, and retrying will not fix it). Webhook URLs are secrets: they are read
from the environment or a file (:func:`resolve_url`), and only :func:`mask`-ed forms ever
reach a log line, a :class:`Delivery` or an error message.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from core import retry
from core.secrets import Redactor, mask_webhook, webhook_secrets

log = logging.getLogger("reports.chat")


class MaskURLs(logging.Filter):
    """Masks every URL in a log record's arguments.

    httpx logs each request's full URL at INFO ("HTTP Request: POST https://hooks..."), and a
    webhook's URL is its secret, so the httpx logger gets this filter (added once, on import).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(mask(str(a)) if isinstance(a, httpx.URL) or (isinstance(a, str) and "://" in a)
                                else a for a in record.args)
        return True


for _name in ("httpx",):  # httpcore logs only host and port, never the path
    if not any(isinstance(f, MaskURLs) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(MaskURLs())


@dataclass(frozen=True)
class RetryPolicy(retry.Policy):
    """:class:`core.retry.Policy` with a chat post's defaults (full jitter) and each request's own timeout."""

    attempts: int = 5  # tries in all, the first included
    backoff_s: float = 1.0  # first backoff; doubles each retry (full jitter)
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0  # a longer Retry-After is reported, not slept through
    deadline_s: float = 60.0  # the whole post, retries and waits included: a slow drip cannot hold a job
    jitter: bool = True
    timeout_s: float = 10.0  # connect/read/write/pool, each


@dataclass(frozen=True)
class Channel:
    """Where to post: ``kind`` (slack, teams...), a display ``name`` and the secret ``url``."""

    kind: str
    name: str
    url: str = field(repr=False)

    def __repr__(self) -> str:  # a Channel may end up in a traceback or a log: never show the URL
        return f"Channel(kind={self.kind!r}, name={self.name!r}, url={mask(self.url)!r})"


@dataclass(frozen=True)
class Delivery:
    """What happened to one post. ``error`` is already masked."""

    channel: str
    kind: str
    ok: bool
    status: int | None
    attempts: int
    error: str = ""
    target: str = ""  # the masked URL
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "kind": self.kind, "ok": self.ok, "status": self.status,
                "attempts": self.attempts, "error": self.error, "target": self.target,
                "elapsed_s": round(self.elapsed_s, 3)}


class SecretError(ValueError):
    """A webhook URL could not be read from where the configuration says it is."""


def mask(url: str) -> str:
    """``https://hooks.example.com/services/T0/B0/XYZ`` -> ``https://hooks.example.com/***`` (the ground floor's rule)."""
    return mask_webhook(url)


def scrub(text: str, url: str) -> str:
    """``text`` with the URL and each of its secret-looking pieces replaced by its mask."""
    if not url:
        return text
    return Redactor({url: mask(url), **dict.fromkeys(webhook_secrets(url), "***")})(text)


def resolve_url(url_env: str | None = None, url_file: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> str:
    """Read a webhook URL from an environment variable or a file (first line); never from config text."""
    env = os.environ if environ is None else environ
    if url_env:
        value = env.get(url_env, "").strip()
        if not value:
            raise SecretError(f"environment variable {url_env} is not set or empty")
        return value
    if url_file:
        try:
            value = Path(url_file).read_text(encoding="utf-8").strip().splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError):
            raise SecretError(f"cannot read a webhook URL from file {str(url_file)!r}") from None
        if not value:
            raise SecretError(f"file {str(url_file)!r} is empty")
        return value
    raise SecretError("no url_env or url_file given")


def retry_after(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asks us to wait, from ``Retry-After`` (seconds or an HTTP date) or Discord's JSON
    ``retry_after``, read by the one rule (:func:`core.retry.retry_after`)."""
    header = response.headers.get("retry-after")
    if header:
        asked = retry.retry_after(header, now)
        if asked is not None:
            return asked
    try:
        body = response.json()
    except ValueError:
        return None
    return retry.retry_after(body.get("retry_after"), now) if isinstance(body, dict) else None


def check_url(url: str) -> None:
    """Refuse a webhook URL that cannot be posted to, saying why without showing it."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise SecretError("the webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port outside 0..65535
    except ValueError as exc:
        raise SecretError(f"the webhook URL is malformed ({str(exc).split(':')[0]})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SecretError("the webhook URL must start with https:// (or http://) and name a host")
    if port == 0:
        raise SecretError("the webhook URL names port 0")


def _bounded(call: Callable[[], httpx.Response], seconds: float, http: httpx.Client) -> httpx.Response:
    """Run one request with a hard bound on its whole duration (httpx's timeouts are per read).

    The request runs in a helper thread; past the bound the client is closed, which ends the
    request at its next read, and the caller carries on at once.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["response"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="chat-post", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        http.close()
        raise httpx.TimeoutException(f"no complete answer within {seconds:.3g} s")
    if "error" in box:
        raise box["error"]
    return box["response"]


@dataclass(frozen=True)
class _Sent:
    """What one try of a post gave: the status (None: no answer) and the error (masked later)."""

    status: int | None
    error: str = ""
    ok: bool = False


def post(channel: Channel, body: dict[str, Any], policy: RetryPolicy | None = None, *,
         client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
         rng: Callable[[], float] = random.random, clock: Callable[[], float] = time.monotonic) -> Delivery:
    """POST ``body`` as JSON to ``channel``; retry as the module docstring says; never raise.

    The whole post, retries and waits included, ends by ``policy.deadline_s`` (:func:`core.retry.run`).
    """
    policy = policy or RetryPolicy()
    target = mask(channel.url)
    started = clock()

    def done(sent: _Sent | None, attempts: int, error: str) -> Delivery:
        ok = sent is not None and sent.ok
        d = Delivery(channel=channel.name, kind=channel.kind, ok=ok, status=sent.status if sent else None,
                     attempts=attempts, error=scrub(error, channel.url), target=target, elapsed_s=clock() - started)
        (log.info if ok else log.warning)("chat post to %s (%s) %s after %d attempt(s)%s", channel.name, target,
                                          "delivered" if ok else "failed", attempts, f": {d.error}" if d.error else "")
        return d

    try:
        check_url(channel.url)
    except SecretError as exc:
        return done(None, 0, str(exc))
    own = client is None

    def fresh() -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(policy.timeout_s), follow_redirects=False)

    held = [client or fresh()]

    def attempt(number: int, left: float) -> retry.Try[_Sent]:
        http = held[0]

        def send() -> httpx.Response:
            return http.post(channel.url, json=body, headers={"User-Agent": "whydunnit"})

        try:
            # Our own client gets a hard bound on the whole request; a caller's is the caller's to bound.
            response = _bounded(send, left, http) if own else send()
        except httpx.TimeoutException:
            if own and http.is_closed:  # the bound closed it: a fresh client for the next try
                held[0] = fresh()
            return retry.Try(_Sent(None, f"timed out after {min(policy.timeout_s, left):g} s"), again=True)
        except httpx.TransportError as exc:
            return retry.Try(_Sent(None, f"network error: {exc.__class__.__name__}"), again=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            return retry.Try(_Sent(None, f"cannot post to this URL: {exc.__class__.__name__}"))
        status = response.status_code
        if 200 <= status < 300:
            return retry.Try(_Sent(status, ok=True))
        detail = response.text.strip().replace("\n", " ")[:200]
        sent = _Sent(status, f"HTTP {status}" + (f": {detail}" if detail else ""))
        if status == 429:
            return retry.Try(sent, again=True, retry_after=retry_after(response))
        # 5xx may pass; any other 4xx means the request is wrong, and retrying cannot help.
        return retry.Try(sent, again=status >= 500)

    def retrying(number: int, sent: _Sent, wait: float) -> None:
        log.info("chat post to %s: %s; retrying in %.2f s", target, scrub(sent.error, channel.url), wait)

    try:
        out = retry.run(attempt, policy, sleep=sleep, clock=clock, rng=rng, on_retry=retrying)
    finally:
        if own:
            held[0].close()
    sent, error = out.value, out.value.error if out.value else ""
    if out.stopped == "deadline":
        error = f"deadline of {policy.deadline_s:g} s passed: {error or 'no answer'}"
    elif out.stopped == "retry_after":
        error += f" (asked to wait {out.asked_s:.0f} s, more than the {policy.max_retry_after_s:g} s allowed)"
    elif out.stopped == "attempts":
        error = f"gave up after {out.attempts} attempt(s): {error}"
    return done(sent, out.attempts, error)


def deliver(label: str, kind: str, url_env: str | None, url_file: str | Path | None, body: dict[str, Any],
            policy: RetryPolicy, *, environ: Mapping[str, str] | None = None, **post_kw: Any) -> Delivery:
    """Resolve a channel's secret URL and post to it. Never raises: every failure is a failed Delivery."""
    try:
        url = resolve_url(url_env, url_file, environ)
    except SecretError as exc:
        return Delivery(channel=label, kind=kind, ok=False, status=None, attempts=0, error=str(exc))
    try:
        return post(Channel(kind=kind, name=label, url=url), body, policy, **post_kw)
    except Exception as exc:  # a fault of ours must not cost the next channel its post
        log.exception("chat post to %s failed unexpectedly", label)
        return Delivery(channel=label, kind=kind, ok=False, status=None, attempts=0, target=mask(url),
                        error=scrub(f"unexpected error: {exc.__class__.__name__}: {exc}", url))


def record_failure(path: Path, delivery: Delivery, body: dict[str, Any], report: str) -> None:
    """Append a failed post (masked target, error, the payload to resend) as one JSON line."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **delivery.to_dict(), "report": report,
            "payload": body}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
