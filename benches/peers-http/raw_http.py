"""Baseline over streamable HTTP: hand-written JSON-RPC POSTs on one keep-alive connection
(python stdlib, no SDK), answers read as JSON or as the SSE stream the server chooses.

Not a client; it shows the floor set by the server + HTTP on loopback, as `raw_jsonrpc.py`
does for stdio.

  python raw_http.py URL bench [N]   -> JSON line: seq (N calls)
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.environ.get("PEERS", os.getcwd()))
from common import WARMUP, check_echo_text, emit  # noqa: E402

CLIENT = "baseline-raw-jsonrpc"


class Raw:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.path = u.path or "/"
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80)
        self.session = None
        self.version = None
        self.next_id = 0

    def post(self, method, params=None, notify=False):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        if self.version:
            headers["Mcp-Protocol-Version"] = self.version
        self.conn.request("POST", self.path, body=json.dumps(msg).encode(), headers=headers)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status >= 300:
            sys.exit(f"HTTP {resp.status}: {body[:200]!r}")
        self.session = resp.getheader("mcp-session-id") or self.session
        if notify:
            return None
        if resp.getheader("content-type", "").startswith("text/event-stream"):
            for line in body.decode().splitlines():
                # A priming event (SEP-1699: an id and an empty data line) carries no message.
                if line.startswith("data:") and line[5:].strip():
                    answer = json.loads(line[5:])
                    if answer.get("id") == self.next_id:
                        break
            else:
                sys.exit(f"no answer in the event stream: {body[:200]!r}")
        else:
            answer = json.loads(body)
        if "error" in answer:
            sys.exit(f"error: {answer}")
        return answer["result"]

    def connect(self):
        result = self.post("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                          "clientInfo": {"name": "raw", "version": "0"}})
        self.version = result["protocolVersion"]
        self.post("notifications/initialized", notify=True)
        names = [t["name"] for t in self.post("tools/list")["tools"]]
        if "echo" not in names:
            sys.exit(f"no echo tool: {names}")

    def call_echo(self, i):
        return self.post("tools/call", {"name": "echo", "arguments": {"message": f"m{i}"}})["content"][0]["text"]


def bench(url, n):
    c = Raw(url)
    c.connect()
    for i in range(WARMUP):
        c.call_echo(i)
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        a = time.perf_counter_ns()
        text = c.call_echo(i)
        lat.append(time.perf_counter_ns() - a)
        check_echo_text(text, i)
    emit(CLIENT, "seq", lat, time.perf_counter() - t0)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "bench":
        sys.exit(__doc__)
    bench(sys.argv[1], int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
