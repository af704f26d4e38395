#!/usr/bin/env bash
# The main job: a demo agent (scripted model, the real testbed MCP server, real skills),
# stored in a local database, then shown from the store. No API key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p testbed-mcp -p toolbridge-cli
export TOOLBRIDGE_DB=${TOOLBRIDGE_DB:-target/demo/toolbridge.db}
mkdir -p "$(dirname "$TOOLBRIDGE_DB")"
tb=target/debug/toolbridge
echo "== the catalogue"
$tb tools --mcp-config fixtures/mcp/testbed.json --skills fixtures/skills/demo.json --policy <(echo '{"deny": ["testbed__crash", "testbed__hang"]}')
echo
echo "== one tool call"
$tb call testbed__add --args '{"a": 2, "b": 3}' --mcp-config fixtures/mcp/testbed.json
echo
echo "== a run of the demo agent"
$tb run --config fixtures/agents/demo.json "What is the sum of a and b in numbers.csv?"
echo
echo "== stored executions"
$tb executions list --limit 3
