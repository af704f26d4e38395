#!/usr/bin/env python3
"""mcp_client_runtime: a toolbridge runtime plugin that reaches its tools with the official MCP
Python SDK (PyPI `mcp`), as a LangChain or CrewAI runtime would (their MCP adapters wrap this
same client).

Needs the `mcp` package: `scripts/setup-python-plugins.sh` makes a venv with the pinned version
and prints its python. Register it with

    toolbridge runtimes add mcp_py -- target/plugin-venv/bin/python examples/plugins/mcp_client_runtime.py

An execution:
  1. connects to toolbridge's per-execution MCP endpoint (`tools.url`, `tools.headers`) with
     `mcp.client.streamable_http.streamable_http_client` and a `ClientSession`;
  2. lists the catalogue (`session.list_tools()`);
  3. calls the tool named in runtime_config (`{"tool": "echo", "arguments": {...}}`) or in the
     prompt (`/tool echo {"message": "hi"}`) — where a framework's model would pick one — or,
     with no tool named, answers with the catalogue's tool names;
  4. streams the answer as `content_chunk` events, sends `usage`, answers `execute`.

The protocol loop is asyncio: each `execute` is a task, `cancel` cancels that task (the SDK
abandons the tool call and tells the server), and the execution answers `finish_reason:
"cancelled"`. It has no `validate_config`: toolbridge treats the method as optional and relies on
`config_schema` alone.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "tool": {"type": "string", "description": "The tool to call (catalogue name, or a suffix of one)."},
        "arguments": {"type": "object", "description": "Its arguments."},
    },
    "additionalProperties": False,
}


def send(message):
    # One event loop thread writes: whole lines, never interleaved.
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def event(execution_id, body):
    send({"jsonrpc": "2.0", "method": "event", "params": {"execution_id": execution_id, "event": body}})


def pick_tool(config, prompt):
    if config.get("tool"):
        return config["tool"], config.get("arguments") or {}
    if prompt.startswith("/tool "):
        name, _, rest = prompt[len("/tool "):].strip().partition(" ")
        return name, json.loads(rest) if rest.strip() else {}
    return None, {}


async def use_tools(tools, tool, arguments):
    """Connects to the execution's endpoint, lists the catalogue, calls one tool."""
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with httpx2.AsyncClient(headers=tools.get("headers") or {}, timeout=timeout) as http:
        async with streamable_http_client(tools["url"], http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = [t.name for t in (await session.list_tools()).tools]
                if tool is None:
                    return "tools: " + ", ".join(names)
                name = tool if tool in names else next((n for n in names if n.endswith("__" + tool)), None)
                if name is None:
                    return f"no tool {tool!r} in the catalogue"
                result = await session.call_tool(name, arguments)
                text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
                failed = getattr(result, "is_error", None) or getattr(result, "isError", False)
                return f"{name} failed: {text}" if failed else f"{name}: {text}"


async def run(execution_id, params):
    context = params.get("context") or {}
    config = context.get("runtime_config") or {}
    prompt = context.get("prompt", "")
    tools = params.get("tools")
    tool, arguments = pick_tool(config, prompt)
    try:
        answer = await use_tools(tools, tool, arguments) if tools else "no tools for this execution"
        finish_reason, success, error = "stop", True, None
    except asyncio.CancelledError:
        answer, finish_reason, success, error = "", "cancelled", False, "execution cancelled"
    usage = {"input_tokens": len(prompt.split()), "output_tokens": len(answer.split())}
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    if params.get("stream") and answer:
        for line in answer.splitlines(keepends=True):
            event(execution_id, {"type": "content_chunk", "text": line})
        event(execution_id, {"type": "usage", **usage})
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


def root_cause(error):
    """The first real error inside the SDK's (nested) task-group exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"


class Server:
    def __init__(self):
        self.executions = {}

    async def execute(self, request_id, params):
        execution_id = params.get("execution_id")
        try:
            result = await run(execution_id, params)
            send({"jsonrpc": "2.0", "id": request_id, "result": result})
        except Exception as error:  # one failed execution must not end the others
            print(f"mcp_client_runtime: {execution_id} failed: {error!r}", file=sys.stderr, flush=True)
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": root_cause(error)}})
        finally:
            self.executions.pop(execution_id, None)

    def handle(self, message):
        method, request_id, params = message.get("method"), message.get("id"), message.get("params") or {}
        if method == "initialize":
            result = {
                "protocol_version": "1",
                "description": "Calls the catalogue's tools with the MCP Python SDK's client",
                "capabilities": {"streaming": True, "tools": True, "mcp": True, "cancellation": True},
                "config_schema": CONFIG_SCHEMA,
                "requires_model": False,
            }
        elif method == "execute":
            task = asyncio.get_running_loop().create_task(self.execute(request_id, params))
            self.executions[params.get("execution_id")] = task
            return
        elif method == "cancel":
            task = self.executions.get(params.get("execution_id"))
            if task is not None:
                task.cancel()
            result = {"cancelled": task is not None}
        elif method == "shutdown":
            for task in self.executions.values():
                task.cancel()
            result = None
        elif request_id is not None:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"method not found: {method}"}})
            return
        else:
            return
        send({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def serve(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip():
                self.handle(json.loads(line))
        # stdin closed: toolbridge is done with us. Let cancelled executions send their answers.
        tasks = list(self.executions.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)


if __name__ == "__main__":
    asyncio.run(Server().serve())
