import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function bakeCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The bake command is not available in this build');
}
