#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's headless check (idempotent).
# Needs root (apt-get). Does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-browser: /usr/bin/chromium missing and not root; install Debian's 'chromium' package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-dejavu-core: readable text in screenshots on a minimal image.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium || { echo "setup-browser: chromium did not install" >&2; exit 1; }
echo "setup-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
