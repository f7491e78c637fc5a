// The emulator's S3 answer to a caller without list rights: 403 for a missing key (not 404), for the
// chosen callers only, and 403 for chosen objects that exist.
import { describe, expect, it } from '@jest/globals';
import { s3AccessInterceptor, s3ObjectOf } from '../../../scripts/emulator/s3-access.js';
import type { ProxyResponse } from '../../../scripts/emulator/types.js';
import { readProxyRequest } from '../../../scripts/emulator/wire.js';

const request = (method: string, url: string, key = 'AKIAMIRROR000000TEST') =>
  readProxyRequest(method, url, { authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0` }, Buffer.alloc(0));
const answer = (status: number) => async (): Promise<ProxyResponse> => ({ status, headers: {}, body: '' });

describe('s3AccessInterceptor', () => {
  it('answers 403 AccessDenied for a missing key, and passes other answers on', async () => {
    const intercept = s3AccessInterceptor({ missingKeysForbidden: true });
    const refused = await intercept(request('GET', '/maps-bucket/maps/gone.map'), answer(404));
    expect(refused.status).toBe(403);
    expect(String(refused.body)).toContain('<Code>AccessDenied</Code>');
    expect((await intercept(request('HEAD', '/maps-bucket/maps/roads.map'), answer(200))).status).toBe(200);
    // A listing that finds nothing is not a missing key.
    expect((await intercept(request('GET', '/maps-bucket?list-type=2'), answer(404))).status).toBe(404);
  });

  it('applies to the chosen callers only', async () => {
    const intercept = s3AccessInterceptor({ missingKeysForbidden: true, callers: new Set(['AKIAMIRROR000000TEST']) });
    expect((await intercept(request('GET', '/maps-bucket/maps/gone.map'), answer(404))).status).toBe(403);
    expect((await intercept(request('GET', '/maps-bucket/maps/gone.map', 'AKIAS3FS00000000TEST'), answer(404))).status).toBe(404);
  });

  it('refuses chosen objects that exist', async () => {
    const intercept = s3AccessInterceptor({ missingKeysForbidden: false, deniedObjects: new Set(['maps-bucket/maps/secret.map']) });
    expect((await intercept(request('GET', '/maps-bucket/maps/secret.map'), answer(200))).status).toBe(403);
    expect((await intercept(request('GET', '/maps-bucket/maps/gone.map'), answer(404))).status).toBe(404);
  });

  it('reads bucket and key from a path-style URL', () => {
    expect(s3ObjectOf({ service: 's3', url: '/b/maps/a%20b.map?x=1' })).toBe('b/maps/a b.map');
    expect(s3ObjectOf({ service: 's3', url: '/b/' })).toBeUndefined();
    expect(s3ObjectOf({ service: 'ec2', url: '/b/k' })).toBeUndefined();
  });
});
