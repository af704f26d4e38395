#!/usr/bin/env bash
# The durable-execution suite (cargo feature `temporal`): installs what it needs
# (scripts/setup-temporal.sh: protoc, the Temporal CLI), lints the feature, then runs
# toolbridge-durable's tests and the CLI's durable tests against Temporal dev servers the tests
# start themselves (in memory, on free ports). scripts/test.sh runs it after the default suite.
#
# Wall time on this machine kind (2 cores, shared): 30 s with nothing to rebuild (the tests
# themselves ~25 s), 4-5 min after a change to toolbridge-durable (relinking the examples and the
# CLI), an estimated 12-15 min from a cold target/ on idle cores (the Temporal SDK's gRPC and
# protobuf stack is most of it: its dependency tree alone took 2 min).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { printf '\n==> %s\n' "$*" >&2; }

step "setup (protoc, Temporal CLI)"
TEMPORAL_CLI=$(bash scripts/setup-temporal.sh)
export TEMPORAL_CLI

step "cargo clippy --features temporal"
cargo clippy --locked -p toolbridge-durable -p toolbridge-cli \
  --features toolbridge-durable/temporal,toolbridge-cli/temporal --all-targets -- -D warnings

step "build the worker example and the test binaries"
cargo build --locked -p testbed-mcp
cargo build --locked -p toolbridge-durable --features temporal --examples

step "toolbridge-durable tests"
cargo test --locked -p toolbridge-durable --features temporal

step "CLI durable tests"
cargo test --locked -p toolbridge-cli --features temporal --test durable
