// The CLI supports Node >= 20 (package.json engines); the action runs on the runner's node24. On
// Node 20 and 21 the AWS SDK warns, once per process and over eight lines, that its releases after
// January 2027 will need Node 22: the CLI ships with its SDK bundled, so that notice is not the
// person's concern and would stand before every command's own output. Only that warning is dropped.

const SDK_NODE_VERSION_WARNING = 'NodeVersionSupportWarning';

function isSdkNodeVersionWarning(warning: unknown, type: unknown): boolean {
  const text = warning instanceof Error ? `${warning.name}: ${warning.message}` : String(warning);
  return text.startsWith(`${SDK_NODE_VERSION_WARNING}:`) || text.startsWith(`Warning: ${SDK_NODE_VERSION_WARNING}:`) || type === SDK_NODE_VERSION_WARNING;
}

/** Wraps process.emitWarning so that the SDK's Node version notice is dropped and every other warning passes. */
export function dropSdkNodeVersionWarning(proc: NodeJS.Process = process): void {
  const emit = proc.emitWarning.bind(proc) as (...args: unknown[]) => void;
  const filtered = (warning: unknown, ...rest: unknown[]): void => {
    const options = rest[0];
    const type = typeof options === 'string' ? options : (options as { type?: unknown } | undefined)?.type;
    if (isSdkNodeVersionWarning(warning, type)) return;
    emit(warning, ...rest);
  };
  proc.emitWarning = filtered as NodeJS.Process['emitWarning'];
}
