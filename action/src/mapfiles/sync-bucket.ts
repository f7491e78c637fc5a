// sync-mapfiles' S3 side: what is under the prefix now, and carrying out a plan (uploads, in parts
// when large, header fixes, deletions) with a failure that says how far it got.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StepFailure } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { inParallel } from './parallel.js';
import {
  contentTypeFor,
  countKind,
  EMPTY_MD5,
  formatAction,
  formatBytes,
  md5Base64,
  objectMetadata,
  type LocalFile,
  type RemoteObject,
  type SyncAction,
} from './sync.js';

export async function listRemote(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, RemoteObject>> {
  const objects = new Map<string, RemoteObject>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      objects.set(o.Key, { key: o.Key, size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, '') });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Reads the metadata of the objects a local file maps to (needed to compare multipart objects and s3fs headers). */
export async function readMetadata(s3: S3Client, bucket: string, keys: readonly string[], remote: Map<string, RemoteObject>): Promise<void> {
  await inParallel(keys, 8, async (key) => {
    const object = remote.get(key);
    if (!object) return;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    object.metadata = head.Metadata ?? {};
  });
}

/** The objects under the prefix, with the metadata of those a local file maps to; a failure changes nothing. */
export async function readRemote(s3: S3Client, bucket: string, prefix: string, local: readonly LocalFile[]): Promise<Map<string, RemoteObject>> {
  try {
    const remote = await listRemote(s3, bucket, prefix);
    await readMetadata(s3, bucket, local.map((f) => `${prefix}${f.relPath}`).filter((k) => remote.has(k)), remote);
    return remote;
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'NoSuchBucket') throw new StepFailure(`bucket ${bucket} does not exist`, { state: 'nothing was changed', cause: error });
    throw new StepFailure(`cannot read s3://${bucket}/${prefix}: ${name}: ${(error as Error).message}`, { state: 'nothing was changed', cause: error });
  }
}

/** Objects from this size are uploaded in parts, with progress lines. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
const MIN_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;

export interface Uploader {
  s3: S3Client;
  bucket: string;
  reporter: Reporter;
  /** Milliseconds between progress lines of one large upload. */
  progressIntervalMs?: number;
}

export async function uploadFile(up: Uploader, file: LocalFile, key: string): Promise<void> {
  const common = { Bucket: up.bucket, Key: key, ContentType: contentTypeFor(file.relPath), Metadata: objectMetadata(file) };
  if (file.folder) {
    await up.s3.send(new PutObjectCommand({ ...common, Body: Buffer.alloc(0), ContentMD5: md5Base64(EMPTY_MD5) }));
    return;
  }
  if (file.size < MULTIPART_THRESHOLD) {
    const handle = await open(file.absPath, 'r');
    let body: Buffer;
    try {
      body = await handle.readFile();
    } finally {
      await handle.close();
    }
    if (createHash('md5').update(body).digest('hex') !== file.md5) {
      throw new StepFailure(`${file.relPath} changed while it was being synced; run the sync again`);
    }
    // Content-MD5 makes S3 refuse a body that arrived damaged.
    await up.s3.send(new PutObjectCommand({ ...common, Body: body, ContentMD5: md5Base64(file.md5) }));
    return;
  }
  await uploadMultipart(up, file, common);
}

async function uploadMultipart(up: Uploader, file: LocalFile, common: { Bucket: string; Key: string; ContentType: string; Metadata: Record<string, string> }): Promise<void> {
  const partSize = Math.max(MIN_PART_SIZE, Math.ceil(file.size / MAX_PARTS));
  const created = await up.s3.send(new CreateMultipartUploadCommand(common));
  const uploadId = created.UploadId;
  if (!uploadId) throw new StepFailure(`S3 returned no upload id for ${common.Key}`);
  const handle = await open(file.absPath, 'r');
  const startedAt = Date.now();
  let lastProgress = 0;
  const interval = up.progressIntervalMs ?? 5000;
  try {
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    let sent = 0;
    for (let partNumber = 1; sent < file.size; partNumber++) {
      const length = Math.min(partSize, file.size - sent);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, sent);
      if (bytesRead !== length) throw new StepFailure(`${file.relPath} changed while it was being synced; run the sync again`);
      const md5 = createHash('md5').update(buffer).digest('base64');
      const result = await up.s3.send(new UploadPartCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId, PartNumber: partNumber, Body: buffer, ContentMD5: md5 }));
      parts.push({ ETag: result.ETag ?? '', PartNumber: partNumber });
      sent += length;
      if (Date.now() - lastProgress >= interval || sent === file.size) {
        lastProgress = Date.now();
        const percent = Math.floor((sent / file.size) * 100);
        up.reporter.progress(`upload of ${file.relPath}`, startedAt, `${formatBytes(sent)} of ${formatBytes(file.size)} (${percent}%)`);
      }
    }
    await up.s3.send(new CompleteMultipartUploadCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    // Leave no half-finished upload behind to be billed for.
    await up.s3.send(new AbortMultipartUploadCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId })).catch(() => undefined);
    throw error;
  } finally {
    await handle.close();
  }
}

export async function refreshMetadata(up: Uploader, file: LocalFile, key: string): Promise<void> {
  const source = `${up.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  await up.s3.send(
    new CopyObjectCommand({
      Bucket: up.bucket,
      Key: key,
      CopySource: source,
      MetadataDirective: 'REPLACE',
      ContentType: contentTypeFor(file.relPath),
      Metadata: objectMetadata(file),
    }),
  );
}

export async function deleteObjects(up: Uploader, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const result = await up.s3.send(new DeleteObjectsCommand({ Bucket: up.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new StepFailure(`could not delete ${failed.length} object(s): ${failed.slice(0, 5).map((e) => `${e.Key} (${e.Code})`).join(', ')}`);
    }
  }
}

/** Carries out a plan: uploads and header fixes one by one, then the deletions in batches. */
export async function applySyncPlan(up: Uploader, actions: readonly SyncAction[]): Promise<SyncAction[]> {
  const done: SyncAction[] = [];
  for (const action of actions) {
    try {
      if (action.kind === 'upload') await uploadFile(up, action.file, action.key);
      else if (action.kind === 'metadata') await refreshMetadata(up, action.file, action.key);
    } catch (error) {
      throw new StepFailure(`${formatAction(action, up.bucket)} failed: ${(error as Error).name}: ${(error as Error).message}`, {
        state: stateAfter(done, actions),
        cause: error,
      });
    }
    if (action.kind !== 'delete') {
      done.push(action);
      up.reporter.info(`${formatAction(action, up.bucket)}: done (${done.length}/${actions.length})`);
    }
  }
  const deletions = actions.filter((a): a is Extract<SyncAction, { kind: 'delete' }> => a.kind === 'delete');
  if (deletions.length > 0) {
    try {
      await deleteObjects(up, deletions.map((d) => d.key));
    } catch (error) {
      throw new StepFailure(`deleting ${deletions.length} object(s) failed: ${(error as Error).message}`, { state: stateAfter(done, actions), cause: error });
    }
    for (const d of deletions) {
      done.push(d);
      up.reporter.info(`${formatAction(d, up.bucket)}: done`);
    }
  }
  return done;
}

/** What a failed sync leaves behind, and that running it again finishes the job. */
function stateAfter(done: readonly SyncAction[], all: readonly SyncAction[]): string {
  const uploaded = done.filter((a) => a.kind !== 'delete').map((a) => a.key);
  const shown = uploaded.slice(0, 10).join(', ') + (uploaded.length > 10 ? ', ...' : '');
  return `${done.length} of ${all.length} changes made${uploaded.length > 0 ? ` (${shown})` : ''}; ${countKind(done, 'delete') > 0 ? 'deletions done' : 'nothing deleted'}; run the sync again to finish`;
}
