#!/usr/bin/env python3
"""The interactive part of scripts/dashboard-check.sh, over the Chrome DevTools
Protocol: what `--dump-dom` cannot do, because a page following a live SSE
stream only settles when the stream ends, and nothing can be clicked.

    python3 scripts/dashboard_cdp.py BASE_URL TOKEN OUT_DIR

Against the mock (scripts/dashboard_mock.py) it: starts a run with the "New run"
form; screenshots the execution while it runs (striped running bars, Cancel);
clicks a running tool bar and reads its input; clicks Cancel and waits for the
cancelled state; watches the list turn a running row into a finished one; and
enters the token through the form after a 401. Python standard library only: a
minimal WebSocket client (RFC 6455, text frames) is enough for CDP.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,800"]


class CheckFailed(Exception):
    pass


# Unit checks of timeline.js's pure model, run in the page (no Node needed).
UNIT_JS = r"""
(async () => {
  const { buildTimeline, batchesOf, tickStep } = await import('./timeline.js');
  const fails = [];
  const eq = (got, want, what) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fails.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const T = (ms) => new Date(Date.UTC(2025, 0, 1, 12, 0, 0) + ms).toISOString();
  const rc = (id, tool, a, b, ok = true, extra = {}) => ({ tool, tool_use_id: id, source: 'mcp', server: 's', input: {},
    output: 'x', success: ok, error: ok ? null : 'boom', error_type: ok ? null : 'tool_error', duration_ms: b - a,
    start_time: T(a), end_time: T(b), metadata: {}, ...extra });
  const rec = (calls, end, status = 'success') => ({ id: 'e', status, started_at: T(0), finished_at: end === null ? null : T(end),
    tool_calls: calls });
  let seq = 0;
  const ev = (type, at, fields = {}) => ({ type, seq: ++seq, ts: T(at), ...fields });

  // 1. No events: turns are the gaps around tool batches, marked inferred.
  let m = buildTimeline({ record: rec([rc('a', 't1', 100, 200), rc('b', 't2', 110, 250), rc('c', 't3', 400, 450)], 600), events: [], now: 0 });
  eq(m.turns.map((t) => [t.start - m.start, t.end - m.start, t.inferred]), [[0, 100, true], [250, 400, true], [450, 600, true]], 'inferred turns');
  eq(batchesOf(m.calls).length, 2, 'two batches');

  // 2. Usage events: turn k starts where the batch after turn k-1 ended.
  seq = 0;
  const events = [ev('usage', 100, { input_tokens: 10, output_tokens: 2, total_tokens: 12 }),
    ev('tool_start', 101, { tool_name: 't1', tool_args: { q: 1 }, tool_execution_id: 'a' }),
    ev('tool_start', 102, { tool_name: 't2', tool_args: {}, tool_execution_id: 'b' }),
    ev('tool_complete', 150, { tool_name: 't1', tool_execution_id: 'a', status: 'success', output: 'ok', error: null, duration_ms: 49 }),
    ev('tool_complete', 302, { tool_name: 't2', tool_execution_id: 'b', status: 'failed', output: '', error: 'bad', duration_ms: 200 }),
    ev('usage', 500, { input_tokens: 30, output_tokens: 5, total_tokens: 35 }),
    ev('done', 501, { finish_reason: 'stop' })];
  m = buildTimeline({ record: rec([], 501), events, now: 0 });
  eq(m.turns.map((t) => [t.start - m.start, t.end - m.start, t.usage.total_tokens]), [[0, 100, 12], [302, 500, 23]], 'turns from usage events');
  eq(m.calls.map((c) => [c.id, c.status, c.durationMs]), [['a', 'success', 49], ['b', 'failed', 200]], 'calls from events');

  // 3. Record calls win over events; unmatched ids fall back to the tool name.
  m = buildTimeline({ record: rec([rc('x1', 't1', 101, 149), rc('b', 't2', 102, 300, false)], 501), events, now: 0 });
  eq(m.calls.map((c) => [c.id, c.durationMs, c.status, c.fromRecord]), [['a', 48, 'success', true], ['b', 198, 'failed', true]], 'record merged');
  eq(m.calls.length, 2, 'no duplicate calls');

  // 4. Running: an open call is running; after a finished batch the model is at work.
  seq = 0;
  const live = [ev('usage', 100, { total_tokens: 5 }), ev('tool_start', 110, { tool_name: 't', tool_args: {}, tool_execution_id: 'r' })];
  m = buildTimeline({ record: rec([], null, 'running'), events: live, now: Date.parse(T(400)) });
  eq([m.running, m.calls[0].status, m.end - m.start, m.turns.length], [true, 'running', 400, 1], 'running call');
  live.push(ev('tool_complete', 300, { tool_name: 't', tool_execution_id: 'r', status: 'success', output: '', error: null, duration_ms: 190 }));
  m = buildTimeline({ record: rec([], null, 'running'), events: live, now: Date.parse(T(400)) });
  eq(m.turns.map((t) => [t.start - m.start, t.running]), [[0, false], [300, true]], 'model at work after the batch');

  // 5. A stream resumed mid-call (tool_complete without tool_start) is placed by its duration.
  seq = 0;
  m = buildTimeline({ record: rec([], 500), events: [ev('tool_complete', 300, { tool_name: 't', tool_execution_id: 'z', status: 'failed', output: '', error: 'cancelled', duration_ms: 100 })], now: 0 });
  eq([m.calls[0].start - m.start, m.calls[0].status], [200, 'cancelled'], 'resumed stream');

  // 6. An interrupted execution: a call that never completed is shown cancelled, up to the last known time.
  seq = 0;
  m = buildTimeline({ record: rec([], null, 'interrupted'), events: [ev('tool_start', 50, { tool_name: 't', tool_args: {}, tool_execution_id: 'q' }), ev('content_chunk', 80, { text: 'a' })], now: Date.parse(T(9999)) });
  eq([m.running, m.calls[0].status, m.calls[0].neverCompleted, m.end - m.start], [false, 'cancelled', true, 80], 'interrupted');

  eq([tickStep(3349, 10), tickStep(60000, 6), tickStep(7, 5)], [500, 10000, 2], 'tick steps');
  return fails;
})()
"""


class WebSocket:
    """Just enough of a WebSocket client for CDP: masked text frames out,
    (possibly fragmented) text frames in, pings answered."""

    def __init__(self, url: str) -> None:
        assert url.startswith("ws://")
        hostport, _, path = url[len("ws://"):].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CheckFailed("devtools closed the connection during the handshake")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise CheckFailed(f"devtools refused the WebSocket: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CheckFailed("devtools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise CheckFailed("devtools closed the WebSocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


class Browser:
    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="dashboard-cdp.")
        self.log = open(os.path.join(self.profile, "chromium.log"), "w")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=self.log, stderr=self.log)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                raise CheckFailed("chromium did not open its devtools port")
            time.sleep(0.1)
        port = open(port_file).read().split("\n")[0].strip()
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise CheckFailed(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if msg.get("method") == "Runtime.exceptionThrown":
                details = msg["params"]["exceptionDetails"]
                desc = details.get("exception", {}).get("description") or details.get("text")
                raise CheckFailed(f"uncaught exception in the page: {desc}")

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CheckFailed(f"evaluating {expression[:80]!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = 10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.eval(expression)
            # A DOM element comes back as {} (returnByValue): truthy here.
            if value not in (None, False, 0, ""):
                return value
            time.sleep(0.1)
        page = self.eval("location.hash + ' | ' + (document.querySelector('main')?.innerText || '').slice(0, 300)")
        raise CheckFailed(f"timed out ({timeout:.0f} s) waiting until {what}; the page: {page!r}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && !!document.querySelector('main > *')", f"{url} loaded")

    def dark(self, on: bool) -> None:
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark" if on else "light"}])

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def q(testid: str, **attrs: str) -> str:
    """JS for the first element with that data-testid and attributes (`status=` →
    `data-status`, `aria_pressed=` → `aria-pressed`)."""
    selector = f'[data-testid="{testid}"]' + "".join(
        f'[{k.replace("_", "-") if k.startswith("aria_") else "data-" + k.replace("_", "-")}="{v}"]'
        for k, v in attrs.items())
    return f"document.querySelector({json.dumps(selector)})"


def run(base: str, token: str, out: str) -> list[str]:
    passed: list[str] = []
    b = Browser()
    try:
        # 1. The token form: a 401 opens it; dismissed, it stays closed (the list keeps
        #    polling) until "Enter token"; a wrong token is refused; the right one is kept.
        dialog = q("token-dialog")
        b.goto(f"{base}/#/executions")
        b.wait(f"{dialog}.open", "the token form opened after a 401")
        b.eval("document.getElementById('token-cancel').click(); true")
        b.wait(q("enter-token"), "the page offers 'Enter token' after the form was dismissed")
        time.sleep(0.5)
        if b.eval(f"{dialog}.open"):
            raise CheckFailed("the token form reopened by itself after it was dismissed")
        b.eval(f"{q('enter-token')}.click(); true")
        b.wait(f"{dialog}.open", "'Enter token' opened the form")
        submit = f"{q('token-form')}.requestSubmit(); true"
        b.eval(f"document.getElementById('token-input').value = 'wrong-token'; {submit}")
        b.wait(f"{dialog}.open && !document.getElementById('token-error').hidden", "a wrong token is refused in the form")
        b.eval(f"document.getElementById('token-input').value = {json.dumps(token)}; {submit}")
        b.wait(q("execution-row"), "the list loaded after the right token was entered")
        if b.eval(f"{dialog}.open"):
            raise CheckFailed("the token form stayed open")
        if b.eval("sessionStorage.getItem('toolbridge.token')") != token:
            raise CheckFailed("the token was not kept in sessionStorage")
        passed.append("401 → token form; dismissed it stays closed until 'Enter token'; a wrong token is refused; "
                      "the right one is kept and the list loads")

        # 1a. The timeline model's edge cases, in the page.
        failures = b.eval(UNIT_JS)
        if not isinstance(failures, list):
            raise CheckFailed(f"the timeline model checks did not run (got {failures!r})")
        if failures:
            raise CheckFailed("timeline model: " + "; ".join(failures))
        passed.append("timeline model: inferred turns, usage-delimited turns, record/event merge, running, resumed, interrupted")

        # 1b. `#token=…` in the initial URL: kept, then stripped from the address bar.
        b.eval("sessionStorage.clear(); true")
        b.goto(f"{base}/#token={token}")
        b.wait(f"{q('execution-row')}", "the list loaded with the token from #token=")
        if b.eval("location.href").find(token) != -1:
            raise CheckFailed("the token is still in the address bar")
        if b.eval("sessionStorage.getItem('toolbridge.token')") != token:
            raise CheckFailed("#token= was not kept in sessionStorage")
        passed.append("#token=… is kept in sessionStorage and stripped from the address bar")

        # 2. "New run": POST ?async=true, then the new execution opens, running and live.
        b.goto(f"{base}/#/executions")
        b.wait(f"{q('execution-row')}", "the list loaded")
        b.eval(f"{q('run-form')}.open = true; true")
        b.wait("document.getElementById('run-agent').options.length > 0", "the run form lists the agents")
        b.eval("document.getElementById('run-agent').value = 'demo';"
               "document.getElementById('run-prompt').value = 'interactive check';"
               "document.querySelector('.run-form-body').requestSubmit(); true")
        exec_id = b.wait("(location.hash.match(/^#\\/executions\\/([0-9a-f-]{36})/) || [])[1]",
                         "the new execution opened")
        b.wait(f"{q('execution-view', status='running')} && !{q('cancel-button')}.hidden",
               "the running execution shows Cancel")
        passed.append(f"the run form started {exec_id[:8]}, shown running with Cancel")

        # 3. While it runs: running bars grow, the stream is live; screenshot it.
        b.wait(f"{q('tool-bar', status='running')}", "a tool bar is running", timeout=8)
        if b.eval(f"{q('stream-state')}.textContent") != "● live":
            raise CheckFailed("the stream state does not say live")
        running = q("tool-bar", status="running", tool="testbed__slow_add")
        b.wait(running, "the slow call is running")
        w1 = b.eval(f"{running}.getBoundingClientRect().width")
        time.sleep(0.3)
        w2 = b.eval(f"({running} || {{getBoundingClientRect: () => ({{width: 1e9}})}}).getBoundingClientRect().width")
        if not w2 > w1:
            raise CheckFailed(f"a running bar did not grow ({w1} → {w2})")
        b.screenshot(os.path.join(out, "running-light.png"))
        passed.append("tool bars show running and grow while the execution runs (running-light.png)")

        # 4. Cancel while the slow call is in flight: the execution ends cancelled.
        b.eval(f"{q('cancel-button')}.click(); true")
        b.wait(f"{q('execution-view', status='cancelled')}", "the execution shows cancelled after Cancel")
        b.wait(f"{q('cancel-button')}.hidden", "Cancel is hidden once it ended")
        b.wait(f"{q('tool-bar', status='cancelled')}", "the in-flight call is shown cancelled")
        b.wait(f"{q('finish-reason')}.textContent === 'cancelled'", "the finish reason is cancelled")
        b.wait("document.getElementById('announcer').textContent.includes('cancelled')", "the status change is announced")
        passed.append("Cancel ends the execution: status, bar and finish reason say cancelled")

        # 5. Click a bar: its input and error show in the details panel and the URL names it.
        b.eval(f"{q('tool-bar', status='cancelled')}.click(); true")
        b.wait(f"{q('call-input')} && {q('call-input')}.textContent.includes('{{')", "the clicked call's input is shown")
        b.wait(f"{q('call-error')} && {q('call-error')}.textContent.includes('cancel')", "the clicked call's error is shown")
        call_id = b.eval(f"{q('tool-bar', aria_pressed='true')}.dataset.callId")
        if f"call={call_id}" not in b.eval("location.hash"):
            raise CheckFailed("the selected call is not in the URL")
        b.dark(True)
        time.sleep(0.3)
        b.screenshot(os.path.join(out, "cancelled-dark.png"))
        b.dark(False)
        passed.append("clicking a tool bar shows its input and error and puts ?call= in the URL (cancelled-dark.png)")

        # 6. The list follows a running execution until it finishes (polling).
        req = urllib.request.Request(f"{base}/api/v1/executions?async=true", method="POST",
                                     data=json.dumps({"agent": "demo", "prompt": "poll check"}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        new_id = json.load(urllib.request.urlopen(req, timeout=10))["execution_id"]
        b.goto(f"{base}/#/executions")
        row = q("execution-row", id=new_id)
        b.wait(f"{row} && {row}.dataset.status === 'running'", "the new execution is listed running")
        b.wait(f"{row} && {row}.dataset.status === 'success'", "the list shows it finished", timeout=15)
        passed.append("the list refreshes a running row until it finishes")

        # 7. "More" follows the cursor and appends the next page.
        count = "document.querySelectorAll('[data-testid=execution-row]').length"
        before = b.eval(count)
        b.eval(f"{q('more-button')}.click(); true")
        b.wait(f"{count} > {before}", "More loaded the next page")
        after = b.eval(count)
        ids = b.eval("[...document.querySelectorAll('[data-testid=execution-row]')].map((r) => r.dataset.id)")
        if len(set(ids)) != len(ids):
            raise CheckFailed("the next page repeated rows")
        passed.append(f"More appends the next page ({before} → {after} rows)")
    finally:
        b.close()
    return passed


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, out = sys.argv[1:]
    try:
        for line in run(base.rstrip("/"), token, out):
            print(f"  ok   [interactive] {line}")
    except CheckFailed as exc:
        print(f"  FAIL [interactive] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
