"""One Prometheus range request over HTTP, bounded in time and size; what went wrong as one line.

:class:`Client` sends ``GET /api/v1/query_range`` through httpcore (the transport under httpx)
over :mod:`collectors.bounded_http`'s sockets, which never wait past the request's deadline:
connecting, the TLS handshake, sending and every read of the answer share ``timeout_s`` as a
whole, so an answer that drips a byte a second ends when a silent one would (a per-read timeout
never fires on a drip). The body is streamed and counted as it arrives, compressed and unpacked,
and refused past ``max_response_mb``. What may work later (429,
5xx other than Prometheus's own "query timed out", timeouts, a broken connection) is retried by
:mod:`core.retry` within ``deadline_s``. The answer is checked before use (:func:`series`): each
series' labels are strings and each point a time inside the range asked for with a number, or
the query fails saying what is wrong. Messages are single printable lines and never hold the
credentials (:attr:`Client.redact` scrubs them in every spelling a server could echo).
"""

from __future__ import annotations

import json
import math
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpcore

from collectors.bounded_http import Backend, Deadline, TooLarge, Unreadable, read_body
from collectors.observations import InputError
from collectors.prometheus_settings import MAX_BACKOFF_S, PrometheusSettings, QuerySettings
from core import retry
from core.errors import Unavailable, WhydunnitError, printable
from core.secrets import Redactor, basic_credential, mask_url

__all__ = ["Client", "QueryError", "Series", "Unreachable", "series"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_ERROR_BODY = 64 << 10  # an error answer is read this far: more than any message needs
_MIB = 1 << 20

Series = tuple[dict[str, str], list[tuple[int, float]]]  # labels, (Unix seconds, value) points


class QueryError(WhydunnitError):
    """One query failed; ``str`` is its one-line explanation. ``server_down``: the next ones would fail too."""

    def __init__(self, message: str, server_down: bool = False) -> None:
        super().__init__(message)
        self.server_down = server_down


class Unreachable(QueryError, Unavailable):
    """The server did not answer in time, could not be reached or kept failing: it may work later."""


def _said(value: Any, limit: int = 60) -> str:
    """A value from the answer as JSON spells it, short and printable (for saying what is wrong with it)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return printable(text, limit)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: Any) -> float | None:
    """A JSON number, or a string Prometheus writes a number as ("1.5", "NaN", "+Inf"); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except (ValueError, OverflowError):
        return None


def series(doc: Any, start: int, end: int) -> list[Series]:
    """The series of a ``query_range`` answer; a :class:`ValueError` saying what is wrong if it is not one.

    Every point must be at a time inside ``[start, end]`` (what was asked) with a value that is a
    number (NaN and infinities included: the caller drops them).
    """
    if not isinstance(doc, dict):
        raise ValueError(f"it is a {_kind(doc)}, not an object")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise ValueError("it has no data")
    if data.get("resultType") != "matrix":
        raise ValueError(f'resultType is {_said(data.get("resultType"))}, not "matrix"')
    result = data.get("result")
    if not isinstance(result, list):
        raise ValueError(f"result is a {_kind(result)}, not a list of series")
    out: list[Series] = []
    seen: dict[frozenset[tuple[str, str]], int] = {}
    for i, item in enumerate(result, 1):
        if not isinstance(item, dict):
            raise ValueError(f"series {i} is {_said(item)}, not an object")
        metric, values = item.get("metric", {}), item.get("values", [])
        if not isinstance(metric, dict):
            raise ValueError(f"series {i}: metric is a {_kind(metric)}, not an object of labels")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metric.items()):
            raise ValueError(f"series {i}: the labels {_said(metric)} are not all strings")
        key = frozenset(metric.items())
        if key in seen:
            raise ValueError(f"series {i} repeats the labels of series {seen[key]}")
        seen[key] = i
        if not isinstance(values, list):
            raise ValueError(f"series {i}: values is a {_kind(values)}, not a list of [time, value] pairs")
        points: list[tuple[int, float]] = []
        times: set[int] = set()
        for point in values:
            if not isinstance(point, list) or len(point) != 2:
                raise ValueError(f"series {i}: the point {_said(point)} is not a [time, value] pair")
            t, v = _number(point[0]), _number(point[1])
            if t is None or not math.isfinite(t):
                raise ValueError(f"series {i}: the time {_said(point[0])} is not a Unix time")
            if not start - 1 <= t <= end + 1:
                raise ValueError(f"series {i}: the time {_said(point[0])} is outside the range asked for")
            if v is None:
                raise ValueError(f"series {i}: the value {_said(point[1])} at {_said(point[0])} is not a number")
            if int(t) in times:
                raise ValueError(f"series {i}: the time {_said(point[0])} appears twice")
            times.add(int(t))
            points.append((int(t), v))
        out.append((metric, points))
    return out


# --- the client --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Failed:
    """One try's failure: its message, whether the server is unusable, whether it is an outage."""

    message: str
    down: bool = False
    outage: bool = True


def _ssl_context(s: PrometheusSettings) -> ssl.SSLContext:
    """The TLS settings; a ``ca_file`` that cannot be read is an :class:`InputError` (one line, before any request)."""
    if not s.tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if s.ca_file is None:
        try:  # the bundle requests and httpx trust by default; the system's if certifi is absent
            import certifi

            return ssl.create_default_context(cafile=certifi.where())
        except ImportError:
            return ssl.create_default_context()
    where = str(s.ca_file)
    try:
        return ssl.create_default_context(cafile=where)
    except FileNotFoundError:
        raise InputError(f"prometheus.ca_file: cannot read {where!r} (No such file or directory); give the PEM file "
                         "of the CA that signed the server's certificate") from None
    except ssl.SSLError:
        raise InputError(f"prometheus.ca_file: {where!r} holds no PEM certificate; give the PEM file of the CA that "
                         "signed the server's certificate") from None
    except OSError as exc:
        raise InputError(f"prometheus.ca_file: cannot read {where!r} ({exc.strerror or type(exc).__name__})") from None


@dataclass
class Client:
    """Range queries against one server, bounded in time and size, retried by :mod:`core.retry`."""

    settings: PrometheusSettings
    requests_made: int = 0
    retried: int = 0
    notes: list[str] = field(default_factory=list)
    redact: Redactor = field(default_factory=Redactor)
    _pool: Any = None
    _deadline: Deadline = field(default_factory=Deadline)
    _headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        headers, auth = s.auth.resolve()  # an unusable credential source is an InputError: nothing can run
        secrets = [v.split(" ", 1)[-1] for v in headers.values()]
        if auth is not None:
            headers["Authorization"] = f"Basic {basic_credential(*auth)}"
            secrets += [auth[1], basic_credential(*auth)]
        self.redact = Redactor(secrets)
        self._headers = [(b"Accept", b"application/json"), (b"Accept-Encoding", b"gzip"),
                         (b"User-Agent", b"whydunnit"), *((k.encode(), v.encode()) for k, v in headers.items())]
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(s), max_connections=1,
                                             network_backend=Backend(self._deadline))
        if not s.tls_verify:
            self.notes.append(f"TLS certificates of {self.server} are not verified (tls_verify: false)")

    @property
    def server(self) -> str:
        return mask_url(self.settings.base_url)

    def close(self) -> None:
        self._pool.close()

    def range(self, q: QuerySettings, start: int, end: int, step: int) -> list[Series]:
        """One ``query_range`` (with its retries); raises :class:`QueryError` (:class:`Unreachable` for outages)."""
        s = self.settings
        # Prometheus gets a little less time than we wait, so a slow query ends in its own "timed out" answer;
        # it caps the value at its --query.timeout.
        params = {"query": q.promql, "start": start, "end": end, "step": step, "timeout": f"{s.timeout_s * 0.9:g}"}
        url = f"{s.base_url}/api/v1/query_range?{urlencode(params)}"

        def attempt(number: int, left: float) -> retry.Try[list[Series] | _Failed]:
            self.requests_made += 1
            return self._try(q, url, start, end, number - 1, min(s.timeout_s, left))

        policy = retry.Policy(attempts=s.retries + 1, backoff_s=s.backoff_s, max_backoff_s=MAX_BACKOFF_S,
                              max_retry_after_s=s.max_retry_after_s, deadline_s=s.deadline_s or math.inf)
        out = retry.run(attempt, policy)
        self.retried += max(0, out.attempts - 1)
        if isinstance(out.value, list):
            return out.value
        failed = out.value or _Failed(f"no time was left to ask {self.server}")
        message = self.redact(failed.message)
        if out.stopped == "retry_after":
            message += (f"; it asked to wait {out.asked_s:.0f} s (Retry-After), more than max_retry_after_s "
                        f"({s.max_retry_after_s:g} s)")
        elif out.stopped == "deadline":
            message += f"; stopped: deadline_s ({policy.deadline_s:g} s, a request with its retries and waits) ran out"
        raise (Unreachable if failed.outage else QueryError)(message, failed.down)

    def _try(self, q: QuerySettings, url: str, start: int, end: int, retries: int,
             budget: float) -> retry.Try[list[Series] | _Failed]:
        """One request with ``budget`` seconds for all of it."""
        s = self.settings
        tries = f" (after {retries} retries)" if retries else ""
        self._deadline.at = time.monotonic() + budget
        try:
            with self._pool.stream("GET", url, headers=self._headers,
                                   extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), budget)}
                                   ) as r:
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in r.headers}
                ok = r.status == 200
                body = read_body(r.iter_stream(), headers.get("content-encoding", ""),
                             int(s.max_response_mb * _MIB) if ok else _ERROR_BODY, cut=not ok)
                reason = r.extensions.get("reason_phrase", b"").decode("latin-1")
        except httpcore.TimeoutException as exc:
            within = f"within {budget:g} s" if budget >= s.timeout_s else "within what was left of deadline_s"
            if isinstance(exc, httpcore.ConnectTimeout):  # nothing answers (a firewall drops the packets)
                return retry.Try(_Failed(f"cannot reach Prometheus at {self.server}: no connection {within}{tries}",
                                         down=True), again=True)
            message = (f"no complete answer from {self.server} {within}{tries}; raise timeout_s, lower max_points "
                       "(smaller requests) or use a coarser bucket")
            return retry.Try(_Failed(message), again=True)
        except httpcore.ConnectError as exc:
            return retry.Try(_Failed(self._connection_failure(exc), down=True))
        except httpcore.RemoteProtocolError as exc:
            return retry.Try(_Failed(f"{self.server} did not answer in HTTP ({_first_line(exc)}){tries}: is url the "
                                     "Prometheus server and its port?", down=True), again=True)
        except httpcore.NetworkError as exc:
            return retry.Try(_Failed(f"the connection to {self.server} broke ({_first_line(exc)}){tries}"), again=True)
        except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError) as exc:
            return retry.Try(_Failed(f"cannot ask {self.server}: {_first_line(exc)}", down=True))
        except TooLarge as exc:
            how = f"unpacks ({exc.encoding}) to more than" if exc.encoding else "is larger than"
            return retry.Try(_Failed(
                f"the answer {how} max_response_mb ({s.max_response_mb:g} MB); lower max_points (now {s.max_points}) to "
                f"split the range into smaller requests, use a coarser bucket, or raise max_response_mb; the query was: "
                f"{_oneline(q.promql)}", outage=False))
        except Unreadable as exc:
            return retry.Try(_Failed(f"the answer from {self.server} cannot be read: {exc}", outage=False))
        finally:
            self._deadline.at = math.inf
        ctype = headers.get("content-type", "")
        if r.status == 200:
            return retry.Try(self._result(body, ctype, start, end))
        status = r.status
        if 300 <= status < 400:  # not followed: the credentials would go to wherever it points
            where = mask_url(printable(headers.get("location", "?"), 200))
            return retry.Try(_Failed(f"Prometheus answered HTTP {status} {printable(reason, 60)} (a redirect): set url to "
                                     f"the address it redirects to, {where}", down=True, outage=False))
        etype, emsg = _error_of(body, ctype, reason)
        emsg = emsg.removeprefix(f"{status} ")  # "404 page not found"
        retry_after = retry.retry_after(headers.get("retry-after"))
        again = status in _RETRY_STATUS and etype != "timeout"
        message, down, outage = self._http_failure(q, status, etype, emsg, start, end, retries)
        return retry.Try(_Failed(message, down, outage), again=again, retry_after=retry_after)

    def _result(self, body: bytes, ctype: str, start: int, end: int) -> list[Series] | _Failed:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:
            if "json" not in ctype.lower():
                return _Failed(f"{self.server} answered with {printable(ctype, 80) or 'no Content-Type'}, not "
                               "Prometheus's JSON: is url the Prometheus server (not a login page or a UI in front of it)?",
                               down=True, outage=False)
            what = "it is nested too deeply" if isinstance(exc, RecursionError) else f"it is not JSON: {_first_line(exc)}"
            return _Failed(_malformed(what), outage=False)
        try:
            return series(doc, start, end)
        except RecursionError:
            return _Failed(_malformed("it is nested too deeply"), outage=False)
        except ValueError as exc:
            return _Failed(_malformed(str(exc)), outage=False)

    def _http_failure(self, q: QuerySettings, status: int, etype: str, emsg: str, start: int, end: int,
                      retries: int) -> tuple[str, bool, bool]:
        """(message, server_down, an outage) for an HTTP error answer."""
        s = self.settings
        said = f"HTTP {status}" + (f" {etype}: {emsg}" if etype else f" {emsg}" if emsg else "")
        tries = f" after {retries} retries" if retries else ""
        # A query that runs out of time can also come back as 422 "context deadline exceeded", depending
        # on where the deadline strikes: that is a timeout, not a bad query.
        timed_out = etype == "timeout" or "deadline exceeded" in emsg or "timed out" in emsg
        if status in (400, 422) and not timed_out:
            return f"Prometheus rejected the query ({said}); the query was: {_oneline(q.promql)}", False, False
        if timed_out:
            return (f"the query timed out on the server ({said}){tries} reading {_iso(start)}..{_iso(end)}; "
                    f"use a coarser bucket (now {q.bucket}), lower max_points (now {s.max_points}) to split the range "
                    "into smaller requests, or a cheaper expression (a recording rule)"), False, True
        if status == 503:
            return (f"Prometheus was unavailable ({said}){tries} reading {_iso(start)}..{_iso(end)}; if it is "
                    f"overloaded rather than restarting, use a coarser bucket (now {q.bucket}) or lower max_points "
                    f"(now {s.max_points}) to split the range into smaller requests"), False, True
        if status in (401, 403):
            if not (s.auth.bearer_token_env or s.auth.bearer_token_file or s.auth.username):
                return f"Prometheus wants credentials ({said}) and none are configured: set prometheus.auth", False, False
            verb = "refused the credentials" if status == 401 else "denied access with the credentials"
            return f"Prometheus {verb} ({said}): {s.auth.describe()}", False, False
        if status == 429:
            return (f"Prometheus rate-limited the query ({said}){tries}; run the collection less often or raise "
                    "retries"), False, True
        if status == 404:
            return (f"no Prometheus query API at {self.server}/api/v1/query_range ({said}); url must be the server's "
                    "base address (without /api/v1)"), True, False
        return f"Prometheus answered {said}{tries}", False, status >= 500

    def _connection_failure(self, exc: Exception) -> str:
        s = self.settings
        host = urlsplit(s.base_url).hostname
        chain = _causes(exc)
        names = {type(e).__name__ for e in chain}
        if "SSLError" in names or "SSLCertVerificationError" in names or any(isinstance(e, ssl.SSLError) for e in chain):
            ssl_err = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
            verify = getattr(ssl_err, "verify_message", None)
            reason = f"certificate verify failed: {verify}" if verify else _ssl_reason(exc)
            hint = ("set prometheus.ca_file to the CA bundle that signed its certificate"
                    if "certificate" in reason.lower() else "is the url's scheme (https://) right?")
            return f"TLS with {self.server} failed: {reason}; {hint}"
        if any(isinstance(e, socket.gaierror) for e in chain):
            return f"cannot reach Prometheus at {self.server}: the host name {host!r} does not resolve"
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return f"cannot reach Prometheus at {self.server}: connection refused (is it running, and is the port right?)"
        last = chain[-1]
        return f"cannot reach Prometheus at {self.server}: {type(last).__name__}: {_first_line(last)}"


def _error_of(body: bytes, ctype: str, reason: str) -> tuple[str, str]:
    """Prometheus's ``errorType`` and ``error`` from an error answer, or a proxy's plain-text reason, or the status's."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and ("error" in doc or "errorType" in doc):
        return printable(str(doc.get("errorType", "")), 40), printable(str(doc.get("error", "")), 300)
    text = printable(body.decode("utf-8", "replace"), 200)
    # A proxy's plain-text reason is worth showing; an HTML error page is not: its status says it.
    said = text if ctype.lower().startswith("text/plain") and text else printable(reason, 100)
    return "", said


def _malformed(what: str) -> str:
    return f"the answer is not a Prometheus range result ({what}); nothing of this query was stored"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, through httpcore's wrappers (``__cause__``, ``__context__``, ``args``)."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if e in out or len(out) > 20:
            continue
        out.append(e)
        for nxt in (getattr(e, "reason", None), e.__cause__, e.__context__,
                    *(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _ssl_reason(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", text) or re.search(r"(certificate verify failed[^)'\"]*)", text)
    return m.group(1).strip() if m else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return printable(str(exc) or type(exc).__name__, 200)


def _oneline(text: str) -> str:
    return printable(text, 2000)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")
