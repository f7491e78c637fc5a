// The emulator's EBS snapshots around an AMI's deregistration, as AWS has them and moto does not:
// DeregisterImage with DeleteAssociatedSnapshots deletes the AMI's snapshots and reports each
// (moto ignores the parameter), and a snapshot stays "in use" for a while after its AMI is
// deregistered, so a DeleteSnapshot right away fails with InvalidSnapshot.InUse.
import { randomUUID } from 'node:crypto';
import { awsError } from './faults.js';
import type { Interceptor, ProxyResponse, Upstream } from './types.js';
import { internalRequest } from './wire.js';

export interface SnapshotOptions {
  /** How long a deregistered AMI's snapshots refuse DeleteSnapshot (default 0: not at all). */
  inUseMs?: number;
  /** Whether DeregisterImage honours DeleteAssociatedSnapshots (default true, as AWS does). */
  deleteAssociatedSnapshots?: boolean;
}

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export class SnapshotRules {
  /** Snapshot id -> the AMI it belonged to and when it stops being in use. */
  private readonly holds = new Map<string, { ami: string; until: number }>();
  /** DeleteSnapshot calls refused as in use, for tests to read. */
  refused = 0;

  constructor(
    private readonly upstream: Upstream,
    public options: SnapshotOptions = {},
  ) {}

  readonly interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'ec2') return next();
    if (request.action === 'DeleteSnapshot') {
      const id = request.params.get('SnapshotId') ?? '';
      const hold = this.holds.get(id);
      if (hold && Date.now() < hold.until) {
        this.refused += 1;
        return awsError('ec2', 400, 'InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${hold.ami}`);
      }
      return next();
    }
    if (request.action !== 'DeregisterImage') return next();
    const ami = request.params.get('ImageId') ?? '';
    const snapshots = await this.snapshotsOf(ami);
    const answer = await next();
    if (answer.status !== 200) return answer;
    const deleteThem = this.options.deleteAssociatedSnapshots !== false && request.params.get('DeleteAssociatedSnapshots') === 'true';
    if (deleteThem) return this.deleteAssociated(snapshots);
    const until = Date.now() + (this.options.inUseMs ?? 0);
    for (const id of snapshots) this.holds.set(id, { ami, until });
    return answer;
  };

  private async ec2(action: string, params: Record<string, string>): Promise<ProxyResponse> {
    return this.upstream(internalRequest('ec2', action, new URLSearchParams({ Action: action, Version: '2016-11-15', ...params }).toString()));
  }

  private async snapshotsOf(ami: string): Promise<string[]> {
    const answer = await this.ec2('DescribeImages', { 'ImageId.1': ami });
    if (answer.status !== 200) return [];
    return [...answer.body.toString().matchAll(/<snapshotId>(snap-[0-9a-f]+)<\/snapshotId>/g)].map((m) => m[1] ?? '');
  }

  /** AWS deletes the snapshots as part of the deregistration and says how each went. */
  private async deleteAssociated(snapshots: string[]): Promise<ProxyResponse> {
    const items: string[] = [];
    for (const id of snapshots) {
      const deleted = await this.ec2('DeleteSnapshot', { SnapshotId: id });
      // A snapshot another AMI still uses is left alone: AWS reports it skipped.
      const code = deleted.status === 200 ? 'success' : /InvalidSnapshot\.InUse/.test(deleted.body.toString()) ? 'skipped' : 'internal-error';
      items.push(`<item><snapshotId>${id}</snapshotId><returnCode>${code}</returnCode></item>`);
    }
    return {
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<DeregisterImageResponse xmlns="${EC2_NS}"><requestId>${randomUUID()}</requestId><return>true</return><deleteSnapshotResultSet>${items.join('')}</deleteSnapshotResultSet></DeregisterImageResponse>`,
    };
  }
}
