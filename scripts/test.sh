#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit + integration + end-to-end tests, the MCP
# conformance suite, and a quick check of the benchmark modes. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
bash scripts/setup.sh
# The dashboard test drives headless Chromium (Debian package); the runtime plugin tests run
# the PyPI `mcp` client in a venv, and so do the gateway tests (the benchmarks' peers are
# installed by scripts/setup-bench-gateway.sh).
bash scripts/setup-browser.sh
bash scripts/setup-python-plugins.sh >/dev/null
bash scripts/setup-python-mcp.sh >/dev/null

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependencies: cargo machete (unused), cargo deny (licenses, bans, sources)"
tools=$(bash scripts/setup-lint-tools.sh)
"$tools/cargo-machete"
"$tools/cargo-deny" --log-level error check bans licenses sources

step "cargo package: every library crate, as it would be published"
# One command for all of them: cargo packages a workspace's interdependent crates together
# (metadata, file lists, versioned dependencies on each other). Not --verify: that rebuilds
# every crate's whole dependency tree from scratch, once per crate (tens of minutes on this
# machine); the crates have no build scripts and include no files from outside themselves,
# and the rest of this script builds them.
cargo package --locked --allow-dirty --no-verify --workspace \
  --exclude testbed-mcp --exclude toolbridge-test-support --exclude toolbridge-bench

step "build binaries used by the tests"
cargo build --workspace --bins --example custom_cli --locked --features toolbridge-providers/fake-server

step "tests"
mkdir -p target
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt
fi
# Tests that need a kernel feature (Landlock, namespaces) skip when it is missing, saying so.
skipped=$(grep -c '^ *skipped: ' target/test-output.txt || true)
echo "tests skipped for a missing kernel feature: ${skipped:-0}" >&2
grep '^ *skipped: ' target/test-output.txt | sort | uniq -c >&2 || true

for extra in scripts/test-*.sh; do
  [[ -e $extra ]] || continue
  step "$extra"
  bash "$extra"
done
