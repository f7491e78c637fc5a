// How often the steps poll AWS while they wait. Tests pass a short interval and a fake clock.
export interface WaitTiming {
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export function pollTiming(timing: WaitTiming | undefined, defaultIntervalMs: number): { intervalMs: number; sleep?: (ms: number) => Promise<void>; now?: () => number } {
  return {
    intervalMs: timing?.intervalMs ?? defaultIntervalMs,
    ...(timing?.sleep ? { sleep: timing.sleep } : {}),
    ...(timing?.now ? { now: timing.now } : {}),
  };
}
