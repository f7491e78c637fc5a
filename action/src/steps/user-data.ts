// User data of the container instances: ecs/user-data.sh.hbs rendered with shell quoting, then
// base64-encoded for the launch template.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LAUNCH_HOOK_NAME } from '../aws/lifecycle-hook.js';
import { StepFailure } from '../errors.js';
import { mirrorTopicName } from '../mirror/naming.js';
import { render } from '../render.js';
import type { Settings } from '../settings.js';

/** The systemd unit installed in the AMI that mounts the bucket (packer/files overlay). */
export const MOUNT_SERVICE = 'mapfiles-mount.service';

export type UserDataSettings = Pick<Settings, 'cluster' | 'bucket' | 'bucketPrefix' | 'region' | 'mountDriver' | 'mirrorReconcileSeconds' | 'mirrorInclude' | 'mirrorExclude' | 'mirrorMaxObjectMib' | 'mirrorBudgetMib' | 'autoScalingGroup' | 'unhealthyGraceSeconds'>;

export function userDataValues(settings: UserDataSettings): Record<string, unknown> {
  if (!settings.bucket) throw new StepFailure('The user data needs the bucket input', { state: 'nothing changed' });
  return {
    cluster: settings.cluster,
    bucket: settings.bucket,
    bucketPrefix: settings.bucketPrefix,
    region: settings.region,
    mountDriver: settings.mountDriver,
    extraOptions: '',
    // The mirror's change events arrive through the bucket's topic (made by bootstrap).
    mirrorTopic: settings.mountDriver === 'mirror' ? mirrorTopicName(settings.bucket) : '',
    mirrorReconcileSeconds: String(settings.mirrorReconcileSeconds),
    mirrorInclude: settings.mirrorInclude.join(' '),
    mirrorExclude: settings.mirrorExclude.join(' '),
    mirrorMaxObjectMib: String(settings.mirrorMaxObjectMib),
    mirrorBudgetMib: String(settings.mirrorBudgetMib),
    mountService: MOUNT_SERVICE,
    // The instance completes its launch hook (CONTINUE or ABANDON) and, later, reports itself unhealthy.
    autoScalingGroup: settings.autoScalingGroup,
    launchHook: LAUNCH_HOOK_NAME,
    unhealthyGraceSeconds: String(settings.unhealthyGraceSeconds),
    // Long enough for MapServer to finish in-flight requests when the agent stops a task.
    containerStopTimeout: '60s',
    taskCleanupWait: '1h',
  };
}

export function renderUserData(template: string, settings: UserDataSettings): string {
  const script = render(template, userDataValues(settings), 'ecs/user-data.sh.hbs');
  if (!script.startsWith('#!')) throw new StepFailure('ecs/user-data.sh.hbs must render to a script starting with #!', { state: 'nothing changed' });
  // EC2 refuses user data over 16 KiB once base64-decoded.
  if (Buffer.byteLength(script) > 16 * 1024) throw new StepFailure('The rendered user data exceeds 16 KiB', { state: 'nothing changed' });
  return script;
}

export async function loadUserData(root: string, settings: UserDataSettings): Promise<string> {
  const template = await readFile(join(root, 'ecs', 'user-data.sh.hbs'), 'utf8');
  return renderUserData(template, settings);
}

export const toBase64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
