// An account without a default VPC (Control Tower and most organisations delete it), which moto
// always has: its default VPC and default subnets are hidden, and a launch or a security group that
// names no subnet or VPC is refused the way EC2 refuses it (VPCIdNotSpecified).
import { awsError } from './faults.js';
import type { Interceptor, ProxyResponse } from './types.js';

const REFUSAL = 'No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.';

/** Drops the <item> blocks of an EC2 list answer that hold `marker`. */
function withoutItems(answer: ProxyResponse, setTag: string, marker: string): ProxyResponse {
  if (answer.status !== 200) return answer;
  const body = answer.body.toString();
  const set = new RegExp(`<${setTag}>([\\s\\S]*)</${setTag}>`).exec(body);
  if (!set) return answer;
  // Items of these sets nest other sets of items (tags, CIDR blocks): split on the top-level ones.
  const items: string[] = [];
  let depth = 0;
  let start = -1;
  for (const match of (set[1] ?? '').matchAll(/<item>|<\/item>/g)) {
    if (match[0] === '<item>') {
      if (depth === 0) start = match.index;
      depth += 1;
    } else {
      depth -= 1;
      if (depth === 0) items.push((set[1] ?? '').slice(start, match.index + '</item>'.length));
    }
  }
  const kept = items.filter((item) => !item.includes(marker));
  return { ...answer, body: body.replace(set[0], `<${setTag}>${kept.join('')}</${setTag}>`) };
}

function namesSubnet(params: URLSearchParams): boolean {
  if (params.get('SubnetId')) return true;
  return [...params.keys()].some((key) => /^NetworkInterface\.\d+\.SubnetId$/.test(key) && params.get(key));
}

/** The interceptor: pass it as a fault (startEmulator({ faults: [noDefaultVpc()] })). */
export function noDefaultVpc(): Interceptor {
  return async (request, next) => {
    if (request.service !== 'ec2') return next();
    switch (request.action) {
      case 'DescribeVpcs':
        return withoutItems(await next(), 'vpcSet', '<isDefault>true</isDefault>');
      case 'DescribeSubnets':
        return withoutItems(await next(), 'subnetSet', '<defaultForAz>true</defaultForAz>');
      case 'RunInstances':
        return namesSubnet(request.params) ? next() : awsError('ec2', 400, 'VPCIdNotSpecified', REFUSAL);
      case 'CreateSecurityGroup':
        return request.params.get('VpcId') ? next() : awsError('ec2', 400, 'VPCIdNotSpecified', REFUSAL);
      default:
        return next();
    }
  };
}
