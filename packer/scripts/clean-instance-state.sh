#!/usr/bin/env bash
# Leaves nothing of this bake instance in the AMI: the ECS agent's registration state (a new
# instance must register as itself), logs, host keys, cloud-init's record of this boot and the
# machine-id: an empty /etc/machine-id makes systemd generate a new one on each instance's first boot,
# as AWS's own ECS AMI build does (a missing file would instead be treated as a read-only image).
set -euo pipefail

systemctl stop ecs.service 2>/dev/null || true
rm -rf /var/lib/ecs/data/*
rm -f /etc/mapserver-ecs/mount.conf /run/mapserver-ecs/ecs-attributes.env
rm -f /etc/ssh/ssh_host_*
rm -rf /var/log/ecs/* /tmp/mapserver-ecs
find /var/log -type f -name '*.log' -exec truncate -s 0 {} +
cloud-init clean --logs
rm -f /var/lib/dbus/machine-id
truncate -s 0 /etc/machine-id
