#!/usr/bin/env bash
# Runs the peers harness (../shared/peers-bench: Python SDK v1/v2, TypeScript SDK, OpenAI
# Agents SDK, langchain-mcp-adapters, plain rmcp, the raw JSON-RPC floor) and toolbridge's
# bench modes in one run on this machine, then writes BENCHMARKS.md.
#
#   bash scripts/bench-peers.sh            # full counts (~7 min on 2 idle cores)
#   QUICK=1 bash scripts/bench-peers.sh    # toolbridge only, small counts (a smoke test)
#   SKIP_CRITERION=1 …                     # without the criterion benches (~10 min less)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS=$(cd "${TOOLBRIDGE_SHARED:-../shared}/peers-bench" && pwd)
N=${N:-2000} CONC_N=${CONC_N:-1000} REPS=${REPS:-5}

cargo build --release --quiet -p toolbridge-cli
TB=$ROOT/target/release/toolbridge
bash "$PEERS/setup.sh" >&2

DATE=$(date -u +%Y-%m-%d)
OUT=$ROOT/target/bench/results-$DATE.jsonl
mkdir -p "$(dirname "$OUT")"
if [[ -n ${QUICK:-} ]]; then
  (cd "$PEERS" && "$TB" bench run 200 100) > "$OUT"
  (cd "$PEERS" && .venv/bin/python coldstart.py toolbridge 2 1 seq -- "$TB" bench ready 1 seq) >> "$OUT"
  cat "$OUT"
  exit 0
fi

# The peers, through their own runner (it writes its results and machine details).
(cd "$PEERS" && OUT=$ROOT/target/bench/peers-$DATE.jsonl N=$N CONC_N=$CONC_N REPS=$REPS ./run.sh >&2)
cp "$ROOT/target/bench/peers-$DATE.jsonl" "$OUT"
cp "$ROOT/target/bench/peers-$DATE.env.txt" "$ROOT/target/bench/results-$DATE.env.txt"

# Then toolbridge, same server, same scenarios, right after.
cd "$PEERS"
"$TB" bench run "$N" "$CONC_N" >> "$OUT"
for k_mode in "1 seq" "8 seq" "8 concurrent"; do
  set -- $k_mode
  .venv/bin/python coldstart.py toolbridge "$REPS" "$1" "$2" -- "$TB" bench ready "$1" "$2" >> "$OUT"
done
cd "$ROOT"

# Criterion: catalogue, naming, validation, agent loop, 1000 concurrent executions.
CRIT=$ROOT/target/bench/criterion-$DATE.txt
if [[ -z ${SKIP_CRITERION:-} ]]; then
  cargo build --release --quiet -p testbed-mcp -p toolbridge-providers --bins
  cargo bench --quiet -p toolbridge --bench catalogue > "$CRIT" 2>&1
  cargo bench --quiet -p toolbridge-agent --bench agent_loop >> "$CRIT" 2>&1
fi
python3 scripts/bench_table.py "$OUT" "$ROOT/target/bench/results-$DATE.env.txt" "$CRIT" > BENCHMARKS.md
echo "wrote BENCHMARKS.md from $OUT" >&2
