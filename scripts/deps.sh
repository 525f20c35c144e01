#!/usr/bin/env bash
# Installs what building and testing Tiergate needs on a fresh Debian machine, and nothing
# that is already there: cmake (pingora's zlib-ng build), libclang and libxmlsec1 (samael's
# bindings for XML signatures), the xmlsec1 command (signs SAML test fixtures), Debian's
# chromium and a font for it (the console's browser tests drive it headless and screenshot
# pages), Debian's prometheus (promtool and a server for the monitoring pack's test, which runs
# its own on a free port), the vendor's Python SDK, pysaml2 (the reseller IdP in the SSO tests)
# and Playwright (which drives that chromium; it never downloads a browser of its own) in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
pkg-config --exists xmlsec1-openssl libxml-2.0 2>/dev/null || need+=(libxmlsec1-dev libxml2-dev)
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package enables a system Prometheus on port 9090 (the sample admin listener's port);
  # nothing here uses it, so it stays off.
  if [[ " ${need[*]} " == *" prometheus "* ]]; then
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    else
      $sudo service prometheus stop >/dev/null 2>&1 || true
      $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  fi
fi

if [ ! -x .venv/bin/python ] || ! cmp -s tests/sdk/requirements.txt .venv/.requirements 2>/dev/null; then
  echo "deps: installing the vendor SDK into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/sdk/requirements.txt
  cp tests/sdk/requirements.txt .venv/.requirements
fi
