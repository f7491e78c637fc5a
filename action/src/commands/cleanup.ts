import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function cleanupCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The cleanup command is not available in this build');
}
