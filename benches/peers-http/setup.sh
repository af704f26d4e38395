#!/usr/bin/env bash
# Installs what benches/peers-http/run.sh needs, pinned:
#   - the peers-bench environment (Node 22, server-everything, the TypeScript SDK, the Python
#     SDK 1.x and 2.x) in the writable copy PEERS, by its own setup.sh (package-lock.json and
#     requirements files pin every version);
#   - the plain rmcp HTTP client (rust-rmcp-http/, rmcp =3.11.0, Cargo.lock) into
#     target/peers-http.
#
#   bash benches/peers-http/setup.sh PEERS
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$1
bash "$PEERS/setup.sh" >&2
CARGO_TARGET_DIR=$HERE/../../target/peers-http \
  cargo build --release --locked --quiet --manifest-path "$HERE/rust-rmcp-http/Cargo.toml"
