#!/usr/bin/env bash
# The test command (npm test): sets up what is missing, starts the Docker engine and makes the base
# image when needed, then runs the checks, the unit tier and the integration tier for real.
#
# Usage: scripts/test.sh [unit|integration|all]   (default: all)
set -euo pipefail

cd "$(dirname "$0")/.."
tier="${1:-all}"
case "$tier" in
  unit | integration | all) ;;
  *)
    echo "test: expected unit, integration or all, got '$tier'" >&2
    exit 2
    ;;
esac

bash scripts/setup.sh

if [[ "$tier" != integration ]]; then
  npm run --silent typecheck
  bash scripts/lint.sh
  npm run --silent test:unit
fi

if [[ "$tier" != unit ]]; then
  bash scripts/docker-engine.sh
  bash scripts/base-image.sh debian:trixie-slim
  npm run --silent test:integration
fi
