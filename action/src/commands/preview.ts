import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function previewCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The preview command is not available in this build');
}
