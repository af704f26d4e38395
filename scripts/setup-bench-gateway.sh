#!/usr/bin/env bash
# The peers of the gateway benchmark, pinned: PyPI `mcp-proxy` in a venv and npm
# `supergateway`, both under the target directory. Idempotent; prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
MCP_PROXY_VERSION=0.13.0
SUPERGATEWAY_VERSION=4.0.0
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$PWD/$target
dir=$target/bench-gateway
mkdir -p "$dir"
if ! "$dir/venv/bin/python" -c "import importlib.metadata as m; assert m.version('mcp-proxy') == '$MCP_PROXY_VERSION'" 2>/dev/null; then
  python3 -m venv "$dir/venv" >&2
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "mcp-proxy==$MCP_PROXY_VERSION" >&2
fi
if [[ $(cat "$dir/node_modules/supergateway/package.json" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' 2>/dev/null) != "$SUPERGATEWAY_VERSION" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$dir" "supergateway@$SUPERGATEWAY_VERSION" >&2
fi
echo "$dir"
