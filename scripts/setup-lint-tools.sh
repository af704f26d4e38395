#!/usr/bin/env bash
# Installs the dependency linters scripts/test.sh runs, pinned, into target/tools (idempotent:
# a tool already there at its version is kept). Built from crates.io with the machine's cargo.
#
#   cargo-machete: dependencies declared but not used
#   cargo-deny:    licenses, banned/duplicate crates and sources of the dependency tree
set -euo pipefail
cd "$(dirname "$0")/.."

root=target/tools
mkdir -p "$root"
install() { # crate version binary
  local crate=$1 version=$2 bin=$3
  if [[ -x $root/bin/$bin ]] && "$root/bin/$bin" --version 2>/dev/null | grep -q "$version"; then
    return
  fi
  echo "setup-lint-tools: installing $crate $version (once; a few minutes)" >&2
  cargo install --locked --quiet --root "$root" --version "$version" "$crate"
}
install cargo-machete 0.9.2 cargo-machete
install cargo-deny 0.20.2 cargo-deny
echo "$(cd "$root/bin" && pwd)"
