#!/usr/bin/env bash
# Fuzzes the SAML Response reader (fuzz/fuzz_targets/saml_response.rs) for a bounded time:
# `scripts/fuzz.sh [SECONDS]` (default 60). Installs cargo-fuzz from crates.io if missing.
# libFuzzer's instrumentation needs unstable compiler flags; RUSTC_BOOTSTRAP lets the one
# stable toolchain accept them. No sanitizer: the target is safe Rust (xmlsec is not reached).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked cargo-fuzz >/dev/null
fi
corpus="target/fuzz-corpus/saml_response"
mkdir -p "$corpus"
cp -n fuzz/seeds/saml_response/* "$corpus"/ 2>/dev/null || true
# Its build is kept outside the checkout, so clean clones on one machine share it.
export CARGO_TARGET_DIR="${TIERGATE_FUZZ_TARGET:-$HOME/.cache/tiergate/fuzz-target}"
cd fuzz
# cargo-fuzz has no --locked: check first that the committed lock needs no change, so the
# fuzz build resolves nothing newer than what is committed (it would rewrite the lock).
cargo metadata --locked --format-version 1 >/dev/null
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none saml_response "../$corpus" ../fuzz/seeds/saml_response \
  -- -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
