#!/usr/bin/env bash
# Creates the virtualenv the Python runtime plugins use (examples/plugins/*.py that need the
# PyPI `mcp` package, and the toolbridge-plugin tests that run them). Idempotent and safe to
# run concurrently: a second run finds the stamp and returns at once.
#
#   scripts/setup-python-plugins.sh        # prints the venv's python on stdout
#
# TOOLBRIDGE_PLUGIN_VENV overrides the location (default: target/plugin-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

MCP_VERSION=2.3.0
venv=${TOOLBRIDGE_PLUGIN_VENV:-target/plugin-venv}
stamp="$venv/.installed-mcp-$MCP_VERSION"

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if [[ ! -e $stamp ]]; then
  python3 -m venv --clear "$venv" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "mcp==$MCP_VERSION" >&2
  touch "$stamp"
fi
echo "$(cd "$venv" && pwd)/bin/python"
