// The emulator's IAM record (scripts/emulator/iam-recorder.ts) read back and simulated: each
// distinct request of an actor with a role, against the generated policy of that role.
import { readFileSync } from 'node:fs';
import { iamPolicy, type IamPolicyName, type IamValues } from '../../src/aws/iam.js';
import type { RecordedCheck } from '../../../scripts/emulator/iam-recorder.js';
import { simulate } from './iam-simulator.js';

export function readIamRecord(file: string): RecordedCheck[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedCheck);
}

export interface RecordSimulation {
  /** Distinct (role, action, resource, context) simulated. */
  requests: number;
  /** Distinct (role, action, resource). */
  triples: number;
  /** One line per request not allowed, or allowed only because a context key went unchecked. */
  denied: string[];
}

/** Simulates every recorded check that has a role; the fixtures' own requests (no role) are left out. */
export async function simulateIamRecord(checks: RecordedCheck[], valuesFor: (check: RecordedCheck) => IamValues): Promise<RecordSimulation> {
  const distinct = new Map<string, RecordedCheck>();
  for (const check of checks) if (check.role) distinct.set(JSON.stringify([check.role, check.action, check.resource, check.context]), check);
  const denied: string[] = [];
  for (const check of distinct.values()) {
    const verdict = await simulate(iamPolicy(check.role as IamPolicyName, valuesFor(check)), check);
    if (verdict.result !== 'Allowed' || verdict.ignoredKeys.length > 0) denied.push(`${check.actor} ${check.operation}: ${check.action} ${check.resource} ${JSON.stringify(check.context)} -> ${verdict.result} ${verdict.ignoredKeys.join(',')}`);
  }
  const triples = new Set([...distinct.values()].map((c) => `${c.role} ${c.action} ${c.resource}`));
  return { requests: distinct.size, triples: triples.size, denied };
}
