// S3's answer to a caller without list rights: a GET or HEAD of a missing key is refused with 403
// AccessDenied, not 404 NoSuchKey, so that the caller learns nothing about which keys exist (AWS
// documents this under GetObject's permissions: "If you don't have the s3:ListBucket permission,
// Amazon S3 returns an HTTP status code 403"). moto always answers 404; this interceptor answers as
// S3 does for such a caller, and can refuse chosen keys that do exist (a real access problem).
import { awsError } from './faults.js';
import { accessKeyIdOf } from './iam-recorder.js';
import type { Interceptor, ProxyRequest } from './types.js';

export interface S3AccessOptions {
  /** Answer 403 instead of 404 for a missing key. */
  missingKeysForbidden: boolean;
  /** "bucket/key" of existing objects whose GET and HEAD are refused with 403. */
  deniedObjects?: ReadonlySet<string>;
  /** Only for requests signed with these access key ids (default: every caller). */
  callers?: ReadonlySet<string>;
}

/** "bucket/key" of a path-style object request, or undefined for a bucket-level one. */
export function s3ObjectOf(request: Pick<ProxyRequest, 'service' | 'url'>): string | undefined {
  if (request.service !== 's3') return undefined;
  const path = new URL(request.url, 'http://s3').pathname;
  const slash = path.indexOf('/', 1);
  if (slash < 0 || slash === path.length - 1) return undefined;
  return decodeURIComponent(path.slice(1));
}

export function s3AccessInterceptor(options: S3AccessOptions): Interceptor {
  const denied = () => awsError('s3', 403, 'AccessDenied', 'Access Denied');
  return async (request, next) => {
    const object = s3ObjectOf(request);
    if (!object || (request.method !== 'GET' && request.method !== 'HEAD')) return next();
    if (options.callers && !options.callers.has(accessKeyIdOf(request) ?? '')) return next();
    if (options.deniedObjects?.has(object)) return denied();
    const answer = await next();
    if (answer.status === 404 && options.missingKeysForbidden) return denied();
    return answer;
  };
}
