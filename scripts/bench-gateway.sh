#!/usr/bin/env bash
# The gateway's added latency per call: the same client (toolbridge-bench http, rmcp's
# streamable HTTP client) calls `echo` on the testbed server N times in a row,
#   direct          the testbed's own streamable HTTP endpoint (no bridge),
#   toolbridge      `toolbridge serve --http` fronting the testbed over stdio,
#   mcp-proxy       PyPI mcp-proxy fronting the testbed over stdio,
#   supergateway    npm supergateway (stateful streamable HTTP) fronting the testbed over stdio,
# ROUNDS times alternating (machine drift does not decide), then writes the median p50 and
# p99 of each, and each bridge's added p50 over `direct`, into the Gateway section of
# BENCHMARKS.md (kept in scripts/bench-gateway.md for bench_table.py).
#
#   bash scripts/bench-gateway.sh          # N=2000, ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-2000} ROUNDS=${ROUNDS:-3}
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$ROOT/$target
cargo build --release --quiet -p toolbridge-cli -p testbed-mcp -p toolbridge-bench
BIN=$target/release
PEERS=$(bash scripts/setup-bench-gateway.sh)
OUT=$target/bench/gateway-$(date -u +%Y-%m-%d).jsonl
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; echo "nothing listens on $1" >&2; return 1; }

port_direct=$(free_port)
"$BIN/testbed-mcp" --http "127.0.0.1:$port_direct" 2>"$work/direct.log" & pids+=($!)
cat > "$work/mcp.json" <<JSON
{"mcpServers": {"testbed": {"command": "$BIN/testbed-mcp"}}}
JSON
port_tb=$(free_port)
TOOLBRIDGE_DB=$work/tb.db "$BIN/toolbridge" serve --mcp-config "$work/mcp.json" --http "127.0.0.1:$port_tb" 2>"$work/tb.log" & pids+=($!)
port_proxy=$(free_port)
"$PEERS/venv/bin/mcp-proxy" --port "$port_proxy" --log-level WARNING "$BIN/testbed-mcp" 2>"$work/proxy.log" & pids+=($!)
port_sg=$(free_port)
"$PEERS/node_modules/.bin/supergateway" --stdio "$BIN/testbed-mcp" --outputTransport streamableHttp --stateful \
  --port "$port_sg" --logLevel none >"$work/sg.log" 2>&1 & pids+=($!)
for port in "$port_direct" "$port_tb" "$port_proxy" "$port_sg"; do wait_http "$port"; done

for round in $(seq "$ROUNDS"); do
  echo "[$(date +%T)] gateway benchmark, round $round of $ROUNDS" >&2
  "$BIN/toolbridge-bench" http "http://127.0.0.1:$port_direct/mcp" direct "$N" >> "$OUT"
  "$BIN/toolbridge-bench" http "http://127.0.0.1:$port_tb/mcp" toolbridge "$N" >> "$OUT"
  "$BIN/toolbridge-bench" http "http://127.0.0.1:$port_proxy/mcp" mcp-proxy "$N" >> "$OUT"
  "$BIN/toolbridge-bench" http "http://127.0.0.1:$port_sg/mcp" supergateway "$N" >> "$OUT"
done

python3 - "$OUT" "$ROOT/scripts/bench-gateway.md" "$ROOT/BENCHMARKS.md" "$N" "$ROUNDS" <<'PY'
import json, statistics, sys, datetime, platform, os
out, section_file, benchmarks, n, rounds = sys.argv[1:6]
rows = [json.loads(l) for l in open(out) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["client"], []).append(r)
med = {c: (statistics.median(r["p50_us"] for r in rs), statistics.median(r["p99_us"] for r in rs),
           statistics.median(r["calls_per_s"] for r in rs)) for c, rs in by.items()}
direct = med["direct"][0]
added = {c: med[c][0] - direct for c in med if c != "direct"}
best_peer = min(added["mcp-proxy"], added["supergateway"])
lines = ["## Gateway: added latency per call", "",
         f"`bash scripts/bench-gateway.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d} "
         f"({os.cpu_count()} cpus, {platform.system()} {platform.release()}): one client "
         f"(`toolbridge-bench http`, rmcp's streamable HTTP client) calls the testbed's `echo` {n} times in a row "
         f"through each bridge; {rounds} alternating rounds, medians shown. Every bridge does the same job: "
         "the testbed over stdio, served as streamable HTTP. `direct` is the testbed's own HTTP endpoint.", "",
         "| path | p50 µs | p99 µs | calls/s | added p50 µs |", "|---|---:|---:|---:|---:|"]
for c in ["direct", "toolbridge", "mcp-proxy", "supergateway"]:
    p50, p99, cps = med[c]
    extra = "–" if c == "direct" else f"{added[c]:.1f}"
    name = f"**{c}**" if c == "toolbridge" else c
    lines.append(f"| {name} | {p50:.1f} | {p99:.1f} | {cps:.0f} | {extra} |")
ratio = added["toolbridge"] / best_peer if best_peer > 0 else float("inf")
lines += ["", f"Goal: toolbridge's added latency under half of the better peer's: {added['toolbridge']:.1f} µs vs "
          f"{best_peer:.1f} µs ({ratio:.2f}×) — {'met' if ratio < 0.5 else 'not met'}."]
section = "\n".join(lines) + "\n"
open(section_file, "w").write(section)
text = open(benchmarks).read()
start = text.find("## Gateway: added latency per call")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section.rstrip("\n") + ("\n" + text[end:] if end >= 0 else "\n")
else:
    anchor = text.find("## Findings")
    text = (text[:anchor] + section + "\n" + text[anchor:]) if anchor >= 0 else text.rstrip("\n") + "\n\n" + section
open(benchmarks, "w").write(text)
print(section)
PY
