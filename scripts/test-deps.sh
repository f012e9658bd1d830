#!/usr/bin/env bash
# Installs what the end-to-end tests need from outside npm: Debian's Chromium, which
# playwright-core drives (headless, --no-sandbox), and curl (a client the tests run, as
# users do: `curl -N`). Idempotent: does nothing when they are there.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing ${missing[*]}; install Debian's packages (sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

echo "test-deps: installing Debian's ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [ ! -x /usr/bin/chromium ] || ! command -v curl >/dev/null 2>&1; then
  echo "test-deps: apt-get ran but chromium or curl is still missing" >&2
  exit 1
fi
echo "test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium), $(curl --version | head -1 | cut -d' ' -f1-2) installed" >&2
