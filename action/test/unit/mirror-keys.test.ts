import { describe, expect, it } from '@jest/globals';
import { compareSequencers, decodeEventKey, parseEventMessage, placeOfKey, SequencerLog } from '../../src/mirror/keys.js';
import { topicArnFor, mirrorTopicName } from '../../src/mirror/naming.js';
import { readMirrorConfig } from '../../src/mirror/config.js';
import { DEFAULT_EXCLUDE, excludedObject, matchesPattern } from '../../src/mirror/selection.js';
import { unhealthy, type MirrorStatus } from '../../src/mirror/health.js';

describe('placeOfKey', () => {
  it.each([
    ['maps/roads.map', 'maps/', { kind: 'file', path: 'roads.map' }],
    ['maps/data/roads.csv', 'maps/', { kind: 'file', path: 'data/roads.csv' }],
    ['roads.map', '', { kind: 'file', path: 'roads.map' }],
    ['maps/data/', 'maps/', { kind: 'folder', path: 'data' }],
    ['maps/a b+c.map', 'maps/', { kind: 'file', path: 'a b+c.map' }],
    ['maps/ünïcode/карта.map', 'maps/', { kind: 'file', path: 'ünïcode/карта.map' }],
  ])('places %j under prefix %j', (key, prefix, place) => {
    expect(placeOfKey(key, prefix)).toEqual(place);
  });

  it.each([
    ['other/roads.map', 'maps/', /outside the prefix/],
    ['maps/', 'maps/', /the prefix itself/],
    ['maps/../etc/passwd', 'maps/', /".." is not a valid path segment/],
    ['maps/./a.map', 'maps/', /"\." is not a valid/],
    ['maps//a.map', 'maps/', /empty path segment/],
    ['/etc/passwd', '', /empty path segment/],
    ['maps/a\u0000b', 'maps/', /control characters/],
    ['maps/a\nb.map', 'maps/', /control characters/],
    [`maps/${'x'.repeat(256)}`, 'maps/', /longer than 255 bytes/],
    [`maps/${'ab/'.repeat(1500)}c`, 'maps/', /longer than 4000 bytes/],
  ])('refuses %j', (key, prefix, reason) => {
    const place = placeOfKey(key, prefix);
    expect(place.kind).toBe('refused');
    expect(place.kind === 'refused' && place.reason).toMatch(reason);
  });
});

describe('S3 event messages', () => {
  const record = (key: string, eventName = 'ObjectCreated:Put', extra: Record<string, unknown> = {}) => ({
    eventName,
    eventTime: '2026-12-03T10:00:00.000Z',
    s3: { bucket: { name: 'maps-bucket' }, object: { key, ...extra } },
  });

  it('decodes keys the way S3 encodes them (+ for space, %XX)', () => {
    expect(decodeEventKey('maps/a+b%2Bc.map')).toBe('maps/a b+c.map');
    expect(decodeEventKey('maps%2Fa+b%2Bc.map')).toBe('maps/a b+c.map');
    expect(decodeEventKey('maps/%C3%A9t%C3%A9.map')).toBe('maps/été.map');
  });

  it('reads raw S3 events, SNS envelopes, and ignores test events and other buckets', () => {
    const raw = JSON.stringify({ Records: [record('maps/a.map', 'ObjectCreated:Put', { sequencer: '0055AED6DCD90281E5' }), record('maps/b.map', 'ObjectRemoved:Delete')] });
    expect(parseEventMessage(raw, 'maps-bucket')).toEqual([
      { key: 'maps/a.map', action: 'created', sequencer: '0055AED6DCD90281E5', time: '2026-12-03T10:00:00.000Z' },
      { key: 'maps/b.map', action: 'removed', time: '2026-12-03T10:00:00.000Z' },
    ]);
    const envelope = JSON.stringify({ Type: 'Notification', Message: raw });
    expect(parseEventMessage(envelope, 'maps-bucket').map((e) => e.key)).toEqual(['maps/a.map', 'maps/b.map']);
    expect(parseEventMessage(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'maps-bucket' }), 'maps-bucket')).toEqual([]);
    expect(parseEventMessage(raw, 'other-bucket')).toEqual([]);
    expect(parseEventMessage(JSON.stringify({ Records: [record('maps/c.map', 'ObjectRestore:Completed', { sequencer: 'not hex' })] }), 'maps-bucket')).toEqual([
      { key: 'maps/c.map', action: 'other', time: '2026-12-03T10:00:00.000Z' },
    ]);
    expect(() => parseEventMessage('not json', 'maps-bucket')).toThrow();
  });

  it('orders sequencers of different lengths by right-padding the shorter with zeros', () => {
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6')).toBeLessThan(0);
    expect(compareSequencers('0055AED6DCD90281E6', '0055AED6DCD90281E5')).toBeGreaterThan(0);
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E500')).toBe(0);
    expect(compareSequencers('0055AED6DCD90281E5', '0055aed6dcd90281e5')).toBe(0);
    expect(compareSequencers('0055AED6DCD9028', '0055AED6DCD90281E5')).toBeLessThan(0);
  });

  it('remembers only changes already applied: duplicates and late events are skipped, failed ones are not', () => {
    const log = new SequencerLog();
    const at = (sequencer?: string) => ({ key: 'maps/a.map', action: 'created' as const, ...(sequencer ? { sequencer } : {}) });
    expect(log.isApplied(at('02'))).toBe(false);
    log.remember(at('02'));
    expect(log.isApplied(at('02'))).toBe(true);
    expect(log.isApplied(at('01'))).toBe(true);
    expect(log.isApplied(at('03'))).toBe(false);
    expect(log.isApplied(at())).toBe(false);
    log.remember(at('01'));
    expect(log.isApplied(at('02'))).toBe(true);
    expect(log.isApplied({ ...at('01'), key: 'maps/b.map' })).toBe(false);
  });
});

describe('naming', () => {
  it('derives the topic name from the bucket and its ARN from the queue ARN', () => {
    expect(mirrorTopicName('maps.example.org')).toBe('mapserver-ecs-mapfiles-maps-example-org');
    expect(topicArnFor('t', 'arn:aws-cn:sqs:cn-north-1:123456789012:q')).toBe('arn:aws-cn:sns:cn-north-1:123456789012:t');
    expect(topicArnFor('arn:aws:sns:us-east-1:123456789012:t', 'ignored')).toBe('arn:aws:sns:us-east-1:123456789012:t');
    expect(() => topicArnFor('t', 'arn:aws:sns:us-east-1:1:q')).toThrow(/not an SQS queue ARN/);
  });
});

describe('selection', () => {
  const defaults = { include: ['*'], exclude: [...DEFAULT_EXCLUDE], maxObjectBytes: 64 * 1024 * 1024 };

  it('matches a pattern without / against the file name, one with / against the whole path, ignoring case', () => {
    expect(matchesPattern('imagery/2024/ortho.TIF', '*.tif')).toBe(true);
    expect(matchesPattern('imagery/2024/ortho.tif', 'imagery/*.tif')).toBe(false);
    expect(matchesPattern('imagery/2024/ortho.tif', 'imagery/**')).toBe(true);
    expect(matchesPattern('a.map', '?.map')).toBe(true);
    expect(matchesPattern('ab.map', '?.map')).toBe(false);
    expect(matchesPattern('a+b (1).map', 'a+b (1).map')).toBe(true);
  });

  it('keeps mapfiles and their side files, and leaves rasters and anything too large out', () => {
    for (const path of ['roads.map', 'inc/layers.inc', 'symbols/symbols.sym', 'fonts/DejaVuSans.ttf', 'fonts/fonts.list', 'templates/query.html', 'data/roads.shp', 'data/roads.dbf', 'data/roads.shx', 'data/roads.prj', 'data/parcels.gpkg', 'data/points.csv', 'index.vrt']) {
      expect(excludedObject(path, 2048, defaults)).toBeUndefined();
    }
    expect(excludedObject('cogs/ortho_2024.tif', 2048, defaults)).toBe('excluded by the pattern *.tif');
    expect(excludedObject('dem/dem.jp2', 2048, defaults)).toBe('excluded by the pattern *.jp2');
    expect(excludedObject('data/huge.gpkg', 65 * 1024 * 1024, defaults)).toMatch(/larger than the largest mirrored object \(68157440 > 67108864 bytes\)/);
    expect(excludedObject('notes.txt', 10, { ...defaults, include: ['*.map'] })).toMatch(/not matched by the include patterns \(\*\.map\)/);
  });
});

describe('readMirrorConfig', () => {
  const good = { MIRROR_BUCKET: 'maps-bucket', MIRROR_PREFIX: 'maps/', MIRROR_ROOT: '/var/lib/mapserver-ecs/mirror', MIRROR_TOPIC: 'topic', MIRROR_QUEUE: 'queue' };

  it('reads the settings the mount script passes, with defaults', () => {
    expect(readMirrorConfig({ ...good, MIRROR_UID: '33', MIRROR_GID: '33', MIRROR_UMASK: '0027', AWS_REGION: 'eu-west-1' })).toEqual({
      bucket: 'maps-bucket',
      prefix: 'maps/',
      root: '/var/lib/mapserver-ecs/mirror',
      uid: 33,
      gid: 33,
      umask: 0o027,
      reconcileSeconds: 60,
      topic: 'topic',
      queueName: 'queue',
      owner: 'queue',
      region: 'eu-west-1',
      selection: { include: ['*'], exclude: [...DEFAULT_EXCLUDE], maxObjectBytes: 64 * 1024 * 1024 },
      budgetBytes: 4096 * 1024 * 1024,
      graceSeconds: 300,
    });
  });

  it('reads the selection, the disk budget and the grace period', () => {
    const config = readMirrorConfig({
      ...good,
      MIRROR_INCLUDE: '*.map, symbols/** fonts/**',
      MIRROR_EXCLUDE: 'none',
      MIRROR_MAX_OBJECT_MIB: '8',
      MIRROR_BUDGET_MIB: '512',
      MIRROR_GRACE_SECONDS: '30',
    });
    expect(config).toMatchObject({
      selection: { include: ['*.map', 'symbols/**', 'fonts/**'], exclude: [], maxObjectBytes: 8 * 1024 * 1024 },
      budgetBytes: 512 * 1024 * 1024,
      graceSeconds: 30,
    });
    expect(() => readMirrorConfig({ ...good, MIRROR_MAX_OBJECT_MIB: '0', MIRROR_BUDGET_MIB: '1G', MIRROR_GRACE_SECONDS: '-1' })).toThrow(
      /MIRROR_MAX_OBJECT_MIB must be a whole number from 1[\s\S]*MIRROR_BUDGET_MIB must be a whole number[\s\S]*MIRROR_GRACE_SECONDS must be a whole number from 0/,
    );
  });

  it('names every bad setting at once', () => {
    expect(() =>
      readMirrorConfig({ MIRROR_BUCKET: 'No', MIRROR_PREFIX: '/x', MIRROR_ROOT: 'relative', MIRROR_TOPIC: 'topic', MIRROR_QUEUE: '', MIRROR_RECONCILE_SECONDS: '1', MIRROR_UMASK: '9' }),
    ).toThrow(
      /MIRROR_BUCKET must be an S3 bucket name[\s\S]*MIRROR_PREFIX must be empty or a key prefix[\s\S]*MIRROR_ROOT must be an absolute path[\s\S]*MIRROR_QUEUE must be an SQS queue name[\s\S]*MIRROR_UMASK[\s\S]*MIRROR_RECONCILE_SECONDS must be a whole number from 5 to 86400/,
    );
  });

  it('names the queue after the instance when the mount script passes only its id', () => {
    const config = readMirrorConfig({ ...good, MIRROR_QUEUE: '', MIRROR_OWNER: 'i-0123456789abcdef0' });
    expect(config.queueName).toBe('mapserver-ecs-mirror-i-0123456789abcdef0');
    expect(config.owner).toBe('i-0123456789abcdef0');
    // A queue the config names wins; its owner is still the instance.
    expect(readMirrorConfig({ ...good, MIRROR_OWNER: 'i-0123456789abcdef0' })).toMatchObject({ queueName: 'queue', owner: 'i-0123456789abcdef0' });
  });

  it('runs without a topic (reconciliation alone)', () => {
    expect(readMirrorConfig({ ...good, MIRROR_TOPIC: '', MIRROR_QUEUE: '' }).topic).toBe('');
  });
});

describe('unhealthy', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  const ago = (seconds: number): string => new Date(now - seconds * 1000).toISOString();
  const runs = (): boolean => true;
  const status = (over: Partial<MirrorStatus>): MirrorStatus =>
    ({
      state: 'ready',
      synced: true,
      pid: 4242,
      startedAt: ago(600),
      heartbeatAt: ago(1),
      reconcileSeconds: 60,
      graceSeconds: 120,
      reconcile: { count: 1, lastOkAt: ago(30) },
      staleCount: 0,
      stale: [],
      ...over,
    }) as MirrorStatus;

  it('passes a synced mirror with a fresh heartbeat', () => {
    expect(unhealthy(status({}), now, runs)).toBeUndefined();
  });

  it('fails a stopped mirror, a stale heartbeat, and an unfinished first sync (with its reason)', () => {
    expect(unhealthy(status({ state: 'stopped' }), now, runs)).toMatch(/stopped/);
    expect(unhealthy(status({ heartbeatAt: ago(120) }), now, runs)).toMatch(/no heartbeat for 120 s/);
    expect(unhealthy(status({ synced: false, state: 'syncing', reconcile: { count: 2, error: 'TimeoutError: connect' } }), now, runs)).toMatch(
      /first sync has not finished \(TimeoutError: connect\)/,
    );
  });

  it('fails within 10 s of the process dying: at once when its id is gone, by the heartbeat otherwise', () => {
    expect(unhealthy(status({}), now, (pid) => pid !== 4242)).toMatch(/process 4242 is not running/);
    expect(unhealthy(status({ heartbeatAt: ago(9) }), now, runs)).toMatch(/no heartbeat for 9 s/);
    expect(unhealthy(status({ heartbeatAt: ago(7) }), now, runs)).toBeUndefined();
    // This test's own process runs: the default probe finds it.
    expect(unhealthy(status({ pid: process.pid }), now)).toBeUndefined();
  });

  it('fails when no reconciliation has completed for two intervals', () => {
    expect(unhealthy(status({ reconcile: { count: 9, lastOkAt: ago(119) } }), now, runs)).toBeUndefined();
    expect(unhealthy(status({ reconcile: { count: 9, lastOkAt: ago(121), error: 'TimeoutError: list' } }), now, runs)).toMatch(
      /no reconciliation has completed for 121 s \(two intervals are 120 s\): TimeoutError: list/,
    );
  });

  it('fails on a full disk or a stale key only after the grace period', () => {
    const full = { reason: 'disk full: ENOSPC writing maps/big.dat', since: ago(60) };
    expect(unhealthy(status({ state: 'degraded', degraded: full }), now, runs)).toBeUndefined();
    expect(unhealthy(status({ state: 'degraded', degraded: { ...full, since: ago(121) } }), now, runs)).toMatch(/^disk full: ENOSPC writing maps\/big.dat \(for 121 s\)/);
    const stale = (seconds: number): Partial<MirrorStatus> => ({ staleCount: 1, stale: [{ key: 'maps/a.map', reason: 'NetworkingError: hang up', since: ago(seconds) }] });
    expect(unhealthy(status(stale(60)), now, runs)).toBeUndefined();
    expect(unhealthy(status(stale(130)), now, runs)).toMatch(/1 key\(s\) stale, "maps\/a.map" for over 120 s: NetworkingError/);
  });
});
