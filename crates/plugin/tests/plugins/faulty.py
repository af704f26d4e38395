#!/usr/bin/env python3
"""The echo runtime plugin, misbehaving on purpose: `faulty.py MODE`.

Each mode breaks one rule of the runtime plugin protocol (or dies at one moment), so that the
host's tests can check that every bad plugin gets a clear error, never a hang or a panic.

  exit-at-start    writes to stderr and exits 3 before reading anything
  silent           never answers anything (initialize times out)
  garbage          prints a non-JSON line on stdout (a stray print()) when asked to initialize
  wrong-version    answers initialize with protocol_version "2"
  missing-field    answers execute without finish_reason
  no-validate      has no validate_config method (answers -32601)
  unknown-id       answers a request id toolbridge never sent, then behaves
  huge-line        answers execute with one line of 17 MiB
  crash-on-prompt  exits 7 (after a word on stderr) when the prompt is "crash"
  ignore-cancel    never finishes an execution, answers cancel with cancelled=false
  own-log          adds its own tool_execution_messages to the result (must be ignored)
  rpc-error        answers execute with a JSON-RPC error
  stubborn         ignores SIGTERM and stdin's end, with a grandchild in its process group
  wrong-request    sends toolbridge a request (the protocol has none) before initialize's answer
  requires-model   declares requires_model (not a fault: executions without a model_id are refused)
"""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples", "plugins"))

import echo_runtime  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else ""


class Faulty(echo_runtime.Plugin):
    def initialize(self, request_id, params):
        if MODE == "garbage":
            with self.stdout_lock:
                sys.stdout.write("hello from a stray print() in the plugin\n")
                sys.stdout.flush()
            return None
        if MODE == "silent":
            return None
        if MODE == "wrong-request":
            self.send({"jsonrpc": "2.0", "id": "p1", "method": "sampling/createMessage", "params": {}})
        result = super().initialize(request_id, params)
        if MODE == "wrong-version":
            result["protocol_version"] = "2"
        if MODE == "requires-model":
            result["requires_model"] = True
        return result

    def validate_config(self, request_id, params):
        if MODE == "no-validate":
            self.fail(request_id, -32601, "method not found: validate_config")
            return None
        if MODE == "silent":
            return None
        return super().validate_config(request_id, params)

    def execute(self, request_id, params):
        prompt = (params.get("context") or {}).get("prompt")
        if MODE == "crash-on-prompt" and prompt == "crash":
            print("faulty: crashing on request", file=sys.stderr, flush=True)
            os._exit(7)
        if MODE == "unknown-id":
            self.answer(987654, {"surprise": True})
            self.send({"jsonrpc": "2.0", "id": "not-a-number", "result": {}})
        if MODE == "huge-line":
            self.answer(request_id, {"response": "x" * (17 * 1024 * 1024), "success": True, "finish_reason": "stop"})
            return None
        if MODE == "rpc-error":
            self.fail(request_id, -32000, "the model refused to answer")
            return None
        if MODE == "ignore-cancel":
            return None  # never answered
        return super().execute(request_id, params)

    def run(self, execution):
        result = super().run(execution)
        if MODE == "missing-field":
            del result["finish_reason"]
        if MODE == "own-log":
            result["tool_execution_messages"] = [{"tool": "made_up_by_the_plugin"}]
        return result

    def cancel(self, request_id, params):
        if MODE == "ignore-cancel":
            return {"cancelled": False}
        return super().cancel(request_id, params)

    def shutdown(self, request_id, params):
        if MODE == "stubborn":
            return None  # no answer either
        return super().shutdown(request_id, params)


def main():
    if MODE == "exit-at-start":
        print("faulty: cannot start, giving up", file=sys.stderr, flush=True)
        sys.exit(3)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "300"])
        print(f"faulty: grandchild {child.pid}", file=sys.stderr, flush=True)
    Faulty().serve()
    if MODE == "stubborn":
        while True:  # stdin closed: stay anyway
            time.sleep(1)


if __name__ == "__main__":
    threading.current_thread().name = "faulty"
    main()
