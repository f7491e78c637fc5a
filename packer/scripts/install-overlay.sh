#!/usr/bin/env bash
# Copies the files/ overlay onto the root file system, owned by root, and drops the upload.
set -euo pipefail

: "${OVERLAY_DIR:?}"
[[ -d $OVERLAY_DIR ]] || {
  echo "install-overlay: $OVERLAY_DIR is missing" >&2
  exit 1
}
cp -R --no-preserve=ownership "$OVERLAY_DIR"/. /
chown root:root /usr/local/sbin/mapfiles-mount /usr/local/sbin/mapfiles-instance
chmod 0755 /usr/local/sbin/mapfiles-mount /usr/local/sbin/mapfiles-instance
find /etc/systemd/system/mapfiles-*.service /etc/systemd/system/docker.service.d /etc/systemd/system/ecs.service.d \
  /etc/logrotate.d/mapfiles-mirror /usr/local/lib/mapserver-ecs \
  -type f -exec chown root:root {} + -exec chmod 0644 {} +
find /usr/local/lib/mapserver-ecs -type d -exec chown root:root {} + -exec chmod 0755 {} +
install -d -m 0755 /etc/mapserver-ecs /mnt/mapfiles
rm -rf "$OVERLAY_DIR"
