// Records every AWS request that passes the emulator's proxy as the IAM checks AWS would make: who
// made it (each actor of the tests and the local stack signs with its own dummy access key id), the
// role whose policy must allow it, the IAM action, the resource ARN and the condition keys. One JSON
// line per check, appended to the file EMULATOR_IAM_RECORD names, so a test can simulate them all
// against the generated policies.
import { appendFileSync } from 'node:fs';
import { autoScalingGroupArn, isAutoScalingGroupArn, resourceTagsBefore } from './iam-lookups.js';
import { iamChecksWithImplied, type IamCheck } from './iam-requests.js';
import type { Interceptor, ProxyRequest, Upstream } from './types.js';

export const IAM_RECORD_ENV = 'EMULATOR_IAM_RECORD';
/** moto's account. */
export const EMULATED_ACCOUNT = '123456789012';

/**
 * Each actor's access key id and the role it acts as on AWS: the one place that maps one to the
 * other. Packer runs with the pipeline's credentials and is told apart by its user agent. Other keys
 * (the tests' own fixtures, signing as `testing`) are recorded without a role.
 */
export const ACTORS = {
  pipeline: { accessKeyId: 'AKIAPIPELINE0000TEST', role: 'pipeline' },
  mirror: { accessKeyId: 'AKIAMIRROR000000TEST', role: 'instance' },
  s3fs: { accessKeyId: 'AKIAS3FS00000000TEST', role: 'instance' },
  gdal: { accessKeyId: 'AKIAGDAL00000000TEST', role: 'task' },
  /** mapfiles-instance: the launch hook, its launch-failure tag, the drain and the health report. */
  instance: { accessKeyId: 'AKIAINSTANCE0000TEST', role: 'instance' },
} as const;
export type Actor = keyof typeof ACTORS | 'packer';

/** The environment that makes a process sign as `actor` (moto accepts any key). */
export function actorCredentials(actor: keyof typeof ACTORS): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: ACTORS[actor].accessKeyId, AWS_SECRET_ACCESS_KEY: 'testing' };
}

export interface RecordedCheck extends IamCheck {
  actor: Actor | null;
  role: string | null;
  service: string;
  operation: string;
  method: string;
  /** Path and query string, as sent. */
  url: string;
  status: number;
}

/** The access key id a request is signed with: SigV4 header or query, or SigV2 (`AWS key:signature`). */
export function accessKeyIdOf(request: Pick<ProxyRequest, 'headers' | 'url'>): string | undefined {
  const authorization = String(request.headers.authorization ?? '');
  const v4 = /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  if (v4) return v4;
  const v2 = /^AWS ([^:\s]+):/.exec(authorization)?.[1];
  if (v2) return v2;
  return new URL(request.url, 'http://x').searchParams.get('X-Amz-Credential')?.split('/')[0];
}

function actorOf(request: ProxyRequest): { actor: Actor | null; role: string | null } {
  const key = accessKeyIdOf(request);
  const found = (Object.entries(ACTORS) as Array<[keyof typeof ACTORS, (typeof ACTORS)[keyof typeof ACTORS]]>).find(([, a]) => a.accessKeyId === key);
  if (!found) return { actor: null, role: null };
  const [name, { role }] = found;
  const agent = String(request.headers['user-agent'] ?? '');
  return { actor: name === 'pipeline' && /packer|aws-sdk-go/i.test(agent) ? 'packer' : name, role };
}

export interface IamRecorderOptions {
  file: string;
  /** moto, for what a check needs to know before the call changes it. */
  upstream: Upstream;
  /** Instance profile name -> role ARN, for the iam:PassRole a launch template implies. */
  instanceProfileRoles?: Record<string, string>;
}

export function iamRecorder(options: IamRecorderOptions): Interceptor {
  return async (request, next) => {
    const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? 'us-east-1';
    // Read before the call changes them: a deregistered image's tags, a deleted group's ARN.
    const tags = await resourceTagsBefore(options.upstream, request);
    const groupArn = await autoScalingGroupArn(options.upstream, request);
    const answer = await next();
    const facts = { region, accountId: EMULATED_ACCOUNT, answer: answer.body.toString() };
    const checks = iamChecksWithImplied(request, facts, options.instanceProfileRoles);
    const who = actorOf(request);
    const lines = checks.map((check) => {
      const context = ['ec2:DeregisterImage', 'ec2:CreateTags'].includes(check.action) ? { ...check.context, ...tags } : check.context;
      const resource = groupArn && isAutoScalingGroupArn(check.resource) ? groupArn : check.resource;
      const line: RecordedCheck = { ...who, service: request.service ?? '', operation: request.action ?? request.method, method: request.method, url: request.url, status: answer.status, ...check, resource, context };
      return `${JSON.stringify(line)}\n`;
    });
    if (lines.length > 0) appendFileSync(options.file, lines.join(''));
    return answer;
  };
}
