"""A real Prometheus server for the Prometheus collector's tests and benchmark.

Debian's ``prometheus`` and ``promtool`` binaries: samples are written as OpenMetrics
(timestamps in seconds, the file ends with ``# EOF``), backfilled into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics --max-block-duration=720h``, and served by
``prometheus`` on a free loopback port with a ten-year retention (a short one would delete
the old samples at start-up). A missing binary or a server that does not become ready is an
error with a clear message, never a skip: these tests must fail in CI when they cannot run.

:func:`fixture_series` is the data the tests read back: sixty days of hourly samples that end
at the fixed time :data:`END`, so every test is deterministic. It includes what the example
queries of ``rca.example.yaml`` expect from the GitLab CI pipelines exporter, the Jenkins
Prometheus plugin, a GitHub Actions exporter and standard HTTP metrics.
"""

from __future__ import annotations

import http.server
import math
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOUR, DAY = 3_600, 86_400
END = 1_763_596_800  # 2025-11-20T00:00:00Z, a Thursday: the samples end the hour before
DAYS = 60
START = END - DAYS * DAY  # 2025-09-21T00:00:00Z, a Sunday
HOURS = range(START, END, HOUR)


@dataclass(frozen=True)
class Series:
    """One time series: its metric name, labels and (Unix seconds, value) samples."""

    name: str
    labels: dict[str, str]
    samples: Sequence[tuple[int, float]]

    def value_at(self, ts: int) -> float | None:
        for t, v in self.samples:
            if t == ts:
                return v
        return None


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + body + "}"


def write_openmetrics(path: Path, series: Iterable[Series]) -> Path:
    """Write ``series`` as an OpenMetrics text file (no metadata: every family is "unknown").

    Samples of one metric name stay together (OpenMetrics forbids interleaved families) and
    each series' samples are in time order; timestamps are seconds.
    """
    by_name: dict[str, list[Series]] = {}
    for s in series:
        by_name.setdefault(s.name, []).append(s)
    with path.open("w", encoding="utf-8") as f:
        for name in sorted(by_name):
            for s in by_name[name]:
                head = name + _labels(s.labels)
                f.writelines(f"{head} {_value(v)} {t}\n" for t, v in sorted(s.samples))
        f.write("# EOF\n")
    return path


def binaries() -> tuple[str, str]:
    """Paths of ``prometheus`` and ``promtool``, or an error saying how to install them."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if not all(found):
        raise RuntimeError("the Prometheus tests need Debian's prometheus package (prometheus and promtool): "
                           "run `make system-deps` or `apt-get install -y --no-install-recommends prometheus`")
    return found  # type: ignore[return-value]


def backfill(openmetrics: Path, data_dir: Path) -> None:
    """Turn an OpenMetrics file into TSDB blocks under ``data_dir``."""
    _, promtool = binaries()
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h",
                           str(openmetrics), str(data_dir)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool could not backfill {openmetrics}: {proc.stderr.strip() or proc.stdout.strip()}")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrometheusServer:
    """A ``prometheus`` process over a data directory; ``url`` once started."""

    data_dir: Path
    extra_args: Sequence[str] = ()
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> PrometheusServer:
        prometheus, _ = binaries()
        config = self.data_dir.parent / f"{self.data_dir.name}-prometheus.yml"
        config.write_text("global: {}\nscrape_configs: []\n")
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-prometheus.log"
        for _attempt in range(3):  # the free port may be taken between probing and binding it
            self.port = free_port()
            self._log = self.log_path.open("w")
            self.proc = subprocess.Popen(
                [prometheus, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
                 "--log.level=warn", *self.extra_args],
                stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_ready(timeout_s):
                return self
            self.stop()
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"prometheus did not become ready on 127.0.0.1:{self.port} within {timeout_s:.0f} s; "
                           f"its log ends with:\n{log}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(series: Iterable[Series], workdir: Path, extra_args: Sequence[str] = ()) -> PrometheusServer:
    """Backfill ``series`` into a fresh data directory under ``workdir`` and start a server over it."""
    workdir.mkdir(parents=True, exist_ok=True)
    om = write_openmetrics(workdir / "samples.om.txt", series)
    data = workdir / "data"
    backfill(om, data)
    return PrometheusServer(data, extra_args).start()


# --- the data the tests read back -------------------------------------------------------------

PROJECTS = {"acme/payments": 300.0, "acme/checkout": 420.0, "acme/search": 150.0}
SEARCH_HOLE_DAYS = (20, 21)  # acme/search has no samples on these two days (counted from START)
SERVICES = ("checkout", "payments", "search")  # search never answers 5xx: no code="500" series


def hourly(name: str, labels: dict[str, str], value: Callable[[int, int], float | None]) -> Series:
    """A series with one sample per hour from START to END; ``value(day, hour)`` None leaves a hole."""
    samples = []
    for t in HOURS:
        v = value((t - START) // DAY, (t - START) % DAY // HOUR)
        if v is not None:
            samples.append((t, v))
    return Series(name, labels, samples)


def gauge_value(project: str) -> Callable[[int, int], float | None]:
    """Pipeline durations: exact binary fractions so every float survives the round trip."""
    base = PROJECTS[project]

    def value(d: int, h: int) -> float | None:
        if project == "acme/search" and d in SEARCH_HOLE_DAYS:
            return None
        return base + h * 0.5 + d * 0.25

    return value


def counter(rate: Callable[[int], float]) -> Callable[[int, int], float]:
    """A counter that grows by ``rate(day)`` every hour of that day (so a day's increase is 24 * rate).

    It starts at 1000, not 0: ``increase`` does not extrapolate a counter's first window below zero,
    which would make the first day read a hair low.
    """
    cum = [1000.0]
    for d in range(DAYS):
        cum.append(cum[-1] + 24 * rate(d))
    return lambda d, h: cum[d] + h * rate(d)


def request_rate(service: str, code: str) -> Callable[[int], float]:
    scale = {"checkout": 1.0, "payments": 2.0, "search": 3.0}[service]
    if code == "200":
        return lambda d: scale * (100 + (d % 7) * 10)
    # Errors follow latency (tests.prometheus_server.latency_share): they wobble with it and rise
    # with it in the last ten days, a regression for the investigation to explain.
    return lambda d: scale * (1 + d % 4 + (6 if d >= DAYS - 10 else 0))


def latency_share(service: str, le: str, day: int) -> float:
    """The share of a day's requests answered within ``le`` seconds.

    It wobbles with ``day % 4`` and drops in the last ten days (slower answers), so the 95th
    percentile moves inside the (0.5, 1] bucket; payments is a little slower throughout.
    """
    if le == "+Inf":
        return 1.0
    base = {"0.1": 0.5, "0.5": 0.85, "1": 0.99}[le]
    if le != "1":
        base -= (day % 4) * 0.01 + (0.1 if day >= DAYS - 10 else 0.0)
    return base - 0.05 if service == "payments" and le != "1" else base


def fixture_series() -> list[Series]:
    """Sixty days of hourly samples for several metrics and label sets (see the module docstring)."""
    out: list[Series] = []
    # Plain gauges, one per project; acme/search has a two-day hole.
    for p in PROJECTS:
        out.append(hourly("ci_build_duration_seconds", {"project": p}, gauge_value(p)))
    # A gauge with NaN and +Inf samples among ordinary ones.
    out.append(hourly("queue_wait_seconds", {"service": "checkout"},
                      lambda d, h: math.nan if (d, h) in {(3, 5), (4, 6)} else (math.inf if (d, h) == (5, 7) else 60.0 + h)))
    # HTTP counters and a latency histogram, per service.
    for s in SERVICES:
        for code in ("200", "500") if s != "search" else ("200",):
            out.append(hourly("http_requests_total", {"service": s, "code": code}, counter(request_rate(s, code))))
        for le in ("0.1", "0.5", "1", "+Inf"):
            out.append(hourly("http_request_duration_seconds_bucket", {"service": s, "le": le},
                              counter(lambda d, s=s, le=le: 100 * latency_share(s, le, d))))
    # GitLab CI pipelines exporter: duration of the latest pipeline and the run counter, per project and ref.
    for p, base in PROJECTS.items():
        for ref in ("main", "feature-x") if p == "acme/payments" else ("main",):
            extra = 1000.0 if ref != "main" else 0.0
            out.append(hourly("gitlab_ci_pipeline_duration_seconds",
                              {"project": p, "ref": ref, "kind": "branch", "topics": "", "variables": ""},
                              lambda d, h, base=base, extra=extra: base + extra + (d % 10) * 6.0))
            out.append(hourly("gitlab_ci_pipeline_run_count",
                              {"project": p, "ref": ref, "kind": "branch", "topics": "", "variables": ""},
                              counter(lambda d: 0.5)))
    # Line coverage a CI job pushes as a gauge (e.g. through a Pushgateway), per project and branch.
    for p in PROJECTS:
        for branch in ("main", "dev"):
            out.append(hourly("ci_line_coverage_ratio", {"project": p, "branch": branch},
                              lambda d, h, branch=branch: (0.8 if branch == "main" else 0.5) - (d % 5) * 0.0625))
    # Jenkins Prometheus plugin: build duration summary (milliseconds) and failed builds, per job.
    for job, ms in (("payments/main", 240_000.0), ("checkout/main", 360_000.0)):
        labels = {"jenkins_job": job, "repo": job.split("/")[0], "buildable": "true"}
        out.append(hourly("default_jenkins_builds_duration_milliseconds_summary_count", labels, counter(lambda d: 2.0)))
        out.append(hourly("default_jenkins_builds_duration_milliseconds_summary_sum", labels,
                          counter(lambda d, ms=ms: 2.0 * (ms + (d % 3) * 1000.0))))
        out.append(hourly("default_jenkins_builds_failed_build_count_total", labels, counter(lambda d: 0.25)))
    # GitHub Actions exporter (cpanato/github_actions_exporter): workflow run time histogram.
    for repo, secs in (("payments", 600.0), ("checkout", 900.0)):
        labels = {"org": "acme", "repo": repo, "branch": "main", "workflow_name": "ci", "conclusion": "success"}
        out.append(hourly("workflow_execution_time_seconds_count", labels, counter(lambda d: 1.0)))
        out.append(hourly("workflow_execution_time_seconds_sum", labels, counter(lambda d, secs=secs: secs + d)))
    return out


def bench_series(n: int = 20, days: int = DAYS) -> list[Series]:
    """``n`` hourly gauges over ``days`` days for the benchmark."""
    start = END - days * DAY
    return [Series("bench_gauge", {"series": f"s{i:02d}"},
                   [(t, float(i * 1000 + (t - start) // HOUR)) for t in range(start, END, HOUR)])
            for i in range(n)]


# --- a loopback proxy for the error tests -----------------------------------------------------

@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body, headers, and how long to wait before sending it."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request the proxy received."""

    path: str
    params: dict[str, str]
    authorization: str | None


class Proxy:
    """A threaded loopback HTTP(S) server in front of a real Prometheus server.

    It answers from ``script`` first (one :class:`Reply` per request), then forwards to
    ``upstream``; with ``token`` it wants ``Authorization: Bearer <token>`` and with ``basic``
    a (user, password) pair, answering 401 like a reverse proxy otherwise. ``delay_s`` holds
    every forwarded answer back; ``tls`` (cert, key) makes it an HTTPS server. ``seen`` lists
    the requests it received.
    """

    def __init__(self, upstream: str | None = None, *, token: str | None = None,
                 basic: tuple[str, str] | None = None, script: Sequence[Reply] = (), delay_s: float = 0.0,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.upstream, self.token, self.basic, self.delay_s = upstream, token, basic, delay_s
        self.script = list(script)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                proxy._handle(self)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(h.path)
        params = dict(urllib.parse.parse_qsl(parsed.query))
        auth = h.headers.get("Authorization")
        with self._lock:
            self.seen.append(Seen(parsed.path, params, auth))
            reply = self.script.pop(0) if self.script else None
        if reply is None and not self._authorised(auth):
            reply = Reply(401, "<html><body>401 Authorization Required</body></html>",
                          {"Content-Type": "text/html", "WWW-Authenticate": 'Bearer realm="prometheus"'})
        if reply is None:
            time.sleep(self.delay_s)
            reply = self._forward(h.path)
        time.sleep(reply.delay_s)
        body = reply.body.encode()
        try:
            h.send_response(reply.status)
            for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _authorised(self, auth: str | None) -> bool:
        import base64

        if self.token is not None:
            return auth == f"Bearer {self.token}"
        if self.basic is not None:
            return auth == "Basic " + base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
        return True

    def _forward(self, path: str) -> Reply:
        if self.upstream is None:
            return Reply(502, "no upstream", {"Content-Type": "text/plain"})
        try:
            with urllib.request.urlopen(self.upstream + path, timeout=30) as r:
                return Reply(r.status, r.read().decode(), {"Content-Type": r.headers.get("Content-Type", "")})
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode(), {"Content-Type": e.headers.get("Content-Type", "")})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl program."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not shutil.which("openssl"):
        raise RuntimeError("the TLS test needs the openssl program (Debian package openssl)")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "3650", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key
