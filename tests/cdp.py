"""A small Chrome DevTools Protocol driver for the report tests, over ``--remote-debugging-pipe``.

Starts Debian's headless Chromium with a fresh profile and talks CDP through two pipes (the
browser reads commands on fd 3 and writes replies on fd 4, NUL-separated JSON), so no port,
no websocket library and no network are involved. :meth:`Browser.load` opens a file in a new
tab and collects what a reviewer would check: console errors and exceptions, every request
the page tried to make, the DOM (through ``Runtime.evaluate``) and a full-page screenshot.
Every wait has a deadline and the browser's process group is killed in :meth:`close`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


class CDPError(RuntimeError):
    pass


@dataclass
class PageLoad:
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _stderr_sink() -> int | Any:
    """Chromium's stderr (mostly harmless dbus noise) goes to $RCA_CHROMIUM_LOG when set, else nowhere."""
    path = os.environ.get("RCA_CHROMIUM_LOG")
    return open(path, "ab") if path else subprocess.DEVNULL  # noqa: SIM115 - kept open for the child


class Browser:
    def __init__(self, binary: str, timeout: float = 20.0, window: tuple[int, int] = (1100, 900)) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="rca-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Park the child's ends on high descriptors so bash (dash only knows fds 0-9) can move them to 3 and 4 without clobbering.
        hi_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 20)
        hi_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 20)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        cmd = ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{hi_r} 4>&{hi_w} {hi_r}<&- {hi_w}>&-', binary, *FLAGS,
               f"--user-data-dir={self.profile}", f"--window-size={window[0]},{window[1]}",
               "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(cmd, pass_fds=(hi_r, hi_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=_stderr_sink(), start_new_session=True)
        os.close(hi_r)
        os.close(hi_w)
        self._next = 0
        self._replies: dict[int, queue.Queue] = {}
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.call("Browser.getVersion")

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        box = self._replies.get(msg["id"])
                    if box is not None:
                        box.put(msg)
                else:
                    self._events.put(msg)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            ident = self._next
            box: queue.Queue = queue.Queue()
            self._replies[ident] = box
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        try:
            reply = box.get(timeout=self.timeout)
        except queue.Empty:
            raise CDPError(f"no reply to {method} within {self.timeout} s") from None
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _drain(self, until: float, load: PageLoad, session: str, stop_on: str | None = None) -> bool:
        while time.monotonic() < until:
            try:
                ev = self._events.get(timeout=max(0.01, until - time.monotonic()))
            except queue.Empty:
                return False
            if ev.get("sessionId") != session:
                continue
            method, p = ev["method"], ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in {"error", "assert", "warning"}:
                load.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                load.console_errors.append(p["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and p["entry"].get("level") in {"error", "warning"}:
                load.console_errors.append(p["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                load.requests.append(p["request"]["url"])
            elif method == "Network.loadingFailed":
                load.failed_requests.append(p.get("blockedReason") or p.get("errorText", ""))
            if stop_on and method == stop_on:
                return True
        return False

    def load(self, path: Path, screenshot: Path | None = None, settle_s: float = 0.3) -> tuple[PageLoad, str]:
        """Open ``path`` in a new tab; return what happened and the tab's session id for :meth:`evaluate`."""
        return self.load_url(path.resolve().as_uri(), screenshot=screenshot, settle_s=settle_s)

    def load_url(self, url: str, screenshot: Path | None = None, settle_s: float = 0.3,
                 headers: dict[str, str] | None = None) -> tuple[PageLoad, str]:
        """:meth:`load` for any URL (a page served on loopback), sending ``headers`` with each request."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        if headers:
            self.call("Network.setExtraHTTPHeaders", {"headers": headers}, session=session)
        load = PageLoad(url=url)
        self.call("Page.navigate", {"url": url}, session=session)
        if not self._drain(time.monotonic() + self.timeout, load, session, stop_on="Page.loadEventFired"):
            raise CDPError(f"{url} did not finish loading within {self.timeout} s")
        self._drain(time.monotonic() + settle_s, load, session)
        if screenshot is not None:
            metrics = self.call("Page.getLayoutMetrics", session=session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}},
                session=session)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return load, session

    def evaluate(self, session: str, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in reply:
            raise CDPError(f"evaluate failed: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=3)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started: browser, zygote, renderers
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)
