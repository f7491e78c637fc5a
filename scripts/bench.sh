#!/usr/bin/env bash
# Benchmarks: serving throughput and latency per storage variant, freshness of mapfile edits, and
# the pipeline's time and AWS calls against the emulator. Needs the Docker engine, s3fs/FUSE and
# moto_server (scripts/setup.sh installs them); runs as root for the FUSE mounts.
#
# Usage: npm run bench -- --out DIR [--quick] [--only serving,freshness,pipeline,lint] [--variants local,mirror,...]
set -euo pipefail

cd "$(dirname "$0")/.."

for tool in docker s3fs moto_server findmnt; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench: $tool is not on PATH; run scripts/setup.sh" >&2
    exit 1
  }
done
docker info >/dev/null 2>&1 || {
  echo "bench: the Docker engine is not running; start it with scripts/docker-engine.sh" >&2
  exit 1
}

# A hard stop, whatever happens: the full run takes about 20 minutes on 2 cores.
exec timeout --kill-after=30 2400 npx --no-install tsx scripts/bench/main.ts "$@"
