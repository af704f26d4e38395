#!/usr/bin/env bash
# The official MCP conformance suite's client scenarios, all of them (`run.sh client --auth`),
# against the bridge's pool and OAuth support driven by crates/bridge/examples/conformance_client.rs.
# Failures must be exactly the ones listed in fixtures/conformance/expected-failures-client.txt
# (extension scenarios, each with its reason); a listed scenario that passes fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${TOOLBRIDGE_SHARED:-../shared}
[[ -f $SHARED/conformance/run.sh ]] || { echo "conformance runner not found at $SHARED/conformance (set TOOLBRIDGE_SHARED)" >&2; exit 2; }
cargo build -q -p toolbridge --example conformance_client
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$PWD/$target
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bash "$SHARED/conformance/run.sh" client --auth -- "$target/debug/examples/conformance_client" | tee "$out" || true
expected=$(grep -v '^#' fixtures/conformance/expected-failures-client.txt | awk 'NF {print $1}' | sort)
failed=$(awk '$1 == "FAIL" {print $2}' "$out" | sort)
passed=$(awk '$1 == "PASS" {print $2}' "$out" | sort)
[[ -n $passed ]] || { echo "conformance: no scenario ran" >&2; exit 1; }
unexpected=$(comm -13 <(echo "$expected") <(echo "$failed") | sed '/^$/d')
stale=$(comm -12 <(echo "$expected") <(echo "$passed") | sed '/^$/d')
status=0
if [[ -n $unexpected ]]; then echo "conformance: unexpected failures:" $unexpected >&2; status=1; fi
if [[ -n $stale ]]; then echo "conformance: listed as expected failures but passing (remove them):" $stale >&2; status=1; fi
echo "client conformance: $(echo "$passed" | sed '/^$/d' | wc -l) passed, $(echo "$failed" | sed '/^$/d' | wc -l) failed ($(echo "$expected" | sed '/^$/d' | wc -l) expected)" >&2
exit $status
