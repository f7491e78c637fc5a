import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function rollCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The roll command is not available in this build');
}
