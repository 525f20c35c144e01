#!/usr/bin/env bash
# Starts Tiergate on its embedded default: SQLite storage, the bundled partner API simulator
# as upstream (127.0.0.1:18080), the gateway on 127.0.0.1:8080 and its admin listener on
# 127.0.0.1:9090, and prints a demo cloud-reseller credential, the console's address and a
# demo auditor's sign-in for it. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --workspace --bins --locked
mkdir -p .tiergate-dev
./target/debug/tiergate-sim --fixture tests/fixtures/world.json --listen 127.0.0.1:18080 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
./target/debug/tiergate serve --config examples/dev.toml --demo-credential res-1 --demo-auditor demo-auditor
