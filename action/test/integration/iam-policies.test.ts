import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/action-runner.js';

const tsx = join(repoRoot, 'node_modules/.bin/tsx');
const role = (name: string): string => `arn:aws:iam::123456789012:role/${name}`;

describe('scripts/iam-policies.ts', () => {
  it('writes the four policy documents for an account and its names, and the trust policy for the repository', () => {
    const out = mkdtempSync(join(tmpdir(), 'iam-'));
    try {
      const args = ['scripts/iam-policies.ts', '--account-id', '123456789012', '--aws-region', 'eu-west-1', '--bucket', 'team-maps', '--bucket-prefix', 'wms/',
        '--instance-role-arn', role('instance'), '--task-role-arn', role('task'), '--execution-role-arn', role('execution'), '--github-repository', 'team/maps-infra', '--out', out];
      const run = spawnSync(tsx, args, { cwd: repoRoot, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      for (const name of ['pipeline', 'instance', 'task', 'execution']) {
        const policy = JSON.parse(readFileSync(join(out, `${name}-policy.json`), 'utf8')) as { Version: string; Statement: unknown[] };
        expect(policy.Version).toBe('2012-10-17');
        expect(policy.Statement.length).toBeGreaterThan(0);
      }
      const instance = readFileSync(join(out, 'instance-policy.json'), 'utf8');
      expect(instance).toContain('arn:aws:s3:::team-maps/wms/*');
      expect(instance).not.toContain('s3:PutObject');
      expect(readFileSync(join(out, 'pipeline-policy.json'), 'utf8')).toContain(role('task'));
      const trust = JSON.parse(readFileSync(join(out, 'pipeline-trust-policy.json'), 'utf8')) as { Statement: Array<{ Condition: { StringEquals: Record<string, string> } }> };
      expect(trust.Statement).toHaveLength(1);
      expect(Object.values(trust.Statement[0]?.Condition.StringEquals ?? {})).toEqual(['sts.amazonaws.com', 'repo:team/maps-infra:environment:production']);
      expect(run.stdout).toContain('pipeline-trust-policy.json');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('with --kms-key-id, lets the pipeline use that key for EBS volumes and nothing more; without it, no KMS statement', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const base = ['scripts/iam-policies.ts', '--account-id', '123456789012', '--aws-region', 'eu-west-1', '--bucket', 'team-maps',
      '--instance-role-arn', role('instance'), '--task-role-arn', role('task'), '--execution-role-arn', role('execution'), '--github-repository', 'team/maps-infra'];
    const pipeline = (extra: string[]): { Statement: Array<{ Sid: string; Action: string[]; Resource: string; Condition?: unknown }> } => {
      const out = mkdtempSync(join(tmpdir(), 'iam-kms-'));
      try {
        const run = spawnSync(tsx, [...base, ...extra, '--out', out], { cwd: repoRoot, encoding: 'utf8' });
        expect(run.stderr).toBe('');
        return JSON.parse(readFileSync(join(out, 'pipeline-policy.json'), 'utf8')) as never;
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    };
    expect(JSON.stringify(pipeline([]))).not.toContain('kms:');
    const kms = pipeline(['--kms-key-id', key]).Statement.filter((s) => s.Action.some((a) => a.startsWith('kms:')));
    expect(kms.map((s) => [s.Sid, s.Resource])).toEqual([['VolumeKey', key], ['VolumeKeyGrantsForEc2', key]]);
    expect(kms[1]?.Action).toEqual(['kms:CreateGrant']);
    expect(kms[1]?.Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
  });

  it('refuses a kms-key-id that is not a key ARN, naming it', () => {
    const run = spawnSync(tsx, ['scripts/iam-policies.ts', '--account-id', '123456789012', '--aws-region', 'eu-west-1', '--bucket', 'team-maps', '--instance-role-arn', role('instance'),
      '--task-role-arn', role('task'), '--execution-role-arn', role('execution'), '--github-repository', 'team/maps-infra', '--kms-key-id', 'alias/volumes', '--out', join(tmpdir(), `iam-kms-refused-${process.pid}`)], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/kms-key-id: expected the key ARN of the customer managed key.*got "alias\/volumes"/);
  });

  it('refuses bad values, naming each, and writes nothing', () => {
    const out = join(tmpdir(), `iam-refused-${process.pid}`);
    const run = spawnSync(tsx, ['scripts/iam-policies.ts', '--account-id', '42', '--aws-region', 'eu-west-1', '--bucket', 'Bad_Bucket', '--out', out], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/account-id: expected a 12-digit AWS account id/);
    expect(run.stderr).toMatch(/bucket: expected an S3 bucket name/);
    expect(run.stderr).toMatch(/task-role-arn: expected an IAM role ARN/);
    expect(run.stderr).toMatch(/github-repository: expected the GitHub repository whose workflows assume the pipeline role, as owner\/name/);
    expect(() => readFileSync(join(out, 'pipeline-policy.json'))).toThrow();
  });
});
