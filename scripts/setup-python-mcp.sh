#!/usr/bin/env bash
# A venv with the PyPI `mcp` client (pinned), for the gateway tests: a real client of
# `toolbridge serve` over stdio and streamable HTTP. Idempotent; prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
MCP_VERSION=1.30.0
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$PWD/$target
venv=$target/py-mcp
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('mcp') == '$MCP_VERSION'" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" >&2
fi
echo "$venv/bin/python"
