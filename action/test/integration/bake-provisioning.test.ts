// The provisioning scripts that need no Amazon Linux repository, run as root in a throwaway Debian
// container (the base image scripts/test.sh makes): the fuse.conf change and the overlay install.
// The mount script itself is exercised with a real FUSE mount in mount.test.ts; the systemd units
// are checked here for the ordering the health gate relies on.
import { describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(120_000);

const run = promisify(execFile);
const PACKER = join(process.cwd(), 'packer');
const BASE_IMAGE = 'debian:trixie-slim';

async function inContainer(script: string): Promise<string> {
  const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', '-v', `${PACKER}:/packer:ro`, BASE_IMAGE, 'bash', '-euo', 'pipefail', '-c', script], {
    encoding: 'utf8',
  });
  return stdout;
}

/** The [Section] Key=value lines of a systemd unit, values of repeated keys joined by spaces. */
function unit(path: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) current = sections[header[1] as string] ??= {};
    const pair = /^(\w+)=(.*)$/.exec(line);
    if (pair) current[pair[1] as string] = [current[pair[1] as string], pair[2]].filter(Boolean).join(' ');
  }
  return sections;
}

describe('provisioning scripts in a Debian container', () => {
  it('configure-fuse.sh uncomments user_allow_other once, or adds it, keeping other settings', async () => {
    const out = await inContainer(`
      printf '# mount_max = 1000\\n#user_allow_other\\n' >/etc/fuse.conf
      bash /packer/scripts/configure-fuse.sh
      bash /packer/scripts/configure-fuse.sh
      cat /etc/fuse.conf
      echo ---
      rm /etc/fuse.conf
      bash /packer/scripts/configure-fuse.sh
      cat /etc/fuse.conf
      stat -c '%a %U' /etc/fuse.conf`);
    expect(out).toBe('# mount_max = 1000\nuser_allow_other\n---\nuser_allow_other\n644 root\n');
  });

  it('install-overlay.sh puts the mount script, units, the mirror bundle and its log rotation in place, owned by root, and removes the upload', async () => {
    const out = await inContainer(`
      cp -R /packer/files /tmp/upload && chown -R 1000:1000 /tmp/upload
      OVERLAY_DIR=/tmp/upload bash /packer/scripts/install-overlay.sh
      stat -c '%n %a %U' /usr/local/sbin/mapfiles-mount /usr/local/sbin/mapfiles-instance /etc/systemd/system/mapfiles-mount.service \\
        /etc/systemd/system/mapfiles-health.service /etc/systemd/system/docker.service.d/mapfiles-mount.conf /etc/systemd/system/ecs.service.d/mapfiles-mount.conf \\
        /etc/mapserver-ecs /mnt/mapfiles /usr/local/lib/mapserver-ecs/mirror /usr/local/lib/mapserver-ecs/mirror/index.js \
        /etc/logrotate.d/mapfiles-mirror
      test ! -e /tmp/upload && echo upload-removed
      bash -n /usr/local/sbin/mapfiles-mount && echo script-parses
      OVERLAY_DIR=/tmp/missing bash /packer/scripts/install-overlay.sh 2>&1 || echo "missing-overlay-fails"`);
    expect(out.split('\n')).toEqual([
      '/usr/local/sbin/mapfiles-mount 755 root',
      '/usr/local/sbin/mapfiles-instance 755 root',
      '/etc/systemd/system/mapfiles-mount.service 644 root',
      '/etc/systemd/system/mapfiles-health.service 644 root',
      '/etc/systemd/system/docker.service.d/mapfiles-mount.conf 644 root',
      '/etc/systemd/system/ecs.service.d/mapfiles-mount.conf 644 root',
      '/etc/mapserver-ecs 755 root',
      '/mnt/mapfiles 755 root',
      '/usr/local/lib/mapserver-ecs/mirror 755 root',
      '/usr/local/lib/mapserver-ecs/mirror/index.js 644 root',
      '/etc/logrotate.d/mapfiles-mirror 644 root',
      'upload-removed',
      'script-parses',
      'install-overlay: /tmp/missing is missing',
      'missing-overlay-fails',
      '',
    ]);
  });
});

describe('AL2023 provisioning', () => {
  it('installs no full libcurl: the minimal image ships libcurl-minimal, which conflicts with it', () => {
    for (const script of ['install-mount-driver.sh', 'configure-fuse.sh', 'install-overlay.sh', 'enable-mount-service.sh', 'clean-instance-state.sh', 'validate.sh']) {
      const installs = readFileSync(join(PACKER, 'scripts', script), 'utf8')
        .split('\n')
        .filter((line) => /\b(dnf|yum)\s+install\b|build_packages=/.test(line));
      for (const line of installs) expect(line.split(/[\s()"]+/)).not.toContain('libcurl');
    }
  });

  it('clean-instance-state.sh empties /etc/machine-id, so each instance makes its own', async () => {
    const out = await inContainer(`
      mkdir -p /tmp/bin /var/lib/ecs/data /var/lib/dbus
      printf '#!/bin/sh\\nexit 0\\n' >/tmp/bin/cloud-init && chmod +x /tmp/bin/cloud-init
      echo 0123456789abcdef0123456789abcdef >/etc/machine-id
      echo 0123456789abcdef0123456789abcdef >/var/lib/dbus/machine-id
      PATH=/tmp/bin:$PATH bash /packer/scripts/clean-instance-state.sh
      stat -c '%n %s' /etc/machine-id
      test ! -e /var/lib/dbus/machine-id && echo dbus-id-removed`);
    expect(out).toBe('/etc/machine-id 0\ndbus-id-removed\n');
  });
});

describe('systemd units', () => {
  const root = join(PACKER, 'files/etc/systemd/system');

  it('mount the bucket once at boot, before Docker and the ECS agent, keeping the driver running, abandoning the launch on failure', () => {
    const service = unit(join(root, 'mapfiles-mount.service'));
    expect(service.Unit).toMatchObject({ Before: 'docker.service ecs.service', Wants: 'network-online.target', OnFailure: 'mapfiles-launch-abandon.service' });
    expect(service.Unit?.After).toContain('network-online.target');
    expect(service.Service).toMatchObject({
      Type: 'oneshot',
      RemainAfterExit: 'yes',
      ExecStart: '/usr/local/sbin/mapfiles-mount mount',
      ExecStop: '/usr/local/sbin/mapfiles-mount unmount',
      KillMode: 'process',
    });
    // Not multi-user.target: cloud-final, which writes the mount's settings, may run after it.
    expect(service.Install).toEqual({ WantedBy: 'cloud-init.target' });
  });

  it('start Docker after the mount without holding up multi-user.target', () => {
    const docker = unit(join(root, 'docker.service.d/mapfiles-mount.conf')).Unit;
    expect(docker).toMatchObject({ DefaultDependencies: 'no', Wants: 'mapfiles-mount.service', Requires: 'sysinit.target' });
    expect(docker?.After).toBe('sysinit.target basic.target mapfiles-mount.service');
  });

  it('start the ECS agent only with the mount, advertising the ready attribute, without holding up multi-user.target', () => {
    const ecs = unit(join(root, 'ecs.service.d/mapfiles-mount.conf'));
    expect(ecs.Unit?.Requires).toBe('sysinit.target mapfiles-mount.service');
    expect(ecs.Unit?.DefaultDependencies).toBe('no');
    expect(ecs.Unit?.Wants).toBe('mapfiles-launch.service mapfiles-health.service');
    expect(ecs.Unit?.After).toContain('mapfiles-mount.service');
    expect(ecs.Service).toEqual({
      EnvironmentFile: '-/run/mapserver-ecs/ecs-attributes.env',
      ExecStartPre: '/usr/local/sbin/mapfiles-mount ecs-config',
    });
  });
});
