import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function imageCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The image command is not available in this build');
}
