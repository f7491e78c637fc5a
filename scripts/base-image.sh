#!/usr/bin/env bash
# Make the Debian base image that docker/Dockerfile starts FROM, for machines that reach Debian's
# package mirror but no image registry. The root file system is made with debootstrap and loaded
# with `docker import`, so the Dockerfile builds unchanged here and on a machine that can pull.
# Idempotent: an image already present is kept; the root file system tarball is cached, so a
# second machine run (or a run after `docker image rm`) only imports it.
#
# Usage: scripts/base-image.sh [IMAGE]          (default IMAGE: debian:trixie-slim)
# Environment:
#   BASE_IMAGE_SUITE   Debian suite to bootstrap (default: the tag's codename, e.g. trixie)
#   DEBIAN_MIRROR      package mirror (default: the first Debian archive in this machine's apt sources)
#   MAPSERVER_ECS_CACHE  cache folder (default: ~/.cache/mapserver-ecs)
set -euo pipefail

image="${1:-debian:trixie-slim}"
if ! [[ "$image" =~ ^[a-z0-9._/-]+:[a-z0-9._-]+$ ]]; then
  echo "base-image: IMAGE must look like name:tag (for example debian:trixie-slim), got '$image'" >&2
  exit 2
fi
tag="${image##*:}"
suite="${BASE_IMAGE_SUITE:-${tag%%-*}}"
cache_dir="${MAPSERVER_ECS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mapserver-ecs}"
tarball="$cache_dir/rootfs-${image//[\/:]/_}.tar"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image already present"
  exit 0
fi

# Prints the URIs of every apt source on this machine, one per line, from both the one-line
# format (sources.list) and the deb822 format (*.sources).
apt_source_uris() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r "$file" ]] || continue
    awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }
    ' "$file"
  done
}

# The archive is the source whose path ends in /debian; security updates live in /debian-security.
mirror_ending_in() {
  apt_source_uris | sed 's:/*$::' | grep -m1 -E "/$1\$" || true
}

mirror="${DEBIAN_MIRROR:-$(mirror_ending_in debian)}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-$(mirror_ending_in debian-security)}"
if [[ -z "$mirror" ]]; then
  echo "base-image: no Debian archive found in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2
  exit 1
fi

if [[ ! -s "$tarball" ]]; then
  for tool in debootstrap tar; do
    command -v "$tool" >/dev/null 2>&1 || { echo "base-image: $tool is not installed" >&2; exit 1; }
  done
  if [[ $(id -u) -ne 0 ]]; then
    echo "base-image: debootstrap needs root" >&2
    exit 1
  fi
  mkdir -p "$cache_dir"
  rootfs="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "base-image: bootstrapping $suite from $mirror into $rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"

  # Same trimming as the official slim images: no docs, man pages or translations, now or later.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"* "$rootfs/usr/share/locale/"* \
    "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin "$rootfs/var/cache/apt/archives/"*.deb \
    "$rootfs/var/log/"*.log "$rootfs/etc/apt/sources.list"

  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$suite" "$suite"
    if [[ -n "$security_mirror" ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$security_mirror" "$suite"
    fi
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"

  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

echo "base-image: importing $tarball as $image"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  "$tarball" "$image" >/dev/null
echo "base-image: $image ready ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
