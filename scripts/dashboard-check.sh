#!/usr/bin/env bash
# Headless check of the dashboard (crates/server/assets/) against the API mock
# (scripts/dashboard_mock.py): Debian's Chromium dumps the DOM of each view and
# scripts/dashboard_dom.py asserts on its data-testid hooks; then screenshots of
# the timeline in light and dark mode (and the list and agents) go to
# target/dashboard/. Exits non-zero, saying which expectation failed, if any does.
#
# Chromium's --virtual-time-budget pauses virtual time while a fetch is pending,
# and an execution's SSE stream is one until `result`; so a DOM dump of a live
# execution is taken when its stream has ended, and shows what arrived live.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/dashboard
mkdir -p "$OUT"

bash scripts/setup-browser.sh >/dev/null
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

TOKEN=check-token-$RANDOM$RANDOM
SHOWCASE=3f6c1e2a-8b4d-4c1f-9a57-0d2e5b7c9e01
FAILED=7a1d9c3e-2f4b-4e8a-b6d1-5c3e7f9a1b02
CANCELLED=c2e4a6b8-d0f2-4a1c-8e3b-5d7f9b1c3e05

WORK=$(mktemp -d)
MOCK_PID=""
MOCK2_PID=""
cleanup() {
  for pid in $MOCK_PID $MOCK2_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "dashboard-check: FAIL: $*" >&2; exit 1; }

# --- the mock ----------------------------------------------------------------------
start_mock() { # NAME FLAGS...: starts a mock, sets MOCK_PORT and LAST_PID
  local name=$1
  shift
  python3 scripts/dashboard_mock.py --port 0 --token "$TOKEN" --quiet "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  LAST_PID=$!
  for _ in $(seq 50); do
    [ -s "$WORK/$name.out" ] && break
    kill -0 "$LAST_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "the mock exited at start"; }
    sleep 0.1
  done
  MOCK_PORT=$(head -1 "$WORK/$name.out")
  [[ "$MOCK_PORT" =~ ^[0-9]+$ ]] || fail "the mock printed no port (got '$MOCK_PORT')"
}
start_mock mock --no-live
MOCK_PID=$LAST_PID
PORT=$MOCK_PORT
BASE="http://127.0.0.1:$PORT"
echo "dashboard-check: mock on $BASE, $($CHROMIUM --version 2>/dev/null)"

api() { # METHOD PATH [BODY] (against $BASE)
  python3 - "$BASE" "$TOKEN" "$@" <<'EOF'
import json, sys, urllib.request
base, token, method, path = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request(base + path, data=body, method=method,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
EOF
}
new_run() { # prints the id of a new live execution
  api POST '/api/v1/executions?async=true' '{"agent":"demo","prompt":"check: list, sum, validate"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution_id"])'
}

# --- chromium ----------------------------------------------------------------------
chrome() { # extra flags... URL
  local profile
  profile=$(mktemp -d "$WORK/profile.XXXX")
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1280,800 --hide-scrollbars "$@" 2>>"$WORK/chromium.log"
}
dump() { # NAME HASH [BUDGET_MS]: the DOM after the page settled, in $WORK/NAME.html
  chrome --virtual-time-budget="${3:-4000}" --dump-dom "$BASE/$2" >"$WORK/$1.html" \
    || fail "chromium could not dump $2 (see $WORK/chromium.log)"
  cp "$WORK/$1.html" "$OUT/$1.html"
}
shot() { # NAME HASH [light|dark]
  local scheme=()
  [ "${3:-light}" = dark ] && scheme=(--blink-settings=preferredColorScheme=0 --force-dark-mode)
  rm -f "$OUT/$1.png"
  chrome "${scheme[@]}" --virtual-time-budget=4000 --screenshot="$OUT/$1.png" "$BASE/$2" >/dev/null \
    || fail "chromium could not take the screenshot $1"
  [ -s "$OUT/$1.png" ] || fail "no screenshot written for $1"
}
FAILURES=0
assert() { # CHECK NAME KEY=VALUE...
  local check=$1 name=$2
  shift 2
  python3 scripts/dashboard_dom.py "$check" "$WORK/$name.html" label="$name" "$@" || FAILURES=$((FAILURES + 1))
}

echo "dashboard-check: DOM checks"

# (1) No token: the API answers 401 and the dashboard asks for one (a form, not prompt()).
dump auth "#/executions"
assert auth_prompt auth

# (2) The list, with the token given in the URL as the tests do.
dump list "#token=$TOKEN"
assert list list min_rows=20 more=yes expect_id=$SHOWCASE expect_status=success statuses=success,error,cancelled,interrupted
dump list-error "#/executions?status=error&token=$TOKEN"
assert list list-error status=error expect_id=$FAILED expect_status=error
dump failed "#/executions/$FAILED?token=$TOKEN"
assert timeline failed bars='[["testbed__divide",12,"failed"]]' turns=2 status=error finish_reason=error \
  error_contains="429 Too Many Requests"

# (3) A finished execution: the timeline from the record plus the replayed events,
#     with the failed call selected through the URL.
dump timeline "#/executions/$SHOWCASE?call=call_04_lookup&token=$TOKEN"
assert timeline timeline \
  bars='[["files__read_file",118,"success"],["files__read_file",74,"success"],["testbed__sum",36,"success"],["testbed__lookup",412,"failed"],["wait__sleep",254,"success"]]' \
  parallel=call_01_read_file,call_02_read_file turns=4 \
  input_tokens=4434 output_tokens=249 total_tokens=4683 finish_reason=stop status=success cancel_visible=no \
  response_contains="add up to 100 (alpha" response_tag=strong:100 selected_input='"ledger-total"' selected_error="503 Service Unavailable"

# (4) A running execution followed live over SSE until it ended.
RUN=$(new_run)
dump live "#/executions/$RUN?token=$TOKEN" 2000
assert timeline live \
  bars='[["files__list_directory",420,"success"],["testbed__slow_add",2000,"success"],["files__read_file",650,"success"],["testbed__echo",260,"success"],["testbed__validate",380,"failed"]]' \
  parallel=call_01_list_directory,call_02_slow_add turns=3 events=27 min_live_events=20 status=success finish_reason=stop cancel_visible=no \
  response_contains="slow adder confirmed" total_tokens=2964

# (5) A running execution cancelled half-way (through the API, while the page follows it).
RUN=$(new_run)
( sleep 2.2; api POST "/api/v1/executions/$RUN/cancel" >"$WORK/cancel.json" ) &
CANCELLER=$!
dump cancelled "#/executions/$RUN?token=$TOKEN" 2000
wait "$CANCELLER" || fail "the cancel request failed"
grep -q '"cancelled": true' "$WORK/cancel.json" || fail "the mock did not cancel the execution: $(cat "$WORK/cancel.json")"
assert timeline cancelled status=cancelled finish_reason=cancelled cancel_visible=no min_live_events=10 min_bars=2

# (6) A stored cancelled execution: the calls the cancel cut short are shown cancelled.
dump cancelled-stored "#/executions/$CANCELLED?token=$TOKEN"
assert timeline cancelled-stored \
  bars='[["files__list_directory",420,"success"],["testbed__slow_add",2000,"success"],["files__read_file",378,"cancelled"],["testbed__echo",260,"success"],["testbed__validate",348,"cancelled"]]' \
  status=cancelled finish_reason=cancelled cancel_visible=no error_contains="execution cancelled"

# (7) The stream refused (a second mock answers /events with 503): the page says so,
#     polls the record instead, and still offers Cancel while the execution runs.
start_mock mock2 --no-live --refuse-events
MOCK2_PID=$LAST_PID
RUN2=$(BASE="http://127.0.0.1:$MOCK_PORT" new_run)
chrome --virtual-time-budget=3000 --dump-dom "http://127.0.0.1:$MOCK_PORT/#/executions/$RUN2?token=$TOKEN" >"$WORK/no-stream.html" \
  || fail "chromium could not dump the no-stream page"
cp "$WORK/no-stream.html" "$OUT/no-stream.html"
assert timeline no-stream status=running cancel_visible=yes stream_state="live stream unavailable"

# (8) Agents: runtime, model, MCP servers with their transport, skills; text stays text.
dump agents "#/agents?token=$TOKEN"
assert agents agents count=3 servers='demo:testbed:stdio;researcher:fetch:stdio;researcher:kb:http' \
  skills='demo:files;demo:wait;researcher:shell' text='<b>(HTML in text must show as text)</b>'

[ "$FAILURES" -eq 0 ] || fail "$FAILURES DOM check(s) failed (DOM dumps in $OUT/*.html)"

# --- interactive (CDP): what a DOM dump cannot show -----------------------------------
# A running execution mid-run, clicks on a bar and on Cancel, the token form, the
# run form and the list's live refresh.
echo "dashboard-check: interactive checks"
CHROMIUM=$CHROMIUM python3 scripts/dashboard_cdp.py "$BASE" "$TOKEN" "$OUT" \
  || fail "an interactive check failed"

# --- screenshots ----------------------------------------------------------------------
echo "dashboard-check: screenshots"
shot timeline-light "#/executions/$SHOWCASE?call=call_04_lookup&token=$TOKEN" light
shot timeline-dark "#/executions/$SHOWCASE?call=call_01_read_file&token=$TOKEN" dark
shot executions-light "#/executions?token=$TOKEN" light
shot agents-dark "#/agents?token=$TOKEN" dark
for f in timeline-light timeline-dark executions-light agents-dark running-light cancelled-dark; do echo "  $OUT/$f.png"; done

echo "dashboard-check: all checks passed"
