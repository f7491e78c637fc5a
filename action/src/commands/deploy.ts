import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function deployCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The deploy command is not available in this build');
}
