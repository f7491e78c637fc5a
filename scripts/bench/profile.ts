// Why the s3fs variants are slower than local disk: S3 requests per WMS request, counted with
// moto's request recorder while MapServer answers a fixed number of GetMap requests one at a time.
//
// Usage: tsx scripts/bench/profile.ts [requests]
import { Agent } from 'node:http';
import { fetchOnce } from './load.js';
import { getMapPath, productMount, seedMount, startServer, startWorld, type MapfileFolder, type World } from './world.js';

async function recorded(world: World, action: 'start-recording' | 'stop-recording' | 'clear-recording'): Promise<void> {
  await fetch(`${world.emulator.motoEndpoint}/moto-api/recorder/${action}`, { method: 'POST' });
}

async function s3Calls(world: World): Promise<Record<string, number>> {
  const text = await (await fetch(`${world.emulator.motoEndpoint}/moto-api/recorder/download-recording`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as { method?: string; url?: string };
    const key = `${entry.method ?? '?'} ${(entry.url ?? '').includes('list-type') || (entry.url ?? '').includes('prefix=') ? 'list' : 'object'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function profile(world: World, name: string, folder: MapfileFolder, requests: number): Promise<void> {
  const server = await startServer(world, folder.dir);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await fetchOnce(agent, server.baseUrl, getMapPath(), 30_000);
    await recorded(world, 'clear-recording');
    await recorded(world, 'start-recording');
    const started = performance.now();
    for (let i = 0; i < requests; i += 1) await fetchOnce(agent, server.baseUrl, getMapPath(), 30_000);
    const ms = (performance.now() - started) / requests;
    await recorded(world, 'stop-recording');
    const calls = await s3Calls(world);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    process.stdout.write(`${name.padEnd(14)} ${(total / requests).toFixed(2)} S3 requests per GetMap (${JSON.stringify(calls)}), ${ms.toFixed(1)} ms per GetMap\n`);
  } finally {
    agent.destroy();
    await server.stop();
    await folder.close();
  }
}

const requests = Number(process.argv[2] ?? 50);
const world = await startWorld();
try {
  await profile(world, 's3fs-ours', await productMount(world, 'p-ours'), requests);
  await profile(world, 's3fs-seed', await seedMount(world, 'p-seed'), requests);
  await profile(world, 's3fs-cache1s', await productMount(world, 'p-cache', 'max_stat_cache_size=1000,stat_cache_expire=1,attr_timeout=1,entry_timeout=1,negative_timeout=1'), requests);
} finally {
  await world.close();
}
