// S3 bucket notifications as S3 judges them: two configurations of a bucket overlap when their event
// types overlap and both their prefixes and their suffixes overlap, and S3 then refuses the whole
// PutBucketNotificationConfiguration ("Configuration is ambiguously defined"). Bootstrap finds such
// an overlap before it changes anything.
import type { NotificationConfiguration } from '@aws-sdk/client-s3';

export interface NotificationRule {
  id: string;
  /** Where the events go: topic, queue or Lambda function, with its ARN. */
  destination: string;
  events: string[];
  prefix: string;
  suffix: string;
}

type FilterHolder = { Filter?: { Key?: { FilterRules?: Array<{ Name?: string; Value?: string }> } } };

function filterValue(config: FilterHolder, name: 'prefix' | 'suffix'): string {
  return (config.Filter?.Key?.FilterRules ?? []).find((r) => r.Name?.toLowerCase() === name)?.Value ?? '';
}

/** Every topic, queue and Lambda configuration of a bucket (EventBridge delivery never overlaps). */
export function notificationRules(configuration: NotificationConfiguration): NotificationRule[] {
  const rule = (config: FilterHolder & { Id?: string; Events?: string[] }, destination: string): NotificationRule => ({
    id: config.Id ?? '',
    destination,
    events: config.Events ?? [],
    prefix: filterValue(config, 'prefix'),
    suffix: filterValue(config, 'suffix'),
  });
  return [
    ...(configuration.TopicConfigurations ?? []).map((c) => rule(c, `topic ${c.TopicArn ?? '?'}`)),
    ...(configuration.QueueConfigurations ?? []).map((c) => rule(c, `queue ${c.QueueArn ?? '?'}`)),
    ...(configuration.LambdaFunctionConfigurations ?? []).map((c) => rule(c, `Lambda function ${c.LambdaFunctionArn ?? '?'}`)),
  ];
}

/** s3:ObjectCreated:* covers s3:ObjectCreated:Put; s3:ObjectCreated:* and s3:ObjectRemoved:* are apart. */
export function eventsOverlap(a: string, b: string): boolean {
  const covers = (wide: string, narrow: string): boolean => wide.endsWith(':*') && narrow.startsWith(wide.slice(0, -1));
  return a === b || covers(a, b) || covers(b, a);
}

export function rulesOverlap(a: NotificationRule, b: NotificationRule): boolean {
  const events = a.events.some((x) => b.events.some((y) => eventsOverlap(x, y)));
  const prefixes = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const suffixes = a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix);
  return events && prefixes && suffixes;
}

/** One configuration said for a person: "queue arn:... (id 'x') gets s3:ObjectCreated:* under 'maps/'". */
export function describeRule(rule: NotificationRule): string {
  const where = [rule.prefix ? `under '${rule.prefix}'` : 'for the whole bucket', rule.suffix ? `ending '${rule.suffix}'` : ''].filter(Boolean).join(' ');
  return `${rule.destination}${rule.id ? ` (id '${rule.id}')` : ''} gets ${rule.events.join(', ')} ${where}`;
}
