#!/usr/bin/env bash
# Start the local Docker engine when it is not already answering, and wait until it does.
# Idempotent: a running engine is left alone. Used by the local stack and the image tests on
# machines where dockerd is installed but not started by an init system.
#
# Usage: scripts/docker-engine.sh
# Environment:
#   DOCKER_ENGINE_LOG      where dockerd's output goes (default: ~/.cache/mapserver-ecs/dockerd.log)
#   DOCKER_ENGINE_TIMEOUT  seconds to wait for `docker info` (default: 60)
set -euo pipefail

log_file="${DOCKER_ENGINE_LOG:-${XDG_CACHE_HOME:-$HOME/.cache}/mapserver-ecs/dockerd.log}"
timeout_seconds="${DOCKER_ENGINE_TIMEOUT:-60}"

if ! [[ "$timeout_seconds" =~ ^[0-9]+$ ]]; then
  echo "docker-engine: DOCKER_ENGINE_TIMEOUT must be a whole number of seconds, got '$timeout_seconds'" >&2
  exit 2
fi

if docker info >/dev/null 2>&1; then
  echo "docker-engine: engine already running"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: dockerd is not installed (Debian package: docker.io)" >&2
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "docker-engine: the engine is not running and starting it needs root" >&2
  exit 1
fi

mkdir -p "$(dirname "$log_file")"
echo "docker-engine: starting dockerd (log: $log_file)"
# setsid detaches dockerd from this shell's session so it outlives the caller.
setsid dockerd >>"$log_file" 2>&1 </dev/null &

for ((waited = 0; waited < timeout_seconds; waited++)); do
  if docker info >/dev/null 2>&1; then
    echo "docker-engine: engine ready after ${waited}s"
    exit 0
  fi
  sleep 1
done

echo "docker-engine: dockerd did not answer within ${timeout_seconds}s; last log lines:" >&2
tail -n 20 "$log_file" >&2 || true
exit 1
