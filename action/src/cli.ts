// The same commands from a terminal: `mapserver-ecs <command> [--input value ...] [paths ...]`.
// Flags are the action's input names. Exit codes: 0 success, 1 failure, 2 bad input.
import { formatError, EXIT_BAD_INPUT, EXIT_SUCCESS, exitCodeFor, InputError, type InputProblem } from './errors.js';
import { COMMAND_DESCRIPTIONS, COMMANDS, INPUTS, type CommandName, type InputName } from './inputs.js';
import { TerminalReporter } from './reporter.js';
import { runCommand } from './run-command.js';
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

/** Words a person may have meant as a boolean flag's value (`--dry-run false`). */
const BOOLEAN_WORD = /^(true|false|yes|no|on|off|1|0|maybe)$/i;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const problems: InputProblem[] = [];
  const values = new Map<InputName, string>();
  const paths: string[] = [];
  /** The boolean flag each positional directly follows, if any: `--dry-run maybe` is not a path. */
  const afterBoolean = new Map<number, InputName>();
  let command = '';
  let help = false;
  let previousBoolean: InputName | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const follows = previousBoolean;
    previousBoolean = undefined;
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
      else if ('boolean' in spec && spec.boolean) {
        value = 'true';
        previousBoolean = name;
      } else {
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
    else {
      if (follows) afterBoolean.set(paths.length, follows);
      paths.push(arg);
    }
  }
  problems.push(...positionalProblems(command, values, paths, afterBoolean));
  return { command, values, paths, help, problems };
}

/** Positionals a command does not take are refused, never dropped: a typo must not change what runs. */
function positionalProblems(command: string, values: ReadonlyMap<InputName, string>, paths: readonly string[], afterBoolean: ReadonlyMap<number, InputName>): InputProblem[] {
  if (!(COMMANDS as readonly string[]).includes(command)) return [];
  const problems: InputProblem[] = [];
  const takesPaths = POSITIONALS[command as CommandName] !== undefined;
  const stray: string[] = [];
  paths.forEach((path, index) => {
    const flag = afterBoolean.get(index);
    if (flag && (!takesPaths || BOOLEAN_WORD.test(path))) {
      problems.push({ input: flag, message: `takes no separate value, got ${JSON.stringify(path)} after it: write --${flag} or --${flag}=false` });
    } else if (!takesPaths) stray.push(path);
  });
  if (stray.length > 0) {
    problems.push({
      input: 'command',
      message: `${command} takes no arguments besides its flags, got ${stray.map((p) => JSON.stringify(p)).join(', ')}; see ${BIN} ${command} --help`,
    });
  }
  if (command === 'preview') {
    const given = paths.filter((_, index) => !afterBoolean.has(index) || !BOOLEAN_WORD.test(paths[index] ?? ''));
    const count = given.length + (values.has('mapfile') ? 1 : 0);
    if (count > 1) {
      problems.push({ input: 'mapfile', message: `preview renders one mapfile, got ${count}: give it once, as --mapfile or as the only argument` });
    }
  }
  return problems;
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

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
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
    // One line per output: the lines of a multi-line one (release's plan) are joined with "; ".
    for (const [name, value] of reporter.outputs()) process.stdout.write(`${name}=${value.replace(/\n/g, '; ')}\n`);
    return EXIT_SUCCESS;
  } catch (error) {
    process.stderr.write(`${BIN}: ${formatError(error)}\n`);
    if (env.MAPSERVER_ECS_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
}
