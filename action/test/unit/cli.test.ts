import { describe, expect, it, jest } from '@jest/globals';
import { commandUsage, parseArgs, runCli, usage } from '../../src/cli.js';
import { EXIT_BAD_INPUT, EXIT_SUCCESS } from '../../src/errors.js';
import { COMMANDS, INPUTS } from '../../src/inputs.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return {
    out,
    err,
    restore() {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

describe('parseArgs', () => {
  it('reads the command, flags in both forms, boolean flags and paths', () => {
    const args = parseArgs(['lint-mapfiles', '--format', 'json', '--dry-run', '--bucket=my-maps', 'a.map', 'dir']);
    expect(args.command).toBe('lint-mapfiles');
    expect(Object.fromEntries(args.values)).toEqual({ format: 'json', 'dry-run': 'true', bucket: 'my-maps' });
    expect(args.paths).toEqual(['a.map', 'dir']);
    expect(args.problems).toEqual([]);
  });

  it('reports unknown, repeated and valueless flags', () => {
    const args = parseArgs(['deploy', '--nope', '--cluster', 'a', '--cluster', 'b', '--service']);
    expect(args.problems.map((p) => p.input)).toEqual(['nope', 'cluster', 'service']);
  });

  it('refuses a value after a boolean flag instead of dropping it', () => {
    const args = parseArgs(['deploy', '--dry-run', 'maybe', '--image', 'x']);
    expect(args.problems).toEqual([{ input: 'dry-run', message: expect.stringContaining('"maybe"') }]);
    expect(parseArgs(['lint-mapfiles', '--dry-run', 'false']).problems.map((p) => p.input)).toEqual(['dry-run']);
    // lint-mapfiles takes paths, so a path after a boolean flag is a path.
    expect(parseArgs(['lint-mapfiles', '--dry-run', 'maps/']).problems).toEqual([]);
  });

  it('refuses positionals to commands that take none, and a second mapfile to preview', () => {
    expect(parseArgs(['cleanup', 'old']).problems).toEqual([{ input: 'command', message: expect.stringMatching(/^cleanup takes no arguments besides its flags, got "old"/) }]);
    expect(parseArgs(['deploy', '--', 'x']).problems.map((p) => p.input)).toEqual(['command']);
    expect(parseArgs(['preview', 'a.map']).problems).toEqual([]);
    expect(parseArgs(['preview', 'a.map', 'b.map']).problems.map((p) => p.input)).toEqual(['mapfile']);
    expect(parseArgs(['preview', '--mapfile', 'a.map', 'b.map']).problems.map((p) => p.input)).toEqual(['mapfile']);
  });

  it('takes everything after -- as paths', () => {
    expect(parseArgs(['lint-mapfiles', '--', '--weird.map']).paths).toEqual(['--weird.map']);
  });
});

describe('usage', () => {
  it('lists every command and every flag', () => {
    for (const command of COMMANDS) expect(usage()).toContain(command);
    const help = commandUsage('deploy');
    for (const input of INPUTS.filter((i) => i.name !== 'command')) expect(help).toContain(`--${input.name}`);
    expect(help).toMatch(/--image <value> .*\(required\)/);
  });
});

describe('runCli', () => {
  it('prints help with exit 0', async () => {
    const io = capture();
    try {
      expect(await runCli(['deploy', '--help'], {})).toBe(EXIT_SUCCESS);
    } finally {
      io.restore();
    }
    expect(io.out.join('')).toContain('Usage: mapserver-ecs deploy');
  });

  it('exits 2 naming every bad flag, without a stack trace, before any AWS call', async () => {
    const io = capture();
    let code: number;
    try {
      code = await runCli(['deploy', '--cluster', 'bad name', '--host-port', '-1', '--bogus=1'], {});
    } finally {
      io.restore();
    }
    expect(code).toBe(EXIT_BAD_INPUT);
    const text = io.err.join('');
    expect(text).toMatch(/bogus: unknown flag/);
    expect(text).toMatch(/cluster: expected a name/);
    expect(text).toMatch(/host-port: expected a whole number from 0 to 65535/);
    expect(text).toMatch(/aws-region: is required/);
    expect(text).toMatch(/image: is required by the deploy command/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for a missing command', async () => {
    const io = capture();
    try {
      expect(await runCli([], {})).toBe(EXIT_BAD_INPUT);
    } finally {
      io.restore();
    }
    expect(io.out.join('')).toContain('Commands:');
  });
});
