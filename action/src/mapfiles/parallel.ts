// A few tasks at a time: enough to hide latency (S3 calls, MapServer loads) without a flood.

/** Runs work on every item, at most `limit` at once, in the items' order of starting. */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
