"""Post chat payloads to webhooks with httpx: timeouts, retries, and secrets kept secret.

:func:`post` sends one JSON body to one webhook and returns a :class:`Delivery` saying what
happened; it never raises for HTTP or network trouble. On 429 it waits what the server asks
(the ``Retry-After`` header in seconds or as an HTTP date, or Discord's ``retry_after`` body
field) and tries again; on 5xx, timeouts and connection errors it backs off exponentially
with full jitter up to :attr:`RetryPolicy.attempts`; any other 4xx stops at once (the payload
or the URL is wrong, and retrying will not fix it). Webhook URLs are secrets: they are read
from the environment or a file (:func:`resolve_url`), and only :func:`mask`-ed forms ever
reach a log line, a :class:`Delivery` or an error message.
"""

from __future__ import annotations

import email.utils
import logging
import math
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
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included
    backoff_s: float = 1.0  # first backoff; doubles each retry (full jitter)
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 300.0  # a longer Retry-After is reported, not slept through
    timeout_s: float = 10.0  # connect/read/write/pool, each
    deadline_s: float = 60.0  # the whole post, retries and waits included: a slow drip cannot hold a job


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
    """Seconds the server asks us to wait, from ``Retry-After`` or Discord's JSON ``retry_after``."""
    header = response.headers.get("retry-after")
    if header:
        header = header.strip()
        try:
            seconds = float(header)
        except ValueError:
            seconds = None
        if seconds is not None:
            return max(seconds, 0.0) if math.isfinite(seconds) else None  # "nan", "inf": no usable advice
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(when.timestamp() - now(), 0.0)
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float) and math.isfinite(body["retry_after"]):
        return max(float(body["retry_after"]), 0.0)
    return None


def _backoff(attempt: int, policy: RetryPolicy, rng: Callable[[], float]) -> float:
    return rng() * min(policy.max_backoff_s, policy.backoff_s * 2 ** (attempt - 1))


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


def post(channel: Channel, body: dict[str, Any], policy: RetryPolicy | None = None, *,
         client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
         rng: Callable[[], float] = random.random, clock: Callable[[], float] = time.monotonic) -> Delivery:
    """POST ``body`` as JSON to ``channel``; retry as the module docstring says; never raise.

    The whole post, retries and waits included, ends by ``policy.deadline_s``.
    """
    policy = policy or RetryPolicy()
    target = mask(channel.url)
    started = clock()
    deadline = started + policy.deadline_s
    status: int | None = None
    error = ""
    attempt = 0

    def done(ok: bool) -> Delivery:
        d = Delivery(channel=channel.name, kind=channel.kind, ok=ok, status=status, attempts=attempt,
                     error=scrub(error, channel.url), target=target, elapsed_s=clock() - started)
        (log.info if ok else log.warning)("chat post to %s (%s) %s after %d attempt(s)%s", channel.name, target,
                                          "delivered" if ok else "failed", attempt, f": {d.error}" if d.error else "")
        return d

    try:
        check_url(channel.url)
    except SecretError as exc:
        error = str(exc)
        return done(False)
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(policy.timeout_s), follow_redirects=False)
    try:
        while attempt < policy.attempts:
            left = deadline - clock()
            if left <= 0:
                error = f"deadline of {policy.deadline_s:g} s passed: {error or 'no answer'}"
                return done(False)
            attempt += 1
            wait: float | None = None
            try:
                def send(h: httpx.Client = http) -> httpx.Response:
                    return h.post(channel.url, json=body, headers={"User-Agent": "whydunnit"})

                # Our own client gets a hard bound on the whole request; a caller's is the caller's to bound.
                response = _bounded(send, left, http) if own else send()
            except httpx.TimeoutException:
                status, error = None, f"timed out after {min(policy.timeout_s, left):g} s"
                wait = _backoff(attempt, policy, rng)
                if own and http.is_closed:  # the bound closed it: a fresh client for the next try
                    http = httpx.Client(timeout=httpx.Timeout(policy.timeout_s), follow_redirects=False)
            except httpx.TransportError as exc:
                status, error = None, f"network error: {exc.__class__.__name__}"
                wait = _backoff(attempt, policy, rng)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
                status, error = None, f"cannot post to this URL: {exc.__class__.__name__}"
                return done(False)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    error = ""
                    return done(True)
                detail = response.text.strip().replace("\n", " ")[:200]
                error = f"HTTP {status}" + (f": {detail}" if detail else "")
                if status == 429:
                    asked = retry_after(response)
                    wait = asked if asked is not None else _backoff(attempt, policy, rng)
                    if wait > policy.max_retry_after_s:
                        error += f" (asked to wait {wait:.0f} s, more than the {policy.max_retry_after_s:g} s allowed)"
                        return done(False)
                elif status >= 500:
                    wait = _backoff(attempt, policy, rng)
                else:
                    return done(False)  # other 4xx: the request is wrong; retrying cannot help
            if attempt < policy.attempts and wait is not None:
                if clock() + wait >= deadline:
                    error = f"deadline of {policy.deadline_s:g} s passed: {error}"
                    return done(False)
                log.info("chat post to %s: %s; retrying in %.2f s", target, scrub(error, channel.url), wait)
                sleep(wait)
        error = f"gave up after {attempt} attempt(s): {error}"
        return done(False)
    finally:
        if own:
            http.close()


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
