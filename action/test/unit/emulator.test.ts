// The pure parts of the emulator shim: the Auto Scaling XML it answers with (parsed by the real SDK
// deserializer through a scripted transport) and how it finds the Python that runs moto.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeInstanceRefreshesCommand, StartInstanceRefreshCommand } from '@aws-sdk/client-auto-scaling';
import { motoLauncher } from '../../../scripts/emulator/moto.js';
import { queryError, queryXml, xmlEscape } from '../../../scripts/emulator/wire.js';
import { scriptedHandler } from '../support/ecs-context.js';

function clientAnswering(status: number, body: string): AutoScalingClient {
  const handler = scriptedHandler([{ status, body, headers: { 'content-type': 'text/xml' } }]);
  return new AutoScalingClient({ region: 'us-east-1', requestHandler: handler, maxAttempts: 1, credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' } });
}

describe('the shim\'s Auto Scaling answers', () => {
  it('are read by the SDK as AWS answers', async () => {
    const refresh =
      '<InstanceRefreshes><member><InstanceRefreshId>ir-1</InstanceRefreshId><AutoScalingGroupName>g</AutoScalingGroupName><Status>InProgress</Status><PercentageComplete>50</PercentageComplete><InstancesToUpdate>1</InstancesToUpdate></member></InstanceRefreshes>';
    const client = clientAnswering(200, String(queryXml('DescribeInstanceRefreshes', refresh).body));
    const answer = await client.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'g' }));
    expect(answer.InstanceRefreshes).toEqual([{ InstanceRefreshId: 'ir-1', AutoScalingGroupName: 'g', Status: 'InProgress', PercentageComplete: 50, InstancesToUpdate: 1 }]);
    client.destroy();
  });

  it('turn errors into the SDK\'s modelled exceptions', async () => {
    const client = clientAnswering(400, String(queryError(400, 'InstanceRefreshInProgress', 'busy <ir-1>').body));
    await expect(client.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'g' }))).rejects.toMatchObject({ name: 'InstanceRefreshInProgressFault', message: 'busy <ir-1>' });
    client.destroy();
  });

  it('escape XML', () => {
    expect(xmlEscape(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});

describe('motoLauncher', () => {
  it('runs the fix-up script with the interpreter of a Python moto_server, or python3 behind a wrapper', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moto-path-'));
    try {
      const file = join(dir, 'moto_server');
      writeFileSync(file, '#!/opt/venv/bin/python3.12\nfrom moto.server import main\n');
      chmodSync(file, 0o755);
      const [python, script] = motoLauncher({ PATH: dir });
      expect(python).toBe('/opt/venv/bin/python3.12');
      expect(script).toMatch(/scripts\/emulator-moto\.py$/);
      writeFileSync(file, '#!/usr/bin/env python3.11\nfrom moto.server import main\n');
      expect(motoLauncher({ PATH: dir })[0]).toBe('python3.11');
      writeFileSync(file, '#!/usr/bin/env bash\nexec pyenv exec moto_server "$@"\n');
      expect(motoLauncher({ PATH: dir })[0]).toBe('python3');
      expect(() => motoLauncher({ PATH: join(dir, 'missing') })).toThrow(/moto_server .* is not on PATH; run scripts\/setup.sh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
