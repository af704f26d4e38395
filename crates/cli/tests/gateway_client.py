"""A PyPI `mcp` client of `toolbridge serve`, for crates/cli/tests/gateway.rs.

    gateway_client.py http URL          # streamable HTTP
    gateway_client.py stdio -- CMD ...  # stdio (spawns CMD)
    gateway_client.py list -- CMD ...   # stdio, tools only

Lists tools, resources and prompts, calls tools (progress, sampling, elicitation answered
here), and prints one JSON object with what it saw.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client


async def sampling(context, params: types.CreateMessageRequestParams):
    asked = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"python says {asked}"), model="py"
    )


async def elicitation(context, params: types.ElicitRequestParams):
    return types.ElicitResult(action="accept", content={"username": "py", "email": "py@example.com"})


async def exercise(session: ClientSession, full: bool) -> dict:
    seen = {}
    await session.initialize()
    tools = await session.list_tools()
    seen["tools"] = sorted(t.name for t in tools.tools)
    if full is None:
        return seen
    echo = await session.call_tool("echo", {"message": "through the gateway"})
    seen["echo"] = echo.content[0].text
    if not full:
        return seen
    progress = []

    async def on_progress(value, total, message):
        progress.append([value, total, message])

    result = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    seen["progress_result"] = result.content[0].text
    seen["progress"] = progress
    image = await session.call_tool("test_image_content", {})
    seen["image_type"] = image.content[0].type
    seen["sampling"] = (await session.call_tool("test_sampling", {"prompt": "2+2"})).content[0].text
    seen["elicitation"] = (await session.call_tool("test_elicitation", {"message": "who?"})).content[0].text
    resources = await session.list_resources()
    seen["resources"] = sorted(str(r.uri) for r in resources.resources)
    text = await session.read_resource("test://static-text")
    seen["resource_text"] = text.contents[0].text
    prompts = await session.list_prompts()
    seen["prompts"] = sorted(p.name for p in prompts.prompts)
    prompt = await session.get_prompt("test_prompt_with_arguments", {"arg1": "x", "arg2": "y"})
    seen["prompt"] = prompt.messages[0].content.text
    return seen


async def main() -> None:
    mode = sys.argv[1]
    callbacks = dict(sampling_callback=sampling, elicitation_callback=elicitation)
    if mode == "http":
        async with streamablehttp_client(sys.argv[2]) as (read, write, _):
            async with ClientSession(read, write, **callbacks) as session:
                seen = await exercise(session, full=True)
    else:
        command = sys.argv[sys.argv.index("--") + 1 :]
        params = StdioServerParameters(command=command[0], args=command[1:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, **callbacks) as session:
                seen = await exercise(session, full=None if mode == "list" else False)
    print(json.dumps(seen))


asyncio.run(main())
