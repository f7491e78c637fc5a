// The mirror's bundle as the mount script runs it on an instance: `check` and `status` with the
// settings of mount.conf (a topic, no queue: the queue is named from the instance id, looked up for
// `run` only) read the running mirror's status and nothing else.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bundle = new URL('../../../packer/files/usr/local/lib/mapserver-ecs/mirror/index.js', import.meta.url).pathname;

function mirror(command: string, root: string, extra: NodeJS.ProcessEnv = {}) {
  const env = { PATH: process.env.PATH, MIRROR_BUCKET: 'maps-bucket', MIRROR_PREFIX: '', MIRROR_ROOT: root, MIRROR_TOPIC: 'mapserver-ecs-mapfiles-maps-bucket', MIRROR_QUEUE: '', AWS_REGION: 'us-east-1', ...extra };
  return spawnSync(process.execPath, [bundle, command], { env, encoding: 'utf8' });
}

function status(heartbeatAt: Date, synced = true, pid = 1): object {
  const at = heartbeatAt.toISOString();
  return {
    state: synced ? 'ready' : 'syncing', synced, pid, startedAt: at, heartbeatAt: at, bucket: 'maps-bucket', prefix: '', reconcileSeconds: 60,
    graceSeconds: 300, budgetBytes: 4096 * 1024 * 1024,
    events: { state: 'listening', received: 0 }, reconcile: { count: 1, lastAt: at, lastOkAt: at }, objects: 3, bytes: 10,
    staleCount: 0, stale: [], refusedCount: 0, refused: [], notMirroredCount: 2, notMirroredBytes: 400, notMirrored: [], requests: {},
  };
}

describe('mapfiles-mirror check and status on an instance', () => {
  const root = mkdtempSync(join(tmpdir(), 'mirror-bundle-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('says the mirror has not started when there is no status yet (not a settings error)', () => {
    const run = mirror('check', root);
    expect(run.stderr).toMatch(/no status in .*status\.json \(the mirror has not started\)/);
    expect(run.status).toBe(1);
  });

  it('reports ready from a fresh heartbeat, and the status as JSON', () => {
    writeFileSync(join(root, 'status.json'), JSON.stringify(status(new Date())));
    const check = mirror('check', root);
    expect([check.status, check.stdout]).toEqual([0, expect.stringMatching(/^mapfiles-mirror: ready: 3 objects \(10 of 4294967296 bytes\), events listening, .*, 0 stale, 2 not mirrored/)]);
    const shown = mirror('status', root);
    expect(shown.status).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ synced: true, objects: 3 });
  });

  it('fails at once when the process that wrote the status is gone, heartbeat fresh or not', () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(root, 'status.json'), JSON.stringify(status(new Date(), true, Number(gone.stdout))));
    const check = mirror('check', root);
    expect([check.status, check.stderr]).toEqual([1, expect.stringMatching(/the mirror's process \d+ is not running/)]);
  });

  it('fails on a stopped heartbeat and on a bad MIRROR_ROOT', () => {
    writeFileSync(join(root, 'status.json'), JSON.stringify(status(new Date(Date.now() - 600_000))));
    expect(mirror('check', root).stderr).toMatch(/no heartbeat for \d+ s/);
    const bad = mirror('check', 'relative/root');
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringMatching(/MIRROR_ROOT must be an absolute path/)]);
  });
});
