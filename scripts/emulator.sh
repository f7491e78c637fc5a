#!/usr/bin/env bash
# Runs the local AWS emulator (moto_server behind the instance-refresh and deployment shim) on a
# loopback port and prints its endpoint; stops with Ctrl-C.
#
# Usage: scripts/emulator.sh [--port N] [--moto-port N] [--verbose]
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v moto_server >/dev/null 2>&1; then
  echo "emulator: moto_server is not on PATH; run scripts/setup.sh" >&2
  exit 1
fi

exec npx --no-install tsx scripts/emulator.ts "$@"
