// The shape of a command. CommandContext itself lives in ../context.ts, below the steps that use it;
// it is re-exported here for the commands that import it from this folder.
import type { CommandContext } from '../context.js';

export type { CommandContext };

export type Command = (context: CommandContext) => Promise<void>;
