import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { INPUTS, OUTPUTS } from '../../src/inputs.js';
import { actionYml, withTables } from '../../../scripts/gen-docs.js';

const read = (path: string): string => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

describe('generated files', () => {
  it('action/action.yml is in step with action/src/inputs.ts (run npm run gen)', () => {
    expect(read('action/action.yml')).toBe(actionYml());
  });

  it("the README's input and output tables are in step with action/src/inputs.ts (run npm run gen)", () => {
    const readme = read('README.md');
    expect(withTables(readme)).toBe(readme);
  });

  it('action.yml runs the bundle on node24 and declares every input and output', () => {
    const action = parse(read('action/action.yml')) as {
      runs: { using: string; main: string };
      inputs: Record<string, { description: string; default?: string }>;
      outputs: Record<string, { description: string }>;
    };
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(Object.keys(action.inputs)).toEqual(INPUTS.map((i) => i.name));
    expect(Object.keys(action.outputs)).toEqual(OUTPUTS.map((o) => o.name));
    for (const input of Object.values(action.inputs)) expect(input.description.length).toBeGreaterThan(10);
  });

  it('input names are kebab-case and unique', () => {
    const names = INPUTS.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });
});
