#!/usr/bin/env python3
"""A mock of toolbridge's HTTP API, for developing and checking the dashboard.

Serves the dashboard's assets (crates/server/assets/) at `/` and the API the real
server will implement (`/healthz`, `/api/v1/...`) from fixture data: a few agents,
a few runtimes, and a couple of dozen executions, one of them (the "showcase")
finished with several tool calls, two of them parallel and one failed. At start it
also launches one *live* execution whose events are emitted over a few seconds, and
`POST /api/v1/executions` launches more, so the `/events` SSE stream, live updates
and Cancel can be exercised without the Rust server.

Python standard library only. Usage:

    python3 scripts/dashboard_mock.py [--port 8787] [--token SECRET] [--live-scale 1.0]

With `--port 0` the bound port is printed on stdout as the first line.
Well-known ids (stable across runs): SHOWCASE_ID, FAILED_ID, CANCELLED_ID and
INTERRUPTED_ID below. Mock-only switches: `--no-live` (no live run at boot),
`--live-scale` (slower/faster live runs), `--refuse-events` (/events answers 503,
to exercise the dashboard's polling fallback).

What the dashboard relies on, beyond the endpoint list (the real server should
keep these):
- It calls the API with paths relative to the page (`api/v1/...`, `healthz`), so
  it works at `/` and under a prefix. Assets are flat files in one folder; `.js`
  must be served as `text/javascript` (ES modules refuse other types).
- Any 401 on /api/* means "ask for the token". `/events` also accepts the token
  as `?access_token=` (EventSource cannot send headers); no other endpoint does.
- SSE: `id:` is the event's `seq`, strictly increasing from 1 per execution; the
  dashboard drops any `seq` it has seen (EventSource reconnects with
  Last-Event-ID). The last message is `event: result` with the full execution;
  the dashboard closes the stream on it (otherwise EventSource reconnects when the
  server closes). An execution with no stored events may send `result` only:
  the timeline then infers model turns from the gaps between tool calls.
- `tool_use_id` in a ToolCallRecord equals `tool_execution_id` in the events (the
  join key; a name-in-order match is the fallback). A call cut short by a cancel
  has `error_type: "cancelled"` in the record; in events it is `tool_complete`
  with `status: "failed"` and an `error` mentioning "cancel".
- While running, `GET /executions/{id}` has `status: "running"` and null
  `finished_at`/`duration_ms`/`finish_reason`; its `tool_calls` may list the calls
  finished so far (the mock does) and `usage` may lag: the dashboard shows the
  latest `usage` event then. Before `result` arrives, `done.finish_reason` maps to
  a status: stop/length/tool_use → success, error → error, cancelled → cancelled.
- List: newest first by `started_at`; `limit` 1..200 (default 20 here); the cursor
  is opaque. A refresh re-reads the first page with `limit` = rows shown (≤ 200).
- `POST /api/v1/executions?async=true` `{agent, prompt}` → 202 `{execution_id}`;
  an error's `field` (`agent`, `prompt`) is highlighted in the run form (422 for a
  bad field, 404 for an unknown agent). Without `async`, the answer is the
  RuntimeExecutionResult plus `execution_id` (not the whole execution).
- The real server is `toolbridge server` (crates/server, docs/http-api.md);
  scripts/dashboard-check-server.sh runs the browser checks against it.
- Times are RFC 3339 with milliseconds and `Z`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

VERSION = "0.1.0-mock"
SHOWCASE_ID = "3f6c1e2a-8b4d-4c1f-9a57-0d2e5b7c9e01"
FAILED_ID = "7a1d9c3e-2f4b-4e8a-b6d1-5c3e7f9a1b02"
CANCELLED_ID = "c2e4a6b8-d0f2-4a1c-8e3b-5d7f9b1c3e05"
INTERRUPTED_ID = "e4a6c8e0-f2a4-4c3e-8a5d-7f9b1d3e5a07"
STATUSES = ("running", "success", "error", "cancelled", "interrupted")
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
ASSETS = Path(__file__).resolve().parent.parent / "crates" / "server" / "assets"


def rfc3339(t: datetime) -> str:
    """RFC 3339 with milliseconds and a Z, as the real server writes times."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------
# Scripts: one description of what an execution does, from which both its event
# stream and its stored record are derived, so the two always agree.
#
# A script is a list of steps:
#   ("model", duration_ms, input_tokens, output_tokens, text, thinking_or_None)
#   ("tools", [call, ...])  where a call is a dict with tool, input, duration_ms,
#       and optionally offset_ms (start after the batch start), success, output,
#       error, error_type, source, server
#   ("fail", message)       the execution ends with finish_reason "error"
# ---------------------------------------------------------------------------


def call(tool, input, duration_ms, offset_ms=0, output="", success=True, error=None, error_type=None):
    source, _, _ = tool.partition("__")
    kind = "skill" if source in ("files", "wait", "shell") else "mcp"
    return {
        "tool": tool,
        "input": input,
        "duration_ms": duration_ms,
        "offset_ms": offset_ms,
        "output": output,
        "success": success,
        "error": error,
        "error_type": error_type,
        "source": kind,
        "server": source,
    }


def chunks(text: str, n: int) -> list[str]:
    """Splits text into about n pieces on word boundaries, as a model streams it."""
    words = text.split(" ")
    size = max(1, len(words) // n)
    out = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [w + (" " if i < len(out) - 1 else "") for i, w in enumerate(out)]


class Plan:
    """The events (with ms offsets from the start) and the record of a script."""

    def __init__(self, script: list) -> None:
        self.events: list[tuple[int, dict]] = []  # (offset_ms, event without seq/ts)
        self.calls: list[dict] = []  # tool call records with offsets instead of times
        t = 0
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "cache_read_tokens": 0}
        response = ""
        self.finish_reason = "stop"
        self.error = None
        n_call = 0
        for step in script:
            kind = step[0]
            if kind == "model":
                _, duration, tin, tout, text, thinking = step
                if thinking:
                    self.events.append((t + 40, {"type": "thinking_start"}))
                    pieces = chunks(thinking, 3)
                    for i, piece in enumerate(pieces):
                        self.events.append((t + 60 + i * 30, {"type": "thinking_delta", "text": piece}))
                    self.events.append((t + 60 + len(pieces) * 30, {"type": "thinking_complete"}))
                if text:
                    pieces = chunks(text, 6)
                    start = t + duration // 2
                    for i, piece in enumerate(pieces):
                        at = start + (duration // 2 - 10) * i // max(1, len(pieces))
                        self.events.append((at, {"type": "content_chunk", "text": piece}))
                    response += text
                t += duration
                usage = {
                    "input_tokens": usage["input_tokens"] + tin,
                    "output_tokens": usage["output_tokens"] + tout,
                    "total_tokens": usage["total_tokens"] + tin + tout,
                    "cache_read_tokens": usage["cache_read_tokens"] + (tin // 3 if usage["input_tokens"] else 0),
                    "model_provider": "scripted",
                }
                self.events.append((t, {"type": "usage", **usage}))
            elif kind == "tools":
                batch_start = t + 4
                batch_end = batch_start
                for c in step[1]:
                    n_call += 1
                    call_id = f"call_{n_call:02d}_{c['tool'].split('__')[-1]}"
                    start = batch_start + c["offset_ms"]
                    end = start + c["duration_ms"]
                    batch_end = max(batch_end, end)
                    self.events.append(
                        (start, {"type": "tool_start", "tool_name": c["tool"], "tool_args": c["input"], "tool_execution_id": call_id})
                    )
                    self.events.append(
                        (
                            end,
                            {
                                "type": "tool_complete",
                                "tool_name": c["tool"],
                                "tool_execution_id": call_id,
                                "status": "success" if c["success"] else "failed",
                                "output": c["output"][:1000],
                                "error": c["error"],
                                "duration_ms": c["duration_ms"],
                            },
                        )
                    )
                    self.calls.append({**c, "tool_use_id": call_id, "start_ms": start, "end_ms": end})
                t = batch_end + 3
            elif kind == "fail":
                self.finish_reason = "error"
                self.error = step[1]
        t += 2
        self.events.append((t, {"type": "done", "finish_reason": self.finish_reason}))
        self.events.sort(key=lambda e: e[0])  # stable: same-time events keep script order
        self.duration_ms = t
        self.usage = usage
        self.response = response


# ---------------------------------------------------------------------------
# Executions: a plan anchored at a start time. A *live* execution's state is read
# off the clock (events whose time has come); cancelling it cuts the plan there.
# ---------------------------------------------------------------------------


class Execution:
    def __init__(self, exec_id, agent, prompt, started_at: datetime, plan: Plan, *, live=False, status=None, model="scripted:fixtures/transcripts/demo.json", runtime_type="agent_loop") -> None:
        self.id = exec_id
        self.agent = agent
        self.prompt = prompt
        self.started_at = started_at
        self.plan = plan
        self.live = live
        self.forced_status = status  # "cancelled"/"interrupted" fixtures
        self.model = model
        self.runtime_type = runtime_type
        self.cancel_at_ms: float | None = None  # plan ms at which a cancel landed
        self.lock = threading.Lock()

    # -- clock ------------------------------------------------------------
    def elapsed_ms(self) -> float:
        """Plan milliseconds elapsed so far (infinite for a stored execution)."""
        if not self.live:
            return float("inf")
        return (datetime.now(timezone.utc) - self.started_at).total_seconds() * 1000

    def at(self, plan_ms: float) -> datetime:
        return self.started_at + timedelta(milliseconds=plan_ms)

    # -- events -----------------------------------------------------------
    def all_events(self) -> tuple[list[dict], bool]:
        """Every event so far, with seq and ts, and whether the execution has ended."""
        now = self.elapsed_ms()
        cut = self.cut_ms()
        out: list[dict] = []
        open_calls: dict[str, dict] = {}
        ended = False
        limit = min(now, cut) if cut is not None else now
        for offset, event in self.plan.events:
            if offset > limit:
                break
            if event["type"] == "done" and self.forced_status == "interrupted":
                break
            out.append((offset, event))
            if event["type"] == "tool_start":
                open_calls[event["tool_execution_id"]] = (offset, event)
            elif event["type"] == "tool_complete":
                open_calls.pop(event["tool_execution_id"], None)
            elif event["type"] == "done":
                ended = True
        if self.forced_status == "interrupted":
            # The process died: the stream stops where the record stops, no done.
            out = [e for e in out if e[0] <= self.plan.duration_ms * 0.5]
            ended = True
        elif cut is not None and not ended and now >= cut:
            for call_id, (start, ev) in open_calls.items():
                out.append((cut, {"type": "tool_complete", "tool_name": ev["tool_name"], "tool_execution_id": call_id,
                                  "status": "failed", "output": "", "error": "cancelled",
                                  "duration_ms": int(cut - start)}))
            out.append((cut + 1, {"type": "done", "finish_reason": "cancelled"}))
            ended = True
        return [
            {**event, "seq": i + 1, "ts": rfc3339(self.at(offset))} for i, (offset, event) in enumerate(out)
        ], ended

    # -- record -----------------------------------------------------------
    def status(self, events=None) -> str:
        if self.forced_status:
            return self.forced_status
        events, ended = events or self.all_events()
        if not ended:
            return "running"
        reason = events[-1]["finish_reason"]
        return {"stop": "success", "tool_use": "success", "length": "success", "cancelled": "cancelled"}.get(reason, "error")

    def record(self) -> dict:
        events, ended = self.all_events()
        status = self.status((events, ended))
        done = next((e for e in events if e["type"] == "done"), None)
        finish_reason = done["finish_reason"] if done else None
        end_ms = None
        if done:
            end_ms = self.plan.duration_ms if finish_reason != "cancelled" else self.cut_ms() + 1
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "cache_read_tokens": 0, "model_provider": "scripted"}
        for e in events:
            if e["type"] == "usage":
                usage = {k: e[k] for k in ("input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "model_provider")}
        completes = {e["tool_execution_id"]: e for e in events if e["type"] == "tool_complete"}
        calls = []
        for c in self.plan.calls:
            done_ev = completes.get(c["tool_use_id"])
            if done_ev is None:
                continue  # not finished yet: the call log records a call when it ends
            cut = self.cut_ms()
            cancelled = cut is not None and c["end_ms"] > cut
            end_ms_call = c["start_ms"] + done_ev["duration_ms"] if cancelled else c["end_ms"]
            calls.append({
                "tool": c["tool"],
                "tool_use_id": c["tool_use_id"],
                "source": c["source"],
                "server": c["server"],
                "input": c["input"],
                "output": "" if cancelled else c["output"],
                "success": False if cancelled else c["success"],
                "error": "cancelled" if cancelled else c["error"],
                "error_type": "cancelled" if cancelled else c["error_type"],
                "duration_ms": int(end_ms_call - c["start_ms"]),
                "start_time": rfc3339(self.at(c["start_ms"])),
                "end_time": rfc3339(self.at(end_ms_call)),
                "metadata": {"attempt": 1} if c["source"] == "mcp" else {},
            })
        error = None
        if status == "error":
            error = self.plan.error
        elif status == "cancelled":
            error = "execution cancelled"
        elif status == "interrupted":
            error = "the process running this execution exited before it finished"
        response = "".join(e["text"] for e in events if e["type"] == "content_chunk")
        finished_at = rfc3339(self.at(end_ms)) if end_ms is not None else None
        return {
            "id": self.id,
            "agent_id": self.agent,
            "runtime_type": self.runtime_type,
            "model": self.model,
            "status": status,
            "finish_reason": finish_reason,
            "prompt": self.prompt,
            "started_at": rfc3339(self.started_at),
            "finished_at": finished_at,
            "duration_ms": int(end_ms) if end_ms is not None else None,
            "error": error,
            "usage": usage,
            "response": response,
            "tool_calls": calls,
            "metadata": {"run_id": f"run-{self.id[:8]}", "iterations": sum(1 for e in events if e["type"] == "usage"),
                         "mock": True},
        }

    def cut_ms(self) -> float | None:
        """Plan ms where a cancel cut the execution short, if it was."""
        with self.lock:
            if self.cancel_at_ms is not None:
                return self.cancel_at_ms
        return self.plan.duration_ms * 0.75 if self.forced_status == "cancelled" else None

    def summary(self) -> dict:
        r = self.record()
        return {
            "id": r["id"], "agent_id": r["agent_id"], "runtime_type": r["runtime_type"], "model": r["model"],
            "status": r["status"], "finish_reason": r["finish_reason"], "prompt": r["prompt"],
            "started_at": r["started_at"], "finished_at": r["finished_at"], "duration_ms": r["duration_ms"],
            "tool_calls": len(r["tool_calls"]), "total_tokens": r["usage"]["total_tokens"], "error": r["error"],
        }

    def cancel(self) -> bool:
        with self.lock:
            if not self.live or self.cancel_at_ms is not None:
                return False
        if self.status() != "running":
            return False
        with self.lock:
            self.cancel_at_ms = self.elapsed_ms()
        return True


# ---------------------------------------------------------------------------
# Fixture data
# ---------------------------------------------------------------------------

NUMBERS_CSV = "name,value\nalpha,12\nbeta,30\ngamma,7\ndelta,51\n"
NOTES_MD = "# Notes\n\n- The total should be checked against the ledger.\n- Values are in thousands.\n"

SHOWCASE_SCRIPT = [
    ("model", 640, 812, 64, "", "The user wants the sum of numbers.csv checked against the notes. Read both files first."),
    ("tools", [
        call("files__read_file", {"path": "numbers.csv"}, 118, output=NUMBERS_CSV),
        call("files__read_file", {"path": "notes.md"}, 74, offset_ms=2, output=NOTES_MD),
    ]),
    ("model", 710, 1093, 48, "", None),
    ("tools", [
        call("testbed__sum", {"values": [12, 30, 7, 51]}, 36, output='{"sum": 100}'),
    ]),
    ("model", 530, 1187, 41, "", None),
    ("tools", [
        call("testbed__lookup", {"key": "ledger-total", "region": "eu-west"}, 412, output="",
             success=False, error="upstream returned 503 Service Unavailable", error_type="tool_error"),
        call("wait__sleep", {"seconds": 0.25}, 254, offset_ms=1, output="slept 0.25 s"),
    ]),
    ("model", 880, 1342, 96,
     "The four values in numbers.csv add up to **100** (alpha 12 + beta 30 + gamma 7 + delta 51), "
     "i.e. 100 thousand per the notes. I could not check it against the ledger: the lookup tool "
     "failed with 503 Service Unavailable, so that comparison is still open.", None),
]

FAILED_SCRIPT = [
    ("model", 420, 610, 22, "", None),
    ("tools", [call("testbed__divide", {"a": 1, "b": 0}, 12, success=False, error="division by zero",
                    error_type="tool_error")]),
    ("model", 300, 655, 0, "", None),
    ("fail", "model provider returned 429 Too Many Requests after 3 retries"),
]

LIVE_SCRIPT = [
    ("model", 900, 702, 58, "", "Plan: list the workspace and start the slow adder, then read the data."),
    ("tools", [
        call("files__list_directory", {"path": "."}, 420, output="notes.md\nnumbers.csv\n"),
        call("testbed__slow_add", {"a": 12, "b": 30, "delay_ms": 2000}, 2000, offset_ms=40, output="42"),
    ]),
    ("model", 1100, 905, 44, "", None),
    ("tools", [
        call("files__read_file", {"path": "numbers.csv"}, 650, output=NUMBERS_CSV),
        call("testbed__echo", {"text": "checking"}, 260, offset_ms=10, output="checking"),
        call("testbed__validate", {"schema": "ledger", "strict": True}, 380, offset_ms=30, success=False,
             error="invalid arguments: 'schema' must be one of [csv, json]", error_type="invalid_arguments"),
    ]),
    ("model", 1200, 1184, 71,
     "Done. The workspace holds notes.md and numbers.csv; the numbers add up to 100, and 12 + 30 = 42 "
     "as the slow adder confirmed. The ledger validation was rejected (bad schema name).", None),
]


def simple_script(i: int) -> list:
    tools = [
        [call("testbed__echo", {"text": f"ping {i}"}, 8 + i % 5, output=f"ping {i}")],
        [call("files__read_file", {"path": "notes.md"}, 30 + i % 7, output=NOTES_MD),
         call("testbed__add", {"a": i, "b": 2 * i}, 11, offset_ms=1, output=str(3 * i))],
        [],
    ][i % 3]
    script = [("model", 300 + 37 * (i % 9), 400 + 13 * i, 20 + i, "", None)]
    if tools:
        script += [("tools", tools), ("model", 250 + 11 * (i % 5), 520 + 13 * i, 30 + i, f"Answer number {i}: all good.", None)]
    else:
        script[0] = ("model", 300 + 37 * (i % 9), 400 + 13 * i, 20 + i, f"Answer number {i}, no tools needed.", None)
    return script


AGENTS = [
    {
        "name": "demo",
        "description": "Scripted demo: a real MCP server (testbed) and real skills, no API key needed",
        "runtime": "agent_loop",
        "model_id": "scripted:fixtures/transcripts/demo.json",
        "system_prompt": "You are a careful assistant. Use the tools to check your answers.",
        "runtime_config": {"max_iterations": 6, "max_parallel_tools": 4},
        "model_config": {"temperature": 0.2},
        "mcp_servers": {
            "testbed": {"command": "target/debug/testbed-mcp", "args": ["--seed", "7"], "env": {"TESTBED_TOKEN": "[redacted]"}},
        },
        "skills": [
            {"name": "files", "type": "file_system", "configuration": {"base_dir": "fixtures/demo-workspace", "enable_save_file": False}, "enabled": True},
            {"name": "wait", "type": "sleep", "configuration": {"max_seconds": 5}, "enabled": True},
        ],
        "policy": {"deny": ["testbed__crash", "testbed__hang", "testbed__spawn_grandchild"]},
        "created_at": "2025-11-20T09:12:44.120Z",
        "updated_at": "2025-11-28T16:03:10.554Z",
    },
    {
        "name": "researcher",
        "description": "Answers questions with web fetch and a remote knowledge base <b>(HTML in text must show as text)</b>",
        "runtime": "agent_loop",
        "model_id": "anthropic:claude-sonnet-4-5",
        "system_prompt": "Cite every source.",
        "runtime_config": {"max_iterations": 12, "tool_output_limit": 50000},
        "mcp_servers": {
            "fetch": {"command": "uvx", "args": ["mcp-server-fetch"], "env": {}},
            "kb": {"url": "https://kb.example.invalid/mcp", "headers": {"Authorization": "[redacted]"}},
        },
        "skills": [{"name": "shell", "type": "shell", "configuration": {"allowed_commands": ["ls", "cat"]}, "enabled": False}],
        "created_at": "2025-11-21T11:00:00.000Z",
        "updated_at": "2025-11-21T11:00:00.000Z",
    },
    {
        "name": "py-plugin",
        "runtime": "echo-plugin",
        "mcp_servers": {},
        "skills": [],
        "created_at": "2025-11-25T08:30:00.000Z",
        "updated_at": "2025-11-26T14:45:12.003Z",
    },
]

CAPS_ALL = {"streaming": True, "tools": True, "mcp": True, "hooks": True, "cancellation": True,
            "conversation_history": True, "custom_tools": True}
RUNTIMES = [
    {
        "runtime_type": "agent_loop",
        "description": "The bundled tool-calling agent loop",
        "capabilities": CAPS_ALL,
        "runtime_config_schema": {
            "type": "object",
            "properties": {
                "max_iterations": {"type": "integer", "minimum": 1, "default": 10},
                "max_parallel_tools": {"type": "integer", "minimum": 1, "default": 4},
                "tool_output_limit": {"type": "integer", "minimum": 1, "default": 100000},
            },
            "additionalProperties": False,
        },
        "kind": "builtin",
    },
    {
        "runtime_type": "echo-plugin",
        "description": "A Python plugin runtime that echoes the prompt",
        "capabilities": {**CAPS_ALL, "hooks": False, "conversation_history": False, "custom_tools": False},
        "runtime_config_schema": {},
        "kind": "plugin",
    },
]


def scaled(script: list, k: float) -> list:
    """The script with every duration and offset multiplied by k."""
    if k == 1:
        return script
    out = []
    for step in script:
        if step[0] == "model":
            out.append((step[0], int(step[1] * k), *step[2:]))
        elif step[0] == "tools":
            out.append(("tools", [{**c, "duration_ms": int(c["duration_ms"] * k), "offset_ms": int(c["offset_ms"] * k)}
                                  for c in step[1]]))
        else:
            out.append(step)
    return out


class Store:
    def __init__(self, live_scale: float) -> None:
        self.lock = threading.Lock()
        self.live_scale = live_scale
        self.executions: dict[str, Execution] = {}
        base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
        prompts = ["Say hello through the testbed", "Summarise notes.md", "Add the first row to the second",
                   "What is in the workspace?", "Echo the date", "Check the ledger total"]
        for i in range(24):
            eid = str(uuid.UUID(bytes=hashlib.sha256(f"fixture-{i}".encode()).digest()[:16], version=4))
            agent = ("demo", "researcher", "demo", "py-plugin")[i % 4]
            model = {"demo": "scripted:fixtures/transcripts/demo.json", "researcher": "anthropic:claude-sonnet-4-5",
                     "py-plugin": "echo"}[agent]
            runtime = "echo-plugin" if agent == "py-plugin" else "agent_loop"
            self.add(Execution(eid, agent, prompts[i % len(prompts)] + f" (#{i})", base + timedelta(minutes=5 * i),
                               Plan(simple_script(i)), model=model, runtime_type=runtime))
        self.add(Execution(FAILED_ID, "demo", "Divide one by zero, carefully", base + timedelta(minutes=125),
                           Plan(FAILED_SCRIPT)))
        self.add(Execution(CANCELLED_ID, "demo", "Sum the numbers slowly", base + timedelta(minutes=131),
                           Plan(LIVE_SCRIPT), status="cancelled"))
        self.add(Execution(INTERRUPTED_ID, "researcher", "Fetch the release notes and summarise them",
                           base + timedelta(minutes=140), Plan(SHOWCASE_SCRIPT), status="interrupted",
                           model="anthropic:claude-sonnet-4-5"))
        self.add(Execution(SHOWCASE_ID, "demo", "Add up the values in numbers.csv and check the total against the notes and the ledger",
                           base + timedelta(minutes=150, milliseconds=237), Plan(SHOWCASE_SCRIPT)))

    def add(self, e: Execution) -> None:
        with self.lock:
            self.executions[e.id] = e

    def start_live(self, agent: str, prompt: str) -> Execution:
        e = Execution(str(uuid.uuid4()), agent, prompt, datetime.now(timezone.utc),
                      Plan(scaled(LIVE_SCRIPT, self.live_scale)), live=True)
        self.add(e)
        return e

    def get(self, exec_id: str) -> Execution | None:
        with self.lock:
            return self.executions.get(exec_id)

    def newest_first(self) -> list[Execution]:
        with self.lock:
            items = list(self.executions.values())
        return sorted(items, key=lambda e: (e.started_at, e.id), reverse=True)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.field:
            err["field"] = self.field
        return {"error": err}


class Handler(BaseHTTPRequestHandler):
    server_version = "toolbridge-mock/" + VERSION
    store: Store
    token: str | None
    assets: Path
    quiet: bool
    refuse_events = False

    def log_message(self, fmt, *args):  # noqa: N802 - http.server's name
        if not self.quiet:
            sys.stderr.write("mock: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing -----------------------------------------------------------
    def send_json(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "request body must be a JSON object")
        return body

    def check_auth(self, query: dict, allow_query_token: bool) -> None:
        if not self.token:
            return
        header = self.headers.get("Authorization", "")
        if header == f"Bearer {self.token}":
            return
        # EventSource cannot send headers, so the real server accepts the token as a
        # query parameter on /events (and only there); the mock does the same.
        if allow_query_token and query.get("access_token", [None])[0] == self.token:
            return
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")

    def do_GET(self):  # noqa: N802
        self.dispatch("GET")

    def do_HEAD(self):  # noqa: N802
        self.dispatch("GET")

    def do_POST(self):  # noqa: N802
        self.dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self.dispatch("PUT")

    def do_DELETE(self):  # noqa: N802
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if url.path == "/healthz":
                self.only(method, "GET")
                return self.send_json(200, {"status": "ok", "version": VERSION})
            if parts[:2] == ["api", "v1"]:
                is_events = len(parts) == 5 and parts[2] == "executions" and parts[4] == "events"
                self.check_auth(query, allow_query_token=is_events)
                return self.api(method, parts[2:], query)
            if parts and parts[0] == "api":
                raise ApiError(404, "not_found", f"no such endpoint: {url.path}")
            self.only(method, "GET")
            return self.static(url.path)
        except ApiError as exc:
            self.send_json(exc.status, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def only(self, method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, "method_not_allowed", f"use {' or '.join(allowed)}")

    # -- static assets -------------------------------------------------------
    def static(self, path: str) -> None:
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        # Only plain files directly in the assets folder, as the embedded server will.
        if "/" in name or name.startswith(".") or not (self.assets / name).is_file():
            raise ApiError(404, "not_found", f"no such file: {path}")
        data = (self.assets / name).read_bytes()
        ctype = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml"}.get(
            Path(name).suffix, mimetypes.guess_type(name)[0] or "application/octet-stream")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # -- API ----------------------------------------------------------------------
    def api(self, method: str, parts: list[str], query: dict) -> None:
        store = self.store
        if parts == ["agents"]:
            self.only(method, "GET")
            return self.send_json(200, {"agents": AGENTS})
        if len(parts) == 2 and parts[0] == "agents":
            self.only(method, "GET")
            agent = next((a for a in AGENTS if a["name"] == parts[1]), None)
            if agent is None:
                raise ApiError(404, "not_found", f"no agent named {parts[1]!r}")
            return self.send_json(200, agent)
        if parts == ["runtimes"]:
            self.only(method, "GET")
            return self.send_json(200, {"runtimes": RUNTIMES})
        if parts == ["executions"]:
            self.only(method, "GET", "POST")
            if method == "POST":
                return self.create_execution(query)
            return self.list_executions(query)
        if len(parts) >= 2 and parts[0] == "executions":
            execution = store.get(parts[1])
            if execution is None:
                raise ApiError(404, "not_found", f"no execution {parts[1]!r}")
            if len(parts) == 2:
                self.only(method, "GET")
                return self.send_json(200, execution.record())
            if parts[2:] == ["usage"]:
                self.only(method, "GET")
                return self.send_json(200, execution.record()["usage"])
            if parts[2:] == ["cancel"]:
                self.only(method, "POST")
                return self.send_json(200, {"cancelled": execution.cancel()})
            if parts[2:] == ["events"]:
                self.only(method, "GET")
                if self.refuse_events:
                    raise ApiError(503, "unavailable", "event streaming is switched off (--refuse-events)")
                return self.events(execution)
        raise ApiError(404, "not_found", f"no such endpoint: /api/v1/{'/'.join(parts)}")

    def list_executions(self, query: dict) -> None:
        agent = query.get("agent", [None])[0]
        status = query.get("status", [None])[0]
        if status and status not in STATUSES:
            raise ApiError(400, "invalid_argument", f"status must be one of {', '.join(STATUSES)}", "status")
        try:
            limit = int(query.get("limit", [DEFAULT_LIMIT])[0])
        except ValueError:
            raise ApiError(400, "invalid_argument", "limit must be an integer", "limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "invalid_argument", f"limit must be between 1 and {MAX_LIMIT}", "limit")
        cursor = query.get("cursor", [None])[0]
        start = 0
        if cursor:
            # Opaque to clients; here "o<offset>".
            if not cursor.startswith("o") or not cursor[1:].isdigit():
                raise ApiError(400, "invalid_argument", "cursor is not one this server issued", "cursor")
            start = int(cursor[1:])
        rows = [e.summary() for e in self.store.newest_first()]
        rows = [r for r in rows if (not agent or r["agent_id"] == agent) and (not status or r["status"] == status)]
        page = rows[start : start + limit]
        next_cursor = f"o{start + limit}" if start + limit < len(rows) else None
        self.send_json(200, {"executions": page, "next_cursor": next_cursor})

    def create_execution(self, query: dict) -> None:
        body = self.read_json()
        agent = body.get("agent")
        prompt = body.get("prompt")
        # As the real server: a well-formed body with a bad field is 422 naming it.
        if not isinstance(agent, str) or not any(a["name"] == agent for a in AGENTS):
            raise ApiError(422 if not isinstance(agent, str) else 404,
                           "invalid_field" if not isinstance(agent, str) else "not_found",
                           "agent: missing field `agent`" if agent is None else f"no agent named {agent!r}", "agent")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ApiError(422, "invalid_field", "prompt must not be empty", "prompt")
        execution = self.store.start_live(agent, prompt)
        if query.get("async", ["false"])[0] == "true":
            return self.send_json(202, {"execution_id": execution.id})
        while execution.status() == "running":
            time.sleep(0.05)
        # The real server answers the RuntimeExecutionResult with the execution's id.
        r = execution.record()
        return self.send_json(200, {
            "execution_id": r["id"], "response": r["response"], "usage": r["usage"],
            "success": r["status"] == "success", "finish_reason": r["finish_reason"],
            "run_id": r["metadata"]["run_id"], "model": r["model"], "tool_execution_messages": r["tool_calls"],
            "tool_messages": None, "error": r["error"], "metadata": r["metadata"],
        })

    def events(self, execution: Execution) -> None:
        try:
            last = int(self.headers.get("Last-Event-ID") or 0)
        except ValueError:
            last = 0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        sent = last
        idle = 0.0
        while True:
            events, ended = execution.all_events()
            for event in events[sent:]:
                self.wfile.write(
                    f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                sent = event["seq"]
            if ended and sent >= len(events):
                self.wfile.write(f"event: result\ndata: {json.dumps(execution.record())}\n\n".encode())
                self.wfile.flush()
                return
            self.wfile.flush()
            time.sleep(0.05)
            idle += 0.05
            if idle >= 15:  # keep-alive comment so proxies keep the stream open
                self.wfile.write(b": keep-alive\n\n")
                idle = 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port, printed on stdout first")
    parser.add_argument("--token", default=os.environ.get("TOOLBRIDGE_TOKEN") or None,
                        help="require 'Authorization: Bearer TOKEN' on /api/*")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="dashboard assets folder")
    parser.add_argument("--live-scale", type=float, default=1.0,
                        help="slow down (>1) or speed up (<1) live executions")
    parser.add_argument("--no-live", action="store_true", help="do not start a live execution at boot")
    parser.add_argument("--refuse-events", action="store_true",
                        help="answer /events with 503, to exercise the dashboard's polling fallback")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = parser.parse_args()

    store = Store(args.live_scale)
    if not args.no_live:
        store.start_live("demo", "List the workspace, sum numbers.csv and validate the ledger")
    Handler.store, Handler.token, Handler.assets, Handler.quiet = store, args.token, args.assets, args.quiet
    Handler.refuse_events = args.refuse_events
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    if not args.quiet:
        print(f"mock: serving http://{args.host}:{server.server_address[1]}/ (assets {args.assets})", file=sys.stderr)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
