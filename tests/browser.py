"""One headless Chromium per test process, driven over the DevTools protocol on a pipe.

Starting Chromium costs most of a second; a test run prints and inspects about a hundred pages.
This keeps one browser per pytest worker and opens each page in a fresh tab (its own console, its
own window size) with the same flags the command line uses. It reads and writes the protocol's
JSON messages on file descriptors 3 and 4 (``--remote-debugging-pipe``), so it needs no extra
package and opens no port.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
TIMEOUT = 120.0


class BrowserError(RuntimeError):
    """Chromium closed its pipe, answered with an error, or did not answer in time."""


@dataclass
class Page:
    """What one page load gave: its DOM after load and every console message and page error."""

    dom: str
    console: list[str] = field(default_factory=list)


class Browser:
    """A running headless Chromium, one tab per page."""

    def __init__(self, binary: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="backrx-chromium-")
        self._owner = os.getpid()
        self._closed = False
        self.broken = False
        to_browser_r, self._write = os.pipe()
        self._read, from_browser_w = os.pipe()
        # Lift the child's ends above 3 and 4, so the shell's moves below cannot overwrite them.
        to_browser_r, from_browser_w = (_above_four(to_browser_r), _above_four(from_browser_w))
        try:
            # bash moves the two pipe ends to the descriptors the protocol expects (3 and 4),
            # closing the originals; dash (Debian's sh) cannot name a descriptor above 9.
            self._process = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r}- 4>&{from_browser_w}-', binary, *FLAGS,
                 "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "about:blank"],
                pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except BaseException:
            for fd in (self._write, self._read):
                os.close(fd)
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        """Stop Chromium and remove its profile folder (only in the process that started it: a
        forked child that exits must not stop its parent's browser)."""
        if os.getpid() != self._owner or self._closed:
            return
        self._closed = True  # a second close must not close descriptors reused since
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung browser
                self._process.kill()
                self._process.wait()
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- the protocol ------------------------------------------------------------------------

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                self.broken = True  # a hung browser: the next page gets a new one
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                self.broken = True
                raise BrowserError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one command and wait for its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        try:
            os.write(self._write, json.dumps(command).encode() + b"\0")
            deadline = time.monotonic() + TIMEOUT
            while True:
                message = self._message(deadline)
                if message.get("id") == self._next_id:
                    if "error" in message:
                        raise BrowserError(f"{method}: {message['error']}")
                    return message.get("result", {})
                self._keep(message)
        except OSError as exc:
            self.broken = True
            raise BrowserError(f"{method}: the DevTools pipe failed ({exc})") from exc

    def _keep(self, message: dict[str, Any]) -> None:
        """Keep an event of an open tab; drop browser-level events and late replies."""
        if "sessionId" in message and "method" in message:
            self._events.append(message)

    def _wait_for_load(self, session: str, loader: str) -> None:
        """Wait for the load event of the document ``loader`` (not the blank page's before it)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for event in self._events:
                params = event.get("params", {})
                if (event.get("sessionId") == session and event.get("method") == "Page.lifecycleEvent"
                        and params.get("name") == "load" and params.get("loaderId") == loader):
                    return
            self._keep(self._message(deadline))

    # -- pages -------------------------------------------------------------------------------

    def open(self, page: Path, *, window: tuple[int, int] | None = None,
             pdf: Path | None = None, screenshot: Path | None = None) -> Page:
        """Load a local page in a new tab, after load write a PDF (the page's own paper size, no
        header or footer) or a PNG of the window, and return its DOM and console messages."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable", session=session)
            self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
            if window is not None:
                self.call("Emulation.setDeviceMetricsOverride", {
                    "width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False},
                    session=session)
            went = self.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            if went.get("errorText"):
                raise BrowserError(f"{page}: {went['errorText']}")
            self._wait_for_load(session, went["loaderId"])
            dom = self.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                 "returnByValue": True}, session=session)
            if pdf is not None:
                printed = self.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True,
                                                        "displayHeaderFooter": False}, session=session)
                pdf.write_bytes(base64.b64decode(printed["data"]))
            if screenshot is not None:
                shot = self.call("Page.captureScreenshot", {"format": "png"}, session=session)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            return Page(dom["result"]["value"], self._console(session))
        finally:
            if not self.broken:
                self.call("Target.closeTarget", {"targetId": target})
            self._events = [e for e in self._events if e.get("sessionId") != session]

    def _console(self, session: str) -> list[str]:
        out = []
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                out.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") != "verbose":
                out.append(params["entry"].get("text", ""))
        return out


def _above_four(fd: int) -> int:
    """The same pipe end on a descriptor above 4 (the original is closed)."""
    import fcntl  # POSIX only: imported here so the module still imports where Chromium is absent

    lifted = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return lifted


_RUNNING: dict[str, Browser] = {}


def browser(binary: str) -> Browser:
    """The process's browser, started on first use and stopped when the process exits."""
    running = _RUNNING.get(binary)
    if running is None or running.broken or running._process.poll() is not None:
        if running is not None:
            running.close()
        _RUNNING[binary] = running = Browser(binary)
        atexit.register(running.close)
    return running
