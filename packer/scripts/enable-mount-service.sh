#!/usr/bin/env bash
# Enables the mount service at boot (wanted by cloud-init.target). It is ordered before ecs.service
# (see the drop-in), so the ECS agent starts only once it is up; the agent's drop-in pulls in the
# launch hook and health units.
set -euo pipefail

systemctl daemon-reload
systemctl enable mapfiles-mount.service
