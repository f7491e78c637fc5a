#!/usr/bin/env bash
# Install what the tests and the local stack need on a Debian machine, and nothing that is already
# there: Debian packages (Packer, s3fs, Docker, MapServer, ...) and the npm dependencies.
# Idempotent; needs root only when something is missing.
#
# Usage: scripts/setup.sh
set -euo pipefail

cd "$(dirname "$0")/.."

# command-on-PATH:debian-package pairs; a package is installed only when its command is missing.
required=(
  packer:packer
  s3fs:s3fs
  fusermount3:fuse3
  setpriv:util-linux
  findmnt:util-linux
  umount:mount
  dockerd:docker.io
  debootstrap:debootstrap
  mapserv:cgi-mapserver
  shp2img:mapserver-bin
  gdal_translate:gdal-bin
  shellcheck:shellcheck
  docker-registry:docker-registry
  curl:curl
  jq:jq
  socat:socat
  chromium:chromium
)

missing=()
for pair in "${required[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
# map2img replaced shp2img in MapServer 8; either one means mapserver-bin is there.
if [[ " ${missing[*]} " == *" mapserver-bin "* ]] && command -v map2img >/dev/null 2>&1; then
  missing=("${missing[@]/mapserver-bin/}")
fi
read -r -a missing <<<"${missing[*]}"

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: moto_server (the AWS API emulator) is not on PATH; install moto[server]" >&2
  exit 1
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi
