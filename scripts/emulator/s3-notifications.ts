// S3's refusal of overlapping notification configurations, which moto accepts: when two topic, queue
// or Lambda configurations of one PutBucketNotificationConfiguration share an event type and both
// their prefixes and suffixes overlap, S3 answers 400 InvalidArgument and keeps the old configuration.
import { awsError } from './faults.js';
import type { Interceptor } from './types.js';

interface Rule {
  events: string[];
  prefix: string;
  suffix: string;
}

/** The configurations of a NotificationConfiguration document (topic, queue, Lambda). */
export function parseNotificationRules(xml: string): Rule[] {
  const rules: Rule[] = [];
  for (const block of xml.matchAll(/<(Topic|Queue|CloudFunction)Configuration>([\s\S]*?)<\/\1Configuration>/g)) {
    const body = block[2] ?? '';
    const filter = (name: string): string => {
      for (const rule of body.matchAll(/<FilterRule>([\s\S]*?)<\/FilterRule>/g)) {
        const inner = rule[1] ?? '';
        if ((/<Name>([^<]*)<\/Name>/.exec(inner)?.[1] ?? '').toLowerCase() === name) return /<Value>([^<]*)<\/Value>/.exec(inner)?.[1] ?? '';
      }
      return '';
    };
    rules.push({ events: [...body.matchAll(/<Event>([^<]+)<\/Event>/g)].map((m) => m[1] ?? ''), prefix: filter('prefix'), suffix: filter('suffix') });
  }
  return rules;
}

function sameEventType(a: string, b: string): boolean {
  const wildcard = (x: string): string | undefined => (x.endsWith('*') ? x.slice(0, -1) : undefined);
  return a === b || b.startsWith(wildcard(a) ?? '\0') || a.startsWith(wildcard(b) ?? '\0');
}

export function overlapping(a: Rule, b: Rule): boolean {
  return (
    a.events.some((x) => b.events.some((y) => sameEventType(x, y))) &&
    (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) &&
    (a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix))
  );
}

export const s3NotificationOverlap: Interceptor = async (request, next) => {
  if (request.service !== 's3' || request.method !== 'PUT' || !new URL(request.url, 'http://x').searchParams.has('notification')) return next();
  const rules = parseNotificationRules(request.body.toString('utf8'));
  for (let i = 0; i < rules.length; i += 1) {
    for (let j = i + 1; j < rules.length; j += 1) {
      if (overlapping(rules[i] as Rule, rules[j] as Rule)) {
        return awsError('s3', 400, 'InvalidArgument', 'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.');
      }
    }
  }
  return next();
};
