#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine (idempotent).
# Rust comes with the machine; this adds the system tools the tests use.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
command -v npm >/dev/null || need+=(nodejs npm)
command -v pkill >/dev/null || need+=(procps)
command -v script >/dev/null || need+=(bsdutils)
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install: ${need[*]}" >&2
    exit 2
  fi
fi
