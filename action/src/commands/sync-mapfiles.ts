import { StepFailure } from '../errors.js';
import type { CommandContext } from './context.js';

export async function syncMapfilesCommand(_context: CommandContext): Promise<void> {
  throw new StepFailure('The sync-mapfiles command is not available in this build');
}
