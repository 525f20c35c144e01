#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, unit tests, end-to-end tests through the
# real gateway with the vendor SDK, and the PostgreSQL-backed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

# The PostgreSQL-backed tests need the machine's PostgreSQL; start it if it is installed but down.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --bins --locked
# The samples keep their state in .tiergate-dev (scripts/dev.sh makes it too): check-config
# refuses a configuration whose files would go into a missing folder.
mkdir -p .tiergate-dev
./target/debug/tiergate check-config examples/dev.toml examples/tls.toml
# The production sample as installed (its certificates beside it, here the test ones), with
# its secrets from the environment; check-config also tries the keys it is given. Its state
# folder (/var/lib/tiergate) is not on a build machine: the environment moves the checkpoint
# log, as a container would.
prod=$(mktemp -d)
cp examples/production.toml "$prod/tiergate.toml"
mkdir "$prod/tls"
cp tests/fixtures/tls/rsa.pem "$prod/tls/gateway.pem"
cp tests/fixtures/tls/rsa.key "$prod/tls/gateway.key"
TIERGATE_AUDIT_KEY=MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4= TIERGATE_DISTRIBUTOR_SK=sample TIERGATE_MASTER_KEY=c2FtcGxlLW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZyE= \
  TIERGATE_DATABASE_URL=postgres://tiergate:sample@db.internal:5432/tiergate \
  TIERGATE__AUDIT__CHECKPOINT_LOG="$prod/audit-checkpoints.jsonl" \
  ./target/debug/tiergate check-config "$prod/tiergate.toml"
rm -rf "$prod"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
[ "$status" -eq 0 ] || exit "$status"
# The SAML Response reader, fuzzed for a bounded time (a crash fails the run and shows it).
if ! bash scripts/fuzz.sh "${TIERGATE_FUZZ_SECONDS:-30}" >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
