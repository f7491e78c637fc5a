// Every command's handler, by the name given on the command line or in the `command` input.
import type { CommandContext } from '../context.js';
import type { CommandName } from '../inputs.js';
import { bakeCommand } from './bake.js';
import { bootstrapCommand } from './bootstrap.js';
import { cleanupCommand } from './cleanup.js';
import { deployCommand } from './deploy.js';
import { imageCommand } from './image.js';
import { lintMapfilesCommand } from './lint-mapfiles.js';
import { previewCommand } from './preview.js';
import { releaseCommand } from './release.js';
import { rollCommand } from './roll.js';
import { syncMapfilesCommand } from './sync-mapfiles.js';

export type Command = (ctx: CommandContext) => Promise<void>;

export const COMMAND_HANDLERS: Record<CommandName, Command> = {
  release: releaseCommand,
  bake: bakeCommand,
  image: imageCommand,
  deploy: deployCommand,
  roll: rollCommand,
  bootstrap: bootstrapCommand,
  cleanup: cleanupCommand,
  'sync-mapfiles': syncMapfilesCommand,
  'lint-mapfiles': lintMapfilesCommand,
  preview: previewCommand,
};
