// Small, dependency-free statistics for the benchmark: percentiles by nearest rank and a summary of
// one load run.

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile expects 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export interface LoadSummary {
  requests: number;
  errors: number;
  seconds: number;
  /** Successful responses per second. */
  throughput: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

/** Summarises latencies (ms) of successful responses over a run of `seconds`. */
export function summarise(latenciesMs: readonly number[], errors: number, seconds: number): LoadSummary {
  const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);
  return {
    requests: latenciesMs.length + errors,
    errors,
    seconds: round(seconds, 3),
    throughput: round(seconds > 0 ? latenciesMs.length / seconds : 0, 1),
    p50_ms: round(percentile(latenciesMs, 50)),
    p95_ms: round(percentile(latenciesMs, 95)),
    p99_ms: round(percentile(latenciesMs, 99)),
  };
}

/** a / b rounded to 3 digits; null when either side is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return Number((a / b).toFixed(3));
}
