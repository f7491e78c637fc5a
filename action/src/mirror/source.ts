// The bucket as the mirror sees it: a listing with ETags, and conditional GETs by key. One GET per
// changed key: `If-None-Match` with the ETag we hold turns a duplicate event into a 304.
// S3 answers 403, not 404, for a missing key when the caller may not list it: a 403 is confirmed with
// a listing of that exact key (which the instance policy grants), so a deleted key still reads as
// missing and a real access problem is reported as one.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

export type Fetched = { status: 'unchanged' } | { status: 'missing' } | { status: 'found'; etag: string; size: number; body: Readable };

export interface ObjectSource {
  list(prefix: string): AsyncIterable<ListedObject>;
  get(key: string, ifNoneMatch?: string): Promise<Fetched>;
}

export class S3ObjectSource implements ObjectSource {
  /** Counts of requests sent, for the status file and the benchmark. */
  readonly requests = { list: 0, get: 0 };

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      this.requests.list += 1;
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key, etag: object.ETag ?? '', size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async get(key: string, ifNoneMatch?: string): Promise<Fetched> {
    this.requests.get += 1;
    try {
      const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {}) }));
      return { status: 'found', etag: answer.ETag ?? '', size: answer.ContentLength ?? 0, body: answer.Body as Readable };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as Error).name;
      if (status === 304 || name === 'NotModified') return { status: 'unchanged' };
      if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') return { status: 'missing' };
      if (status === 403 && !(await this.listed(key))) return { status: 'missing' };
      if (status === 403) throw new Error(`access denied reading s3://${this.bucket}/${key}, which the bucket lists: check the instance role's s3:GetObject`, { cause: error });
      throw error;
    }
  }

  /** Whether the key itself is in the bucket (a listing of one, under the key as prefix). */
  private async listed(key: string): Promise<boolean> {
    this.requests.list += 1;
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }));
    return (page.Contents ?? []).some((object) => object.Key === key);
  }
}
