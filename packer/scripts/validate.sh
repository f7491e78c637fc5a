#!/usr/bin/env bash
# Last step of the bake: checks inside the image that everything the mount needs is in place, and
# that nothing secret was left behind. Any failure fails the bake, so no half-made AMI is kept.
set -euo pipefail

: "${MOUNT_DRIVER:?}" "${S3FS_VERSION:?}"
failures=0

# check DESCRIPTION COMMAND...: runs the command, reports ok or FAIL, never stops early.
check() {
  local description=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "validate: ok: $description"
  else
    echo "validate: FAIL: $description" >&2
    failures=$((failures + 1))
  fi
}

s3fs_is_pinned() { s3fs --version 2>/dev/null | head -n1 | grep -q "V$S3FS_VERSION "; }
script_is_sound() {
  local script=$1
  [[ -x $script && $(stat -c %U "$script") == root ]] && bash -n "$script"
}
unit_property_lacks() { ! systemctl show -p "$2" "$1" | grep -q -- "$3"; }
mirror_bundle_runs() {
  local code=0
  node-22 /usr/local/lib/mapserver-ecs/mirror/index.js >/dev/null 2>&1 || code=$?
  ((code == 2))
}
unit_property_has() { systemctl show -p "$2" "$1" | grep -q -- "$3"; }
absent() { [[ ! -e $1 ]]; }
imds_refuses_v1() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 http://169.254.169.254/latest/meta-data/instance-id || true)
  [[ $code == 401 ]]
}

fusermount_installed() { command -v fusermount || command -v fusermount3; }
# The instance signs its Auto Scaling and ECS calls (lifecycle hook, self-healing) with curl.
curl_signs_requests() { curl --help all | grep -q -- '--aws-sigv4'; }
machine_id_is_empty() { [[ -f /etc/machine-id && ! -s /etc/machine-id ]]; }

case $MOUNT_DRIVER in
  s3fs)
    check "s3fs $S3FS_VERSION is installed" s3fs_is_pinned
    check "fusermount is installed (s3fs unmounts with it)" fusermount_installed
    ;;
  mountpoint)
    check "mount-s3 is installed" mount-s3 --version
    check "fusermount is installed (mount-s3 unmounts with it)" fusermount_installed
    ;;
  mirror)
    check "node-22 is installed" node-22 --version
    # Without a subcommand the bundle prints its usage and exits 2: it loads and runs.
    check "the mirror's bundle runs on node-22" mirror_bundle_runs
    ;;
esac
for tool in setpriv findmnt mountpoint timeout curl logrotate; do
  check "$tool is installed (used by mapfiles-mount)" command -v "$tool"
done
check "curl signs AWS requests (--aws-sigv4)" curl_signs_requests
check "/etc/machine-id is empty (each instance makes its own)" machine_id_is_empty
check "/etc/fuse.conf has user_allow_other" grep -qx user_allow_other /etc/fuse.conf
check "/dev/fuse exists" test -e /dev/fuse
for script in /usr/local/sbin/mapfiles-mount /usr/local/sbin/mapfiles-instance; do
  check "$script is root's, executable and valid bash" script_is_sound "$script"
done
for unit in mapfiles-mount mapfiles-mirror mapfiles-launch mapfiles-launch-abandon mapfiles-health; do
  check "$unit.service is installed" test -f "/etc/systemd/system/$unit.service"
  check "$unit.service verifies" systemd-analyze verify "/etc/systemd/system/$unit.service"
done
check "mapfiles-mount.service is enabled" systemctl is-enabled --quiet mapfiles-mount.service
check "docker.service starts after the mount" unit_property_has docker.service After mapfiles-mount.service
check "multi-user.target does not wait for Docker (it waits for the mount)" unit_property_lacks multi-user.target After docker.service
check "multi-user.target does not wait for the mount (it waits for cloud-final)" unit_property_lacks multi-user.target After mapfiles-mount.service
check "multi-user.target does not wait for the ECS agent (ordered after cloud-final)" unit_property_lacks multi-user.target After ecs.service
check "a failed mount abandons the launch" unit_property_has mapfiles-mount.service OnFailure mapfiles-launch-abandon.service
check "ecs.service completes the launch and watches the bucket" unit_property_has ecs.service Wants mapfiles-health.service
check "ecs.service requires the mount" unit_property_has ecs.service Requires mapfiles-mount.service
check "ecs.service starts after the mount" unit_property_has ecs.service After mapfiles-mount.service
check "ecs.service reads the ready attribute" unit_property_has ecs.service EnvironmentFiles /run/mapserver-ecs/ecs-attributes.env

# The AMI carries no credentials and no bucket: user data names the bucket, the role signs requests.
for secret in /etc/passwd-s3fs /root/.passwd-s3fs /home/ec2-user/.passwd-s3fs /root/.aws/credentials /home/ec2-user/.aws/credentials /etc/mapserver-ecs/mount.conf; do
  check "$secret is absent" absent "$secret"
done

# This instance was launched with IMDSv2 required: a request without a token must be refused.
check "IMDSv1 requests are refused" imds_refuses_v1

if ((failures > 0)); then
  echo "validate: $failures check(s) failed" >&2
  exit 1
fi
echo "validate: all checks passed"
