import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parseSettings } from '../../src/settings.js';
import { MOUNT_SERVICE, renderUserData, toBase64, type UserDataSettings } from '../../src/steps/user-data.js';

const template = readFileSync('ecs/user-data.sh.hbs', 'utf8');
const base = parseSettings((name) => ({ command: 'roll', bucket: 'maps-bucket', 'bucket-prefix': 'maps/', 'ami-id': 'ami-0123456789abcdef0' })[name as 'command'] ?? '', [], { AWS_REGION: 'eu-west-1' });

function settings(over: Partial<UserDataSettings> = {}): UserDataSettings {
  return { ...base, ...over };
}

/** KEY=value lines of the mount.conf heredoc. */
function mountConf(script: string): Record<string, string> {
  const body = /<<'MOUNT_CONF'\n([\s\S]*?)\nMOUNT_CONF\n/.exec(script)?.[1] ?? '';
  return Object.fromEntries(body.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

describe('renderUserData', () => {
  it('starts with the shebang and writes ecs.config and mount.conf, then starts the mount', () => {
    const script = renderUserData(template, settings());
    expect(script.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(script).toContain("printf 'ECS_CLUSTER=%s\\n' 'mapserver'");
    expect(script).toContain('>/etc/ecs/ecs.config');
    expect(script).toContain('ECS_ENABLE_TASK_IAM_ROLE=true');
    expect(script).not.toContain('ECS_INSTANCE_ATTRIBUTES');
    expect(mountConf(script)).toEqual({
      BUCKET: "'maps-bucket'",
      BUCKET_PREFIX: "'maps/'",
      AWS_REGION: "'eu-west-1'",
      MOUNT_POINT: "'/mnt/mapfiles'",
      MOUNT_DRIVER: "'mirror'",
      MOUNT_UID: "'33'",
      MOUNT_GID: "'33'",
      MOUNT_UMASK: "'0022'",
      EXTRA_OPTIONS: "''",
      MIRROR_TOPIC: "'mapserver-ecs-mapfiles-maps-bucket'",
      MIRROR_RECONCILE_SECONDS: "'60'",
      // The instance completes the group's launch hook and takes itself out of service when unhealthy.
      AUTO_SCALING_GROUP: "'mapserver-ecs'",
      LAUNCH_HOOK: "'mapserver-ecs-launch'",
      UNHEALTHY_GRACE_SECONDS: "'300'",
      MIRROR_INCLUDE: "''",
      MIRROR_EXCLUDE: "''",
      MIRROR_MAX_OBJECT_MIB: "'64'",
      MIRROR_BUDGET_MIB: "'4096'",
    });
    // Without waiting: user data runs in cloud-final, which the agent (after the mount) waits for.
    expect(script.trimEnd().endsWith(`systemctl start --no-block '${MOUNT_SERVICE}'`)).toBe(true);
    // The mount service may be waiting for mount.conf: it must never read half of it.
    expect(script).toContain("cat >/etc/mapserver-ecs/mount.conf.tmp <<'MOUNT_CONF'");
    expect(script).toContain('mv -f /etc/mapserver-ecs/mount.conf.tmp /etc/mapserver-ecs/mount.conf\n');
  });

  it('takes the grace period of unhealthy-grace-seconds', () => {
    expect(mountConf(renderUserData(template, settings({ unhealthyGraceSeconds: 120 }))).UNHEALTHY_GRACE_SECONDS).toBe("'120'");
  });

  it('passes the mirror selection and budget', () => {
    const conf = mountConf(renderUserData(template, settings({ mirrorInclude: ['*.map', 'symbols/**'], mirrorExclude: ['none'], mirrorMaxObjectMib: 8, mirrorBudgetMib: 512 })));
    expect(conf).toMatchObject({ MIRROR_INCLUDE: "'*.map symbols/**'", MIRROR_EXCLUDE: "'none'", MIRROR_MAX_OBJECT_MIB: "'8'", MIRROR_BUDGET_MIB: "'512'" });
  });

  it('takes the mount driver and an empty prefix', () => {
    const conf = mountConf(renderUserData(template, settings({ mountDriver: 'mountpoint', bucketPrefix: '' })));
    expect(conf.MOUNT_DRIVER).toBe("'mountpoint'");
    expect(conf.MIRROR_TOPIC).toBe("''");
    expect(conf.BUCKET_PREFIX).toBe("''");
  });

  it('names the bucket topic and the reconciliation interval for the mirror driver', () => {
    const conf = mountConf(renderUserData(template, settings({ mountDriver: 'mirror', mirrorReconcileSeconds: 300, bucket: 'maps.example.org' })));
    expect(conf.MOUNT_DRIVER).toBe("'mirror'");
    expect(conf.MIRROR_TOPIC).toBe("'mapserver-ecs-mapfiles-maps-example-org'");
    expect(conf.MIRROR_RECONCILE_SECONDS).toBe("'300'");
  });

  it('quotes single quotes for the shell', () => {
    const script = renderUserData(template, settings({ cluster: "it's" }));
    expect(script).toContain(`printf 'ECS_CLUSTER=%s\\n' 'it'\\''s'`);
  });

  it('refuses to render without a bucket', () => {
    expect(() => renderUserData(template, settings({ bucket: undefined }))).toThrow(/bucket/);
  });

  it('refuses a template that does not start with #!', () => {
    expect(() => renderUserData(`\n${template}`, settings())).toThrow(/#!/);
  });

  it('base64-encodes for the launch template', () => {
    expect(Buffer.from(toBase64('#!/bin/sh\necho é\n'), 'base64').toString('utf8')).toBe('#!/bin/sh\necho é\n');
  });
});
