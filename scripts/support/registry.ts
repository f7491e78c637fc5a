// A Docker registry (the docker-registry server) for one test file or benchmark run, on a free
// loopback port, with its storage in the caller's temporary folder.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** The registry configuration the local stack uses too; address and storage are set per run. */
const REGISTRY_CONFIG = new URL('../local-stack/registry.yml', import.meta.url).pathname;

/** A registry for this test only, on a free loopback port, with its storage in a temporary folder. */
export async function startRegistry(dir: string): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const env = { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'registry') };
  const child = spawn('docker-registry', ['serve', REGISTRY_CONFIG], { stdio: 'ignore', env });
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start docker-registry: ${e.message}`))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await Promise.race([
      fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.status === 200,
        () => false,
      ),
      spawnFailed,
    ]);
    if (up) break;
    if (Date.now() > deadline) throw new Error('docker-registry did not answer within 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
