import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function releaseCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The release command is not available in this build');
}
