// Polling with progress lines and a deadline, for deployments, instance refreshes and images.
import { StepFailure } from './errors.js';
import type { Reporter } from './reporter.js';
import { formatElapsed } from './reporter.js';

export interface PollState<T> {
  /** Stop polling with this result. */
  done?: T;
  /** A human line describing the current state, printed when it changes (and every progressEvery). */
  state: string;
}

export interface PollOptions {
  /** What is awaited, for progress lines and the timeout message. */
  awaited: string;
  timeoutMs: number;
  intervalMs: number;
  /** Print the state at least this often even when unchanged (default 30 s). */
  progressEveryMs?: number;
  /** What is left behind when the wait times out. */
  stateOnTimeout?: string;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function poll<T>(reporter: Reporter, check: () => Promise<PollState<T>>, options: PollOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const pause = options.sleep ?? sleep;
  const started = now();
  const every = options.progressEveryMs ?? 30_000;
  let lastState = '';
  let lastPrinted = 0;
  for (;;) {
    const { done, state } = await check();
    if (state !== lastState || now() - lastPrinted >= every) {
      reporter.progress(options.awaited, started, state);
      lastState = state;
      lastPrinted = now();
    }
    if (done !== undefined) return done;
    if (now() - started >= options.timeoutMs) {
      throw new StepFailure(
        `Timed out after ${formatElapsed(now() - started)} waiting for ${options.awaited}; last state: ${state}`,
        options.stateOnTimeout ? { state: options.stateOnTimeout } : {},
      );
    }
    await pause(options.intervalMs);
  }
}
