#!/usr/bin/env python3
"""Assertions on a DOM dumped by headless Chromium (`--dump-dom`), for
scripts/dashboard-check.sh. Python standard library only.

    python3 scripts/dashboard_dom.py CHECK FILE [KEY=VALUE ...]

CHECK is one of the functions named check_* below (without the prefix). Exits 0
when the check passes, 1 with a message per failed expectation otherwise.
"""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find_all(self, testid: str | None = None, tag: str | None = None) -> list[Node]:
        return [n for n in self.walk() if (testid is None or n.attrs.get("data-testid") == testid)
                and (tag is None or n.tag == tag)]

    def find(self, testid: str) -> Node | None:
        found = self.find_all(testid)
        return found[0] if found else None

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: (v or "") for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(path: str) -> Node:
    builder = TreeBuilder()
    with open(path, encoding="utf-8") as f:
        builder.feed(f.read())
    return builder.root


class Checker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.failures: list[str] = []
        self.passed = 0

    def expect(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
        return ok

    def done(self) -> int:
        if self.failures:
            for f in self.failures:
                print(f"  FAIL [{self.name}] {f}")
            return 1
        print(f"  ok   [{self.name}] {self.passed} expectations")
        return 0


STATUSES = {"running", "success", "error", "cancelled", "interrupted"}
CALL_STATUSES = {"success", "failed", "running", "cancelled"}


def common(doc: Node, c: Checker) -> None:
    """What every page must show: the app booted and nothing failed to load."""
    c.expect(doc.find("executions-view") or doc.find("execution-view") or doc.find("agents-view")
             or doc.find("runtimes-view"), "a view is mounted (did app.js load?)")
    dialog = doc.find("token-dialog")
    c.expect(dialog is not None and "open" not in dialog.attrs, "the token form is not open")
    for n in doc.find_all("load-error"):
        c.expect(False, f"an error notice is shown: {n.text().strip()!r}")


def check_list(doc: Node, c: Checker, args: dict) -> None:
    common(doc, c)
    rows = doc.find_all("execution-row")
    c.expect(len(rows) >= int(args.get("min_rows", 1)), f"at least {args.get('min_rows', 1)} execution rows (got {len(rows)})")
    c.expect(all(r.get("data-status") in STATUSES for r in rows), "every row has a valid data-status")
    started = [r.get("data-started", "") for r in rows]
    c.expect(started == sorted(started, reverse=True), "rows are newest first (data-started descending)")
    if "expect_id" in args:
        row = next((r for r in rows if r.get("data-id") == args["expect_id"]), None)
        if c.expect(row is not None, f"row for {args['expect_id']} is listed"):
            c.expect(row.get("data-status") == args.get("expect_status", row.get("data-status")),
                     f"row {args['expect_id']} has status {args.get('expect_status')} (got {row.get('data-status')})")
            link = next((n for n in row.walk() if n.tag == "a"), None)
            c.expect(link is not None and link.get("href") == f"#/executions/{args['expect_id']}",
                     "the row links to #/executions/<id>")
    if "status" in args:
        c.expect(bool(rows) and all(r.get("data-status") == args["status"] for r in rows),
                 f"filtered on status={args['status']}: every row has it")
    if args.get("more") == "yes":
        more = doc.find("more-button")
        c.expect(more is not None and "hidden" not in more.attrs, "the More button is shown (more pages exist)")
    if "statuses" in args:
        seen = {r.get("data-status") for r in rows}
        for s in args["statuses"].split(","):
            c.expect(s in seen, f"a row with status {s} is listed")


def check_auth_prompt(doc: Node, c: Checker, args: dict) -> None:
    dialog = doc.find("token-dialog")
    c.expect(dialog is not None and "open" in dialog.attrs, "the token form is open after a 401")
    c.expect(doc.find("token-form") is not None, "the token form is there")
    c.expect(not doc.find_all("execution-row"), "no rows are shown without a token")


def bars_by_tool(doc: Node) -> list[Node]:
    return doc.find_all("tool-bar")


def check_timeline(doc: Node, c: Checker, args: dict) -> None:
    common(doc, c)
    timeline = doc.find("timeline")
    if not c.expect(timeline is not None, "the timeline is rendered"):
        return
    bars = bars_by_tool(doc)
    got = [[b.get("data-tool"), int(b.get("data-duration-ms", "-1")), b.get("data-status")] for b in bars]
    if "bars" in args:
        expected = json.loads(args["bars"])  # [[tool, duration_ms, status], ...]
        c.expect(sorted(map(tuple, got)) == sorted(map(tuple, expected)),
                 f"tool bars (tool, duration ms, status) are {expected} (got {got})")
    if "min_bars" in args:
        c.expect(len(bars) >= int(args["min_bars"]), f"at least {args['min_bars']} tool bars (got {got})")
    for b in bars:
        label = b.text()
        c.expect(b.get("data-tool") in label and ("ms" in label or " s" in label),
                 f"bar {b.get('data-tool')} is labelled with its name and duration (got {label!r})")
    if "parallel" in args:
        a, b = args["parallel"].split(",")
        lanes = {bar.get("data-call-id"): bar.get("data-lane") for bar in bars}
        c.expect(a in lanes and b in lanes and lanes[a] != lanes[b],
                 f"parallel calls {a} and {b} are in different lanes ({lanes.get(a)} vs {lanes.get(b)})")
    turns = doc.find_all("model-turn")
    if "turns" in args:
        c.expect(len(turns) == int(args["turns"]), f"{args['turns']} model turns (got {len(turns)})")
    # A scripted model answers within the millisecond: 0 ms is a duration, a missing one is not.
    c.expect(all(int(t.get("data-duration-ms", "-1")) >= 0 for t in turns), "every model turn has a duration")
    usage = doc.find("usage-total")
    if c.expect(usage is not None, "usage totals are shown"):
        for key in ("input", "output", "total"):
            if f"{key}_tokens" in args:
                c.expect(usage.get(f"data-{key}-tokens") == args[f"{key}_tokens"],
                         f"{key} tokens = {args[f'{key}_tokens']} (got {usage.get(f'data-{key}-tokens')})")
        c.expect("total" in usage.text().lower(), "usage box shows a total")
    reason = doc.find("finish-reason")
    if "finish_reason" in args:
        c.expect(reason is not None and reason.text().strip() == args["finish_reason"],
                 f"finish reason {args['finish_reason']} (got {reason.text().strip() if reason else None})")
    status = doc.find("execution-view")
    if "status" in args:
        c.expect(status is not None and status.get("data-status") == args["status"],
                 f"execution status {args['status']} (got {status.get('data-status') if status else None})")
    cancel = doc.find("cancel-button")
    if "cancel_visible" in args:
        visible = cancel is not None and "hidden" not in cancel.attrs
        c.expect(visible == (args["cancel_visible"] == "yes"),
                 f"the Cancel button is {'shown' if args['cancel_visible'] == 'yes' else 'hidden'}")
    if "response_contains" in args:
        response = doc.find("response")
        c.expect(response is not None and args["response_contains"] in response.text(),
                 f"the response text contains {args['response_contains']!r}")
    if "response_tag" in args:  # e.g. strong:100 — Markdown rendered as elements
        tag, text = args["response_tag"].split(":", 1)
        response = doc.find("response")
        c.expect(response is not None and any(n.tag == tag and n.text() == text for n in response.walk()),
                 f"the response renders <{tag}>{text}</{tag}>")
    if "selected_input" in args:
        panel = doc.find("call-input")
        c.expect(panel is not None and args["selected_input"] in panel.text(),
                 f"the selected call's input shows {args['selected_input']!r}")
    if "selected_error" in args:
        panel = doc.find("call-error")
        c.expect(panel is not None and args["selected_error"] in panel.text(),
                 f"the selected call's error shows {args['selected_error']!r}")
    if "stream_state" in args:
        note = doc.find("stream-state")
        c.expect(note is not None and args["stream_state"] in note.text(),
                 f"the stream state says {args['stream_state']!r} (got {note.text() if note else None!r})")
    if "error_contains" in args:
        box = doc.find("execution-error")
        c.expect(box is not None and args["error_contains"] in box.text(),
                 f"the execution's error shows {args['error_contains']!r}")
    if "min_live_events" in args:
        live = int(timeline.get("data-live-events", "0"))
        c.expect(live >= int(args["min_live_events"]),
                 f"at least {args['min_live_events']} events arrived live over SSE (got {live})")
    if "events" in args:
        c.expect(timeline.get("data-events") == args["events"],
                 f"{args['events']} events received (got {timeline.get('data-events')})")
    if "has_status" in args:
        statuses = {b.get("data-status") for b in bars}
        c.expect(args["has_status"] in statuses, f"a tool bar has status {args['has_status']} (got {statuses})")
    c.expect(all(b.get("data-status") in CALL_STATUSES for b in bars), "every tool bar has a valid data-status")


def check_agents(doc: Node, c: Checker, args: dict) -> None:
    common(doc, c)
    rows = doc.find_all("agent-row")
    c.expect(len(rows) == int(args.get("count", len(rows))), f"{args.get('count')} agents (got {len(rows)})")
    by_name = {r.get("data-agent"): r for r in rows}
    for spec in args.get("servers", "").split(";"):
        if not spec:
            continue
        agent, server, transport = spec.split(":")
        row = by_name.get(agent)
        found = row and any(n.get("data-server") == server and n.get("data-transport") == transport
                            for n in row.find_all("agent-mcp-server"))
        c.expect(bool(found), f"agent {agent} lists MCP server {server} ({transport})")
    for spec in args.get("skills", "").split(";"):
        if not spec:
            continue
        agent, skill = spec.split(":")
        row = by_name.get(agent)
        c.expect(bool(row and any(n.get("data-skill") == skill for n in row.find_all("agent-skill"))),
                 f"agent {agent} lists skill {skill}")
    for row in rows:
        c.expect(row.find("agent-runtime") is not None, f"agent {row.get('data-agent')} shows its runtime")
    # Server text containing markup must stay text: no <b> element may appear in a card.
    c.expect(not any(n.tag == "b" for r in rows for n in r.walk()), "server-provided HTML is shown as text")
    if "text" in args:
        c.expect(any(args["text"] in r.text() for r in rows), f"the page shows {args['text']!r} as text")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    name, path = sys.argv[1], sys.argv[2]
    args = dict(a.split("=", 1) for a in sys.argv[3:])
    check = globals().get(f"check_{name}")
    if check is None:
        print(f"unknown check {name}", file=sys.stderr)
        return 2
    checker = Checker(args.pop("label", name))
    check(parse(path), checker, args)
    return checker.done()


if __name__ == "__main__":
    sys.exit(main())
