import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function lintMapfilesCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The lint-mapfiles command is not available in this build');
}
