"""A complete toolbridge runtime plugin in 50 lines of standard-library Python.

    toolbridge runtimes add shout -- python3 examples/plugins/minimal_runtime.py
    toolbridge run --runtime shout --runtime-config '{"times": 2}' "hello"
"""
import json
import sys
import threading

lock = threading.Lock()


def send(message):
    with lock:  # one writer at a time: several executions run at once
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def execute(request_id, params):
    execution_id, context = params["execution_id"], params["context"]
    times = (context.get("runtime_config") or {}).get("times", 1)
    words = " ".join([context["prompt"].upper()] * times)
    if params["stream"]:  # stream the answer as it is made
        event = {"type": "content_chunk", "text": words}
        send({"jsonrpc": "2.0", "method": "event", "params": {"execution_id": execution_id, "event": event}})
    usage = {"input_tokens": len(context["prompt"].split()), "output_tokens": len(words.split())}
    send({"jsonrpc": "2.0", "id": request_id,
          "result": {"response": words, "success": True, "finish_reason": "stop", "usage": usage}})


for line in sys.stdin:  # one JSON-RPC message per line
    message = json.loads(line)
    method, request_id, params = message.get("method"), message.get("id"), message.get("params") or {}
    if method == "initialize":
        schema = {"type": "object", "properties": {"times": {"type": "integer", "minimum": 1}},
                  "additionalProperties": False}
        result = {"protocol_version": "1", "description": "Shouts the prompt back",
                  "capabilities": {"streaming": True}, "config_schema": schema}
    elif method == "validate_config":
        times = params["runtime_config"].get("times", 1)
        result = {"errors": [] if times <= 10 else ["times: at most 10"]}
    elif method == "execute":
        threading.Thread(target=execute, args=(request_id, params)).start()
        continue
    elif method == "cancel":
        result = {"cancelled": False}  # executions here finish at once
    elif method == "shutdown":
        result = None
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"method not found: {method}"}})
        continue
    send({"jsonrpc": "2.0", "id": request_id, "result": result})
