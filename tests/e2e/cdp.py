"""A small Chrome DevTools Protocol client for the end-to-end suites (asyncio, Debian's
python3-websockets 10.4), and a headless Chromium launcher that always kills what it
started.

    async with Chromium(tmpdir) as browser:          # launches, attaches to the first page
        page = browser.page                           # a Session (flattened target session)
        await page.send("Page.enable")
        await page.send("Page.navigate", url=...)
        v = await page.evaluate("document.title")
"""

import asyncio
import atexit
import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time

import websockets

DEVTOOLS_RE = re.compile(r"DevTools listening on (ws://\S+)")


class CDPError(Exception):
    pass


class Connection:
    """One WebSocket to the browser endpoint; commands are matched to replies by id, events
    are kept per session (every event since enable, in order) and can be waited for."""

    def __init__(self, ws):
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending = {}
        self.events = []  # (sessionId or None, method, params)
        self._event_cond = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url):
        ws = await websockets.connect(url, max_size=None, ping_interval=None, close_timeout=1)
        return cls(ws)

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self._pending.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        if "error" in msg:
                            fut.set_exception(CDPError("%s: %s" % (msg["error"].get("message"), msg["error"].get("data", ""))))
                        else:
                            fut.set_result(msg.get("result", {}))
                elif "method" in msg:
                    async with self._event_cond:
                        self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))
                        self._event_cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CDPError("DevTools connection closed"))
            self._pending.clear()

    async def send(self, method, session_id=None, timeout=30.0, **params):
        i = next(self._ids)
        msg = {"id": i, "method": method, "params": params}
        if session_id:
            msg["sessionId"] = session_id
        fut = asyncio.get_running_loop().create_future()
        self._pending[i] = fut
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    async def wait_event(self, method, session_id=None, predicate=None, timeout=30.0, start=0):
        """The first event `method` (index >= start) matching predicate(params)."""

        def find():
            for sid, m, p in self.events[start:]:
                if m == method and (session_id is None or sid == session_id) and (predicate is None or predicate(p)):
                    return p
            return None

        async def wait():
            async with self._event_cond:
                while True:
                    p = find()
                    if p is not None:
                        return p
                    await self._event_cond.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def close(self):
        self._reader.cancel()
        try:
            await self.ws.close()
        except Exception:
            pass


class Session:
    """A flattened target session (one page)."""

    def __init__(self, conn, session_id):
        self.conn = conn
        self.id = session_id

    async def send(self, method, timeout=30.0, **params):
        return await self.conn.send(method, session_id=self.id, timeout=timeout, **params)

    def events(self, method=None):
        return [p for sid, m, p in self.conn.events if sid == self.id and (method is None or m == method)]

    async def wait_event(self, method, predicate=None, timeout=30.0, start=0):
        return await self.conn.wait_event(method, session_id=self.id, predicate=predicate, timeout=timeout, start=start)

    async def evaluate(self, expression, timeout=30.0):
        """The value of a JavaScript expression (returnByValue; promises awaited)."""
        r = await self.send("Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("JS exception: %s" % (d.get("exception", {}).get("description") or d.get("text")))
        return r["result"].get("value")

    async def poll(self, expression, timeout=20.0, interval=0.1):
        """Evaluate until the value is truthy; returns it (or the last value after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            v = await self.evaluate(expression)
            if v or time.monotonic() >= deadline:
                return v
            await asyncio.sleep(interval)

    async def screenshot(self, path):
        r = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Chromium:
    """Headless Chromium in its own process group; killed (by its pid / process group) on exit."""

    def __init__(self, workdir, binary=None, window=(1280, 900), extra_args=()):
        self.binary = binary or find_chromium()
        self.workdir = str(workdir)
        self.window = window
        self.extra_args = list(extra_args)
        self.proc = None
        self.conn = None
        self.page = None
        self.stderr_path = os.path.join(self.workdir, "chromium.stderr.log")

    def stderr_tail(self, n=40):
        try:
            with open(self.stderr_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    async def start(self, timeout=30.0):
        profile = os.path.join(self.workdir, "profile")
        os.makedirs(profile, exist_ok=True)
        args = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-default-apps", "--metrics-recording-only",
                "--window-size=%d,%d" % self.window] + self.extra_args + ["about:blank"]
        err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                     start_new_session=True)
        err.close()
        atexit.register(self.kill)  # (if the interpreter exits before stop())
        deadline = time.monotonic() + timeout
        url = None
        while time.monotonic() < deadline:
            m = DEVTOOLS_RE.search(self.stderr_tail(200))
            if m:
                url = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited with %s:\n%s" % (self.proc.returncode, self.stderr_tail()))
            await asyncio.sleep(0.05)
        if url is None:
            raise RuntimeError("chromium printed no DevTools URL within %.0f s:\n%s" % (timeout, self.stderr_tail()))
        self.conn = await Connection.open(url)
        targets = (await self.conn.send("Target.getTargets"))["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            target_id = pages[0]["targetId"]
        else:
            target_id = (await self.conn.send("Target.createTarget", url="about:blank"))["targetId"]
        sid = (await self.conn.send("Target.attachToTarget", targetId=target_id, flatten=True))["sessionId"]
        self.page = Session(self.conn, sid)
        return self

    async def stop(self):
        try:
            if self.conn is not None:
                try:
                    await asyncio.wait_for(self.conn.send("Browser.close"), 3)
                except Exception:
                    pass
                await self.conn.close()
                self.conn = None
        finally:
            self.kill()

    def kill(self):
        """Kill the browser and every process of its group (its own pid is the group id)."""
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                    p.wait(timeout=3)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # helpers (zygote, renderers) left behind
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.kill()
            p.wait()
        atexit.unregister(self.kill)

    async def __aenter__(self):
        try:
            return await self.start()
        except BaseException:
            self.kill()
            raise

    async def __aexit__(self, *exc):
        await self.stop()
