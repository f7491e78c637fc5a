#!/usr/bin/env bash
# Installs what serves the mapfile bucket. Amazon Linux 2023 has no s3fs package (and no EPEL), so
# s3fs is built from its pinned release tarball after checking its SHA-256; mount-s3 (Mountpoint
# for Amazon S3) comes from the distribution's repository. The mirror is the project's own
# TypeScript, bundled into the overlay; it needs only a Node.js runtime, and AL2023 ships Node.js 22
# as the namespaced nodejs22 package (/usr/bin/node-22), kept at that major by its name.
set -euo pipefail

: "${MOUNT_DRIVER:?}" "${S3FS_VERSION:?}" "${S3FS_SHA256:?}"
MOUNTPOINT_VERSION=${MOUNTPOINT_VERSION:-}

install_s3fs() {
  # Runtime libraries first, marked as wanted, so removing the build tools keeps them. No libcurl:
  # the ECS-optimized AMI is built from the minimal image, whose libcurl-minimal conflicts with the
  # full package and already provides what libcurl-devel and s3fs link against.
  dnf install -y fuse fuse-libs libxml2 openssl-libs mailcap
  local build_packages=(automake autoconf gcc-c++ make fuse-devel libcurl-devel libxml2-devel openssl-devel pkgconf-pkg-config tar gzip)
  local newly_installed=()
  local package
  for package in "${build_packages[@]}"; do
    rpm -q "$package" >/dev/null 2>&1 || newly_installed+=("$package")
  done
  dnf install -y "${build_packages[@]}"

  local work
  work=$(mktemp -d)
  local tarball="$work/s3fs-fuse-$S3FS_VERSION.tar.gz"
  curl -fsSL --retry 5 --retry-delay 3 -o "$tarball" \
    "https://github.com/s3fs-fuse/s3fs-fuse/archive/refs/tags/v$S3FS_VERSION.tar.gz"
  echo "$S3FS_SHA256  $tarball" | sha256sum --check --strict
  tar -xzf "$tarball" -C "$work"
  (
    cd "$work/s3fs-fuse-$S3FS_VERSION"
    ./autogen.sh
    ./configure --prefix=/usr --with-openssl
    make -j"$(nproc)"
    make install
  )
  rm -rf "$work"
  if ((${#newly_installed[@]} > 0)); then
    dnf remove -y "${newly_installed[@]}"
  fi
  s3fs --version | head -n1
}

install_mirror() {
  dnf install -y nodejs22
  node-22 --version
}

install_mountpoint() {
  if [[ -n $MOUNTPOINT_VERSION ]]; then
    dnf install -y "mount-s3-$MOUNTPOINT_VERSION"
  else
    dnf install -y mount-s3
  fi
  mount-s3 --version
}

# The mount script's own tools (setpriv, findmnt, mountpoint) are in util-linux, whatever the driver;
# logrotate rotates the mirror's log; fusermount comes with fuse.
dnf install -y util-linux logrotate

case $MOUNT_DRIVER in
  s3fs) install_s3fs ;;
  mountpoint) install_mountpoint ;;
  mirror) install_mirror ;;
  *)
    echo "install-mount-driver: unknown MOUNT_DRIVER $MOUNT_DRIVER" >&2
    exit 1
    ;;
esac
dnf clean all
