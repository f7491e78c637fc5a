// The shape of a command handler; the context it is given lives in ../context.ts, below the steps.
import type { CommandContext } from '../context.js';

export type Command = (context: CommandContext) => Promise<void>;
