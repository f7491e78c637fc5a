// What every command and step is handed: the settings, the reporter, the AWS clients, the checkout
// and the environment. It sits at the root so steps and commands both import it downwards.
import type { AwsClients } from './aws/clients.js';
import type { Reporter } from './reporter.js';
import type { Settings } from './settings.js';

/** Everything a command needs; commands never read inputs or the environment's inputs directly. */
export interface CommandContext {
  readonly settings: Settings;
  readonly reporter: Reporter;
  /** Created on first use, so commands that make no AWS call need no region or credentials. */
  readonly clients: AwsClients;
  /** The repository checkout holding packer/, docker/ and ecs/. */
  readonly root: string;
  /** The process environment, for tools run as child processes (Packer, Docker, s3fs). */
  readonly env: NodeJS.ProcessEnv;
}
