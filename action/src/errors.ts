// Expected failures carry a message for people; anything else is a bug and may show a stack in debug mode.

export interface InputProblem {
  /** The public input name (kebab-case), as written in action.yml and as a CLI flag. */
  input: string;
  message: string;
}

/** Bad input: reported before any AWS call or file change. Exit code 2. */
export class InputError extends Error {
  readonly problems: InputProblem[];
  constructor(problems: InputProblem[]) {
    super(formatProblems(problems));
    this.name = 'InputError';
    this.problems = problems;
  }
}

function formatProblems(problems: InputProblem[]): string {
  const lines = problems.map((p) => `  - ${p.input}: ${p.message}`);
  const noun = problems.length === 1 ? 'input' : 'inputs';
  return `Invalid ${noun}:\n${lines.join('\n')}`;
}

/** A step failed for a reason we understand: what failed, and what state was left behind. Exit code 1. */
export class StepFailure extends Error {
  readonly state: string | undefined;
  constructor(message: string, options: { state?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StepFailure';
    this.state = options.state;
  }
}

export const EXIT_SUCCESS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** The message a person should read for any error, without a stack trace. */
export function formatError(error: unknown): string {
  if (error instanceof StepFailure) {
    return error.state ? `${error.message}\nState left: ${error.state}` : error.message;
  }
  if (error instanceof InputError) return error.message;
  if (error instanceof Error) {
    // AWS SDK errors name the API error (AccessDenied, ThrottlingException...): keep that name.
    const name = error.name && error.name !== 'Error' ? `${error.name}: ` : '';
    return `${name}${error.message}`;
  }
  return String(error);
}

export function exitCodeFor(error: unknown): number {
  return error instanceof InputError ? EXIT_BAD_INPUT : EXIT_FAILURE;
}
