#!/usr/bin/env bash
# Runs the local AWS emulator (moto_server behind the proxy that simulates instance refreshes and
# deployments) on a loopback port and prints its endpoint; stops with Ctrl-C, SIGTERM, or when its
# parent ends.
#
# Usage: scripts/emulator.sh [--port N] [--moto-port N] [--verbose]
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v moto_server >/dev/null 2>&1; then
  echo "emulator: moto_server is not on PATH; run scripts/setup.sh" >&2
  exit 1
fi

# Node runs the emulator itself (tsx as a loader: no npx or tsx process in between), and dies with
# whatever started this script: `npm run` forwards SIGTERM only to its `sh -c`, which does not pass
# it on, so the kernel's parent-death signal is what reaches this process. scripts/emulator/cli.ts
# then stops moto_server and frees both ports. Started in a session of its own (setsid, as the local stack
# does), it is meant to outlive its starter and is stopped by signalling its group instead.
read -r -a stat </proc/$$/stat
if [[ "${stat[5]}" == "$$" ]]; then
  exec node --import tsx scripts/emulator/cli.ts "$@"
fi
exec setpriv --pdeathsig TERM -- node --import tsx scripts/emulator/cli.ts "$@"
