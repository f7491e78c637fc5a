#!/usr/bin/env bash
# Enables the mount service at boot. It is ordered before docker.service and ecs.service (see the
# drop-ins), so containers see the mount and the ECS agent starts only once it is up.
set -euo pipefail

systemctl daemon-reload
systemctl enable mapfiles-mount.service
