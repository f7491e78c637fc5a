#!/usr/bin/env node
// One bundle, two entries: the GitHub runner passes inputs as INPUT_* variables and no arguments;
// a terminal passes a command and flags.
import { runAction } from './main.js';
import { runCli } from './cli.js';
import { dropSdkNodeVersionWarning } from './node-warnings.js';

const argv = process.argv.slice(2);
if (argv.length === 0 && process.env.INPUT_COMMAND !== undefined) {
  await runAction(process.env);
} else {
  // Before any AWS client exists: the SDK warns when its first client is made.
  dropSdkNodeVersionWarning();
  process.exitCode = await runCli(argv, process.env);
}
