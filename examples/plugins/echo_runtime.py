#!/usr/bin/env python3
"""echo_runtime: a toolbridge runtime plugin in plain Python (standard library only).

It speaks the runtime plugin protocol, version 1 (docs/runtime-plugins.md): JSON-RPC 2.0 on
stdin/stdout, one JSON message per line; stderr is its log. Register it with

    toolbridge runtimes add echo_py -- python3 examples/plugins/echo_runtime.py

What an execution does:
  1. answers "<greeting>, <prompt>" (greeting from runtime_config, required);
  2. when the execution has tools (`tools.url`) and a tool is named, calls that ONE tool through
     toolbridge's streamable-HTTP MCP endpoint, with urllib, and appends its text;
  3. streams the answer word by word as `content_chunk` events (when `stream` is true), then a
     `usage` event, then answers `execute`.

Which tool, with what arguments — from runtime_config, else from the prompt:
  runtime_config: {"greeting": "Hi", "tool": "testbed__echo", "arguments": {"message": "hi"}}
  prompt:         "/tool testbed__echo {"message": "hi"}"   (a name, then JSON arguments)
`tool` may also be a suffix of a catalogue name ("echo" finds "testbed__echo").

Several executions run at once (a thread each; one lock around stdout). `cancel` abandons a tool
call in progress (and tells the MCP server with notifications/cancelled); the execution then
answers with finish_reason "cancelled".

The `Plugin` class is meant to be subclassed: the test plugins of toolbridge-plugin
(crates/plugin/tests/plugins/faulty.py) override single steps to misbehave on purpose.
"""

import json
import sys
import threading
import urllib.error
import urllib.request

PROTOCOL_VERSION = "1"
MCP_PROTOCOL_VERSION = "2025-06-18"

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "greeting": {"type": "string", "description": "Put in front of every answer."},
        "tool": {"type": "string", "description": "A tool to call (catalogue name, or a suffix of one)."},
        "arguments": {"type": "object", "description": "The tool's arguments."},
    },
    "required": ["greeting"],
    "additionalProperties": False,
}


class Cancelled(Exception):
    """The execution was cancelled while it waited."""


class ToolError(Exception):
    """A tool call failed (the MCP server answered with an error, or could not be reached)."""


class McpHttpClient:
    """The client side of MCP's streamable HTTP transport, just enough for tools/list and
    tools/call: POST each message, keep the Mcp-Session-Id, read a JSON or an SSE answer."""

    def __init__(self, url, headers):
        self.url = url
        self.headers = dict(headers or {})
        self.session_id = None
        self.protocol_version = None
        self.next_id = 0
        self.lock = threading.Lock()

    def _headers(self):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        headers.update(self.headers)
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def _post(self, message):
        request = urllib.request.Request(
            self.url, data=json.dumps(message).encode(), headers=self._headers(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                session_id = response.headers.get("Mcp-Session-Id")
                if session_id:
                    self.session_id = session_id
                if "id" not in message or response.status == 202:
                    return None
                content_type = response.headers.get("Content-Type", "")
                if content_type.startswith("text/event-stream"):
                    return self._read_sse(response, message["id"])
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise ToolError(f"MCP endpoint answered HTTP {error.code}: {error.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ToolError(f"MCP endpoint unreachable: {error}") from None

    @staticmethod
    def _read_sse(response, request_id):
        data = []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif line == "" and data:
                text, data = "\n".join(data), []
                if not text.strip():
                    continue
                message = json.loads(text)
                if message.get("id") == request_id and ("result" in message or "error" in message):
                    return message
        raise ToolError("the MCP endpoint closed the event stream without answering")

    def request(self, method, params):
        with self.lock:
            self.next_id += 1
            request_id = self.next_id
        answer = self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        if not isinstance(answer, dict):
            raise ToolError(f"no answer to {method}")
        if "error" in answer:
            raise ToolError(f"{method} failed: {answer['error'].get('message')}")
        return answer.get("result")

    def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._post(message)

    def initialize(self):
        result = self.request(
            "initialize",
            {
                "protocolVersion": MCP_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "echo_runtime", "version": "1"},
            },
        )
        self.protocol_version = result.get("protocolVersion", MCP_PROTOCOL_VERSION)
        self.notify("notifications/initialized")

    def call_tool(self, name, arguments):
        """Returns (request id, text of the result); raises ToolError on a tool error."""
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        text = "\n".join(block.get("text", "") for block in result.get("content", []) if block.get("type") == "text")
        if result.get("isError"):
            raise ToolError(f"tool {name} failed: {text}")
        return text

    def close(self):
        if not self.session_id:
            return
        request = urllib.request.Request(self.url, headers=self._headers(), method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except (urllib.error.URLError, OSError):
            pass


class Execution:
    def __init__(self, execution_id, params):
        self.id = execution_id
        self.params = params
        self.cancelled = threading.Event()
        self.thread = None


class Plugin:
    """One plugin process: reads requests, answers them; `execute` runs on its own thread."""

    description = "Echoes the prompt with a greeting; can call one tool through toolbridge's MCP endpoint"
    capabilities = {
        "streaming": True,
        "tools": True,
        "mcp": True,
        "hooks": False,
        "cancellation": True,
        "conversation_history": False,
        "custom_tools": False,
    }

    def __init__(self):
        self.stdout_lock = threading.Lock()
        self.executions = {}
        self.executions_lock = threading.Lock()

    # -- wire -------------------------------------------------------------------------------
    def send(self, message):
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self.stdout_lock:  # one message per line, never interleaved
            sys.stdout.write(line)
            sys.stdout.flush()

    def answer(self, request_id, result):
        self.send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def fail(self, request_id, code, message):
        self.send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def event(self, execution_id, event):
        self.notify("event", {"execution_id": execution_id, "event": event})

    def log(self, level, message):
        self.notify("log", {"level": level, "message": message})

    def serve(self):
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                print(f"echo_runtime: ignored a line that is not JSON: {line[:80]!r}", file=sys.stderr)
                continue
            self.handle(message)
        # stdin closed: toolbridge is done with us. Executions still running were cancelled by
        # `shutdown`; give them a moment to send their answers before the process exits.
        with self.executions_lock:
            running = list(self.executions.values())
        for execution in running:
            execution.cancelled.set()
        for execution in running:
            if execution.thread is not None:
                execution.thread.join(timeout=2)

    def handle(self, message):
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method is None:
            return  # an answer or a notification from toolbridge: none expected in version 1
        handler = {
            "initialize": self.initialize,
            "validate_config": self.validate_config,
            "execute": self.execute,
            "cancel": self.cancel,
            "shutdown": self.shutdown,
        }.get(method)
        if handler is None:
            if request_id is not None:
                self.fail(request_id, -32601, f"method not found: {method}")
            return
        try:
            result = handler(request_id, params)
        except Exception as error:  # a bug here must not kill the other executions
            print(f"echo_runtime: {method} failed: {error!r}", file=sys.stderr)
            self.fail(request_id, -32603, f"{method} failed: {error}")
            return
        if result is not None:
            self.answer(request_id, result)

    # -- methods ----------------------------------------------------------------------------
    def initialize(self, _id, params):
        if params.get("protocol_version") != PROTOCOL_VERSION:
            print(f"echo_runtime: toolbridge speaks protocol {params.get('protocol_version')!r}", file=sys.stderr)
        self.log("info", "echo_runtime ready")
        return {
            "protocol_version": PROTOCOL_VERSION,
            "description": self.description,
            "capabilities": self.capabilities,
            "config_schema": CONFIG_SCHEMA,
            "requires_model": False,
        }

    def validate_config(self, _id, params):
        config = params.get("runtime_config") or {}
        errors = []
        if not str(config.get("greeting", "")).strip():
            errors.append("greeting: must not be empty")
        if "arguments" in config and "tool" not in config:
            errors.append("arguments: only meaningful with `tool`")
        return {"errors": errors}

    def execute(self, request_id, params):
        execution = Execution(params.get("execution_id"), params)
        with self.executions_lock:
            self.executions[execution.id] = execution
        execution.thread = threading.Thread(target=self._run, args=(request_id, execution), daemon=True)
        execution.thread.start()
        return None  # answered by the thread

    def _run(self, request_id, execution):
        try:
            self.answer(request_id, self.run(execution))
        except Exception as error:
            print(f"echo_runtime: execution {execution.id} failed: {error!r}", file=sys.stderr)
            self.fail(request_id, -32000, str(error))
        finally:
            with self.executions_lock:
                self.executions.pop(execution.id, None)

    def cancel(self, _id, params):
        with self.executions_lock:
            execution = self.executions.get(params.get("execution_id"))
        if execution is not None:
            execution.cancelled.set()
        return {"cancelled": execution is not None}

    def shutdown(self, request_id, _params):
        with self.executions_lock:
            for execution in self.executions.values():
                execution.cancelled.set()
        self.answer(request_id, None)  # the result is `null`; then toolbridge closes stdin
        return None

    # -- one execution ----------------------------------------------------------------------
    def run(self, execution):
        context = execution.params.get("context") or {}
        config = context.get("runtime_config") or {}
        prompt = context.get("prompt", "")
        stream = bool(execution.params.get("stream"))
        answer = f"{config.get('greeting', 'Hello')}, {prompt}"
        finish_reason, success, error = "stop", True, None

        tool, arguments = pick_tool(config, prompt)
        tools = execution.params.get("tools")
        if tool and tools and tools.get("url"):
            try:
                answer += "\n" + self.call_one_tool(execution, tools, tool, arguments)
            except Cancelled:
                finish_reason, success, error = "cancelled", False, "execution cancelled"
            except ToolError as failure:
                answer += f"\ntool failed: {failure}"
        if execution.cancelled.is_set():
            finish_reason, success, error = "cancelled", False, "execution cancelled"

        usage = {"input_tokens": len(prompt.split()), "output_tokens": len(answer.split())}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if stream:
            words = answer.split(" ")
            for i, word in enumerate(words):
                self.event(execution.id, {"type": "content_chunk", "text": word if i == 0 else " " + word})
            self.event(execution.id, {"type": "usage", **usage})
        return {
            "response": answer,
            "usage": usage,
            "success": success,
            "finish_reason": finish_reason,
            "model": context.get("model_id"),
            "run_id": None,
            "error": error,
            "metadata": {"tool": tool},
        }

    def call_one_tool(self, execution, tools, tool, arguments):
        """The MCP handshake, tools/list, one tools/call; the call runs on a helper thread so
        that a cancellation can abandon it."""
        client = McpHttpClient(tools["url"], tools.get("headers"))
        outcome = {}
        done = threading.Event()

        def work():
            try:
                client.initialize()
                names = [t["name"] for t in (client.request("tools/list", {}) or {}).get("tools", [])]
                name = tool if tool in names else next((n for n in names if n.endswith("__" + tool)), None)
                if name is None and "__" not in tool:
                    raise ToolError(f"no tool {tool!r} in the catalogue ({', '.join(names)})")
                # A full catalogue name that is not listed (e.g. denied by policy) is called all
                # the same, as a model might: toolbridge refuses it, and logs the refusal.
                name = name or tool
                outcome["call_id"] = client.next_id + 1
                outcome["text"] = client.call_tool(name, arguments)
            except Exception as error:
                outcome["error"] = error
            finally:
                done.set()

        threading.Thread(target=work, daemon=True).start()
        while not done.wait(0.02):
            if execution.cancelled.is_set():
                if "call_id" in outcome:
                    try:
                        client.notify("notifications/cancelled", {"requestId": outcome["call_id"], "reason": "cancelled"})
                    except ToolError:
                        pass
                raise Cancelled()
        client.close()
        if "error" in outcome:
            error = outcome["error"]
            raise error if isinstance(error, ToolError) else ToolError(str(error))
        return outcome["text"]


def pick_tool(config, prompt):
    """(tool, arguments) from runtime_config, else from a "/tool NAME {json}" prompt."""
    if config.get("tool"):
        return config["tool"], config.get("arguments") or {}
    if prompt.startswith("/tool "):
        name, _, rest = prompt[len("/tool "):].strip().partition(" ")
        try:
            arguments = json.loads(rest) if rest.strip() else {}
        except ValueError:
            arguments = {}
        return name, arguments
    return None, {}


def main(plugin_class=Plugin):
    plugin_class().serve()


if __name__ == "__main__":
    main()
