// The same commands from a terminal: `mapserver-ecs <command> [--input value ...] [paths ...]`.
// Flags are the action's input names. Exit codes: 0 success, 1 failure, 2 bad input.
import { describeError, EXIT_BAD_INPUT, EXIT_SUCCESS, exitCodeFor, InputError, type InputProblem } from './errors.js';
import { COMMAND_DESCRIPTIONS, COMMANDS, INPUTS, type CommandName, type InputName } from './inputs.js';
import { TerminalReporter } from './reporter.js';
import { runCommand } from './run.js';
import { parseSettings, REQUIRED_INPUTS } from './settings.js';

export interface ParsedArgs {
  command: string;
  values: Map<InputName, string>;
  paths: string[];
  help: boolean;
  /** Unknown or malformed flags; reported together with the settings' problems. */
  problems: InputProblem[];
}

const BIN = 'mapserver-ecs';

/** Commands that take paths after the flags. */
const POSITIONALS: Partial<Record<CommandName, string>> = {
  'lint-mapfiles': ' [files or folders ...]',
  preview: ' [mapfile]',
};

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const problems: InputProblem[] = [];
  const values = new Map<InputName, string>();
  const paths: string[] = [];
  let command = '';
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      paths.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)) as InputName;
      const spec = INPUTS.find((input) => input.name === name);
      if (!spec || name === 'command') {
        problems.push({ input: name, message: `unknown flag --${name}; see ${BIN} --help` });
        continue;
      }
      let value: string;
      if (eq >= 0) value = arg.slice(eq + 1);
      else if ('boolean' in spec && spec.boolean) value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) {
          problems.push({ input: name, message: `--${name} needs a value` });
          continue;
        }
        value = next;
        i++;
      }
      if (values.has(name)) {
        problems.push({ input: name, message: `--${name} is given more than once` });
        continue;
      }
      values.set(name, value);
      continue;
    }
    if (command === '') command = arg;
    else paths.push(arg);
  }
  return { command, values, paths, help, problems };
}

function parseWithFlagProblems(args: ParsedArgs, env: NodeJS.ProcessEnv) {
  const read = (name: InputName): string => (name === 'command' ? args.command : (args.values.get(name) ?? ''));
  try {
    const settings = parseSettings(read, args.paths, env);
    if (args.problems.length > 0) throw new InputError(args.problems);
    return settings;
  } catch (error) {
    if (error instanceof InputError && args.problems.length > 0 && error.problems !== args.problems) {
      throw new InputError([...args.problems, ...error.problems]);
    }
    throw error;
  }
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length));
  return [
    `Usage: ${BIN} <command> [--input value ...]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.padEnd(width)}  ${COMMAND_DESCRIPTIONS[c]}`),
    '',
    `Run \`${BIN} <command> --help\` for a command's flags. Flags have the names of the action's inputs.`,
    'Exit codes: 0 success, 1 failure, 2 bad input.',
  ].join('\n');
}

export function commandUsage(command: CommandName): string {
  const required = new Set<string>(REQUIRED_INPUTS[command]);
  const flags = INPUTS.filter((i) => i.name !== 'command');
  const width = Math.max(...flags.map((i) => i.name.length + ('boolean' in i && i.boolean ? 0 : 8)));
  const lines = flags.map((i) => {
    const isBoolean = 'boolean' in i && i.boolean;
    const flag = `--${i.name}${isBoolean ? '' : ' <value>'}`;
    const notes = [required.has(i.name) ? 'required' : '', !isBoolean && i.default ? `default: ${i.default}` : ''].filter(Boolean);
    return `  ${flag.padEnd(width + 3)}  ${i.description}${notes.length ? ` (${notes.join('; ')})` : ''}`;
  });
  return [`Usage: ${BIN} ${command} [flags]${POSITIONALS[command] ?? ''}`, '', COMMAND_DESCRIPTIONS[command], '', 'Flags:', ...lines].join('\n');
}

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const reporter = new TerminalReporter();
  try {
    const args = parseArgs(argv);
    if (args.help || args.command === '' || args.command === 'help') {
      const known = (COMMANDS as readonly string[]).includes(args.command);
      process.stdout.write(`${known ? commandUsage(args.command as CommandName) : usage()}\n`);
      return args.help || args.command === 'help' ? EXIT_SUCCESS : EXIT_BAD_INPUT;
    }
    const settings = parseWithFlagProblems(args, env);
    await runCommand(settings, reporter, env);
    for (const [name, value] of reporter.outputs()) process.stdout.write(`${name}=${value}\n`);
    return EXIT_SUCCESS;
  } catch (error) {
    process.stderr.write(`${BIN}: ${describeError(error)}\n`);
    if (env.MAPSERVER_ECS_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
}
