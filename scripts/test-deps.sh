#!/usr/bin/env bash
# Installs what the end-to-end tests need from outside npm: Debian's Chromium, which
# playwright-core drives (headless, --no-sandbox). Idempotent: does nothing when it is there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: /usr/bin/chromium is missing; install Debian's chromium package (sudo apt-get install -y chromium)" >&2
  exit 1
fi

echo "test-deps: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "test-deps: apt-get installed chromium but /usr/bin/chromium is still missing" >&2
  exit 1
fi
echo "test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed" >&2
