#!/usr/bin/env bash
# Runs the peers harness (../shared/peers-bench: Python SDK v1/v2, TypeScript SDK, OpenAI
# Agents SDK, langchain-mcp-adapters, plain rmcp, the raw JSON-RPC floor) and toolbridge's
# bench modes in one run on this machine, then writes BENCHMARKS.md.
#
#   bash scripts/bench-peers.sh            # full counts (~7 min on 2 idle cores)
#   QUICK=1 bash scripts/bench-peers.sh    # toolbridge only, small counts (a smoke test)
#   SKIP_CRITERION=1 …                     # without the criterion benches (~10 min less)
#   H2H_ONLY=1 …                           # only the head-to-head rounds (stdio and HTTP), reusing today's other results
#   SKIP_HTTP=1 …                          # without the streamable HTTP rounds (benches/peers-http)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-2000} CONC_N=${CONC_N:-1000} REPS=${REPS:-5}

# The peers harness is shared read-only: it runs from a copy under target/ that its setup.sh
# (pinned installs: .venv, .venv-mcp2, node_modules, the rmcp peer) can write into.
PEERS_SRC=$(cd "${TOOLBRIDGE_SHARED:-../shared}/peers-bench" && pwd)
PEERS=$ROOT/target/peers-bench
mkdir -p "$PEERS"
# Only files whose content differs are copied: setup.sh reinstalls node_modules whenever
# package-lock.json is newer than the install.
(cd "$PEERS_SRC" && find . -type f) | while read -r f; do
  cmp -s "$PEERS_SRC/$f" "$PEERS/$f" || { mkdir -p "$(dirname "$PEERS/$f")"; cp --no-preserve=mode "$PEERS_SRC/$f" "$PEERS/$f"; }
done
chmod +x "$PEERS"/*.sh

cargo build --release --quiet -p toolbridge-bench
TB=$ROOT/target/release/toolbridge-bench
bash benches/peers-http/setup.sh "$PEERS"

DATE=$(date -u +%Y-%m-%d)
OUT=$ROOT/target/bench/results-$DATE.jsonl
mkdir -p "$(dirname "$OUT")"
if [[ -n ${QUICK:-} ]]; then
  OUT=$ROOT/target/bench/quick-$DATE.jsonl
  (cd "$PEERS" && "$TB" run 200 100) > "$OUT"
  (cd "$PEERS" && .venv/bin/python coldstart.py toolbridge 2 1 seq -- "$TB" ready 1 seq) >> "$OUT"
  cat "$OUT"
  exit 0
fi

if [[ -z ${H2H_ONLY:-} ]]; then
  # The peers, through their own runner (it writes its results and machine details).
  (cd "$PEERS" && OUT=$ROOT/target/bench/peers-$DATE.jsonl N=$N CONC_N=$CONC_N REPS=$REPS ./run.sh >&2)
  cp "$ROOT/target/bench/peers-$DATE.jsonl" "$OUT"
  cp "$ROOT/target/bench/peers-$DATE.env.txt" "$ROOT/target/bench/results-$DATE.env.txt"

  # Then toolbridge, same server, same scenarios, right after.
  cd "$PEERS"
  "$TB" run "$N" "$CONC_N" >> "$OUT"
  for k_mode in "1 seq" "8 seq" "8 concurrent"; do
    set -- $k_mode
    .venv/bin/python coldstart.py toolbridge "$REPS" "$1" "$2" -- "$TB" ready "$1" "$2" >> "$OUT"
  done
fi
cd "$PEERS"

# Head to head: the raw floor, plain rmcp and toolbridge alternating, ROUNDS times, so that the
# machine's drift over the minutes of run.sh does not decide the comparison (the goals are
# judged on the medians of these rounds).
H2H=$ROOT/target/bench/h2h-$DATE.jsonl
: > "$H2H"
RMCP=rust-rmcp/target/release/peer-rust-rmcp
for round in $(seq "${ROUNDS:-5}"); do
  echo "[$(date +%T)] head to head, round $round" >&2
  .venv/bin/python raw_jsonrpc.py bench "$N" >> "$H2H"
  [[ -x $RMCP ]] && "$RMCP" bench "$N" "$CONC_N" >> "$H2H"
  "$TB" run "$N" "$CONC_N" >> "$H2H"
  for k_mode in "1 seq" "8 concurrent"; do
    set -- $k_mode
    .venv/bin/python coldstart.py baseline-raw-jsonrpc 3 "$1" "$2" -- .venv/bin/python raw_jsonrpc.py ready "$1" "$2" >> "$H2H"
    [[ -x $RMCP ]] && .venv/bin/python coldstart.py rust-rmcp 3 "$1" "$2" -- "$RMCP" ready "$1" "$2" >> "$H2H"
    .venv/bin/python coldstart.py toolbridge 3 "$1" "$2" -- "$TB" ready "$1" "$2" >> "$H2H"
  done
done 2>> "$ROOT/target/bench/h2h-$DATE.stderr"
cd "$ROOT"

# Streamable HTTP: floor, rmcp, toolbridge, TypeScript and Python SDKs in alternating rounds,
# each against a fresh server-everything that counts its TCP connections and sessions.
HTTP=$ROOT/target/bench/http-$DATE.jsonl
if [[ -z ${SKIP_HTTP:-} ]]; then
  N=$N CONC_N=$CONC_N bash benches/peers-http/run.sh "$PEERS" "$TB" "$HTTP" 2>> "$ROOT/target/bench/http-$DATE.stderr"
fi

# Criterion: catalogue, naming, validation, agent loop, 1000 concurrent executions.
CRIT=$ROOT/target/bench/criterion-$DATE.txt
if [[ -z ${SKIP_CRITERION:-}${H2H_ONLY:-} ]]; then
  cargo build --release --quiet -p testbed-mcp -p toolbridge-providers --bins
  cargo bench --quiet -p toolbridge --bench catalogue > "$CRIT" 2>&1
  cargo bench --quiet -p toolbridge-agent --bench agent_loop >> "$CRIT" 2>&1
fi
# Runtime plugins: an execution through a plugin and a tool call through its endpoint.
PLUGINS=$ROOT/target/bench/plugins-$DATE.md
if [[ -z ${SKIP_CRITERION:-}${H2H_ONLY:-} ]]; then
  cargo build --release --quiet -p testbed-mcp -p toolbridge-plugin --example plugin_overhead
  "$ROOT/target/release/examples/plugin_overhead" "$ROOT/target/release/testbed-mcp" 300 > "$PLUGINS"
fi
# HTTP API: executions through `POST /api/v1/executions` against the same executions in process.
API=$ROOT/target/bench/api-$DATE.md
if [[ -z ${SKIP_CRITERION:-}${H2H_ONLY:-} ]]; then
  cargo build --release --quiet -p testbed-mcp -p toolbridge-server --bin testbed-mcp --example api_bench
  "$ROOT/target/release/examples/api_bench" > "$API"
fi
python3 scripts/bench_table.py "$OUT" "$ROOT/target/bench/results-$DATE.env.txt" "$CRIT" "$H2H" "$PLUGINS" "$HTTP" "$API" > BENCHMARKS.md
echo "wrote BENCHMARKS.md from $OUT" >&2
