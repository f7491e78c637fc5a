// Writes the four IAM policy documents (action/src/aws/iam-statements.ts) for an account, with the
// same names the action runs with, and the pipeline role's trust policy for the GitHub repository
// whose workflows assume it, ready for `aws iam put-role-policy`, `aws iam create-role` or
// infrastructure code.
//
// Usage: npm run iam-policies -- --account-id 123456789012 --aws-region eu-west-1 \
//          --bucket my-mapfiles --instance-role-arn ARN --task-role-arn ARN --execution-role-arn ARN \
//          --github-repository owner/name \
//          [--bucket-prefix maps/] [--cluster ..] [--service ..] [--auto-scaling-group ..]
//          [--capacity-provider ..] [--launch-template ..] [--ecr-repository ..] [--log-group ..]
//          [--cog-buckets a,b] [--kms-key-id KEY-ARN] [--out DIR]
//
// --kms-key-id: the key ARN of the customer managed key given as kms-key-id; the pipeline policy then
// lets EC2 use it for the bake's and the launch template's volumes (the key policy must allow the
// Auto Scaling service-linked role too: ecs/iam/README.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IAM_POLICIES, iamPolicy, pipelineTrustPolicy } from '../action/src/aws/iam.js';
import { InputError, type InputProblem } from '../action/src/errors.js';
import { parseSettings } from '../action/src/settings.js';
import { ACCOUNT_ID, GITHUB_REPOSITORY, IAM_ROLE_ARN, KMS_KEY_ARN } from '../action/src/values.js';

const SHARED = ['aws-region', 'bucket', 'bucket-prefix', 'cluster', 'service', 'auto-scaling-group', 'capacity-provider', 'launch-template', 'ecr-repository', 'log-group', 'task-role-arn', 'execution-role-arn'] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(SHARED.map((name) => [name, { type: 'string' as const }])),
      'account-id': { type: 'string' },
      'instance-role-arn': { type: 'string' },
      'cog-buckets': { type: 'string' },
      'kms-key-id': { type: 'string' },
      'github-repository': { type: 'string' },
      out: { type: 'string', default: 'iam-policies' },
    },
  });
  const flag = (name: string): string => String((values as Record<string, unknown>)[name] ?? '');
  const problems: InputProblem[] = [];
  if (!ACCOUNT_ID.test(flag('account-id'))) problems.push({ input: 'account-id', message: `expected a 12-digit AWS account id, got ${JSON.stringify(flag('account-id'))}` });
  for (const name of ['instance-role-arn', 'task-role-arn', 'execution-role-arn']) {
    if (!IAM_ROLE_ARN.test(flag(name))) problems.push({ input: name, message: `expected an IAM role ARN, got ${JSON.stringify(flag(name))}` });
  }
  if (!GITHUB_REPOSITORY.test(flag('github-repository'))) {
    problems.push({ input: 'github-repository', message: `expected the GitHub repository whose workflows assume the pipeline role, as owner/name, got ${JSON.stringify(flag('github-repository'))}` });
  }
  // A policy names a key by its key ARN: an alias or a bare id would match no request.
  const kmsKeyArn = flag('kms-key-id');
  if (kmsKeyArn !== '' && !KMS_KEY_ARN.test(kmsKeyArn)) {
    problems.push({ input: 'kms-key-id', message: `expected the key ARN of the customer managed key, such as arn:aws:kms:eu-west-1:123456789012:key/<key id>, got ${JSON.stringify(kmsKeyArn)}` });
  }
  const cogBuckets = flag('cog-buckets').split(',').map((b) => b.trim()).filter(Boolean);
  // The names are checked exactly as the action checks them, under a command that needs the bucket
  // and a region and nothing else (sync-mapfiles).
  let settings;
  try {
    settings = parseSettings((name) => (name === 'command' ? 'sync-mapfiles' : (SHARED as readonly string[]).includes(name) ? flag(name) : ''), [], {});
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !settings?.bucket) throw new InputError(problems);
  const out = resolve(flag('out'));
  mkdirSync(out, { recursive: true });
  for (const name of IAM_POLICIES) {
    const policy = iamPolicy(name, {
      region: settings.region,
      accountId: flag('account-id'),
      bucket: settings.bucket,
      bucketPrefix: settings.bucketPrefix,
      ...(cogBuckets.length > 0 ? { cogBuckets } : {}),
      cluster: settings.cluster,
      service: settings.service,
      autoScalingGroup: settings.autoScalingGroup,
      capacityProvider: settings.capacityProvider,
      launchTemplate: settings.launchTemplate,
      ecrRepository: settings.ecrRepository,
      logGroup: settings.logGroup,
      instanceRoleArn: flag('instance-role-arn'),
      taskRoleArn: flag('task-role-arn'),
      executionRoleArn: flag('execution-role-arn'),
      ...(kmsKeyArn ? { kmsKeyArn } : {}),
    });
    const file = join(out, `${name}-policy.json`);
    writeFileSync(file, `${JSON.stringify(policy, null, 2)}\n`);
    process.stdout.write(`${file}\n`);
  }
  const trust = join(out, 'pipeline-trust-policy.json');
  writeFileSync(trust, `${JSON.stringify(pipelineTrustPolicy(flag('account-id'), flag('github-repository')), null, 2)}\n`);
  process.stdout.write(`${trust}\n`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`iam-policies: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof InputError ? 2 : 1;
  },
);
