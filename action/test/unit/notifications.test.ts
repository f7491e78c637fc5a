// S3's overlap rule for notification configurations, as bootstrap applies it and as the emulator
// enforces it (each written on its own, so one cannot hide the other's mistake).
import { describe, expect, it } from '@jest/globals';
import { eventsOverlap, notificationRules, rulesOverlap, type NotificationRule } from '../../src/aws/notifications.js';
import { mirrorRule } from '../../src/steps/bootstrap-checks.js';
import { overlapping, parseNotificationRules } from '../../../scripts/emulator/s3-notifications.js';

const rule = (events: string[], prefix = '', suffix = ''): NotificationRule => ({ id: 'x', destination: 'queue q', events, prefix, suffix });

describe('overlapping notification configurations', () => {
  it('overlap when an event type is shared and both prefixes and suffixes overlap', () => {
    expect(eventsOverlap('s3:ObjectCreated:*', 's3:ObjectCreated:Put')).toBe(true);
    expect(eventsOverlap('s3:ObjectCreated:Put', 's3:ObjectCreated:Copy')).toBe(false);
    expect(eventsOverlap('s3:ObjectCreated:*', 's3:ObjectRemoved:*')).toBe(false);
    const cases: Array<[NotificationRule, boolean]> = [
      [rule(['s3:ObjectCreated:Put']), true],
      [rule(['s3:ObjectCreated:*'], 'maps/wms/'), true],
      [rule(['s3:ObjectCreated:*'], 'images/'), false],
      [rule(['s3:ObjectRemoved:Delete'], '', '.map'), true],
      [rule(['s3:ObjectRestore:*']), false],
      [rule(['s3:ObjectCreated:*'], 'ma'), true],
    ];
    const mirror = mirrorRule('maps/');
    for (const [other, expected] of cases) {
      expect({ other, overlap: rulesOverlap(other, mirror) }).toEqual({ other, overlap: expected });
      // The emulator, written apart, agrees.
      expect({ other, overlap: overlapping(other, mirror) }).toEqual({ other, overlap: expected });
    }
    // Suffixes apart keep rules apart even on the same prefix.
    expect(rulesOverlap(rule(['s3:ObjectCreated:*'], '', '.jpg'), rule(['s3:ObjectCreated:*'], '', '.png'))).toBe(false);
    expect(overlapping(rule(['s3:ObjectCreated:*'], '', '.jpg'), rule(['s3:ObjectCreated:*'], '', '.png'))).toBe(false);
  });

  it('reads every topic, queue and Lambda configuration of a bucket', () => {
    // S3 answers with Prefix and Suffix capitalised; the SDK's type says prefix and suffix.
    const rules = notificationRules({
      TopicConfigurations: [{ Id: 't', TopicArn: 'arn:t', Events: ['s3:ObjectCreated:*'] }],
      QueueConfigurations: [{ Id: 'q', QueueArn: 'arn:q', Events: ['s3:ObjectRemoved:*'], Filter: { Key: { FilterRules: [{ Name: 'Prefix' as 'prefix', Value: 'a/' }, { Name: 'Suffix' as 'suffix', Value: '.map' }] } } }],
      LambdaFunctionConfigurations: [{ Id: 'l', LambdaFunctionArn: 'arn:l', Events: ['s3:ObjectCreated:Put'] }],
    });
    expect(rules.map((r) => [r.id, r.destination, r.prefix, r.suffix])).toEqual([
      ['t', 'topic arn:t', '', ''],
      ['q', 'queue arn:q', 'a/', '.map'],
      ['l', 'Lambda function arn:l', '', ''],
    ]);
  });

  it('the emulator parses the XML S3 receives', () => {
    const xml =
      '<NotificationConfiguration><QueueConfiguration><Id>q</Id><Queue>arn:q</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>maps/</Value></FilterRule></S3Key></Filter></QueueConfiguration>' +
      '<CloudFunctionConfiguration><Id>l</Id><CloudFunction>arn:l</CloudFunction><Event>s3:ObjectRemoved:*</Event></CloudFunctionConfiguration></NotificationConfiguration>';
    expect(parseNotificationRules(xml)).toEqual([
      { events: ['s3:ObjectCreated:*'], prefix: 'maps/', suffix: '' },
      { events: ['s3:ObjectRemoved:*'], prefix: '', suffix: '' },
    ]);
  });
});
