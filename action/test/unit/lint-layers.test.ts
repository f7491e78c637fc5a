// The ESLint rules that keep the layers apart fire where they should: a file written in the wrong
// layer is refused with the layer's own message, the right import passes.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: new URL('../../../', import.meta.url).pathname });

async function messages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
}

describe('layer rules', () => {
  it.each([
    ['action/src/steps/probe.ts', "import { releaseCommand } from '../commands/release.js';\nexport const x = releaseCommand;\n", /Steps sit below commands/],
    ['action/src/steps/probe.ts', "import { deployService } from './deploy.js';\nexport const x = deployService;\n", /never imports another step/],
    ['action/src/aws/probe.ts', "import { bakeAmi } from '../steps/bake.js';\nexport const x = bakeAmi;\n", /aws\/ holds the helpers steps share/],
    ['action/src/mapfiles/probe.ts', "import { releaseCommand } from '../commands/release.js';\nexport const x = releaseCommand;\n", /mapfiles\/ knows mapfiles only/],
    ['action/src/mirror/probe.ts', "import { createClients } from '../aws/clients.js';\nexport const x = createClients;\n", /The mirror runs on the instances/],
    ['action/src/probe.ts', "import { startEmulator } from '../../scripts/emulator/start.js';\nexport const x = startEmulator;\n", /never imports tests or scripts/],
    ['scripts/probe.ts', "import { fakeClock } from '../action/test/support/ecs-context.js';\nexport const x = fakeClock;\n", /tests import scripts, never the other way round/],
  ])('refuses in %s: %s', async (file, code, message) => {
    expect((await messages(file, code)).join('\n')).toMatch(message);
  });

  it('lets a step import aws/ and the base modules', async () => {
    expect(await messages('action/src/steps/probe.ts', "import { describeService } from '../aws/ecs.js';\nimport { isImageByDigest } from '../values.js';\nexport const x = [describeService, isImageByDigest];\n")).toEqual([]);
  });

  it('refuses a file over 300 lines and a function over 80 in action/src', async () => {
    const body = Array.from({ length: 85 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const code = `export function long(): number {\n${body}\n  return v0;\n}\n${'export const y = 1;\n'.repeat(220)}`;
    const found = (await messages('action/src/probe.ts', code)).join('\n');
    expect(found).toMatch(/max-lines-per-function/);
    expect(found).toMatch(/max-lines: File has too many lines/);
  });
});
