#!/usr/bin/env bash
# Starts Tiergate on its embedded default: SQLite storage, the bundled partner API simulator
# as upstream (127.0.0.1:18080), the gateway on 127.0.0.1:8080 and its admin listener on
# 127.0.0.1:9090, and prints a demo cloud-reseller credential, the console's address and a
# demo auditor's sign-in for it. Ctrl-C stops both. `scripts/dev.sh examples/tls.toml` starts
# the TLS sample the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --workspace --bins --locked
mkdir -p .tiergate-dev
# Another sample (`scripts/dev.sh examples/tls.toml`) gets its simulator where its
# [upstream] url points.
config="${1:-examples/dev.toml}"
upstream=$(sed -n 's|^url = "http://\(127\.0\.0\.1:[0-9]*\)"$|\1|p' "$config" | head -n1)
if [ -z "$upstream" ]; then
  echo "dev.sh: $config has no [upstream] url on 127.0.0.1 for the simulator" >&2
  exit 2
fi
./target/debug/tiergate-sim --fixture tests/fixtures/world.json --listen "$upstream" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
./target/debug/tiergate serve --config "$config" --demo-credential res-1 --demo-auditor demo-auditor
