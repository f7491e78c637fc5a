#!/usr/bin/env bash
# Lets the mount be read by other users (allow_other): MapServer's user in the container is not
# the user that mounts. FUSE accepts allow_other from root regardless, but mount-s3 checks this.
set -euo pipefail

conf=/etc/fuse.conf
touch "$conf"
if grep -qE '^[[:space:]]*#?[[:space:]]*user_allow_other' "$conf"; then
  sed -i -E 's/^[[:space:]]*#?[[:space:]]*user_allow_other.*/user_allow_other/' "$conf"
else
  echo user_allow_other >>"$conf"
fi
chmod 0644 "$conf"
