#!/usr/bin/env bash
# The official MCP conformance suite's server scenarios, all of them, against
# `toolbridge serve --http` fronting the testbed server with its conformance fixtures
# (fixtures/mcp/conformance.json: one stdio server, so `--prefix auto` serves its own names).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${TOOLBRIDGE_SHARED:-../shared}
if [[ ! -x $SHARED/conformance/run.sh && ! -f $SHARED/conformance/run.sh ]]; then
  echo "conformance runner not found at $SHARED/conformance (set TOOLBRIDGE_SHARED)" >&2
  exit 2
fi
cargo build -q -p toolbridge-cli -p testbed-mcp
log=$(mktemp)
target=${CARGO_TARGET_DIR:-target}
"$target/debug/toolbridge" serve --mcp-config fixtures/mcp/conformance.json --http 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[0-9.:]*/mcp' "$log" | head -1 || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { echo "toolbridge serve did not start:" >&2; cat "$log" >&2; exit 1; }
bash "$SHARED/conformance/run.sh" server "$url"
