import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function bootstrapCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The bootstrap command is not available in this build');
}
