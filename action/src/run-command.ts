// Runs one command with its context; shared by the GitHub entry (main.ts) and the CLI (cli.ts).
import { createClients, type AwsClients } from './aws/clients.js';
import { requireCredentials } from './aws/credentials.js';
import { COMMAND_HANDLERS } from './commands/index.js';
import type { CommandContext } from './context.js';
import { projectRoot } from './project.js';
import type { Reporter } from './reporter.js';
import { callsAws, type Settings } from './settings.js';

export async function runCommand(settings: Settings, reporter: Reporter, env: NodeJS.ProcessEnv): Promise<void> {
  let clients: AwsClients | undefined;
  let root: string | undefined;
  const context: CommandContext = {
    settings,
    reporter,
    env,
    get clients() {
      clients ??= createClients(settings.region, env);
      return clients;
    },
    get root() {
      root ??= projectRoot(env);
      return root;
    },
  };
  try {
    if (callsAws(settings.command, settings.registry)) await requireCredentials(context.clients.ec2);
    await COMMAND_HANDLERS[settings.command](context);
  } finally {
    clients?.destroy();
    await reporter.writeSummary(`mapserver-ecs ${settings.command}`);
  }
}
