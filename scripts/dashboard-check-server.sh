#!/usr/bin/env bash
# Headless check of the dashboard against the real server (`toolbridge server`), as
# scripts/dashboard-check.sh does against the mock: a fresh database, two agents over the
# testbed MCP server and scripted models, a finished and a running execution; Debian's
# Chromium dumps the DOM of the execution list and of each execution's timeline, and
# scripts/dashboard_dom.py asserts on them (rows and statuses, tool-call bars with their
# durations, usage, live events). Screenshots go to target/dashboard/server/.
#
#   bash scripts/dashboard-check-server.sh      # TOOLBRIDGE_BIN=path/to/toolbridge to pick the binary
#
# Exits 0 when every check passed; 1 naming the failed expectation; 77 when Chromium is
# missing and cannot be installed (callers treat that as "skipped").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/dashboard/server
mkdir -p "$OUT"
BIN=${TOOLBRIDGE_BIN:-$ROOT/target/debug/toolbridge}
TESTBED=${TESTBED_BIN:-$(dirname "$BIN")/testbed-mcp}
[ -x "$BIN" ] || { echo "dashboard-check-server: $BIN missing; cargo build -p toolbridge-cli" >&2; exit 1; }
[ -x "$TESTBED" ] || { echo "dashboard-check-server: $TESTBED missing; cargo build -p testbed-mcp" >&2; exit 1; }
if ! bash scripts/setup-browser.sh >/dev/null 2>&1; then
  echo "dashboard-check-server: SKIPPED: Chromium is not installed and cannot be (see scripts/setup-browser.sh)" >&2
  exit 77
fi
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

TOKEN=check-token-$RANDOM$RANDOM
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "dashboard-check-server: FAIL: $*" >&2; exit 1; }

# --- the server ----------------------------------------------------------------------
TOOLBRIDGE_API_TOKEN=$TOKEN "$BIN" --db "$WORK/db" server --listen 127.0.0.1:0 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q 'http://' "$WORK/server.err" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; fail "the server exited at start"; }
  sleep 0.1
done
BASE=$(grep -o 'http://[0-9.:]*' "$WORK/server.err" | head -1)
[ -n "$BASE" ] || fail "the server printed no address"
echo "dashboard-check-server: server on $BASE, $($CHROMIUM --version 2>/dev/null)"

api() { # METHOD PATH [BODY]
  python3 - "$BASE" "$TOKEN" "$@" <<'PY'
import sys, urllib.request
base, token, method, path = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request(base + path, data=body, method=method,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=60).read().decode())
PY
}
agent() { # NAME TRANSCRIPT
  api POST /api/v1/agents "{\"name\": \"$1\", \"model_id\": \"scripted:$ROOT/fixtures/transcripts/$2\",
    \"description\": \"dashboard check ($2)\", \"mcp_servers\": {\"testbed\": {\"command\": \"$TESTBED\"}}}" >/dev/null
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

agent demo one-call.json
agent slow slower-tool.json
FINISHED=$(api POST /api/v1/executions '{"agent": "demo", "prompt": "say hi through the testbed"}' | field execution_id)
RUNNING=$(api POST '/api/v1/executions?async=true' '{"agent": "slow", "prompt": "sleep for a while"}' | field execution_id)
sleep 1 # the running one is in its sleep call now

# --- chromium ------------------------------------------------------------------------
chrome() {
  local profile
  profile=$(mktemp -d "$WORK/profile.XXXX")
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1280,800 --hide-scrollbars "$@" 2>>"$WORK/chromium.log"
}
dump() { # NAME HASH [BUDGET_MS]
  chrome --virtual-time-budget="${3:-4000}" --dump-dom "$BASE/$2" >"$WORK/$1.html" \
    || fail "chromium could not dump $2 (see $WORK/chromium.log)"
  cp "$WORK/$1.html" "$OUT/$1.html"
}
shot() { # NAME HASH
  rm -f "$OUT/$1.png"
  chrome --virtual-time-budget=4000 --screenshot="$OUT/$1.png" "$BASE/$2" >/dev/null || fail "no screenshot $1"
  [ -s "$OUT/$1.png" ] || fail "no screenshot written for $1"
}
FAILURES=0
assert() { # CHECK NAME KEY=VALUE...
  local check=$1 name=$2
  shift 2
  python3 scripts/dashboard_dom.py "$check" "$WORK/$name.html" label="$name" "$@" || FAILURES=$((FAILURES + 1))
}

echo "dashboard-check-server: DOM checks"
# The list: both executions, the running one as running (its stream is not a fetch the
# list waits on: the list polls).
dump list "#token=$TOKEN"
assert list list min_rows=2 expect_id="$FINISHED" expect_status=success statuses=success,running
# The finished execution: its tool call as a bar with its duration, two model turns, usage.
dump finished "#/executions/$FINISHED?token=$TOKEN"
assert timeline finished min_bars=1 has_status=success turns=2 status=success finish_reason=stop \
  input_tokens=24 output_tokens=8 total_tokens=32 cancel_visible=no response_contains="Echo: hi"
# The running execution: cancelled through the API while the page follows it live; the DOM
# is dumped when its stream has ended (virtual time waits on the open stream).
( sleep 3; api POST "/api/v1/executions/$RUNNING/cancel" >"$WORK/cancel.json" ) &
CANCELLER=$!
dump running "#/executions/$RUNNING?token=$TOKEN" 2000
wait "$CANCELLER" || fail "the cancel request failed"
grep -q '"cancelled":true' "$WORK/cancel.json" || fail "the server did not cancel: $(cat "$WORK/cancel.json")"
assert timeline running min_bars=2 status=cancelled finish_reason=cancelled cancel_visible=no min_live_events=1
[ "$FAILURES" -eq 0 ] || fail "$FAILURES DOM check(s) failed (DOM dumps in $OUT/*.html)"

echo "dashboard-check-server: screenshots"
shot timeline "#/executions/$FINISHED?token=$TOKEN"
shot cancelled "#/executions/$RUNNING?token=$TOKEN"
shot executions "#/executions?token=$TOKEN"
for f in timeline cancelled executions; do echo "  $OUT/$f.png"; done
echo "dashboard-check-server: all checks passed"
