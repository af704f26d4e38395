// TypeScript MCP SDK (@modelcontextprotocol/sdk) over streamable HTTP, run on Node 22: the
// peers-bench `ts_sdk.mjs` with StreamableHTTPClientTransport instead of stdio.
//
//   node ts_http.mjs URL bench [N] [CONC_N]  -> JSON lines: seq (N calls), conc32 (CONC_N, 32 in flight)
//
// Run from the peers-bench copy (run.sh does): the SDK is resolved from its node_modules.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const PEERS = process.env.PEERS ?? process.cwd();
const require = createRequire(join(PEERS, "package.json"));
const sdk = (p) => import(pathToFileURL(require.resolve(`@modelcontextprotocol/sdk/${p}`)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const SDK_VERSION = JSON.parse(
  readFileSync(join(PEERS, "node_modules/@modelcontextprotocol/sdk/package.json"), "utf8"),
).version;
const CLIENT = "typescript-sdk";
const WARMUP = 50;
const CONCURRENCY = 32;

function percentile(sorted, p) {
  const k = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[k];
}

function emit(scenario, latNs, wallS) {
  const s = [...latNs].sort((a, b) => a - b);
  console.log(JSON.stringify({
    client: CLIENT,
    scenario,
    n: s.length,
    p50_us: Math.round(percentile(s, 50) / 100) / 10,
    p99_us: Math.round(percentile(s, 99) / 100) / 10,
    calls_per_s: Math.round((s.length / wallS) * 10) / 10,
    wall_s: Math.round(wallS * 1000) / 1000,
    version: SDK_VERSION,
    node: process.versions.node,
  }));
}

const nowNs = () => Number(process.hrtime.bigint());

async function connect(url) {
  const client = new Client({ name: "peer-bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await client.listTools();
  if (!tools.some((t) => t.name === "echo")) throw new Error("server has no echo tool");
  return client;
}

async function echo(client, i) {
  const res = await client.callTool({ name: "echo", arguments: { message: `m${i}` } });
  if (res.content[0].text !== `Echo: m${i}`) throw new Error(`bad echo ${JSON.stringify(res)}`);
}

async function bench(url, n, concN) {
  const client = await connect(url);
  for (let i = 0; i < WARMUP; i++) await echo(client, i);

  let lat = [];
  let t0 = nowNs();
  for (let i = 0; i < n; i++) {
    const a = nowNs();
    await echo(client, i);
    lat.push(nowNs() - a);
  }
  emit("seq", lat, (nowNs() - t0) / 1e9);

  lat = [];
  let next = 0;
  const worker = async () => {
    while (next < concN) {
      const i = next++;
      const a = nowNs();
      await echo(client, i);
      lat.push(nowNs() - a);
    }
  };
  t0 = nowNs();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  emit(`conc${CONCURRENCY}`, lat, (nowNs() - t0) / 1e9);
  await client.close();
}

const [url, cmd, a1, a2] = process.argv.slice(2);
if (cmd === "bench") await bench(url, Number(a1 ?? 2000), Number(a2 ?? 1000));
else throw new Error("usage: ts_http.mjs URL bench [N] [CONC_N]");
