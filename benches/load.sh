#!/usr/bin/env bash
# The side-by-side load benchmark (see benches/benches/proxy_load/main.rs): installs Debian's
# nginx and its njs module (for the hand-built nginx + njs peer) when missing, builds the
# release binaries, and prints the tables benches/RESULTS.md records. Needs the machine's
# PostgreSQL (TIERGATE_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test) and
# Redis (127.0.0.1:6379), and two cores or more: the server under test runs on core 1, the
# load driver and the upstream on core 0.
#
# Arguments go to the bench: parts to run (`nginx njs leased attack writes strict`; default
# all), or `--check-peer` alone to run only the nginx + njs peer's correctness check (signed
# read and POST forwarded and re-signed validly, wrong signature, tampered body and stale date
# refused with 401 and never forwarded) in a few seconds, no load:
#     benches/load.sh --check-peer
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/sbin/nginx ] || ! [ -f /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx libnginx-mod-http-js >/dev/null
    # The package starts a default site on port 80; the bench runs its own instance.
    $sudo service nginx stop >/dev/null 2>&1 || $sudo pkill -x nginx || true
fi
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
    echo "the load bench pins the server and the client to separate cores: needs 2 or more" >&2
    exit 1
fi
cargo build --release --locked --workspace --bins
echo "# $(date -u +%Y-%m-%d) on $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo bench --locked -p tiergate-benches --bench proxy_load -- "$@"
