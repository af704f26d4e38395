"""Python MCP SDK (`mcp` on PyPI, 1.x or 2.x) over streamable HTTP: the peers-bench
`py_mcp_sdk.py` with `streamable_http_client` instead of stdio.

  python py_http.py URL bench [N] [CONC_N]  -> JSON lines: seq (N calls), conc32 (CONC_N, 32 in flight)

Run with the peers-bench copy as the working directory (run.sh does): `common.py` comes from there.
"""
import asyncio
import os
import sys
import time
from importlib.metadata import version

sys.path.insert(0, os.environ.get("PEERS", os.getcwd()))
from common import CONCURRENCY, WARMUP, check_echo_text, emit  # noqa: E402

from mcp import ClientSession  # noqa: E402

try:  # 1.x has both names; 2.x only the new one
    from mcp.client.streamable_http import streamable_http_client
except ImportError:  # pragma: no cover
    from mcp.client.streamable_http import streamablehttp_client as streamable_http_client

MCP_VERSION = version("mcp")
CLIENT = f"python-mcp-sdk-v{MCP_VERSION.split('.')[0]}"


async def bench(url, n, conc_n):
    async with streamable_http_client(url) as streams:
        r, w = streams[0], streams[1]
        async with ClientSession(r, w) as s:
            await s.initialize()
            names = [t.name for t in (await s.list_tools()).tools]
            if "echo" not in names:
                sys.exit(f"server has no echo tool: {names}")
            for i in range(WARMUP):
                await s.call_tool("echo", {"message": f"m{i}"})

            lat = []
            t0 = time.perf_counter()
            for i in range(n):
                a = time.perf_counter_ns()
                res = await s.call_tool("echo", {"message": f"m{i}"})
                lat.append(time.perf_counter_ns() - a)
                check_echo_text(res.content[0].text, i)
            emit(CLIENT, "seq", lat, time.perf_counter() - t0, version=MCP_VERSION)

            sem = asyncio.Semaphore(CONCURRENCY)
            lat = []

            async def one(i):
                async with sem:
                    a = time.perf_counter_ns()
                    res = await s.call_tool("echo", {"message": f"m{i}"})
                    lat.append(time.perf_counter_ns() - a)
                check_echo_text(res.content[0].text, i)

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(conc_n)))
            emit(CLIENT, f"conc{CONCURRENCY}", lat, time.perf_counter() - t0, version=MCP_VERSION)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "bench":
        sys.exit(__doc__)
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    conc_n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    asyncio.run(bench(sys.argv[1], n, conc_n))
