#!/usr/bin/env bash
# The official MCP conformance suite's client scenarios (all non-auth ones), against the
# bridge's pool driven by crates/bridge/examples/conformance_client.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${TOOLBRIDGE_SHARED:-../shared}
[[ -f $SHARED/conformance/run.sh ]] || { echo "conformance runner not found at $SHARED/conformance (set TOOLBRIDGE_SHARED)" >&2; exit 2; }
cargo build -q -p toolbridge --example conformance_client
bash "$SHARED/conformance/run.sh" client -- "$PWD/target/debug/examples/conformance_client"
