// The mirror's reading of a 403 against the emulator answering as S3 does for a caller without list
// rights on the key: a missing key answers 403, which the mirror confirms with a listing of that key
// before it takes the key as deleted; a 403 for a key the bucket lists is an access problem.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectSource } from '../../src/mirror/source.js';
import { s3AccessInterceptor } from '../../../scripts/emulator/s3-access.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(120_000);

const BUCKET = 'mirror-access-test';
let emulator: Emulator;
let s3: S3Client;

beforeAll(async () => {
  emulator = await startEmulator({
    faults: [s3AccessInterceptor({ missingKeysForbidden: true, deniedObjects: new Set([`${BUCKET}/maps/secret.map`]) })],
  });
  s3 = new S3Client({ endpoint: emulator.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'maps/roads.map', Body: 'MAP END' }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'maps/secret.map', Body: 'MAP END' }));
  // A longer key that the one-key listing of maps/gone.map also returns.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'maps/gone.map.bak', Body: 'old' }));
});

afterAll(async () => {
  s3?.destroy();
  await emulator?.stop();
});

describe('the mirror reading a key S3 refuses with 403', () => {
  it('is answered 403, not 404, for a missing key (as S3 does without list rights)', async () => {
    const error = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'maps/gone.map' })).catch((e: unknown) => e);
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
  });

  it('takes a 403 for a key that the bucket does not list as deleted', async () => {
    const source = new S3ObjectSource(s3, BUCKET);
    await expect(source.get('maps/gone.map')).resolves.toEqual({ status: 'missing' });
    expect(source.requests).toEqual({ list: 1, get: 1 });
  });

  it('reports a 403 for a key the bucket lists as an access problem, naming the key', async () => {
    const source = new S3ObjectSource(s3, BUCKET);
    await expect(source.get('maps/secret.map')).rejects.toThrow('access denied reading s3://mirror-access-test/maps/secret.map');
  });

  it('still reads a key it may read', async () => {
    const fetched = await new S3ObjectSource(s3, BUCKET).get('maps/roads.map');
    expect(fetched.status).toBe('found');
    if (fetched.status === 'found') fetched.body.resume();
  });
});
